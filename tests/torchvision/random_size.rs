//! torchvision's ScaleJitter, RandomShortestSize and RandomZoomOut: the same seed draws
//! torchvision 0.28's size, and the image, its input gradient and oriented boxes equal its
//! outputs (tests/fixtures/torchvision/sizes.safetensors, from
//! scripts/gen_torchvision_size_fixtures.py); replay, inverse, gradients, pipelines and
//! typed errors.

use crate::common;
use common::max_abs_diff;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

struct Case {
    key: String,
    seed: i64,
    spec: AugSpec,
    size: Vec<i64>,
}

fn cases(fx: &common::Fixture) -> Vec<Case> {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(fx.meta["cases"].as_str().unwrap()).unwrap();
    cases
        .into_iter()
        .map(|c| Case {
            key: c["key"].as_str().unwrap().to_string(),
            seed: c["seed"].as_i64().unwrap(),
            spec: serde_json::from_value(c["spec"].clone()).unwrap(),
            size: c["size"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect(),
        })
        .collect()
}

/// Oriented boxes' largest difference, angles modulo 360°.
fn box_diff(a: &Tensor, b: &Tensor) -> f64 {
    let d = (a - b).abs();
    let r = (a.select(-1, 4) - b.select(-1, 4)).remainder(360.0);
    let r = r.minimum(&(360.0 - &r));
    d.narrow(-1, 0, 4)
        .max()
        .double_value(&[])
        .max(r.max().double_value(&[]))
}

#[test]
fn the_same_seed_draws_torchvisions_size_and_output() {
    let _serial = common::serial();
    let fx = common::fixture("torchvision/sizes");
    let image = fx.get("image").to_device(Device::Cpu);
    let boxes = fx.get("boxes").to_device(Device::Cpu);
    let vs = VarStore::new(Device::Cpu);
    let mut sizes = std::collections::BTreeSet::new();
    let mut grads = 0;
    for case in cases(&fx) {
        let aug = case.spec.build(&vs.root()).unwrap();
        let batch = Batch::new(image.shallow_clone()).with_boxes(Boxes::new(
            boxes.unsqueeze(0).repeat([2, 1, 1]),
            BoxFormat::Xywhr,
        ));
        tch::manual_seed(case.seed);
        let (out, params) = aug.f_forward_batch(&batch).unwrap();
        let key = &case.key;
        assert_eq!(out.image.size()[2..], case.size, "{key}: size");
        assert_eq!(
            aug.output_shape_for(&image.size(), &params)[2..],
            case.size,
            "{key}"
        );
        let d = max_abs_diff(&out.image, fx.get(&format!("{key}.image")));
        assert!(d <= 1e-6, "{key}: image differs by {d:e}");
        let theirs = fx.get(&format!("{key}.boxes")).to_device(Device::Cpu);
        let ours = out.boxes.as_ref().unwrap().data.get(1);
        let d = box_diff(&ours, &theirs);
        assert!(d <= 1e-4, "{key}: boxes differ by {d:e}");
        // Replayed, the same output and torchvision's input gradient; inverted, the input
        // boxes.
        let again = aug.f_apply_batch(&batch, &params).unwrap();
        assert!(again.image.equal(&out.image), "{key}: replay");
        if let Some(w) = fx.tensors.get(&format!("{key}.weights")) {
            let leaf = image.detach().set_requires_grad(true);
            let y = aug.f_apply(&leaf, &params).unwrap();
            (&y * w.to_device(Device::Cpu)).sum(Kind::Double).backward();
            let d = max_abs_diff(&leaf.grad(), fx.get(&format!("{key}.grad")));
            assert!(d <= 1e-5, "{key}: input gradient differs by {d:e}");
            grads += 1;
        }
        let back = aug.f_inverse_batch(&out, &params, &image.size()).unwrap();
        let d = box_diff(
            &back.boxes.unwrap().data,
            &batch.boxes.as_ref().unwrap().data,
        );
        assert!(d <= 1e-4, "{key}: the inverse's boxes differ by {d:e}");
        sizes.insert(case.size.clone());
    }
    assert_eq!(grads, 7, "one input gradient per setting");
    // Down and up, several sizes, and a zoom out gated off (the input's size).
    assert!(sizes.len() >= 12, "{sizes:?}");
    assert!(sizes.contains(&image.size()[2..]), "{sizes:?}");
}

/// The zoomed-out canvas holds the image exactly where its padding says, the fill around
/// it, and the inverse cuts the image back out, bit for bit.
#[test]
fn a_zoom_out_places_the_image_on_its_canvas() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let aug = RandomZoomOut::new(
        vs.root(),
        RandomZoomOutConfig {
            fill: vec![0.1, 0.5, 0.9],
            side_range: (1.5, 3.0),
            p: 1.0,
        },
    )
    .unwrap();
    let x = Tensor::rand([2, 3, 10, 14], (Kind::Float, Device::Cpu));
    tch::manual_seed(4);
    let (y, params) = aug.f_forward_with_params(&x).unwrap();
    let pad = Vec::<i64>::try_from(params.get("padding").unwrap().get(1)).unwrap();
    let (l, t, r, b) = (pad[0], pad[1], pad[2], pad[3]);
    assert_eq!(y.size(), [2, 3, 10 + t + b, 14 + l + r]);
    assert!(l + r >= 7 && t + b >= 5, "{pad:?}");
    assert!(y.narrow(2, t, 10).narrow(3, l, 14).equal(&x));
    // Each channel's fill outside the image: the canvas sums to the fill over its area.
    for (c, fill) in [0.1f64, 0.5, 0.9].iter().enumerate() {
        let total = y.get(0).get(c as i64).sum(Kind::Double).double_value(&[]);
        let image = x.get(0).get(c as i64).sum(Kind::Double).double_value(&[]);
        let area = (y.size()[2] * y.size()[3] - 140) as f64;
        assert!((total - image - fill * area).abs() < 1e-3, "channel {c}");
    }
    assert!(aug.f_inverse(&y, &params, &x.size()).unwrap().equal(&x));
}

