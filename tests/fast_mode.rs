//! The fast mode's fused colour pass (`SequentialConfig::fuse_color`): exact where the steps
//! are affine and nothing clamps, its deviation from the exact (Kornia) path measured where
//! it approximates, gates, bounds carried through Normalize, gradients, JSON, annotations.

mod common;
#[path = "../examples/common/mod.rs"]
mod examples;
use tch::{nn, Device, Kind, Tensor};
use tch_dda::*;

fn pipeline(vs: &nn::VarStore, name: &str, steps: &[AugSpec], fast: bool) -> Sequential {
    let cfg = SequentialConfig {
        fuse_color: fast,
        ..SequentialConfig::new(steps.to_vec())
    };
    Sequential::new(vs.root() / name, cfg).unwrap()
}

/// A draw from torch's global generator under the serial guard, so that it cannot land
/// between another test's `manual_seed` and its draws.
fn guarded_rand(shape: &[i64], kind: Kind) -> Tensor {
    let _g = common::serial();
    Tensor::rand(shape, (kind, Device::Cpu))
}

/// Both pipelines on `x` with the params the exact one drew.
fn both(steps: &[AugSpec], x: &Tensor, seed: i64) -> (Tensor, Tensor) {
    let vs = nn::VarStore::new(Device::Cpu);
    let exact = pipeline(&vs, "exact", steps, false);
    let fast = pipeline(&vs, "fast", steps, true);
    let _g = common::serial();
    tch::manual_seed(seed);
    let (a, params) = exact.f_forward_with_params(x).unwrap();
    let b = fast.f_apply(x, &params).unwrap();
    (a, b)
}

/// The three photos of assets/ (centre squares), 64×64, as a (3,3,64,64) batch in [0, 1].
fn photos() -> Tensor {
    examples::load_photos(64, Device::Cpu).unwrap()
}

fn jitter(b: f64, c: f64, s: f64, h: f64) -> AugSpec {
    AugSpec::ColorJitter(JitterConfig::new(b, c, s, h))
}

#[test]
fn affine_steps_that_do_not_clamp_fuse_exactly() {
    // Values in [0.3, 0.7] and factors within ±0.2: no step clamps, so brightness, contrast
    // and saturation, in every drawn order, are exactly the affine maps the fast mode
    // composes (contrast's mean included).
    let x = guarded_rand(&[8, 3, 16, 16], Kind::Double) * 0.4 + 0.3;
    for seed in 0..6 {
        let steps = [
            jitter(0.2, 0.2, 0.2, 0.0),
            AugSpec::Normalize(NormalizeConfig::imagenet()),
        ];
        let (a, b) = both(&steps, &x, seed);
        let d = common::max_abs_diff(&a, &b);
        assert!(d < 1e-12, "seed {seed}: {d}");
        assert!(
            common::max_abs_diff(&a, &x) > 0.05,
            "the steps did something"
        );
    }
    // Steps without clamps or approximations: Normalize, RandomGrayscale (gated),
    // Denormalize; one channel mixes, so they fold through it.
    let steps = [
        AugSpec::Normalize(NormalizeConfig::imagenet()),
        AugSpec::RandomGrayscale(RandomGrayscaleConfig {
            p: 0.5,
            ..Default::default()
        }),
        AugSpec::Denormalize(NormalizeConfig {
            mean: vec![0.1],
            std: vec![-2.0],
            p: 1.0,
        }),
    ];
    let x = guarded_rand(&[16, 3, 8, 8], Kind::Double) * 3.0 - 1.0;
    let (a, b) = both(&steps, &x, 7);
    let d = common::max_abs_diff(&a, &b);
    assert!(d < 1e-12, "{d}");
}

