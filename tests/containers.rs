//! The containers beside `Sequential`: `VideoSequential` and `PatchSequential` (Kornia's), equal
//! to Kornia 0.9 on their fixtures (scripts/gen_video_fixtures.py, scripts/gen_patch_fixtures.py)
//! with its params replayed and with the same seed, and the behaviour Kornia's tests name: one
//! draw per clip or per frame, layouts, grids, annotations, errors, JSON, train/eval.

mod common;

use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};
use tch_dda::*;

const TOL: f64 = 1e-5;
const CASES: [&str; 4] = [
    "btchw_same_frame",
    "bcthw_per_frame",
    "same_on_batch_random_apply",
    "per_frame_nested",
];

fn build(vs: &VarStore, source: &str) -> VideoSequential {
    let cfg = VideoConfig::from_kornia_python(source).unwrap_or_else(|e| panic!("{source}: {e}"));
    VideoSequential::new(vs.root() / "video", cfg).unwrap()
}

#[test]
fn video_sequential_is_kornias() {
    let _serial = common::serial();
    let device = common::device();
    for (seed, name) in CASES.into_iter().enumerate() {
        let fx = common::fixture(&format!("video/{name}"));
        let path = format!(
            "{}/tests/fixtures/video/{name}.safetensors",
            env!("CARGO_MANIFEST_DIR")
        );
        let vs = VarStore::new(device);
        let video = build(&vs, fx.meta["source"].as_str().unwrap());
        let x = fx.get("input");
        let kornia = Params::load_kornia(&path, "params.", device).unwrap();

        // Kornia's params replayed: the output and the input gradient.
        let xg = x.detach().set_requires_grad(true);
        let out = video.f_apply(&xg, &kornia).unwrap();
        let e = common::max_abs_diff(&out, fx.get("output"));
        assert!(e <= TOL, "{name}: the replay is {e:e} from Kornia's output");
        (&out * fx.get("weights")).sum(Kind::Double).backward();
        let e = common::max_abs_diff(&xg.grad(), fx.get("grad"));
        assert!(
            e <= TOL,
            "{name}: the input gradient is {e:e} from Kornia's"
        );
        if fx.tensors.contains_key("inverse") {
            let inv = video
                .f_inverse(fx.get("output"), &kornia, &x.size())
                .unwrap();
            let e = common::max_abs_diff(&inv, fx.get("inverse"));
            assert!(e <= TOL, "{name}: the inverse is {e:e} from Kornia's");
        }

        // The same seed draws Kornia's params, key for key, and so its output.
        if !common::draws_on_cpu() {
            continue;
        }
        tch::manual_seed(1000 + seed as i64);
        let (out, ours) = video.f_forward_with_params(x).unwrap();
        let e = common::max_abs_diff(&out, fx.get("output"));
        assert!(
            e <= TOL,
            "{name}: the same seed's output is {e:e} from Kornia's"
        );
        let frames = x.size()[0] * x.size()[if name.starts_with("bcthw") { 2 } else { 1 }];
        assert_same_draw(name, &ours, &kornia, &|key, o, t| {
            if !key.ends_with("forward_input_shape") {
                return false;
            }
            // Ours records the frames (B·T, ...); Kornia the size it drew for.
            assert_eq!(i64::try_from(o.get(0)).unwrap(), frames, "{name}: {key}");
            assert!(o
                .narrow(0, 1, 3)
                .equal(&t.narrow(0, 1, 3).to_device(Device::Cpu)));
            true
        });
    }
}

/// `ours` holds Kornia's draw: the same keys, each equal bit for bit (`special` handles a
/// key itself when it returns true). Kornia lists the applied children of every container;
/// without a random selection they are all of them, in order, and ours records none.
fn assert_same_draw(
    name: &str,
    ours: &Params,
    kornia: &Params,
    special: &dyn Fn(&str, &Tensor, &Tensor) -> bool,
) {
    let mut theirs: Vec<&str> = kornia
        .keys()
        .filter(|k| ours.get(k).is_some() || !k.ends_with("selection"))
        .collect();
    for (key, sel) in kornia.iter().filter(|(k, _)| !theirs.contains(k)) {
        let sel = Vec::<i64>::try_from(sel).unwrap();
        assert_eq!(
            sel,
            (0..sel.len() as i64).collect::<Vec<_>>(),
            "{name}: Kornia's {key}"
        );
    }
    let mut mine: Vec<&str> = ours.keys().collect();
    theirs.sort();
    mine.sort();
    assert_eq!(mine, theirs, "{name}: the keys differ");
    for key in theirs {
        let (o, t) = (ours.get(key).unwrap(), kornia.get(key).unwrap());
        if special(key, o, t) {
            continue;
        }
        assert_eq!(o.size(), t.size(), "{name}: {key}'s shape");
        let e = common::max_abs_diff(o, t);
        assert!(e == 0.0, "{name}: {key} is {e:e} from Kornia's draw");
    }
}