#[test]
fn input_gradients_match_finite_differences() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    for spec in [
        AugSpec::ScaleJitter(ScaleJitterConfig {
            scale_range: (0.5, 1.5),
            ..ScaleJitterConfig::new((9, 9))
        }),
        AugSpec::ScaleJitter(ScaleJitterConfig {
            resample: Resample::Bicubic,
            ..ScaleJitterConfig::new((14, 14))
        }),
        AugSpec::RandomShortestSize(RandomShortestSizeConfig::new(vec![5, 7], None)),
        AugSpec::RandomZoomOut(RandomZoomOutConfig {
            fill: vec![0.2, 0.7],
            p: 1.0,
            ..Default::default()
        }),
    ] {
        let aug = spec.build(&vs.root()).unwrap();
        tch::manual_seed(3);
        let x = Tensor::rand([2, 2, 8, 10], (Kind::Double, Device::Cpu));
        let params = aug.f_sample(&x.size(), Device::Cpu).unwrap();
        let f = |x: &Tensor| aug.f_apply(x, &params).unwrap();
        let err = common::gradcheck(&f, &x);
        assert!(err < 1e-6, "{}: {err:e}", spec.name());
    }
}

#[test]
fn in_a_pipeline_the_next_steps_see_the_drawn_size() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let specs = vec![
        AugSpec::RandomShortestSize(RandomShortestSizeConfig::new(vec![24, 32], Some(64))),
        AugSpec::RandomCrop(RandomCropConfig {
            size: (20, 20),
            ..Default::default()
        }),
        AugSpec::RandomHorizontalFlip(FlipConfig::default()),
    ];
    let seq = Sequential::new(vs.root() / "p", specs.as_slice()).unwrap();
    let json = seq.to_json().unwrap();
    assert!(json.contains("RandomShortestSize"), "{json}");
    let again = Sequential::from_json(vs.root() / "q", &json).unwrap();
    let x = Tensor::rand([3, 3, 30, 50], (Kind::Float, Device::Cpu));
    tch::manual_seed(5);
    let (y, params) = seq.f_forward_with_params(&x).unwrap();
    assert_eq!(y.size(), [3, 3, 20, 20]);
    assert!(again.f_apply(&x, &params).unwrap().equal(&y));
    // The first step's drawn size, as the params hold it.
    let first = params.sub("0");
    let size = Vec::<i64>::try_from(first.get("output_size").unwrap().get(0)).unwrap();
    assert!(size == [24, 40] || size == [32, 53], "{size:?}");
    // A crop larger than the drawn size is refused when the size is known.
    let too_big = Sequential::new(
        vs.root() / "r",
        [
            AugSpec::RandomShortestSize(RandomShortestSizeConfig::new(vec![10], None)),
            AugSpec::RandomCrop(RandomCropConfig {
                size: (20, 20),
                ..Default::default()
            }),
        ]
        .as_slice(),
    )
    .unwrap();
    let e = too_big.f_forward(&x).unwrap_err().to_string();
    assert!(e.contains("RandomCrop"), "{e}");
}