#[test]
fn clamps_move_through_normalize_and_stop_at_a_channel_mix() {
    let x = guarded_rand(&[8, 3, 12, 12], Kind::Double) * 1.4 - 0.2;
    let vs = nn::VarStore::new(Device::Cpu);
    // The reference: the fast jitter alone, then the exact steps after it, replaying the
    // same params.
    for (tail, name) in [
        (
            vec![AugSpec::Normalize(NormalizeConfig {
                mean: vec![0.5, 0.4, 0.3],
                std: vec![0.2, -0.5, 2.0],
                p: 1.0,
            })],
            "normalize (one negative std)",
        ),
        (
            vec![
                AugSpec::RandomGrayscale(RandomGrayscaleConfig {
                    p: 1.0,
                    ..Default::default()
                }),
                AugSpec::Normalize(NormalizeConfig::imagenet()),
            ],
            "grayscale then normalize",
        ),
    ] {
        let mut steps = vec![jitter(0.4, 0.4, 0.4, 0.2)];
        steps.extend(tail.iter().cloned());
        let fused = pipeline(&vs, &format!("fused {name}"), &steps, true);
        let head = pipeline(&vs, &format!("head {name}"), &steps[..1], true);
        let rest = pipeline(&vs, &format!("rest {name}"), &tail, false);
        let _g = common::serial();
        tch::manual_seed(11);
        let (out, params) = fused.f_forward_with_params(&x).unwrap();
        let mid = head.f_apply(&x, &params).unwrap();
        let mut tail_params = Params::new();
        for (i, _) in tail.iter().enumerate() {
            tail_params.extend_prefixed(&i.to_string(), &params.sub(&(i + 1).to_string()));
        }
        let want = rest.f_apply(&mid, &tail_params).unwrap();
        let d = common::max_abs_diff(&out, &want);
        assert!(d < 1e-12, "{name}: {d}");
        // The clamp did bite on these inputs.
        assert!(mid.max().double_value(&[]) <= 1.0 && mid.min().double_value(&[]) >= 0.0);
        assert!(mid.eq(1.0).any().int64_value(&[]) == 1 || mid.eq(0.0).any().int64_value(&[]) == 1);
    }
}

#[test]
fn gated_off_samples_are_left_alone_clamp_included() {
    // Values outside [0, 1]: a sample the gate skips must come out unclamped.
    let x = guarded_rand(&[32, 3, 6, 6], Kind::Float) * 3.0 - 1.0;
    let mut cfg = JitterConfig::new(0.3, 0.3, 0.3, 0.1);
    cfg.p = 0.5;
    let steps = [AugSpec::ColorJitter(cfg)];
    let vs = nn::VarStore::new(Device::Cpu);
    let fast = pipeline(&vs, "fast", &steps, true);
    let _g = common::serial();
    tch::manual_seed(5);
    let (out, params) = fast.f_forward_with_params(&x).unwrap();
    let on = params.get("0.batch_prob").unwrap().gt(0.5);
    let n_on = on.sum(Kind::Int64).int64_value(&[]);
    assert!(n_on > 4 && n_on < 28, "{n_on} of 32 gated on");
    for i in 0..32 {
        let same = out.get(i).equal(&x.get(i));
        let gated_on = on.get(i).int64_value(&[]) == 1;
        assert_eq!(same, !gated_on, "sample {i}");
        if gated_on {
            let o = out.get(i);
            assert!(o.min().double_value(&[]) >= 0.0 && o.max().double_value(&[]) <= 1.0);
        }
    }
}

