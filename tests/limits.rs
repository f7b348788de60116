//! Limits a caller can push past: shapes that do not match the params they go with, sizes
//! past any machine's memory, counts that overflow, weights that sum to nothing, values
//! nested without end. Each test is one finding of a reliability review and failed (a
//! panic, a hang or a silently wrong value) on the code before its fix.

mod common;
use common::all_specs;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::auto::search::{DifferentiablePolicy, SearchConfig};
use tch_dda::*;

fn img(shape: &[i64]) -> Tensor {
    Tensor::rand(shape, (Kind::Float, Device::Cpu))
}

/// The batched input shape of `aug`'s test inputs.
fn shape_for(aug: &dyn Augmentation) -> Vec<i64> {
    if aug.spatial_dims() == 2 {
        vec![4, 3, 13, 17]
    } else {
        vec![4, 3, 5, 13, 17]
    }
}

/// Asked for another batch than the params were drawn for, flips, Resize, PadTo and
/// TrivialAugment returned the params' batch (4 for 7); flips ignored the shape entirely.
/// Every operator now refuses a batch, rank or channel count that is not the forward
/// pass's, and an output of another batch than the params.
#[test]
fn inverses_and_matrices_check_the_shape_against_the_params() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let mut checked = 0;
    for (i, spec) in all_specs().into_iter().enumerate() {
        let aug = spec.build(&(vs.root() / i.to_string())).unwrap();
        let shape = shape_for(aug.as_ref());
        let x = img(&shape);
        let (y, params) = aug.f_forward_with_params(&x).unwrap();
        let mut other_batch = shape.clone();
        other_batch[0] = 7;
        let mut other_channels = shape.clone();
        other_channels[1] = 1;
        let name = aug.name();
        let refused = |r: Result<()>, what: &str| match r {
            Err(Error::Params { .. }) => {}
            other => panic!("{name}: {what}: {other:?}"),
        };
        let matrix = |s: &[i64]| {
            aug.f_transform_matrix(s, &params, Kind::Float, Device::Cpu)
                .map(drop)
        };
        refused(matrix(&other_batch), "matrix for batch 7");
        refused(matrix(&other_channels), "matrix for 1 channel");
        if matches!(
            aug.f_inverse(&y, &params, &shape),
            Err(Error::NotInvertible { .. })
        ) {
            continue;
        }
        refused(
            aug.f_inverse(&y, &params, &other_batch).map(drop),
            "inverse for batch 7",
        );
        refused(
            aug.f_inverse(&y.narrow(0, 0, 3), &params, &shape).map(drop),
            "inverse of 3 outputs with params of 4",
        );
        let batch = Batch::new(y.shallow_clone());
        refused(
            aug.f_inverse_batch(&batch, &params, &other_batch).map(drop),
            "batch inverse for batch 7",
        );
        // The right shape still inverts.
        assert_eq!(
            aug.f_inverse(&y, &params, &shape).unwrap().size(),
            shape,
            "{name}"
        );
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} invertible operators checked");
}

/// An inverse asked for 4 × 3 × 2^40 × 2^20 panicked in a non-`f_` `linspace` (12
/// operators); flips, PadTo and TrivialAugment accepted it, and PadTo returned 40 × 40. A
/// shape past 2^45 elements is now `Error::TooLarge`, and a large one the params were not
/// drawn for is refused.
#[test]
fn shapes_past_any_memory_are_refused_before_allocating() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    for (i, spec) in all_specs().into_iter().enumerate() {
        let aug = spec.build(&(vs.root() / i.to_string())).unwrap();
        let shape = shape_for(aug.as_ref());
        let x = img(&shape);
        let (y, params) = aug.f_forward_with_params(&x).unwrap();
        let name = aug.name();
        let mut huge = shape.clone();
        let n = huge.len();
        huge[n - 2] = 1 << 40;
        huge[n - 1] = 1 << 20;
        let e = aug.f_inverse(&y, &params, &huge).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{name}: {e}");
        let e = aug
            .f_transform_matrix(&huge, &params, Kind::Float, Device::Cpu)
            .unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{name}: {e}");
        let e = aug.f_sample(&huge, Device::Cpu).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{name}: {e}");
        // Under the cap but larger than the forward pass's input: not these params' shape.
        let mut large = shape.clone();
        large[n - 1] = 1 << 20;
        match aug.f_inverse(&y, &params, &large) {
            Err(Error::Params { .. }) | Err(Error::NotInvertible { .. }) => {}
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(
        Error::TooLarge {
            op: "X",
            what: "input_shape",
            shape: vec![1],
            elements: "2".into()
        }
        .to_string(),
        "X: input_shape [1] is too large: 2 elements; at most 35184372088832 elements (2^48 bytes at 8 bytes each)"
    );
}

/// Drawing params for a batch of 2^38 (under the size cap, past any memory) panicked in
/// the draws' non-`f_` `rand`. Every draw is now fallible: an error, for every operator.
#[test]
fn draws_that_do_not_fit_in_memory_are_errors() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    for (i, spec) in all_specs().into_iter().enumerate() {
        let aug = spec.build(&(vs.root() / i.to_string())).unwrap();
        let mut shape = shape_for(aug.as_ref());
        shape[0] = 1 << 38;
        let n = shape.len();
        for s in &mut shape[2..n] {
            *s = (*s).min(12);
        }
        let start = Instant::now();
        let r = aug.f_sample(&shape, Device::Cpu);
        assert!(r.is_err(), "{}: drew params for {shape:?}", aug.name());
        assert!(start.elapsed() < Duration::from_secs(5), "{}", aug.name());
    }
}

