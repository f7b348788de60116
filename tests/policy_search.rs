//! Faster AutoAugment's differentiable policy (`tch_dda::auto::search`): gradients reach every
//! variable, one optimiser step moves each, the sampled mode applies what the variables say,
//! and the found policy round-trips through JSON.

mod common;

use common::{max_abs_diff, serial};
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tch_dda::auto::search::{gradient_penalty, DifferentiablePolicy, FoundPolicy, SearchConfig};
use tch_dda::PolicyOp;

fn images(b: i64, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    // Smooth images away from 0 and 1, so that clamps sit off their kinks.
    let x = Tensor::rand([b, 3, 4, 4], (Kind::Float, Device::Cpu));
    x.upsample_bilinear2d([16, 16], false, None, None) * 0.8 + 0.1
}

#[test]
fn every_weight_probability_and_magnitude_gets_a_gradient_and_moves() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = SearchConfig {
        sub_policies: 2,
        // A warmer temperature than the search's, so that no relaxed gate saturates to
        // exactly 0 or 1 in float32.
        temperature: 0.5,
        // Off the identity: at μ = 0.5 contrast, brightness and sharpness leave the image
        // as it is, so their gates get no gradient there (their magnitudes do).
        init_magnitude: 0.7,
        ..Default::default()
    };
    let policy = DifferentiablePolicy::new(vs.root() / "policy", cfg.clone()).unwrap();
    let x = images(64, 1);
    let target = images(64, 2);
    let out = policy.forward_t(&x, true);
    assert_eq!(out.size(), x.size());
    let loss = (&out - &target).pow_tensor_scalar(2).mean(Kind::Float);
    let before: Vec<Tensor> = [
        policy.weights(),
        policy.probabilities(),
        policy.magnitudes(),
    ]
    .iter()
    .map(|t| t.detach().copy())
    .collect();
    let mut opt = nn::Adam::default().build(&vs, 1e-2).unwrap();
    opt.zero_grad();
    loss.backward();
    let has_magnitude = Tensor::from_slice(
        &cfg.operations
            .iter()
            .map(|o| o.has_magnitude())
            .collect::<Vec<_>>(),
    )
    .view([1, 1, -1])
    .expand([2, 2, cfg.operations.len() as i64], false);
    for (name, var, mask) in [
        ("weights", policy.weights(), None),
        ("probabilities", policy.probabilities(), None),
        ("magnitudes", policy.magnitudes(), Some(&has_magnitude)),
    ] {
        let nonzero = var.grad().ne(0.0);
        let nonzero = match mask {
            Some(m) => nonzero.logical_or(&m.logical_not()),
            None => nonzero,
        };
        let missing = nonzero.logical_not().sum(Kind::Int64).int64_value(&[]);
        assert_eq!(missing, 0, "{name}: {missing} entries got no gradient");
    }
    opt.step();
    for (i, (name, var)) in [
        ("weights", policy.weights()),
        ("probabilities", policy.probabilities()),
        ("magnitudes", policy.magnitudes()),
    ]
    .iter()
    .enumerate()
    {
        let moved = var.ne_tensor(&before[i]);
        let moved = if *name == "magnitudes" {
            moved.logical_or(&has_magnitude.logical_not())
        } else {
            moved
        };
        let still = moved.logical_not().sum(Kind::Int64).int64_value(&[]);
        assert_eq!(
            still, 0,
            "{name}: {still} entries did not move after one Adam step"
        );
    }
}

fn only(op: PolicyOp, probability: f64, magnitude: f64) -> FoundPolicy {
    let cfg = SearchConfig::default();
    let stage: Vec<_> = cfg
        .operations
        .iter()
        .map(|&o| tch_dda::auto::search::FoundOp {
            op: o,
            weight: if o == op { 1.0 - 1e-30 } else { 1e-30 },
            probability,
            magnitude: o.has_magnitude().then_some(magnitude),
        })
        .collect();
    FoundPolicy {
        temperature: cfg.temperature,
        sub_policies: vec![vec![stage.clone(); 2]; cfg.sub_policies],
    }
}

#[test]
fn the_sampled_mode_applies_what_the_variables_say() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let policy = DifferentiablePolicy::new(vs.root(), SearchConfig::default()).unwrap();
    let x = images(8, 3);
    // Invert twice: the identity.
    policy
        .f_load_found(&only(PolicyOp::Invert, 1.0, 0.5))
        .unwrap();
    let y = policy.forward_t(&x, false);
    assert!(max_abs_diff(&y, &x) < 1e-6);
    // Brightness at μ = 1 (factor 1.9, +0.9) twice: saturated white.
    policy
        .f_load_found(&only(PolicyOp::Brightness, 1.0, 1.0))
        .unwrap();
    let y = policy.forward_t(&x, false);
    assert!(max_abs_diff(&y, &x.ones_like()) < 1e-6);
    // Probability 0: nothing applies.
    policy
        .f_load_found(&only(PolicyOp::Brightness, 0.0, 1.0))
        .unwrap();
    assert_eq!(max_abs_diff(&policy.forward_t(&x, false), &x), 0.0);
    // Rotations by ±30 degrees, twice: every sample is one of -60, 0, +60 degrees.
    policy
        .f_load_found(&only(PolicyOp::Rotate, 1.0, 1.0))
        .unwrap();
    let y = policy.forward_t(&x, false);
    assert!(max_abs_diff(&y, &x) > 0.1);
    assert!(!y.requires_grad());
    // The input is untouched.
    assert_eq!(max_abs_diff(&x, &images(8, 3)), 0.0);
}