/// Kornia's doctest: a clip whose frames are equal stays equal with `same_on_frame`, and
/// not without.
#[test]
fn one_draw_per_clip_or_per_frame() {
    // Seeded draws: no other test of this binary may draw meanwhile.
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let steps = || {
        vec![
            AugSpec::ColorJiggle(JitterConfig::new(0.1, 0.1, 0.1, 0.1)),
            AugSpec::RandomAffine(RandomAffineConfig::degrees(180.0).p(1.0)),
        ]
    };
    tch::manual_seed(3);
    let frame = Tensor::rand([2, 3, 1, 5, 6], tch::kind::FLOAT_CPU);
    let clips = frame.repeat([1, 1, 4, 1, 1]); // (B,C,T,H,W)
    for same in [true, false] {
        let cfg = VideoConfig::new(steps())
            .data_format(VideoFormat::Bcthw)
            .same_on_frame(same);
        let video = VideoSequential::new(vs.root() / format!("{same}"), cfg).unwrap();
        let out = video.f_forward(&clips).unwrap();
        assert_eq!(out.size(), clips.size());
        for t in 1..4 {
            let equal = out.select(2, 0).equal(&out.select(2, t));
            assert_eq!(
                equal, same,
                "same_on_frame = {same}: frame {t} against frame 0"
            );
        }
        // Different clips draw differently either way.
        assert!(!out.get(0).equal(&out.get(1)));
    }
}

/// RandomMosaic in a clip draws its tiles per clip: frame t of every tile is frame t of the
/// clip it names (as Kornia's), never another frame.
#[test]
fn a_mosaic_of_clips_keeps_each_frame_with_its_time() {
    // Seeded draws: no other test of this binary may draw meanwhile.
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let cfg = VideoConfig::new(vec![AugSpec::RandomMosaic(MosaicConfig {
        p: 1.0,
        ..Default::default()
    })]);
    let video = VideoSequential::new(vs.root(), cfg).unwrap();
    let (b, t) = (3i64, 4i64);
    // Frame t of clip b is the constant 10·b + t + 1 (0 is the mosaic's padding).
    let value = Tensor::arange(b * t, tch::kind::FLOAT_CPU).view([b, t]);
    let value = (value.shallow_clone() / t as f64).floor() * 10.0 + value.remainder(t as f64) + 1.0;
    let clips = value
        .view([b, t, 1, 1, 1])
        .expand([b, t, 2, 6, 8], false)
        .contiguous();
    tch::manual_seed(4);
    let out = video.f_forward(&clips).unwrap();
    for bi in 0..b {
        for ti in 0..t {
            let frame = out.get(bi).get(ti);
            let time =
                (frame.remainder(10.0) - 1.0).where_self(&frame.gt(0.0), &Tensor::from(ti as f32));
            let wrong = time.ne(ti as f64).sum(Kind::Int64).int64_value(&[]);
            assert_eq!(
                wrong, 0,
                "clip {bi} frame {ti} holds pixels of another time"
            );
        }
    }
}