#[test]
fn bad_configs_params_and_inputs_are_typed_errors() {
    let vs = VarStore::new(Device::Cpu);
    let build = |spec: AugSpec| spec.build(&vs.root()).map(|_| ()).unwrap_err().to_string();
    let e = build(AugSpec::ScaleJitter(ScaleJitterConfig::new((0, 5))));
    assert!(e.contains("target_size"), "{e}");
    let e = build(AugSpec::ScaleJitter(ScaleJitterConfig {
        scale_range: (2.0, 1.0),
        ..ScaleJitterConfig::new((5, 5))
    }));
    assert!(e.contains("scale_range") && e.contains("lo <= hi"), "{e}");
    let e = build(AugSpec::RandomShortestSize(RandomShortestSizeConfig::new(
        vec![],
        None,
    )));
    assert!(e.contains("min_size"), "{e}");
    let e = build(AugSpec::RandomShortestSize(RandomShortestSizeConfig::new(
        vec![4],
        Some(0),
    )));
    assert!(e.contains("max_size"), "{e}");
    let e = build(AugSpec::RandomZoomOut(RandomZoomOutConfig {
        side_range: (0.5, 2.0),
        ..Default::default()
    }));
    assert!(e.contains("side_range") && e.contains("1 <= lo"), "{e}");
    let three = AugSpec::RandomZoomOut(RandomZoomOutConfig {
        fill: vec![0.0, 1.0, 0.5],
        p: 1.0,
        ..Default::default()
    })
    .build(&vs.root())
    .unwrap();
    let e = three
        .f_forward(&Tensor::rand([1, 2, 5, 5], (Kind::Float, Device::Cpu)))
        .unwrap_err();
    assert!(matches!(e, Error::Channels { got: 2, .. }), "{e}");
    // JSON requires the required field, as torchvision's constructor does.
    let e = serde_json::from_str::<AugSpec>(r#"{"ScaleJitter": {}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`target_size`"), "{e}");
    // Not a Kornia class.
    let e = AugSpec::from_kornia("ScaleJitter", &serde_json::json!({"target_size": [4, 4]}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("torchvision"), "{e}");

    let aug = AugSpec::ScaleJitter(ScaleJitterConfig {
        scale_range: (0.1, 0.1),
        ..ScaleJitterConfig::new((4, 4))
    })
    .build(&vs.root())
    .unwrap();
    // A draw that leaves a side 0.
    let x = Tensor::rand([1, 3, 20, 20], (Kind::Float, Device::Cpu));
    let e = aug.f_forward(&x).unwrap_err().to_string();
    assert!(e.contains("output size"), "{e}");
    // Params without their size, or with a float one.
    let mut p = Params::new();
    p.insert("batch_prob", Tensor::ones([1], (Kind::Float, Device::Cpu)));
    let e = aug.f_apply(&x, &p).unwrap_err().to_string();
    assert!(e.contains("output_size"), "{e}");
    p.insert(
        "output_size",
        Tensor::ones([1, 2], (Kind::Float, Device::Cpu)),
    );
    let e = aug.f_apply(&x, &p).unwrap_err().to_string();
    assert!(e.contains("integer"), "{e}");
    // Integer images are refused, as by every operator.
    let e = aug
        .f_forward(&Tensor::ones([1, 3, 20, 20], (Kind::Uint8, Device::Cpu)))
        .unwrap_err();
    assert!(matches!(e, Error::Dtype { .. }), "{e}");

    // Found by the fuzzer: sizes past any memory, fills past float32 and canvases smaller
    // than the forward pass made are typed errors, not libtorch's or a panic.
    let huge = AugSpec::ScaleJitter(ScaleJitterConfig {
        scale_range: (0.8, 3.4e38),
        ..ScaleJitterConfig::new((20, 20))
    })
    .build(&vs.root())
    .unwrap();
    tch::manual_seed(0);
    let e = huge
        .f_forward(&Tensor::rand([2, 3, 8, 8], (Kind::Float, Device::Cpu)))
        .unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    for cfg in [
        RandomZoomOutConfig {
            side_range: (1.0, 1e39),
            ..Default::default()
        },
        RandomZoomOutConfig {
            fill: vec![1e300],
            ..Default::default()
        },
    ] {
        let e = AugSpec::RandomZoomOut(cfg.clone())
            .build(&vs.root())
            .unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{cfg:?}: {e}");
    }
    let zoom = AugSpec::RandomZoomOut(RandomZoomOutConfig {
        side_range: (2.0, 2.0),
        p: 1.0,
        ..Default::default()
    })
    .build(&vs.root())
    .unwrap();
    let x = Tensor::rand([1, 1, 6, 6], (Kind::Float, Device::Cpu));
    let (y, params) = zoom.f_forward_with_params(&x).unwrap();
    let e = zoom
        .f_inverse(&y.narrow(2, 0, 5), &params, &x.size())
        .unwrap_err();
    assert!(matches!(e, Error::Size { .. }), "{e}");
}
