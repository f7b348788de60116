//! torchvision's RandomIoUCrop against torchvision 0.28 (scripts/gen_torchvision_ioucrop_fixtures.py,
//! tests/fixtures/torchvision/ioucrop.safetensors): after the same seed each image takes
//! torchvision's window, and the window replayed gives torchvision's crop and boxes. Then the
//! batched choice (each sample its own window, checked against a scalar re-computation), the
//! input gradient, and the typed errors.

use crate::common;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

const TOL: f64 = 1e-5;

#[derive(Clone)]
struct Case {
    key: String,
    seed: i64,
    cfg: RandomIoUCropConfig,
    cropped: bool,
}

fn cases(fx: &common::Fixture) -> Vec<Case> {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(fx.meta["cases"].as_str().unwrap()).unwrap();
    cases
        .iter()
        .map(|c| {
            let spec: AugSpec = serde_json::from_value(c["spec"].clone()).unwrap();
            let AugSpec::RandomIoUCrop(cfg) = spec else {
                panic!("{spec:?}")
            };
            Case {
                key: c["key"].as_str().unwrap().to_string(),
                seed: c["seed"].as_i64().unwrap(),
                cfg,
                cropped: c["cropped"].as_bool().unwrap(),
            }
        })
        .collect()
}

/// torchvision's continuous XYXY boxes as the crate's inclusive ones: `[a, c]` spans the
/// pixels whose indices run from `a` to `c - 1`.
fn inclusive(xyxy: &Tensor) -> Tensor {
    xyxy - Tensor::from_slice(&[0.0, 0.0, 1.0, 1.0])
}

fn f64s(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).reshape([-1])).unwrap()
}

fn bools(t: &Tensor) -> Vec<bool> {
    Vec::<bool>::try_from(t.to_kind(Kind::Bool).reshape([-1])).unwrap()
}

/// Compares our output (image, boxes, validity) with torchvision's for one case.
fn assert_torchvisions(fx: &common::Fixture, case: &Case, out: &Batch, what: &str) -> f64 {
    let key = &case.key;
    // Cut out (a window at its own size): bit for bit.
    let e = common::max_abs_diff(&out.image, fx.get(&format!("{key}.out_image")));
    assert!(e == 0.0, "{key} ({what}): image {e:e} from torchvision's");
    let boxes = out.boxes.as_ref().unwrap();
    let kept = bools(fx.get(&format!("{key}.kept")));
    let valid = bools(boxes.valid.as_ref().expect("validity"));
    assert_eq!(valid, kept, "{key} ({what}): kept boxes");
    let ours = f64s(&(boxes.data.squeeze_dim(0) + Tensor::from_slice(&[0.0, 0.0, 1.0, 1.0])));
    let theirs = f64s(fx.get(&format!("{key}.out_boxes")));
    for (n, &k) in kept.iter().enumerate() {
        if k {
            for c in 0..4 {
                let d = (ours[n * 4 + c] - theirs[n * 4 + c]).abs();
                assert!(d <= TOL, "{key} ({what}): box {n} {d:e} from torchvision's");
            }
        }
    }
    e
}