/// `random_apply: Exactly(i64::MAX)` overflowed `k + 1` and then panicked in `randint`;
/// `random_apply_weights: [0, 0]` was accepted. Counts are bounded, weights need a
/// positive sum.
#[test]
fn random_apply_counts_and_weights_are_checked() {
    let vs = VarStore::new(Device::Cpu);
    let steps = || {
        vec![
            AugSpec::RandomHorizontalFlip(FlipConfig::default()),
            AugSpec::RandomVerticalFlip(FlipConfig::default()),
        ]
    };
    let build = |random_apply, weights: Option<Vec<f64>>| {
        Sequential::new(
            vs.root(),
            SequentialConfig {
                random_apply,
                random_apply_weights: weights,
                ..SequentialConfig::new(steps())
            },
        )
    };
    for bad in [
        RandomApply::Exactly(i64::MAX),
        RandomApply::Exactly(MAX_APPLIED + 1),
        RandomApply::Between(0, i64::MAX),
    ] {
        let e = build(bad, None).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Config {
                    name: "random_apply",
                    ..
                }
            ),
            "{e}"
        );
    }
    for w in [
        vec![0.0, 0.0],
        vec![-1.0, 2.0],
        vec![1e39, 1.0],
        vec![f64::NAN, 1.0],
    ] {
        let e = build(RandomApply::Exactly(1), Some(w.clone())).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Config {
                    name: "random_apply_weights",
                    ..
                }
            ),
            "{w:?}: {e}"
        );
    }
    // The largest count runs (with replacement, as Kornia).
    let seq = build(RandomApply::Exactly(MAX_APPLIED), Some(vec![0.0, 1.0])).unwrap();
    let x = img(&[1, 1, 2, 2]);
    let (_, p) = seq.f_forward_with_params(&x).unwrap();
    assert_eq!(p.get("selection").unwrap().size(), [MAX_APPLIED]);
}

/// `DifferentiablePolicy::new` with 10^12 sub-policies panicked inside tch's `path.var`;
/// now an error, and nothing is added to the VarStore.
#[test]
fn a_policy_too_large_for_memory_is_an_error() {
    let vs = VarStore::new(Device::Cpu);
    for n in [1_000_000_000_000usize, usize::MAX] {
        let e = DifferentiablePolicy::new(
            vs.root(),
            SearchConfig {
                sub_policies: n,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::TooLarge { .. } | Error::Config { .. }),
            "{n}: {e}"
        );
    }
    assert!(vs.variables().is_empty(), "a failed build added variables");
}

