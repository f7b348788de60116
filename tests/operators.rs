//! Everything about each operator, as one test per operator, fixture and check, generated
//! by build.rs from the parity fixtures (tests/fixtures, written by
//! scripts/gen_fixtures.py): a new fixture brings its tests, and `cargo test
//! random_rotation` runs everything about RandomRotation. Each operator is built the way a
//! Kornia user builds it, `AugSpec::from_kornia` on the fixture's class and arguments.
//!
//! - `parity`: Kornia's params replayed give Kornia's output and input gradient within 1e-5,
//!   on both CPU kernel paths (the fused kernels and the compositions CUDA runs);
//! - `same_draw` (where the fixture recorded one): after the same seed, Kornia's params bit
//!   for bit (CPU);
//! - `gradcheck`: in float64, the input gradient against central differences along random
//!   directions (extrapolated from three step sizes), on both kernel paths;
//! - `reproducible`: the same seed gives the same output, and replaying its params gives it
//!   again;
//! - `bad_input`: a rank-1 input, an integer input and params of another batch are typed
//!   errors (and no panic).

mod common;
use common::Fixture;
use serde_json::Value;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

include!(concat!(env!("OUT_DIR"), "/operator_tests.rs"));

const TOL: f64 = 1e-5;
/// As tests/gradcheck.rs.
const GRAD_TOL: f64 = 1e-6;

/// Fixtures of piecewise-constant operators that, as Kornia's, pass no gradient to their
/// input (central differences would measure the steps).
const NO_INPUT_GRADIENT: [&str; 4] = [
    "equalize3d",
    "clahe",
    "clahe_odd_padded_same_gate",
    "clahe_unclipped",
];

/// Fixtures of operators that Kornia computes without a gradient where they apply
/// (RandomMosaic's composing and cropping run under `torch.no_grad`), as ours does: with
/// every gate on, no gradient reaches the input. Where a gate is off, the sample's own
/// gradient passes, which the parity test compares with Kornia's.
const DETACHED: [&str; 3] = [
    "mosaic",
    "mosaic_out_grid_gate",
    "mosaic_resample_replicate",
];

/// Fixtures of operators that are smooth only piecewise, with jumps where the gradient is
/// not defined (RandomJPEG's polynomial rounding jumps at every half-integer coefficient,
/// RandomClahe's table lookup at every 8-bit level).
/// A direction whose finite differences cross a jump is set aside (its two extrapolated
/// estimates disagree); at least three directions must be clean, and every clean one must
/// match. For every other operator, no direction may be set aside.
const PIECEWISE_SMOOTH: [&str; 3] = [
    "jpeg",
    "jpeg_coarse_padded_same_gate",
    "clahe_differentiable",
];

/// The fixture, the operator its Kornia call builds (and the store of its variables).
fn build(name: &str) -> (Fixture, Box<dyn Augmentation>, VarStore) {
    let fx = common::fixture(name);
    let class = fx.meta["kornia_class"].as_str().unwrap().to_string();
    let kwargs: Value = serde_json::from_str(fx.meta["kwargs"].as_str().unwrap()).unwrap();
    let spec = AugSpec::from_kornia(&class, &kwargs).unwrap_or_else(|e| panic!("{name}: {e}"));
    let vs = VarStore::new(common::device());
    let aug = spec
        .build(&(vs.root() / "op"))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (fx, aug, vs)
}

/// The fixture's label mask as the record's masks (B,1,*spatial), where it gives one
/// (RandomTransplantation reads its selection from it).
fn mask(fx: &Fixture) -> Option<Tensor> {
    fx.tensors
        .get("mask")
        .map(|m| m.unsqueeze(1).to_kind(Kind::Float))
}

/// `params` applied to `x`: alone, or on a record with the fixture's mask.
fn applied(fx: &Fixture, aug: &dyn Augmentation, x: &Tensor, params: &Params) -> Tensor {
    match mask(fx) {
        None => aug.f_apply(x, params).unwrap(),
        Some(m) => {
            let batch = Batch {
                masks: Some(m),
                ..Batch::new(x.shallow_clone())
            };
            aug.f_apply_batch(&batch, params).unwrap().image
        }
    }
}

/// A drawn forward of `x`: alone, or on a record with the fixture's mask.
fn forwarded(fx: &Fixture, aug: &dyn Augmentation, x: &Tensor) -> (Tensor, Params) {
    match mask(fx) {
        None => aug.f_forward_with_params(x).unwrap(),
        Some(m) => {
            let batch = Batch {
                masks: Some(m),
                ..Batch::new(x.shallow_clone())
            };
            let (out, params) = aug.f_forward_batch(&batch).unwrap();
            (out.image, params)
        }
    }
}

fn parity(name: &str) {
    let _serial = common::serial();
    let (fx, aug, _vs) = build(name);
    let (o, g) = common::parity_with(aug.as_ref(), &fx, &common::replay_params(aug.as_ref(), &fx));
    assert!(o <= TOL && g <= TOL, "{name}: {o:e} / {g:e} from Kornia");
}

fn same_draw(name: &str) {
    if !common::draws_on_cpu() {
        return;
    }
    let _serial = common::serial();
    let (fx, aug, _vs) = build(name);
    let expected = fx.seed_params();
    assert!(!expected.is_empty(), "{name}: no draw recorded");
    tch::manual_seed(1000 + fx.seed());
    let drawn = aug.sample(&fx.get("input").size(), Device::Cpu).unwrap();
    for (k, v) in expected.iter() {
        let d = common::max_abs_diff(drawn.get(k).unwrap(), v);
        assert!(d == 0.0, "{name}: {k} drawn {d:e} away from Kornia's");
    }
}