#[test]
fn the_same_seed_takes_torchvisions_window_and_crop() {
    let _serial = common::serial();
    let fx = common::fixture("torchvision/ioucrop");
    let vs = VarStore::new(Device::Cpu);
    let (mut worst, mut cropped) = (0f64, 0);
    // Both kernel paths: the fused CPU kernels and the compositions CUDA runs.
    for (case, path) in cases(&fx)
        .into_iter()
        .flat_map(|c| [(c.clone(), KernelPath::Fused), (c, KernelPath::Composed)])
    {
        let _path = kernel_path_scope(path);
        let key = &case.key;
        let want = fx.get(&format!("{key}.out_image"));
        let size = (want.size()[2], want.size()[3]);
        // torchvision returns the window at its own size: ours resized to it.
        let cfg = RandomIoUCropConfig {
            size: Some(size),
            ..case.cfg.clone()
        };
        let aug = AugSpec::RandomIoUCrop(cfg).build(&vs.root()).unwrap();
        let image = fx.get(&format!("{key}.image"));
        let boxes = Boxes::xyxy(inclusive(fx.get(&format!("{key}.boxes"))).unsqueeze(0));
        let batch = Batch::new(image.shallow_clone()).with_boxes(boxes);
        tch::manual_seed(case.seed);
        let (out, params) = aug.f_forward_batch(&batch).unwrap();
        worst = worst.max(assert_torchvisions(&fx, &case, &out, "drawn"));
        // Replayed: torchvision's window as the one candidate before leaving.
        let (h, w) = (image.size()[2] as f64, image.size()[3] as f64);
        let mut rows = Vec::new();
        if case.cropped {
            cropped += 1;
            let win = f64s(fx.get(&format!("{key}.window")));
            rows.extend([0.0, 0.0, win[0], win[1], win[2], win[3]]);
        }
        rows.extend([1.0, 1.0, 0.0, 0.0, w, h]);
        let mut replay = params.detach();
        replay.insert(
            "candidates",
            Tensor::from_slice(&rows).view([rows.len() as i64 / 6, 6]),
        );
        let again = aug.f_apply_batch(&batch, &replay).unwrap();
        assert_torchvisions(&fx, &case, &again, "replayed");
    }
    println!(
        "IOU CROP: {} draws ({} cropped) on both kernel paths take torchvision's window; images within {worst:.1e}",
        cases(&fx).len(),
        cropped / 2
    );
}

/// A batch: each sample takes the first candidate its own boxes pass, found here by a
/// scalar loop over the candidates (centres strictly inside, the best IoU of those at least
/// the option); its boxes whose centre the window holds stay valid, moved by the window's
/// crop and resize; the padding rows of `Boxes::from_list` count for nothing.
#[test]
fn each_sample_takes_the_first_window_its_boxes_pass() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let (h, w, size) = (30i64, 40i64, (15i64, 20i64));
    let aug = AugSpec::RandomIoUCrop(RandomIoUCropConfig {
        size: Some(size),
        ..Default::default()
    })
    .build(&vs.root())
    .unwrap();
    tch::manual_seed(7);
    let per_image: Vec<Tensor> = (0..6)
        .map(|i| {
            let n = 1 + i % 3;
            let x1 = Tensor::rand([n], (Kind::Double, Device::Cpu)) * (w - 8) as f64;
            let y1 = Tensor::rand([n], (Kind::Double, Device::Cpu)) * (h - 8) as f64;
            let bw = Tensor::rand([n], (Kind::Double, Device::Cpu)) * 12.0 + 2.0;
            let bh = Tensor::rand([n], (Kind::Double, Device::Cpu)) * 12.0 + 2.0;
            Tensor::stack(&[&x1, &y1, &(&x1 + bw), &(&y1 + bh)], -1)
        })
        .collect();
    let boxes = Boxes::from_list(&per_image, BoxFormat::Xyxy).unwrap();
    let b = per_image.len() as i64;
    let batch = Batch::new(Tensor::rand([b, 3, h, w], (Kind::Float, Device::Cpu)))
        .with_boxes(boxes.clone());
    let (out, params) = aug.f_forward_batch(&batch).unwrap();
    // The resize is a warp: the composed path (CUDA's) gives the fused path's output.
    {
        let _path = kernel_path_scope(KernelPath::Composed);
        let composed = aug.f_apply_batch(&batch, &params).unwrap();
        let d = common::max_abs_diff(&composed.image, &out.image);
        assert!(d < 1e-5, "composed path {d:e} from the fused one");
        let d = common::max_abs_diff(
            &composed.boxes.unwrap().data,
            &out.boxes.as_ref().unwrap().data,
        );
        assert!(d < 1e-4, "composed path boxes {d:e} from the fused ones");
    }
    let cand = f64s(params.get("candidates").unwrap());
    let k = cand.len() / 6;
    let data = f64s(&boxes.data);
    let valid = bools(boxes.valid.as_ref().unwrap());
    let n = boxes.data.size()[1] as usize;
    let got = f64s(&out.boxes.as_ref().unwrap().data);
    let got_valid = bools(out.boxes.as_ref().unwrap().valid.as_ref().unwrap());
    let mut taken = std::collections::BTreeSet::new();
    for s in 0..b as usize {
        let boxes_of = |j: usize| {
            let at = (s * n + j) * 4;
            // Continuous extents of the inclusive box.
            (
                data[at],
                data[at + 1],
                data[at + 2] + 1.0,
                data[at + 3] + 1.0,
            )
        };
        let choice = (0..k)
            .find(|&c| {
                let row = &cand[c * 6..c * 6 + 6];
                if row[1] > 0.5 {
                    return true;
                }
                let (l, t, r, bt) = (row[2], row[3], row[2] + row[4], row[3] + row[5]);
                let mut best: Option<f64> = None;
                for j in (0..n).filter(|&j| valid[s * n + j]) {
                    let (x1, y1, x2, y2) = boxes_of(j);
                    let (cx, cy) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
                    if l < cx && cx < r && t < cy && cy < bt {
                        let iw = (x2.min(r) - x1.max(l)).max(0.0);
                        let ih = (y2.min(bt) - y1.max(t)).max(0.0);
                        let inter = iw * ih;
                        let iou = inter / ((x2 - x1) * (y2 - y1) + (r - l) * (bt - t) - inter);
                        best = Some(best.map_or(iou, |v: f64| v.max(iou)));
                    }
                }
                best.is_some_and(|v| v >= row[0])
            })
            .expect("the last candidate leaves the image");
        taken.insert(choice);
        let row = &cand[choice * 6..choice * 6 + 6];
        let (l, t, cw, ch) = (row[2], row[3], row[4], row[5]);
        let (sx, sy) = (size.1 as f64 / cw, size.0 as f64 / ch);
        for j in 0..n {
            let (x1, y1, x2, y2) = boxes_of(j);
            let (cx, cy) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
            let inside = l < cx && cx < l + cw && t < cy && cy < t + ch;
            let want = valid[s * n + j] && (row[1] > 0.5 || inside);
            assert_eq!(got_valid[s * n + j], want, "sample {s} box {j}");
            if want {
                // Pixel centres map as x' = (x − left + ½)·s − ½.
                let at = (s * n + j) * 4;
                let exp = [
                    (data[at] - l + 0.5) * sx - 0.5,
                    (data[at + 1] - t + 0.5) * sy - 0.5,
                    (data[at + 2] - l + 0.5) * sx - 0.5,
                    (data[at + 3] - t + 0.5) * sy - 0.5,
                ];
                for (c, e) in exp.iter().enumerate() {
                    assert!((got[at + c] - e).abs() < 1e-4, "sample {s} box {j}");
                }
            }
        }
    }
    assert!(
        taken.len() >= 2,
        "the samples took different windows: {taken:?}"
    );
    // A replay with the same boxes takes the same windows.
    let again = aug.f_apply_batch(&batch, &params).unwrap();
    assert!(again.image.equal(&out.image));
}

