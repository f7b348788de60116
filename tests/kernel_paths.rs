//! The two CPU paths of every operator agree: the fused kernels and the libtorch
//! compositions (what CUDA runs), on whole operators rather than single kernels. For every
//! registered operator, the fast-mode pipeline and a learnable perspective: the same params
//! replayed on each path, on contiguous, strided, channels-last, batch-1, unbatched and
//! float64 inputs, with and without a graph (some kernels run only without one); the
//! outputs and the input gradients within 1e-5 (float32) and 1e-10 (float64) of each other,
//! relative to the larger of 1 and the largest magnitude (gradients through Normalize reach
//! about 20, where one float32 rounding is 2e-6); for learnable ranges, their gradients too.
//!
//! The path is chosen with `kernel_path_scope`, which holds for this thread only: the other
//! tests of this binary, running beside these, keep theirs.

mod common;
use common::{all_specs, paper_specs};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

/// The input variants: a name, the tensor (values in [0, 1]), and the tolerance for its kind.
fn inputs(dims: usize, kind: Kind) -> Vec<(&'static str, Tensor)> {
    let opts = (kind, Device::Cpu);
    let spatial: &[i64] = if dims == 2 { &[13, 17] } else { &[5, 9, 11] };
    let shape = |b: i64| [&[b, 3][..], spatial].concat();
    tch::manual_seed(3);
    let contiguous = Tensor::rand(shape(2).as_slice(), opts);
    // Every other column of a twice-as-wide image: a stride of 2 along the width.
    let mut wide = shape(2);
    *wide.last_mut().unwrap() *= 2;
    let last = wide.len() as i64 - 1;
    let strided = Tensor::rand(wide.as_slice(), opts).slice(last, 0, None, 2);
    // Channels last: (B, *spatial, C) storage seen as (B, C, *spatial).
    let mut nhwc = vec![2];
    nhwc.extend_from_slice(spatial);
    nhwc.push(3);
    let mut order = vec![0, dims as i64 + 1];
    order.extend(1..=dims as i64);
    let channels_last = Tensor::rand(nhwc.as_slice(), opts).permute(order.as_slice());
    assert!(!strided.is_contiguous() && !channels_last.is_contiguous());
    vec![
        ("contiguous", contiguous),
        ("strided", strided),
        ("channels-last", channels_last),
        ("batch-1", Tensor::rand(shape(1).as_slice(), opts)),
        ("unbatched", Tensor::rand(&shape(1)[1..], opts)),
    ]
}

fn tolerance(kind: Kind) -> f64 {
    if kind == Kind::Double {
        1e-10
    } else {
        1e-5
    }
}

/// The largest difference, relative to the larger of 1 and the largest magnitude of `a`.
fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    let scale = a
        .to_kind(Kind::Double)
        .nan_to_num(0.0, Some(0.0), Some(0.0))
        .abs()
        .max()
        .double_value(&[])
        .max(1.0);
    let a = a.to_kind(Kind::Double);
    let b = b.to_kind(Kind::Double);
    // NaN where the other is NaN counts as equal; elsewhere a NaN is an infinite difference.
    let both_nan = a.isnan().logical_and(&b.isnan());
    let d = (&a - &b)
        .abs()
        .masked_fill(&both_nan, 0.0)
        .nan_to_num(f64::INFINITY, None, None);
    d.max().double_value(&[]) / scale
}

/// The replay of `params` on `x` on one path: the output with a graph, the gradient of a
/// fixed weighted sum of it with respect to `x`, and the output without a graph.
fn replay(
    aug: &dyn Augmentation,
    x: &Tensor,
    params: &Params,
    w: &Tensor,
    path: KernelPath,
) -> (Tensor, Tensor, Tensor) {
    let _path = kernel_path_scope(path);
    let leaf = x.detach().set_requires_grad(true);
    let y = aug.f_apply(&leaf, params).unwrap();
    let g = Tensor::run_backward(&[(&y * w).sum(Kind::Double)], &[&leaf], false, false);
    let plain = tch::no_grad(|| aug.f_apply(x, params).unwrap());
    (y.detach(), g[0].shallow_clone(), plain)
}

/// Compares both paths on every input variant of `aug`; returns the failures, and the
/// largest difference seen.
fn compare(aug: &dyn Augmentation, label: &str) -> (Vec<String>, f64) {
    let mut failures = Vec::new();
    let mut worst = 0f64;
    for kind in [Kind::Float, Kind::Double] {
        for (variant, x) in inputs(aug.spatial_dims(), kind) {
            tch::manual_seed(11);
            let (_, params) = tch::no_grad(|| aug.f_forward_with_params(&x)).unwrap();
            // Weights shaped as the replay's output (a drawn size differs per draw).
            let y0 = tch::no_grad(|| aug.f_apply(&x, &params)).unwrap();
            let w = y0.rand_like();
            let (yf, gf, pf) = replay(aug, &x, &params, &w, KernelPath::Fused);
            let (yc, gc, pc) = replay(aug, &x, &params, &w, KernelPath::Composed);
            let tol = tolerance(kind);
            for (what, a, b) in [
                ("output", &yf, &yc),
                ("input gradient", &gf, &gc),
                ("output without a graph", &pf, &pc),
                ("output with and without a graph (fused)", &yf, &pf),
            ] {
                let d = max_diff(a, b);
                worst = worst.max(d);
                if d > tol {
                    failures.push(format!(
                        "{label} {kind:?} {variant}: {what} differs by {d:e}"
                    ));
                }
            }
        }
    }
    (failures, worst)
}