/// `AugSpec::from_kornia("RandomAffine", {"degrees": <an array nested 100,000 deep>})` did
/// not return in 120 s. A value nested past the cap is refused at once.
#[test]
fn deeply_nested_kornia_arguments_are_refused_at_once() {
    let mut deep = json!(5.0);
    for _ in 0..100_000 {
        deep = Value::Array(vec![deep]);
    }
    // (`json!` would serialise `deep` recursively.)
    let mut map = serde_json::Map::new();
    map.insert("degrees".into(), deep);
    let kwargs = Value::Object(map);
    let start = Instant::now();
    let e = AugSpec::from_kornia("RandomAffine", &kwargs).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert!(e.to_string().contains("nested"), "{e}");
    // serde_json's own drop recurses; unwind the value by hand so the test does not.
    let mut stack = vec![kwargs];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => stack.extend(a),
            Value::Object(o) => stack.extend(o.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    // Kornia's own arguments still read.
    AugSpec::from_kornia("RandomAffine", &json!({"degrees": [-10.0, 10.0]})).unwrap();
}

/// A learnable RandomPerspective gave outputs 4.9e-6 apart with and without a graph (the
/// grid was a matmul with a graph, the fused kernel's sum without one). Both now compute
/// the same float operations: equal bit for bit.
#[test]
fn a_learnable_perspective_gives_the_same_values_with_and_without_a_graph() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let aug = RandomPerspective::new(
        vs.root(),
        PerspectiveConfig {
            learnable: Learnable::All,
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let x = img(&[4, 3, 32, 24]);
    tch::manual_seed(3);
    let with_graph = aug.f_forward(&x).unwrap();
    assert!(with_graph.requires_grad());
    tch::manual_seed(3);
    let without = tch::no_grad(|| aug.f_forward(&x).unwrap());
    assert!(!without.requires_grad());
    let d = (&with_graph - &without).abs().max().double_value(&[]);
    assert_eq!(d, 0.0, "the two differ by {d:e}");
}

/// A box at 3e38 (finite in float32) came back NaN through a rotation, or an affine and a
/// crop, with clipping, in Kornia's box mode and with fused geometry, and no error said so.
/// On the CPU an output whose coordinates overflow is now an error.
#[test]
fn coordinates_that_overflow_through_a_transform_are_an_error() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let affine_crop = || {
        vec![
            AugSpec::RandomAffine(RandomAffineConfig {
                degrees: (20.0, 30.0),
                scale: Some((1.5, 2.0)),
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::CenterCrop(CenterCropConfig {
                size: (10, 10),
                ..Default::default()
            }),
        ]
    };
    let pipelines = [
        SequentialConfig::new(vec![AugSpec::RandomRotation(RandomRotationConfig {
            degrees: (30.0, 40.0),
            p: 1.0,
            ..Default::default()
        })]),
        SequentialConfig::new(affine_crop()),
        SequentialConfig {
            annotations: AnnotationOptions::kornia(),
            ..SequentialConfig::new(affine_crop())
        },
        SequentialConfig::fast(affine_crop()),
    ];
    for (i, cfg) in pipelines.into_iter().enumerate() {
        let seq = Sequential::new(vs.root() / i.to_string(), cfg).unwrap();
        let boxes =
            Tensor::from_slice(&[1.0f32, 2.0, 3e38, 3e38, 2.0, 2.0, 8.0, 9.0]).view([1, 2, 4]);
        let batch = Batch::new(img(&[1, 3, 16, 16])).with_boxes(Boxes::xyxy(boxes.copy()));
        match seq.f_forward_batch(&batch) {
            Err(Error::Annotation { what: "boxes", .. }) => {}
            Ok((out, _)) => panic!("pipeline {i}: {:?}", out.boxes.map(|b| b.data)),
            Err(e) => panic!("pipeline {i}: {e}"),
        }
        // Boxes of image magnitude go through.
        let small = boxes.clamp(0.0, 15.0);
        let batch = Batch::new(img(&[1, 3, 16, 16])).with_boxes(Boxes::xyxy(small));
        seq.f_forward_batch(&batch).unwrap();
    }
}

/// An `AugSpec` nested 100,000 deep, built in Rust, overflowed the stack: `build` cloned it
/// (a recursive clone) before checking its depth, and `Sequential::new` dropped it on its
/// error path (a recursive drop). Both now check the depth first, without recursion, and
/// the refused value is taken apart without recursion.
#[test]
fn a_spec_nested_100000_deep_is_refused_without_recursion() {
    fn deep() -> AugSpec {
        let mut s = AugSpec::RandomHorizontalFlip(FlipConfig::default());
        for _ in 0..100_000 {
            s = AugSpec::Sequential(SequentialConfig::new(vec![s]));
        }
        s
    }
    // The derived drop recurses; the test takes its own value apart by hand.
    fn take_apart(s: AugSpec) {
        let mut work = vec![s];
        while let Some(s) = work.pop() {
            if let AugSpec::Sequential(mut c) = s {
                work.append(&mut c.steps);
            }
        }
    }
    let vs = VarStore::new(Device::Cpu);
    let start = Instant::now();
    let spec = deep();
    let e = spec.build(&vs.root()).map(drop).unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");
    take_apart(spec);
    let e = Sequential::new(vs.root(), vec![deep()])
        .map(drop)
        .unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(vs.variables().is_empty());
}
