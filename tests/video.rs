//! `VideoSequential` (Kornia's `VideoSequential`): equal to Kornia 0.9 on its fixtures
//! (scripts/gen_video_fixtures.py) with its params replayed and with the same seed, and the
//! behaviour Kornia's tests name: one draw per clip or per frame, both layouts,
//! annotations moving with the frames, errors, JSON, train/eval.

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
        // Kornia lists the applied children of every container; without a random
        // selection they are all of them, in order, and ours records none.
        let theirs: Vec<&str> = kornia
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
        let mut theirs = theirs;
        let mut mine: Vec<&str> = ours.keys().collect();
        theirs.sort();
        mine.sort();
        assert_eq!(mine, theirs, "{name}: the keys differ");
        for (key, t) in kornia.iter().filter(|(k, _)| theirs.contains(k)) {
            let o = ours.get(key).unwrap();
            if key.ends_with("forward_input_shape") {
                // Ours records the frames (B·T, ...); Kornia the size it drew for.
                let frames = x.size()[0] * x.size()[if name.starts_with("bcthw") { 2 } else { 1 }];
                assert_eq!(i64::try_from(o.get(0)).unwrap(), frames, "{name}: {key}");
                assert_eq!(
                    Vec::<i64>::try_from(o.narrow(0, 1, 3)).unwrap(),
                    Vec::<i64>::try_from(t.narrow(0, 1, 3).to_device(Device::Cpu)).unwrap(),
                    "{name}: {key}"
                );
                continue;
            }
            assert_eq!(o.size(), t.size(), "{name}: {key}'s shape");
            let e = common::max_abs_diff(o, t);
            assert!(e == 0.0, "{name}: {key} is {e:e} from Kornia's draw");
        }
    }
}

/// Kornia's doctest: a clip whose frames are equal stays equal with `same_on_frame`, and
/// not without.
#[test]
fn one_draw_per_clip_or_per_frame() {
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

/// Masks, keypoints and boxes move with their frames: a marker pixel in the image, the
/// same pixel in the mask, and a keypoint on it land on the same place after flips and
/// crops (copies); boxes invert exactly; labels stay with their clips.
#[test]
fn annotations_move_with_their_frames() {
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