#[test]
fn every_operator_gives_the_same_values_on_both_kernel_paths() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let mut specs: Vec<(String, AugSpec)> = all_specs()
        .into_iter()
        .map(|s| (s.name().to_string(), s))
        .collect();
    specs.push((
        "Sequential (fast mode)".into(),
        AugSpec::Sequential(SequentialConfig::fast(paper_specs(false))),
    ));
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for (i, (label, spec)) in specs.iter().enumerate() {
        let aug = spec.build(&(vs.root() / i.to_string())).unwrap();
        let (f, worst) = compare(aug.as_ref(), label);
        report.push(format!("{label}: {worst:.1e}"));
        failures.extend(f);
    }
    println!("largest difference per operator: {}", report.join(", "));
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Learnable ranges: the same draw on each path (same seed), the same output and the same
/// gradients of the ranges, for the pipelines whose warps and colour steps have kernels.
#[test]
fn learned_ranges_get_the_same_gradients_on_both_kernel_paths() {
    let _serial = common::serial();
    let learnable_perspective = AugSpec::RandomPerspective(PerspectiveConfig {
        learnable: Learnable::All,
        p: 1.0,
        ..Default::default()
    });
    let cases: Vec<(&str, Vec<AugSpec>)> = vec![
        ("paper pipeline", paper_specs(true)),
        ("perspective", vec![learnable_perspective]),
    ];
    for (label, specs) in cases {
        for kind in [Kind::Float, Kind::Double] {
            let run = |path: KernelPath| {
                let vs = VarStore::new(Device::Cpu);
                let seq = Sequential::new(vs.root(), specs.as_slice()).unwrap();
                run_on(&seq, &vs, kind, path)
            };
            let (yf, gf) = run(KernelPath::Fused);
            let (yc, gc) = run(KernelPath::Composed);
            let tol = tolerance(kind);
            let d = max_diff(&yf, &yc);
            assert!(d <= tol, "{label} {kind:?}: outputs differ by {d:e}");
            assert_eq!(gf.len(), gc.len());
            assert!(!gf.is_empty(), "{label}: no learnable range");
            for ((name, a), (_, b)) in gf.iter().zip(&gc) {
                let d = max_diff(a, b);
                assert!(
                    d <= tol,
                    "{label} {kind:?}: gradient of {name} differs by {d:e}"
                );
            }
        }
    }
}

fn run_on(
    seq: &Sequential,
    vs: &VarStore,
    kind: Kind,
    path: KernelPath,
) -> (Tensor, Vec<(String, Tensor)>) {
    let _path = kernel_path_scope(path);
    tch::manual_seed(5);
    let x = Tensor::rand([4, 3, 24, 20], (kind, Device::Cpu));
    tch::manual_seed(6);
    let y = seq.f_forward(&x).unwrap();
    let w = Tensor::rand(y.size().as_slice(), (kind, Device::Cpu));
    (&y * &w).sum(Kind::Double).backward();
    let mut grads: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, v)| v.requires_grad())
        .map(|(k, v)| (k, v.grad().copy()))
        .collect();
    grads.sort_by(|a, b| a.0.cmp(&b.0));
    (y.detach(), grads)
}

/// A scope holds for its thread only, nests, restores the path it found (also through a
/// panic), and leaves the process-wide default alone.
#[test]
fn a_kernel_path_scope_is_per_thread_and_restored() {
    let default = fused_cpu_kernels();
    {
        let _outer = kernel_path_scope(KernelPath::Composed);
        assert!(!fused_cpu_kernels());
        let other = std::thread::spawn(fused_cpu_kernels).join().unwrap();
        assert_eq!(other, default, "another thread saw this thread's scope");
        {
            let _inner = kernel_path_scope(KernelPath::Fused);
            assert!(fused_cpu_kernels());
        }
        assert!(!fused_cpu_kernels());
        let caught = std::panic::catch_unwind(|| {
            let _s = kernel_path_scope(KernelPath::Fused);
            panic!("inside a scope");
        });
        assert!(caught.is_err());
        assert!(!fused_cpu_kernels(), "a panic left its scope's path behind");
    }
    assert_eq!(fused_cpu_kernels(), default);
}
