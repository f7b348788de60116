//! torchvision's AugMix against torchvision 0.28 (scripts/gen_torchvision_augmix_fixtures.py,
//! tests/fixtures/torchvision/augmix.safetensors): each case's recorded draws replay to
//! torchvision's output (and input gradient, where torchvision has one), and the same seed
//! draws the same. Then what torchvision cannot check: a float64 gradcheck through every
//! operation, and the typed errors.

use crate::common;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

const TOL: f64 = 1e-5;

/// The fixture's cases: (key, seed, spec, whether torchvision had an input gradient).
fn cases(fx: &common::Fixture) -> Vec<(String, i64, AugSpec, bool)> {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(fx.meta["cases"].as_str().unwrap()).unwrap();
    cases
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["seed"].as_i64().unwrap(),
                serde_json::from_value(c["spec"].clone()).unwrap(),
                c["grad"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// torchvision's draws of a case as the crate's params.
fn recorded(fx: &common::Fixture, key: &str, input: &Tensor) -> Params {
    let mut p = Params::new();
    for k in ["beta", "chain_weights", "ops", "magnitudes"] {
        p.insert(k, fx.get(&format!("{key}.{k}")).shallow_clone());
    }
    let b = input.size()[0];
    p.insert("batch_prob", Tensor::ones([b], (Kind::Float, Device::Cpu)));
    p.insert("forward_input_shape", Tensor::from_slice(&input.size()));
    p
}

#[test]
fn the_same_seed_draws_torchvisions_chains_and_output() {
    let _serial = common::serial();
    let fx = common::fixture("torchvision/augmix");
    let ops: Vec<String> = serde_json::from_str(fx.meta["ops"].as_str().unwrap()).unwrap();
    assert_eq!(
        ops, AUGMIX_OPS,
        "the fixture's operation order is the crate's"
    );
    let vs = VarStore::new(Device::Cpu);
    let (mut worst_out, mut worst_grad, mut grads) = (0f64, 0f64, 0);
    let mut drawn_ops = std::collections::BTreeSet::new();
    for (key, seed, spec, has_grad) in cases(&fx) {
        let aug = spec.build(&vs.root()).unwrap();
        let input = fx.get(&format!("{key}.input"));
        let want = fx.get(&format!("{key}.output"));
        // Replayed: torchvision's draws give its output.
        let params = recorded(&fx, &key, input);
        let x = input.set_requires_grad(true);
        let out = aug.f_apply(&x, &params).unwrap();
        let e = common::max_abs_diff(&out, want);
        assert!(e <= TOL, "{key}: output {e:e} from torchvision's");
        worst_out = worst_out.max(e);
        if has_grad {
            (&out * fx.get(&format!("{key}.weights")))
                .sum(Kind::Double)
                .backward();
            let e = common::max_abs_diff(&x.grad(), fx.get(&format!("{key}.grad")));
            assert!(e <= TOL, "{key}: input gradient {e:e} from torchvision's");
            worst_grad = worst_grad.max(e);
            grads += 1;
        }
        // Drawn: the same seed, the same draws, bit for bit.
        tch::manual_seed(seed);
        let (again, drawn) = aug.f_forward_with_params(input).unwrap();
        for k in ["beta", "chain_weights", "ops", "magnitudes"] {
            let d = common::max_abs_diff(drawn.get(k).unwrap(), params.get(k).unwrap());
            assert!(d == 0.0, "{key}: {k} drawn {d:e} away from torchvision's");
        }
        assert!(
            common::max_abs_diff(&again, want) <= TOL,
            "{key}: drawn output"
        );
        for op in Vec::<i64>::try_from(drawn.get("ops").unwrap().reshape([-1])).unwrap() {
            if op >= 0 {
                drawn_ops.insert(op);
            }
        }
    }
    assert_eq!(
        drawn_ops.len(),
        AUGMIX_OPS.len(),
        "every operation replayed"
    );
    println!(
        "AUGMIX: {} cases, outputs within {worst_out:.1e} of torchvision's, {grads} input gradients within {worst_grad:.1e}",
        cases(&fx).len()
    );
}

/// Each operation alone, in float64, against finite differences: the chains' gradients,
/// AutoContrast's included (torchvision's cannot be differentiated). Posterize and
/// Equalize are piecewise constant: their gradient is zero, and so is the difference
/// quotient away from their steps.
#[test]
fn every_operation_has_the_gradient_of_its_function() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let aug = AugSpec::AugMix(AugMixConfig {
        mixture_width: 1,
        chain_depth: 1,
        ..Default::default()
    })
    .build(&vs.root())
    .unwrap();
    tch::manual_seed(5);
    // Distinct values (no ties for AutoContrast's min and max) at the centres of
    // Equalize's 256 bins (x·255.999 = k + 0.5), so that no finite difference crosses a
    // step of Equalize, Posterize (k/8) or Solarize (0.55).
    let k = Tensor::randperm(216, (Kind::Double, Device::Cpu)).narrow(0, 0, 126) + 20.0;
    let x = ((k + 0.5) / 255.999).view([1, 3, 6, 7]);
    let magnitudes = [
        0.2, -0.15, 2.6, -1.9, 7.0, 3.0, 0.55, 0.0, 0.0, 0.4, -0.3, 0.5, 0.7,
    ];
    for (op, m) in magnitudes.iter().enumerate() {
        let mut p = aug.f_sample(&x.size(), Device::Cpu).unwrap();
        p.insert("ops", Tensor::from_slice(&[op as i64, -1, -1]).view([1, 3]));
        p.insert(
            "magnitudes",
            Tensor::from_slice(&[*m, 0.0, 0.0]).view([1, 3]),
        );
        let f = |x: &Tensor| aug.f_apply(x, &p).unwrap();
        let err = common::gradcheck(&f, &x);
        assert!(err < 1e-6, "{}: {err:e}", AUGMIX_OPS[op]);
    }
}

#[test]
fn bad_input_config_and_params_are_typed_errors() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let build = |cfg: AugMixConfig| AugSpec::AugMix(cfg).build(&vs.root());
    for bad in [
        AugMixConfig {
            severity: 0,
            ..Default::default()
        },
        AugMixConfig {
            severity: 11,
            ..Default::default()
        },
        AugMixConfig {
            mixture_width: 0,
            ..Default::default()
        },
        AugMixConfig {
            chain_depth: 33,
            ..Default::default()
        },
        AugMixConfig {
            alpha: 0.0,
            ..Default::default()
        },
        AugMixConfig {
            resample: Resample::Bicubic,
            ..Default::default()
        },
        AugMixConfig {
            fill: Some(vec![]),
            ..Default::default()
        },
        // Past float32 (the draw would overflow converting it).
        AugMixConfig {
            alpha: 1e39,
            ..Default::default()
        },
    ] {
        let e = build(bad.clone()).unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{bad:?}: {e}");
    }
    let aug = build(AugMixConfig::default()).unwrap();
    let x = Tensor::rand([2, 3, 8, 8], (Kind::Float, Device::Cpu));
    // Two channels: torchvision's colour operations take 1 or 3.
    let e = aug
        .f_forward(&Tensor::rand([2, 2, 8, 8], (Kind::Float, Device::Cpu)))
        .unwrap_err();
    assert!(matches!(e, Error::Channels { got: 2, .. }), "{e}");
    // Masks, boxes and keypoints are refused, as torchvision refuses them.
    let masked = Batch::new(x.shallow_clone()).with_masks(x.zeros_like());
    let e = aug.f_forward_batch(&masked).unwrap_err();
    assert!(matches!(e, Error::Annotation { what: "masks", .. }), "{e}");
    let boxed = Batch::new(x.shallow_clone()).with_boxes(Boxes::xyxy(
        Tensor::from_slice(&[1f32, 1., 4., 4.])
            .view([1, 1, 4])
            .repeat([2, 1, 1]),
    ));
    let e = aug.f_forward_batch(&boxed).unwrap_err();
    assert!(matches!(e, Error::Annotation { .. }), "{e}");
    // Params: an operation outside the space, a hole in a chain, a missing key.
    let (y, params) = aug.f_forward_with_params(&x).unwrap();
    assert!(matches!(
        aug.f_inverse(&y, &params, &x.size()),
        Err(Error::NotInvertible { .. })
    ));
    for (ops, why) in [
        ([13i64, -1, -1], "0..13"),
        ([-1, 2, -1], "0..13"),
        ([1, -1, 4], "0..13"),
    ] {
        let mut p = params.detach();
        let mut all = vec![0i64, -1, -1, 0, -1, -1, 0, -1, -1];
        all[..3].copy_from_slice(&ops);
        p.insert("ops", Tensor::from_slice(&all).view([3, 3]));
        let e = aug.f_apply(&x, &p).unwrap_err();
        assert!(
            matches!(e, Error::Params { .. }) && e.to_string().contains(why),
            "{ops:?}: {e}"
        );
    }
    let mut p = params.detach();
    p.insert(
        "magnitudes",
        Tensor::from_slice(&[1e39, 0.0, 0.0, 1e39, 0.0, 0.0, 1e39, 0.0, 0.0]).view([3, 3]),
    );
    assert!(matches!(aug.f_apply(&x, &p), Err(Error::Params { .. })));
    let mut p = params.detach();
    p.remove("magnitudes");
    assert!(matches!(aug.f_apply(&x, &p), Err(Error::Params { .. })));
    // Not a Kornia class.
    let e = AugSpec::from_kornia("AugMix", &serde_json::json!({})).unwrap_err();
    assert!(e.to_string().contains("torchvision's"), "{e}");
}