/// Masks, keypoints and boxes move with their frames: a marker pixel in the image, the
/// same pixel in the mask, and a keypoint on it land on the same place after flips and
/// crops (copies); boxes invert exactly; labels stay with their clips.
#[test]
fn annotations_move_with_their_frames() {
    // Seeded draws: no other test of this binary may draw meanwhile.
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let cfg = VideoConfig::new(vec![
        AugSpec::RandomHorizontalFlip(FlipConfig::default()),
        AugSpec::RandomVerticalFlip(FlipConfig::default()),
        AugSpec::RandomCrop(RandomCropConfig::new((7, 9))),
    ])
    .same_on_frame(false);
    let video = VideoSequential::new(vs.root(), cfg).unwrap();
    let (b, t, h, w) = (2i64, 3i64, 10i64, 12i64);
    // One marker per frame, at (x, y) = (2 + t + b, 3 + t).
    let image = Tensor::zeros([b, t, 1, h, w], tch::kind::FLOAT_CPU);
    let mut points = vec![];
    for bi in 0..b {
        for ti in 0..t {
            let (x, y) = (2 + ti + bi, 3 + ti);
            let _ = image.get(bi).get(ti).get(0).get(y).get(x).fill_(1.0);
            points.extend([x as f32, y as f32]);
        }
    }
    let keypoints = Tensor::from_slice(&points).view([b, t, 1, 2]);
    let boxes = Tensor::from_slice(&[1.0f32, 2.0, 6.0, 7.0])
        .view([1, 1, 1, 4])
        .repeat([b, t, 1, 1]);
    let labels = Tensor::from_slice(&[4i64, 7]);
    let batch = Batch {
        masks: Some(image.shallow_clone()),
        boxes: Some(Boxes::new(boxes.shallow_clone(), BoxFormat::Xyxy)),
        keypoints: Some(tch_dda::Keypoints::new(keypoints.shallow_clone())),
        labels: Some(labels.shallow_clone()),
        ..Batch::new(image.shallow_clone())
    };
    tch::manual_seed(11);
    let (out, params) = video.f_forward_batch(&batch).unwrap();
    assert_eq!(out.image.size(), [b, t, 1, 7, 9]);
    assert!(out.masks.as_ref().unwrap().equal(&out.image));
    assert!(out.labels.as_ref().unwrap().equal(&labels));
    let kp = &out.keypoints.as_ref().unwrap().points;
    assert_eq!(kp.size(), [b, t, 1, 2]);
    for bi in 0..b {
        for ti in 0..t {
            let frame = out.image.get(bi).get(ti).get(0);
            let (x, y) = (
                f64::try_from(kp.get(bi).get(ti).get(0).get(0)).unwrap(),
                f64::try_from(kp.get(bi).get(ti).get(0).get(1)).unwrap(),
            );
            if (0.0..9.0).contains(&x) && (0.0..7.0).contains(&y) {
                let v = f64::try_from(frame.get(y as i64).get(x as i64)).unwrap();
                assert_eq!(
                    v, 1.0,
                    "clip {bi} frame {ti}: the keypoint ({x}, {y}) is off the marker"
                );
            } else {
                assert_eq!(f64::try_from(frame.sum(Kind::Float)).unwrap(), 0.0);
            }
        }
    }
    // The same params replay the same record, and the inverse gives the boxes back.
    let again = video.f_apply_batch(&batch, &params).unwrap();
    assert!(again.image.equal(&out.image));
    let back = video.f_inverse_batch(&out, &params, &image.size()).unwrap();
    let e = common::max_abs_diff(&back.boxes.as_ref().unwrap().data, &boxes);
    assert!(e < 1e-4, "the boxes come back {e:e} off");
    assert_eq!(back.image.size(), image.size());
    // A mask of other clips is refused, naming it.
    let bad = Batch {
        masks: Some(image.narrow(1, 0, 2)),
        ..Batch::new(image.shallow_clone())
    };
    let e = video.f_forward_batch(&bad).unwrap_err();
    assert!(matches!(e, Error::Annotation { what: "mask", .. }), "{e}");
}