#[test]
fn the_fast_hue_matches_hsv_at_thirds_and_its_deviation_on_photos_is_bounded() {
    // A third of a turn maps the primaries as the HSV rotation does: red to green.
    let vs = nn::VarStore::new(Device::Cpu);
    let steps = [jitter(0.0, 0.0, 0.0, 0.5)];
    let fast = pipeline(&vs, "fast", &steps, true);
    let exact = pipeline(&vs, "exact", &steps, false);
    let prim = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
        .view([3, 3, 1, 1])
        .permute([0, 2, 3, 1])
        .contiguous()
        .view([1, 3, 3, 1]);
    let mut params = Params::new();
    params.insert(
        "0.brightness_factor",
        Tensor::ones([1], (Kind::Float, Device::Cpu)),
    );
    params.insert(
        "0.contrast_factor",
        Tensor::ones([1], (Kind::Float, Device::Cpu)),
    );
    params.insert(
        "0.saturation_factor",
        Tensor::ones([1], (Kind::Float, Device::Cpu)),
    );
    params.insert("0.hue_factor", Tensor::from_slice(&[1.0f32 / 3.0]));
    params.insert("0.order", Tensor::from_slice(&[0i64, 1, 2, 3]));
    params.insert(
        "0.batch_prob",
        Tensor::ones([1], (Kind::Float, Device::Cpu)),
    );
    let a = fast.f_apply(&prim, &params).unwrap();
    let b = exact.f_apply(&prim, &params).unwrap();
    let d = common::max_abs_diff(&a, &b);
    assert!(d < 1e-5, "primaries at a third of a turn: {d}");

    // On photos, hue within ±0.1 of a turn: the mean absolute deviation per value.
    let x = photos();
    let steps = [jitter(0.0, 0.0, 0.0, 0.1)];
    let (a, b) = both(&steps, &x, 3);
    let mad = (&a - &b).abs().mean(Kind::Double).double_value(&[]);
    println!("fast hue ±0.1 turn on photos: mean |Δ| = {mad:.4}");
    assert!(mad < 0.03, "{mad}");
    assert!(mad > 0.0, "the two hues are different functions");
}

#[test]
fn the_fast_paper_pipeline_stays_near_the_exact_one_and_is_differentiable() {
    let x = photos();
    let steps = [
        jitter(0.2, 0.3, 0.2, 0.3),
        AugSpec::Normalize(NormalizeConfig::imagenet()),
    ];
    let mut mads = Vec::new();
    for seed in 0..4 {
        let (a, b) = both(&steps, &x, seed);
        // In normalised units: divide by ~1/std ≈ 4.4 for pixel units.
        mads.push((&a - &b).abs().mean(Kind::Double).double_value(&[]) * 0.226);
    }
    println!("fast paper colour on photos, mean |Δ| in pixel units: {mads:?}");
    assert!(mads.iter().all(|&m| m < 0.06), "{mads:?}");

    // Gradients reach the input and the learnable ranges.
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = JitterConfig::new(0.2, 0.3, 0.2, 0.3);
    cfg.learnable = Learnable::All;
    let fast = pipeline(
        &vs,
        "learn",
        &[
            AugSpec::ColorJitter(cfg),
            AugSpec::Normalize(NormalizeConfig::imagenet()),
        ],
        true,
    );
    let xg = x.detach().set_requires_grad(true);
    let _g = common::serial();
    tch::manual_seed(1);
    let out = fast.f_forward(&xg).unwrap();
    (out * Tensor::rand_like(&x)).sum(Kind::Float).backward();
    assert!(xg.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
    let vars = vs.variables();
    assert_eq!(vars.len(), 8, "{:?}", vars.keys());
    for (name, v) in vars {
        let g = v.grad();
        assert!(g.defined(), "{name} has no gradient");
        assert!(
            g.abs().sum(Kind::Float).double_value(&[]) > 0.0,
            "{name}: zero gradient"
        );
    }
}

#[test]
fn fast_mode_round_trips_through_json_and_leaves_annotations_to_geometry() {
    let steps = vec![
        AugSpec::RandomHorizontalFlip(FlipConfig {
            p: 1.0,
            ..Default::default()
        }),
        jitter(0.2, 0.3, 0.2, 0.3),
        AugSpec::Normalize(NormalizeConfig::imagenet()),
    ];
    let cfg = SequentialConfig::fast(steps.clone());
    assert!(cfg.fuse_color && cfg.fuse_geometry);
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(json.contains("\"fuse_color\":true"), "{json}");
    let back: SequentialConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cfg);
    let plain: SequentialConfig = serde_json::from_str(
        &serde_json::to_string(&SequentialConfig::new(steps.clone())).unwrap(),
    )
    .unwrap();
    assert!(!plain.fuse_color);

    let vs = nn::VarStore::new(Device::Cpu);
    let seq = Sequential::new(vs.root() / "fast", cfg).unwrap();
    let x = guarded_rand(&[2, 3, 10, 12], Kind::Float);
    let kp = Tensor::from_slice(&[1.0f32, 2.0, 5.5, 7.0])
        .view([1, 2, 2])
        .repeat([2, 1, 1]);
    let mask = guarded_rand(&[2, 1, 10, 12], Kind::Float).gt(0.5);
    let batch = Batch {
        keypoints: Some(Keypoints::new(kp.shallow_clone())),
        masks: Some(mask.shallow_clone()),
        ..Batch::new(x.shallow_clone())
    };
    let _g = common::serial();
    let (out, _) = seq.f_forward_batch(&batch).unwrap();
    // The flip moved them; the colour pass did not touch them.
    let want_kp = Tensor::stack(&[11.0 - kp.select(2, 0), kp.select(2, 1)], 2);
    let got_kp = out.keypoints.unwrap().points;
    assert!(common::max_abs_diff(&got_kp, &want_kp) < 1e-5);
    assert!(out.masks.unwrap().equal(&mask.flip([3])));
}