fn gradcheck(name: &str) {
    let _serial = common::serial();
    let (fx, aug, _vs) = build(name);
    // Away from 0 and 1, so that the colour clamps are not at a kink.
    let x = (fx.get("input").to_kind(Kind::Double) * 0.8 + 0.1).detach();
    tch::manual_seed(11);
    let mut params = aug.f_sample(&x.size(), x.device()).unwrap();
    if DETACHED.contains(&name) {
        let on = params.get("batch_prob").unwrap().ones_like();
        params.insert("batch_prob", on);
    }
    let f = |x: &Tensor| applied(&fx, aug.as_ref(), x, &params);
    for path in common::kernel_paths() {
        let _path = kernel_path_scope(path);
        let xg = x.copy().set_requires_grad(true);
        let y = f(&xg);
        if NO_INPUT_GRADIENT.contains(&name) || DETACHED.contains(&name) {
            // Piecewise constant, as Kornia's: the gradient is zero (its straight-through
            // option is checked directly, tests/volume_mix.rs).
            if y.requires_grad() {
                y.sum(Kind::Double).backward();
                let max = xg.grad().abs().max().double_value(&[]);
                assert!(max == 0.0, "{name} ({path:?}): a gradient of up to {max:e}");
            }
            continue;
        }
        tch::manual_seed(7);
        let g = Tensor::rand(y.size(), (Kind::Double, y.device()));
        (&y * &g).sum(Kind::Double).backward();
        let grad = xg.grad();
        let loss = |x: &Tensor| (f(x) * &g).sum(Kind::Double).double_value(&[]);
        // Central differences at eps, eps/2 and eps/4, extrapolated (Richardson): the error
        // is O(eps^4) rather than O(eps^2), which matters for steep polynomials (RandomJPEG's
        // cubic rounding of coefficients in the hundreds). Two extrapolations that disagree
        // mean the steps crossed a jump.
        let eps = 1e-6;
        let central = |v: &Tensor, h: f64| (loss(&(&x + v * h)) - loss(&(&x - v * h))) / (2.0 * h);
        let (mut clean, mut tried) = (0, 0);
        while clean < 3 {
            tried += 1;
            assert!(
                tried <= 8,
                "{name} ({path:?}): {clean} of {tried} directions free of jumps"
            );
            let v = Tensor::randn(x.size(), (Kind::Double, x.device()));
            let d = [eps, eps / 2.0, eps / 4.0].map(|h| central(&v, h));
            let coarse = (4.0 * d[1] - d[0]) / 3.0;
            let numeric = (4.0 * d[2] - d[1]) / 3.0;
            let scale = numeric.abs().max(1.0);
            if (coarse - numeric).abs() / scale > GRAD_TOL {
                assert!(
                    PIECEWISE_SMOOTH.contains(&name),
                    "{name} ({path:?}): finite differences {d:?} do not converge"
                );
                continue;
            }
            let analytic = (&grad * &v).sum(Kind::Double).double_value(&[]);
            let err = (analytic - numeric).abs() / scale;
            assert!(
                err < GRAD_TOL,
                "{name} ({path:?}, direction {tried}): analytic {analytic} against numeric {numeric}"
            );
            clean += 1;
        }
    }
}

fn reproducible(name: &str) {
    let _serial = common::serial();
    let (fx, aug, _vs) = build(name);
    let x = fx.get("input");
    tch::manual_seed(5);
    let (y, params) = forwarded(&fx, aug.as_ref(), x);
    tch::manual_seed(5);
    assert!(
        forwarded(&fx, aug.as_ref(), x).0.equal(&y),
        "{name}: same seed, another output"
    );
    let replayed = applied(&fx, aug.as_ref(), x, &params);
    assert!(
        replayed.equal(&y),
        "{name}: its own params replayed give another output"
    );
}

fn bad_input(name: &str) {
    let _serial = common::serial();
    let (fx, aug, _vs) = build(name);
    let x = fx.get("input");
    let flat = Tensor::zeros([5], (Kind::Float, x.device()));
    match aug.f_forward(&flat) {
        Err(Error::Rank { .. }) => {}
        other => panic!("{name}: a rank-1 input gave {other:?}"),
    }
    match aug.f_forward(&x.to_kind(Kind::Int)) {
        Err(Error::Dtype { .. }) => {}
        other => panic!("{name}: an int32 input gave {other:?}"),
    }
    // The fixture's params on a batch of one more sample: a typed error where they hold a
    // value per sample, else (a deterministic operator's params) they apply to any batch.
    let params = common::replay_params(aug.as_ref(), &fx);
    let batch = x.size()[0];
    let per_sample = params
        .iter()
        .any(|(_, t)| t.dim() >= 1 && t.size()[0] == batch);
    let mut size = x.size();
    size[0] += 1;
    let bigger = Tensor::rand(size.as_slice(), (x.kind(), x.device()));
    match aug.f_apply(&bigger, &params) {
        Err(Error::Params { .. }) if per_sample => {}
        Ok(y) if !per_sample => assert_eq!(y.size()[0], size[0], "{name}: batch changed"),
        other => {
            panic!("{name}: params of another batch (per sample: {per_sample}) gave {other:?}")
        }
    }
}