#[test]
fn bad_pipelines_and_inputs_are_refused() {
    // Seeded draws: no other test of this binary may draw meanwhile.
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let flip = || AugSpec::RandomHorizontalFlip(FlipConfig::default());
    let video = VideoSequential::new(vs.root() / "a", VideoConfig::new(vec![flip()])).unwrap();
    let e = video
        .f_forward(&Tensor::rand([2, 3, 8, 8], tch::kind::FLOAT_CPU))
        .unwrap_err();
    assert!(matches!(e, Error::Rank { .. }), "{e}");
    assert!(e.to_string().contains("(B,T,C,H,W)"), "{e}");
    let e = video
        .f_forward(&Tensor::rand([2, 0, 3, 8, 8], tch::kind::FLOAT_CPU))
        .unwrap_err();
    assert!(matches!(e, Error::Empty { .. }), "{e}");
    // A mixing step, and a nested container with same_on_frame.
    let mix = AugSpec::from_kornia("RandomMixUpV2", &serde_json::json!({})).unwrap();
    let e = VideoSequential::new(vs.root() / "b", VideoConfig::new(vec![mix])).unwrap_err();
    assert!(e.to_string().contains("do not mix"), "{e}");
    let nested = AugSpec::Sequential(SequentialConfig::new(vec![flip()]));
    let e =
        VideoSequential::new(vs.root() / "c", VideoConfig::new(vec![nested.clone()])).unwrap_err();
    assert!(e.to_string().contains("same_on_frame"), "{e}");
    VideoSequential::new(
        vs.root() / "d",
        VideoConfig::new(vec![nested]).same_on_frame(false),
    )
    .unwrap();
    // Params drawn for other clips are refused at replay.
    let params = video.f_sample(&[2, 3, 3, 8, 8], Device::Cpu).unwrap();
    let e = video
        .f_apply(
            &Tensor::rand([2, 4, 3, 8, 8], tch::kind::FLOAT_CPU),
            &params,
        )
        .unwrap_err();
    assert!(matches!(e, Error::Params { .. }), "{e}");
    // Kornia's arguments: an unknown one lists the known; data_format is checked; the
    // class itself points here from AugSpec::from_kornia.
    let e = VideoConfig::from_kornia(&serde_json::json!({"data_keys": ["input"]})).unwrap_err();
    assert!(e.to_string().contains("data_format, same_on_frame"), "{e}");
    let e = VideoConfig::from_kornia(&serde_json::json!({"data_format": "TBCHW"})).unwrap_err();
    assert!(e.to_string().contains("BCTHW"), "{e}");
    let e = AugSpec::from_kornia("VideoSequential", &serde_json::json!({})).unwrap_err();
    assert!(e.to_string().contains("VideoConfig::from_kornia"), "{e}");
    let e = VideoConfig::from_kornia_python("K.ColorJiggle(0.1)").unwrap_err();
    assert!(e.to_string().contains("VideoSequential"), "{e}");
}

/// The structure round-trips through JSON and draws alike after the same seed; evaluation
/// applies the deterministic steps (Normalize) to every frame and skips the random ones.
#[test]
fn json_and_train_eval() {
    // Seeded draws: no other test of this binary may draw meanwhile.
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let cfg = VideoConfig::new(vec![
        AugSpec::RandomAffine(RandomAffineConfig::degrees(30.0).p(1.0)),
        AugSpec::Normalize(NormalizeConfig {
            mean: vec![0.5, 0.4, 0.3],
            std: vec![0.2, 0.25, 0.3],
            p: 1.0,
        }),
    ])
    .data_format(VideoFormat::Bcthw)
    .same_on_frame(false);
    let video = VideoSequential::new(vs.root() / "a", cfg.clone()).unwrap();
    let json = video.to_json().unwrap();
    let again = VideoSequential::from_json(vs.root() / "b", &json).unwrap();
    assert_eq!(again.config(), cfg);
    let x = Tensor::rand([2, 3, 4, 6, 7], tch::kind::FLOAT_CPU);
    tch::manual_seed(5);
    let a = video.f_forward(&x).unwrap();
    tch::manual_seed(5);
    assert!(again.f_forward(&x).unwrap().equal(&a));

    let layer = again.train_only();
    let mean = Tensor::from_slice(&[0.5f32, 0.4, 0.3]).view([1, 3, 1, 1, 1]);
    let std = Tensor::from_slice(&[0.2f32, 0.25, 0.3]).view([1, 3, 1, 1, 1]);
    let expected = (&x - mean) / std;
    let eval = layer.forward_t(&x, false);
    assert!(common::max_abs_diff(&eval, &expected) < 1e-6);
    // uint8 clips are read as x / 255 in both modes.
    let bytes = (&x * 255.0).to_kind(Kind::Uint8);
    let eval = layer.forward_t(&bytes, false);
    assert_eq!(eval.kind(), Kind::Float);
    let train = layer.forward_t(&bytes, true);
    assert_eq!((train.kind(), train.size()), (Kind::Float, x.size()));
}

const PATCH_CASES: [&str; 4] = [
    "sequence_same",
    "located_valid",
    "located_random_same_on_batch",
    "sequence_random",
];