#[test]
fn the_found_policy_round_trips_through_json() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let policy = DifferentiablePolicy::new(vs.root(), SearchConfig::default()).unwrap();
    tch::manual_seed(4);
    tch::no_grad(|| {
        let mut w = policy.weights().shallow_clone();
        w.copy_(&Tensor::randn(w.size(), (Kind::Float, Device::Cpu)));
        let mut p = policy.probabilities().shallow_clone();
        p.copy_(&Tensor::rand(p.size(), (Kind::Float, Device::Cpu)));
    });
    let found = policy.found();
    let json = serde_json::to_string(&found).unwrap();
    let back: FoundPolicy = serde_json::from_str(&json).unwrap();
    // serde_json reads floats back to within an ulp (without its float_roundtrip feature).
    let flat = |f: &FoundPolicy| -> Vec<(PolicyOp, f64, f64, Option<f64>)> {
        f.sub_policies
            .iter()
            .flatten()
            .flatten()
            .map(|o| (o.op, o.weight, o.probability, o.magnitude))
            .collect()
    };
    for (a, b) in flat(&back).iter().zip(flat(&found).iter()) {
        assert_eq!(a.0, b.0);
        assert!((a.1 - b.1).abs() <= 1e-15 * b.1.abs().max(1e-300));
        assert!((a.2 - b.2).abs() < 1e-15 && a.3.is_some() == b.3.is_some());
    }
    let vs2 = nn::VarStore::new(Device::Cpu);
    let other = DifferentiablePolicy::new(vs2.root(), SearchConfig::default()).unwrap();
    other.f_load_found(&back).unwrap();
    assert!(max_abs_diff(other.probabilities(), policy.probabilities()) < 1e-6);
    // The weights agree up to a constant per stage: compare their softmax.
    let sm = |p: &DifferentiablePolicy| (p.weights() / 0.05).softmax(-1, Kind::Double);
    assert!(max_abs_diff(&sm(&other), &sm(&policy)) < 1e-5);
    // A policy of another structure is refused, and nothing changes.
    let mut wrong = found.clone();
    wrong.sub_policies.pop();
    let before = other.weights().copy();
    assert!(other
        .f_load_found(&wrong)
        .unwrap_err()
        .to_string()
        .contains("found"));
    assert_eq!(max_abs_diff(&before, other.weights()), 0.0);
}

#[test]
fn the_gradient_penalty_of_a_linear_critic_is_its_norm_minus_one_squared() {
    let _g = serial();
    tch::manual_seed(5);
    let a = Tensor::randn([1, 3, 4, 4], (Kind::Double, Device::Cpu));
    let critic = |x: &Tensor| (x * &a).sum_dim_intlist(&[1i64, 2, 3][..], false, None);
    let real = Tensor::rand([6, 3, 4, 4], (Kind::Double, Device::Cpu));
    let fake = Tensor::rand([6, 3, 4, 4], (Kind::Double, Device::Cpu));
    let gp = gradient_penalty(&critic, &real, &fake).double_value(&[]);
    let norm = a
        .pow_tensor_scalar(2)
        .sum(Kind::Double)
        .sqrt()
        .double_value(&[]);
    assert!(
        (gp - (norm - 1.0).powi(2)).abs() < 1e-9,
        "{gp} vs {}",
        (norm - 1.0).powi(2)
    );
}

#[test]
fn bad_search_configs_and_inputs_are_refused() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let bad = |cfg: SearchConfig| {
        DifferentiablePolicy::new(vs.root(), cfg)
            .unwrap_err()
            .to_string()
    };
    let d = SearchConfig::default();
    assert!(bad(SearchConfig {
        sub_policies: 0,
        ..d.clone()
    })
    .contains("sub_policies"));
    assert!(bad(SearchConfig {
        temperature: 0.0,
        ..d.clone()
    })
    .contains("temperature"));
    assert!(bad(SearchConfig {
        init_probability: 1.0,
        ..d.clone()
    })
    .contains("init_probability"));
    assert!(bad(SearchConfig {
        operations: vec![PolicyOp::Rotate, PolicyOp::Rotate],
        ..d.clone()
    })
    .contains("rotate"));
    let policy = DifferentiablePolicy::new(vs.root(), d).unwrap();
    // Tiny and odd images, NaN pixels: an output or a typed error, never a panic.
    for shape in [[2, 3, 1, 1], [1, 3, 2, 5], [3, 3, 7, 3]] {
        let x = Tensor::rand(shape, (Kind::Float, Device::Cpu));
        // (Operators that need a larger image refuse it with their typed error.)
        for y in [policy.f_relaxed(&x), policy.f_sampled(&x)]
            .into_iter()
            .flatten()
        {
            assert_eq!(y.size(), x.size());
        }
    }
    let nan = Tensor::full([2, 3, 8, 8], f64::NAN, (Kind::Float, Device::Cpu));
    assert_eq!(policy.f_sampled(&nan).unwrap().size(), nan.size());
    // A found policy with a bad temperature is refused.
    let mut found = policy.found();
    found.temperature = f64::NAN;
    assert!(policy.f_load_found(&found).is_err());
    let gray = Tensor::rand([2, 1, 8, 8], (Kind::Float, Device::Cpu));
    assert!(policy.f_relaxed(&gray).is_err(), "colour needs RGB");
    let ints = Tensor::zeros([2, 3, 8, 8], (Kind::Uint8, Device::Cpu));
    assert!(policy.f_sampled(&ints).is_err());
    assert!(policy
        .f_sampled(&Tensor::rand([3, 8, 8], (Kind::Float, Device::Cpu)))
        .is_err());
}