/// The input gradient through the chosen window's crop and resize, in float64.
#[test]
fn the_crop_passes_the_input_gradient() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let aug = AugSpec::RandomIoUCrop(RandomIoUCropConfig {
        size: Some((5, 7)),
        ..Default::default()
    })
    .build(&vs.root())
    .unwrap();
    tch::manual_seed(2);
    let x = Tensor::rand([1, 2, 8, 10], (Kind::Double, Device::Cpu));
    let boxes = Boxes::xyxy(Tensor::from_slice(&[2.0, 1.0, 6.0, 5.0]).view([1, 1, 4]));
    let batch = Batch::new(x.shallow_clone()).with_boxes(boxes.clone());
    let (_, params) = aug.f_forward_batch(&batch).unwrap();
    let f = |x: &Tensor| {
        aug.f_apply_batch(
            &Batch::new(x.shallow_clone()).with_boxes(boxes.clone()),
            &params,
        )
        .unwrap()
        .image
    };
    let err = common::gradcheck(&f, &x);
    assert!(err < 1e-6, "{err:e}");
}

#[test]
fn bad_config_params_and_calls_are_typed_errors() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    for bad in [
        RandomIoUCropConfig {
            min_scale: 0.0,
            ..Default::default()
        },
        RandomIoUCropConfig {
            max_scale: 1.5,
            ..Default::default()
        },
        RandomIoUCropConfig {
            min_aspect_ratio: 3.0,
            ..Default::default()
        },
        RandomIoUCropConfig {
            sampler_options: vec![],
            ..Default::default()
        },
        RandomIoUCropConfig {
            trials: 0,
            ..Default::default()
        },
        RandomIoUCropConfig {
            rounds: 101,
            ..Default::default()
        },
        RandomIoUCropConfig {
            size: Some((0, 4)),
            ..Default::default()
        },
    ] {
        let e = AugSpec::RandomIoUCrop(bad.clone())
            .build(&vs.root())
            .unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{bad:?}: {e}");
    }
    let aug = AugSpec::RandomIoUCrop(RandomIoUCropConfig::default())
        .build(&vs.root())
        .unwrap();
    let x = Tensor::rand([2, 3, 12, 12], (Kind::Float, Device::Cpu));
    // An image without boxes takes the first window drawn (replayed here: one of the
    // output's size, cut out exactly); a sample whose boxes are all invalid keeps the image.
    let small = AugSpec::RandomIoUCrop(RandomIoUCropConfig {
        size: Some((6, 5)),
        ..Default::default()
    })
    .build(&vs.root())
    .unwrap();
    let mut p = small.f_sample(&x.size(), Device::Cpu).unwrap();
    let rows = [0.5, 0.0, 2.0, 3.0, 5.0, 6.0, 1.0, 1.0, 0.0, 0.0, 12.0, 12.0];
    p.insert("candidates", Tensor::from_slice(&rows).view([2, 6]));
    let y = small.f_apply(&x, &p).unwrap();
    assert!(y.equal(&x.narrow(2, 3, 6).narrow(3, 2, 5)));
    let none_valid = Boxes::xyxy(
        Tensor::from_slice(&[2f32, 2., 8., 8.])
            .view([1, 1, 4])
            .repeat([2, 1, 1]),
    )
    .with_valid(Tensor::zeros([2, 1], (Kind::Bool, Device::Cpu)));
    let kept = aug
        .f_apply_batch(&Batch::new(x.shallow_clone()).with_boxes(none_valid), &p)
        .unwrap();
    assert!(kept.image.equal(&x));
    let boxes = Boxes::xyxy(
        Tensor::from_slice(&[2f32, 2., 8., 8.])
            .view([1, 1, 4])
            .repeat([2, 1, 1]),
    );
    let batch = Batch::new(x.shallow_clone()).with_boxes(boxes);
    let (out, params) = aug.f_forward_batch(&batch).unwrap();
    // No inverse, no transform matrix: the window is not in the params.
    let e = aug.f_inverse_batch(&out, &params, &x.size()).unwrap_err();
    assert!(matches!(e, Error::Params { .. }), "{e}");
    assert!(aug
        .f_transform_matrix(&x.size(), &params, Kind::Float, Device::Cpu)
        .is_err());
    // Candidates of the wrong shape, or a window less than a pixel wide.
    for bad in [
        Tensor::zeros([3, 4], (Kind::Double, Device::Cpu)),
        Tensor::from_slice(&[0.0, 0.0, 1.0, 1.0, 0.0, 5.0]).view([1, 6]),
    ] {
        let mut p = params.detach();
        p.insert("candidates", bad);
        let e = aug.f_apply_batch(&batch, &p).unwrap_err();
        assert!(matches!(e, Error::Params { .. }), "{e}");
    }
    let e = AugSpec::from_kornia("RandomIoUCrop", &serde_json::json!({})).unwrap_err();
    assert!(e.to_string().contains("torchvision's"), "{e}");
}