#[test]
fn patch_sequential_is_kornias() {
    let _serial = common::serial();
    let device = common::device();
    for (seed, name) in PATCH_CASES.into_iter().enumerate() {
        let fx = common::fixture(&format!("patch/{name}"));
        let source = fx.meta["source"].as_str().unwrap();
        let vs = VarStore::new(device);
        let cfg =
            PatchConfig::from_kornia_python(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let patches = PatchSequential::new(vs.root(), cfg).unwrap();
        let x = fx.get("input");
        // Kornia's `aug._params` as docs/kornia-params.md saves them, imported: the same
        // params, key for key and bit for bit, as the fixture script's own grouping.
        let path = format!(
            "{}/tests/fixtures/patch/{name}.safetensors",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut kornia = Params::load_kornia(&path, "kornia.", device).unwrap();
        let mut grouped = Params::new();
        for (k, t) in &fx.tensors {
            if let Some(key) = k.strip_prefix("params.") {
                // Kornia's indices are int64 tensors; bools were stored as float.
                grouped.insert(key, t.shallow_clone());
            }
        }
        assert_eq!(
            kornia.keys().collect::<Vec<_>>(),
            grouped.keys().collect::<Vec<_>>(),
            "{name}: imported keys"
        );
        for (k, t) in grouped.iter() {
            let d = common::max_abs_diff(kornia.get(k).unwrap(), t);
            assert!(d == 0.0, "{name}: imported {k} is {d:e} from the script's");
        }

        let xg = x.detach().set_requires_grad(true);
        let out = patches.f_apply(&xg, &kornia).unwrap();
        let e = common::max_abs_diff(&out, fx.get("output"));
        assert!(e <= TOL, "{name}: the replay is {e:e} from Kornia's output");
        (&out * fx.get("weights")).sum(Kind::Double).backward();
        let e = common::max_abs_diff(&xg.grad(), fx.get("grad"));
        assert!(
            e <= TOL,
            "{name}: the input gradient is {e:e} from Kornia's"
        );

        if !common::draws_on_cpu() {
            continue;
        }
        tch::manual_seed(1000 + seed as i64);
        let (out, ours) = patches.f_forward_with_params(x).unwrap();
        // One step per location: Kornia names location g's child, g; ours records none.
        let located = patches.config().patchwise_apply
            && patches.pipeline().config().random_apply == RandomApply::Off;
        if located {
            for g in 0..4i64 {
                let key = format!("{g}.selection");
                let sel = kornia.remove(&key).unwrap();
                assert_eq!(Vec::<i64>::try_from(sel).unwrap(), [g], "{name}: {key}");
            }
        }
        let e = common::max_abs_diff(&out, fx.get("output"));
        assert!(
            e <= TOL,
            "{name}: the same seed's output is {e:e} from Kornia's"
        );
        assert_same_draw(name, &ours, &kornia, &|_, _, _| false);
    }
}

/// The grid itself, against slices computed here: a step at one location changes that
/// location's patch only; `Valid` crops the centred remainder, `Same` keeps the size.
#[test]
fn patches_are_cut_and_put_back_in_place() {
    // Seeded draws: no other test of this binary may draw meanwhile.
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let flip = |p: f64| {
        AugSpec::RandomHorizontalFlip(FlipConfig {
            p,
            ..Default::default()
        })
    };
    // (1, 2) grid: the left patch flipped, the right one left.
    let located = PatchSequential::new(
        vs.root() / "a",
        PatchConfig::located(vec![flip(1.0), flip(0.0)], (1, 2)).padding(PatchPadding::Valid),
    )
    .unwrap();
    let x = Tensor::rand([2, 3, 5, 9], tch::kind::FLOAT_CPU);
    let out = located.f_forward(&x).unwrap();
    // 9 columns on 2: one cropped, at the right (an odd pixel goes right); patches of 4.
    assert_eq!(out.size(), [2, 3, 5, 8]);
    assert!(out.narrow(3, 0, 4).equal(&x.narrow(3, 0, 4).flip([3])));
    assert!(out.narrow(3, 4, 4).equal(&x.narrow(3, 4, 4)));
    // Same: 5 rows on a (2, 1) grid pad to 6 (the odd row at the bottom) and come back as 5.
    let sequence = PatchSequential::new(
        vs.root() / "b",
        PatchConfig::sequence(vec![flip(1.0)], (2, 1)),
    )
    .unwrap();
    let out = sequence.f_forward(&x).unwrap();
    assert_eq!(out.size(), x.size());
    assert!(out.narrow(2, 0, 3).equal(&x.narrow(2, 0, 3).flip([3])));
    // The bottom patch is rows 3..5 and a zero row, flipped alike.
    assert!(out.narrow(2, 3, 2).equal(&x.narrow(2, 3, 2).flip([3])));
    // Unbatched in, unbatched out; uint8 read as x / 255.
    let one = sequence.f_forward(&x.get(0)).unwrap();
    assert_eq!(one.size(), [3, 5, 9]);
    let bytes = (&x * 255.0).to_kind(Kind::Uint8);
    assert_eq!(sequence.f_forward(&bytes).unwrap().kind(), Kind::Float);
}

/// Intensity-only patch pipelines invert (the identity) and carry annotations, cropped with
/// the image under Valid; geometric ones refuse both, as Kornia.
#[test]
fn patch_annotations_and_inverse() {
    // Seeded draws: no other test of this binary may draw meanwhile.
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let jitter = AugSpec::ColorJiggle(JitterConfig::new(0.2, 0.2, 0.2, 0.1));
    let colour = PatchSequential::new(
        vs.root() / "a",
        PatchConfig::sequence(vec![jitter], (2, 3)).padding(PatchPadding::Valid),
    )
    .unwrap();
    let x = Tensor::rand([2, 3, 9, 11], tch::kind::FLOAT_CPU);
    let mask = Tensor::rand([2, 1, 9, 11], tch::kind::FLOAT_CPU);
    let points = Tensor::from_slice(&[3.0f32, 4.0, 7.5, 2.0])
        .view([1, 2, 2])
        .repeat([2, 1, 1]);
    let boxes = Tensor::from_slice(&[1.0f32, 2.0, 6.0, 7.0])
        .view([1, 1, 4])
        .repeat([2, 1, 1]);
    let batch = Batch {
        masks: Some(mask.shallow_clone()),
        keypoints: Some(tch_dda::Keypoints::new(points.shallow_clone())),
        boxes: Some(Boxes::new(boxes.shallow_clone(), BoxFormat::Xyxy)),
        ..Batch::new(x.shallow_clone())
    };
    tch::manual_seed(2);
    let (out, params) = colour.f_forward_batch(&batch).unwrap();
    // 9 x 11 on (2, 3): one row cropped at the bottom, one column on each side.
    assert_eq!(out.image.size(), [2, 3, 8, 9]);
    assert!(out
        .masks
        .as_ref()
        .unwrap()
        .equal(&mask.narrow(2, 0, 8).narrow(3, 1, 9)));
    let shift = Tensor::from_slice(&[-1.0f32, 0.0]);
    assert!(out
        .keypoints
        .as_ref()
        .unwrap()
        .points
        .equal(&(&points + &shift)));
    let box_shift = Tensor::from_slice(&[-1.0f32, 0.0, -1.0, 0.0]);
    assert!(out
        .boxes
        .as_ref()
        .unwrap()
        .data
        .equal(&(&boxes + &box_shift)));
    assert!(colour.f_apply(&x, &params).unwrap().equal(&out.image));
    let inv = colour.f_inverse(&out.image, &params, &x.size()).unwrap();
    assert!(inv.equal(&out.image));

    let affine = PatchSequential::new(
        vs.root() / "b",
        PatchConfig::sequence(
            vec![AugSpec::RandomAffine(
                RandomAffineConfig::degrees(20.0).p(1.0),
            )],
            (2, 2),
        ),
    )
    .unwrap();
    let e = affine.f_forward_batch(&batch).unwrap_err();
    assert!(matches!(e, Error::Annotation { .. }), "{e}");
    // A mask of another size than the image is refused, as everywhere.
    let small = Batch {
        masks: Some(mask.narrow(3, 0, 5)),
        ..Batch::new(x.shallow_clone())
    };
    let e = colour.f_forward_batch(&small).unwrap_err();
    assert!(matches!(e, Error::Annotation { what: "mask", .. }), "{e}");
    let (y, params) = affine.f_forward_with_params(&x).unwrap();
    let e = affine.f_inverse(&y, &params, &x.size()).unwrap_err();
    assert!(matches!(e, Error::NotInvertible { .. }), "{e}");
}

#[test]
fn bad_patch_pipelines_are_refused() {
    // Seeded draws: no other test of this binary may draw meanwhile.
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let flip = || AugSpec::RandomHorizontalFlip(FlipConfig::default());
    let build = |cfg: PatchConfig| {
        PatchSequential::new(vs.root(), cfg)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    assert!(build(PatchConfig::sequence(vec![flip()], (0, 2))).contains("grid_size"));
    let e = build(PatchConfig::located(vec![flip(), flip()], (2, 2)));
    assert!(e.contains("2 steps for 4 grid locations"), "{e}");
    let random = SequentialConfig {
        random_apply: RandomApply::Between(1, 4),
        ..SequentialConfig::new(vec![flip()])
    };
    let e = build(PatchConfig::located(random, (2, 2)));
    assert!(e.contains("same_on_batch"), "{e}");
    let mix = AugSpec::from_kornia("RandomMixUpV2", &serde_json::json!({})).unwrap();
    assert!(build(PatchConfig::sequence(vec![mix], (2, 2))).contains("do not mix"));
    // A step that changes the patch size is refused at the call.
    let crop = AugSpec::RandomCrop(RandomCropConfig::new((2, 2)));
    let p =
        PatchSequential::new(vs.root() / "c", PatchConfig::sequence(vec![crop], (2, 2))).unwrap();
    let e = p
        .f_forward(&Tensor::rand([1, 3, 8, 8], tch::kind::FLOAT_CPU))
        .unwrap_err();
    assert!(matches!(e, Error::Size { .. }), "{e}");
    // Valid needs a pixel per patch.
    let v = PatchSequential::new(
        vs.root() / "d",
        PatchConfig::sequence(vec![flip()], (4, 4)).padding(PatchPadding::Valid),
    )
    .unwrap();
    let e = v
        .f_forward(&Tensor::rand([1, 3, 3, 8], tch::kind::FLOAT_CPU))
        .unwrap_err();
    assert!(matches!(e, Error::Size { .. }), "{e}");
    // Kornia's arguments.
    let e = PatchConfig::from_kornia(&serde_json::json!({"data_keys": ["input"]})).unwrap_err();
    assert!(e.to_string().contains("grid_size, padding"), "{e}");
    let e = PatchConfig::from_kornia(&serde_json::json!({"random_apply": 2})).unwrap_err();
    assert!(e.to_string().contains("patchwise_apply"), "{e}");
    let e = AugSpec::from_kornia("PatchSequential", &serde_json::json!({})).unwrap_err();
    assert!(e.to_string().contains("PatchConfig::from_kornia"), "{e}");
    // Params of another batch are refused at replay.
    let s =
        PatchSequential::new(vs.root() / "e", PatchConfig::sequence(vec![flip()], (2, 2))).unwrap();
    let params = s.f_sample(&[2, 3, 8, 8], Device::Cpu).unwrap();
    let e = s
        .f_apply(&Tensor::rand([3, 3, 8, 8], tch::kind::FLOAT_CPU), &params)
        .unwrap_err();
    assert!(matches!(e, Error::Params { .. }), "{e}");
}

#[test]
fn patch_json_and_train_eval() {
    // Seeded draws: no other test of this binary may draw meanwhile.
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let cfg = PatchConfig::located(
        vec![
            AugSpec::RandomAffine(RandomAffineConfig::degrees(30.0).p(1.0)),
            AugSpec::Normalize(NormalizeConfig {
                mean: vec![0.5],
                std: vec![0.25],
                p: 1.0,
            }),
        ],
        (1, 2),
    );
    let p = PatchSequential::new(vs.root() / "a", cfg.clone()).unwrap();
    let again = PatchSequential::from_json(vs.root() / "b", &p.to_json().unwrap()).unwrap();
    assert_eq!(again.config(), cfg);
    let x = Tensor::rand([2, 3, 6, 8], tch::kind::FLOAT_CPU);
    tch::manual_seed(9);
    let a = p.f_forward(&x).unwrap();
    tch::manual_seed(9);
    assert!(again.f_forward(&x).unwrap().equal(&a));
    // Evaluation: the affine (left) skipped, Normalize (right) applied.
    let eval = again.train_only().forward_t(&x, false);
    assert!(eval.narrow(3, 0, 4).equal(&x.narrow(3, 0, 4)));
    let right = (x.narrow(3, 4, 4) - 0.5) / 0.25;
    assert!(common::max_abs_diff(&eval.narrow(3, 4, 4), &right) < 1e-6);
}