#[test]
fn fast_mode_gradients_match_finite_differences() {
    // float64, values away from the clamp's kinks; the paper's colour steps then Normalize.
    let vs = nn::VarStore::new(Device::Cpu);
    let steps = [
        jitter(0.2, 0.3, 0.2, 0.3),
        AugSpec::Normalize(NormalizeConfig::imagenet()),
    ];
    let fast = pipeline(&vs, "fast", &steps, true);
    let _g = common::serial();
    tch::manual_seed(3);
    let x = Tensor::rand([2, 3, 4, 5], (Kind::Double, Device::Cpu)) * 0.4 + 0.3;
    let params = fast.f_sample(&x.size(), Device::Cpu).unwrap();
    let err = common::gradcheck(&|x| fast.f_apply(x, &params).unwrap(), &x);
    assert!(err < 1e-6, "input gradient off by {err:e}");
}

#[test]
fn fast_mode_is_reproducible_and_refuses_bad_input_with_typed_errors() {
    let vs = nn::VarStore::new(Device::Cpu);
    let seq = Sequential::new(
        vs.root() / "fast",
        SequentialConfig::fast(vec![
            jitter(0.2, 0.3, 0.2, 0.3),
            AugSpec::Normalize(NormalizeConfig::imagenet()),
        ]),
    )
    .unwrap();
    let x = photos();
    let _g = common::serial();
    tch::manual_seed(21);
    let (a, params) = seq.f_forward_with_params(&x).unwrap();
    tch::manual_seed(21);
    assert!(
        seq.f_forward(&x).unwrap().equal(&a),
        "same seed, same output"
    );
    let _ = Tensor::rand([10], (Kind::Float, Device::Cpu));
    assert!(seq.f_apply(&x, &params).unwrap().equal(&a), "replay");
    tch::manual_seed(22);
    assert!(
        !seq.f_forward(&x).unwrap().equal(&a),
        "another seed, another output"
    );
    // Two channels: ColorJitter's check names the op and leaves the input as it was.
    let two = x.narrow(1, 0, 2).copy();
    let before = two.copy();
    let err = seq.f_forward(&two).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Channels {
                op: "ColorJitter",
                got: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(two.equal(&before));
    // A wrong type for the option in JSON is a typed error naming it.
    let bad = r#"{"steps": [{"Normalize": {}}], "fuse_color": "yes"}"#;
    let err = serde_json::from_str::<SequentialConfig>(bad).unwrap_err();
    assert!(err.to_string().contains("expected a boolean"), "{err}");
}