/// torchvision's SSD recipe as a user writes it (colour jitter, RandomZoomOut,
/// RandomIoUCrop, a flip, in the detection mode with instance masks): every kept box lies in
/// the output and keeps its class id, every box the crop dropped has its mask channel zeroed,
/// and every kept box is the box around its own mask, which went through the same steps by
/// the image path (nearest resampling: within 1.5 px).
#[test]
fn an_ssd_pipeline_keeps_boxes_labels_and_masks_together() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let size = 48i64;
    let steps = vec![
        AugSpec::ColorJitter(JitterConfig {
            p: 0.8,
            ..JitterConfig::new(0.2, 0.2, 0.2, 0.05)
        }),
        AugSpec::RandomZoomOut(RandomZoomOutConfig {
            side_range: (1.0, 2.0),
            ..Default::default()
        }),
        AugSpec::RandomIoUCrop(RandomIoUCropConfig {
            size: Some((size, size)),
            ..Default::default()
        }),
        AugSpec::RandomHorizontalFlip(FlipConfig::default()),
    ];
    let pipeline = common::annotated(
        &vs,
        steps,
        AnnotationOptions {
            instance_masks: true,
            ..AnnotationOptions::detection()
        },
    );
    let (b, n, h, w) = (4i64, 5i64, 40i64, 56i64);
    let (mut kept, mut dropped, mut compared) = (0, 0, 0);
    for seed in 0..10 {
        tch::manual_seed(seed);
        let x1 = Tensor::randint(w - 12, [b, n], (Kind::Int64, Device::Cpu));
        let y1 = Tensor::randint(h - 12, [b, n], (Kind::Int64, Device::Cpu));
        let bw = Tensor::randint_low(4, 12, [b, n], (Kind::Int64, Device::Cpu));
        let bh = Tensor::randint_low(4, 12, [b, n], (Kind::Int64, Device::Cpu));
        let xyxy = Tensor::stack(&[&x1, &y1, &(&x1 + &bw), &(&y1 + &bh)], -1).to_kind(Kind::Float);
        let ys = Tensor::arange(h, (Kind::Float, Device::Cpu)).view([1, 1, h, 1]);
        let xs = Tensor::arange(w, (Kind::Float, Device::Cpu)).view([1, 1, 1, w]);
        let at = |i: i64| xyxy.select(-1, i).view([b, n, 1, 1]);
        let masks = ys
            .ge_tensor(&at(1))
            .logical_and(&ys.le_tensor(&at(3)))
            .logical_and(&xs.ge_tensor(&at(0)))
            .logical_and(&xs.le_tensor(&at(2)))
            .to_kind(Kind::Float);
        let ids = Tensor::arange(n, (Kind::Int64, Device::Cpu))
            .view([1, n])
            .repeat([b, 1]);
        let batch = Batch::new(Tensor::rand([b, 3, h, w], (Kind::Float, Device::Cpu)))
            .with_masks(masks)
            .with_boxes(Boxes::xyxy(xyxy).with_class_ids(ids));
        let (out, _) = pipeline.f_forward_batch(&batch).unwrap();
        assert_eq!(out.image.size(), [b, 3, size, size]);
        let boxes = out.boxes.unwrap();
        let data = f64s(&boxes.data);
        let valid = bools(boxes.valid.as_ref().unwrap());
        let ids = Vec::<i64>::try_from(boxes.class_ids.unwrap().reshape([-1])).unwrap();
        let m = out.masks.unwrap();
        for s in 0..b {
            for j in 0..n {
                let row = (s * n + j) as usize;
                let pixels = m.get(s).get(j).gt(0.5).nonzero();
                if !valid[row] {
                    dropped += 1;
                    assert_eq!(
                        pixels.size()[0],
                        0,
                        "seed {seed}: dropped box {j} keeps its mask"
                    );
                    continue;
                }
                kept += 1;
                assert_eq!(ids[row], j, "seed {seed}: class id of box {j}");
                let bx = &data[row * 4..row * 4 + 4];
                assert!(
                    bx.iter().all(|&v| (0.0..=(size - 1) as f64).contains(&v)),
                    "seed {seed}: box {j} {bx:?} outside the output"
                );
                if pixels.size()[0] == 0 {
                    continue; // thinner than a pixel after the resize
                }
                compared += 1;
                let lo = Vec::<i64>::try_from(pixels.amin(0, false)).unwrap();
                let hi = Vec::<i64>::try_from(pixels.amax(0, false)).unwrap();
                let around = [lo[1], lo[0], hi[1], hi[0]];
                for c in 0..4 {
                    let d = (bx[c] - around[c] as f64).abs();
                    assert!(
                        d <= 1.5,
                        "seed {seed}: box {j} {bx:?} vs its mask {around:?}"
                    );
                }
            }
        }
    }
    println!(
        "SSD PIPELINE: {kept} boxes kept with their ids ({compared} against their masks), {dropped} dropped"
    );
    assert!(
        compared >= 60 && dropped >= 20,
        "{compared} compared, {dropped} dropped"
    );
}
