//! Reliability under hostile input: each test is one finding of the reliability review (a
//! panic, a silently wrong value, state that disagrees with itself) and fails on the code
//! before the fix.

mod common;

use tch::nn::{self, Module, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};
use tch_dda::*;

fn img(shape: &[i64]) -> Tensor {
    Tensor::rand(shape, (Kind::Float, Device::Cpu))
}

fn err<T: std::fmt::Debug>(r: Result<T>) -> Error {
    r.expect_err("expected an error")
}

/// A NaN pixel used to index past the histogram and panic, for every sample of the batch
/// (the whole batch is transformed before the gate). Now a NaN stays NaN in its own
/// (sample, channel), and nothing else changes.
#[test]
fn a_nan_pixel_through_equalize_stays_in_its_own_sample() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let cfg = EqualizeConfig {
        p: 1.0,
        ..Default::default()
    };
    let eq = RandomEqualize::new(vs.root(), cfg).unwrap();
    let x = img(&[3, 3, 16, 16]);
    let clean = eq.f_forward(&x).unwrap();
    let bad = x.copy();
    let _ = bad.get(1).get(2).get(5).get(7).fill_(f64::NAN);
    let _ = bad.get(2).get(0).get(0).get(0).fill_(f64::INFINITY);
    let before = bad.copy();
    let out = eq.f_forward(&bad).unwrap();
    assert!(
        bad.isnan().equal(&before.isnan())
            && bad
                .nan_to_num(0.0, None, None)
                .equal(&before.nan_to_num(0.0, None, None)),
        "the input was modified"
    );
    // Sample 0 and the untouched channels of sample 1 are exactly as without the NaN.
    assert!(out.get(0).equal(&clean.get(0)));
    assert!(out
        .get(1)
        .narrow(0, 0, 2)
        .equal(&clean.get(1).narrow(0, 0, 2)));
    let nan_channel = out.get(1).get(2);
    assert_eq!(nan_channel.isnan().sum(Kind::Int64).int64_value(&[]), 1);
    assert!(nan_channel.get(5).get(7).isnan().int64_value(&[]) == 1);
    // +inf is clamped to 1 like any value above 1: finite output.
    assert!(out.get(2).isfinite().all().int64_value(&[]) == 1);

    // With p = 0.5 the batch is still transformed before the gate: no panic either.
    let half = RandomEqualize::new(vs.root() / "h", EqualizeConfig::default()).unwrap();
    let out = half.f_forward(&bad).unwrap();
    assert_eq!(out.isnan().sum(Kind::Int64).int64_value(&[]), 1);

    let cfg3 = Equalize3DConfig {
        p: 1.0,
        ..Default::default()
    };
    // Posterize keeps a NaN as NaN (its byte conversion is undefined).
    let post = RandomPosterize::new(
        vs.root() / "p",
        PosterizeConfig {
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let out = post.f_forward(&bad).unwrap();
    assert!(out.get(1).get(2).get(5).get(7).isnan().int64_value(&[]) == 1);
    assert_eq!(out.isnan().sum(Kind::Int64).int64_value(&[]), 1);

    let eq3 = RandomEqualize3D::new(vs.root() / "v", cfg3).unwrap();
    let vol = img(&[2, 1, 4, 8, 8]);
    let clean = eq3.f_forward(&vol).unwrap();
    let _ = vol.get(0).get(0).get(1).get(2).get(3).fill_(f64::NAN);
    let out = eq3.f_forward(&vol).unwrap();
    assert!(out.get(1).equal(&clean.get(1)));
    assert_eq!(out.isnan().sum(Kind::Int64).int64_value(&[]), 1);
}

/// An empty shape, or a (C,H,W) shape read as a batch, used to panic or give the wrong
/// batch; the public `sample` took any shape. Shapes are now checked first.
#[test]
fn shapes_are_checked_before_any_indexing() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let flip = RandomHorizontalFlip::new(
        vs.root(),
        FlipConfig {
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let crop = CenterCrop::new(vs.root(), CenterCropConfig::new((4, 4))).unwrap();
    for aug in [&flip as &dyn Augmentation, &crop] {
        for shape in [&[][..], &[3], &[0, 3, 8, 8], &[2, 3, -1, 8], &[2, 3, 8, 0]] {
            let params = aug.f_sample(&[2, 3, 8, 8], Device::Cpu).unwrap();
            let e = err(aug.f_transform_matrix(shape, &params, Kind::Float, Device::Cpu));
            assert!(
                matches!(e, Error::Rank { .. } | Error::Empty { .. }),
                "{shape:?}: {e}"
            );
            let e = err(aug.f_sample(shape, Device::Cpu));
            assert!(
                matches!(e, Error::Rank { .. } | Error::Empty { .. }),
                "{shape:?}: {e}"
            );
        }
        // An unbatched (C,H,W) shape is one sample, not a batch of C.
        let params = aug.f_sample(&[3, 8, 8], Device::Cpu).unwrap();
        let m = aug
            .f_transform_matrix(&[3, 8, 8], &params, Kind::Float, Device::Cpu)
            .unwrap();
        assert_eq!(m.size(), [1, 3, 3]);
    }
    // A crop larger than the shape is a typed error from f_sample too.
    assert!(matches!(
        err(crop.f_sample(&[1, 3, 2, 2], Device::Cpu)),
        Error::Size { .. }
    ));
}

/// Values a float32 cannot hold passed the f64 checks and gave all-NaN or all-inf output.
#[test]
fn ranges_are_checked_as_the_float32_they_are_used_in() {
    let vs = VarStore::new(Device::Cpu);
    let r = vs.root();
    let affine = |scale: (f64, f64)| {
        RandomAffine::new(&r, RandomAffineConfig::degrees(0.0).scale(scale.0, scale.1)).map(|_| ())
    };
    for scale in [(1e-300, 1e-300), (1.0, 1e39), (1e-46, 1.0)] {
        let e = err(affine(scale));
        assert!(matches!(e, Error::Config { .. }), "{scale:?}: {e}");
        assert!(e.to_string().contains("as float32"), "{e}");
    }
    affine((1e-3, 1e3)).unwrap();
    let normalize = |std: f64| {
        Normalize::new(
            &r,
            NormalizeConfig {
                mean: vec![0.0],
                std: vec![std],
                p: 1.0,
            },
        )
        .map(|_| ())
    };
    assert!(matches!(err(normalize(1e-45)), Error::Config { .. }));
    assert!(matches!(err(normalize(1e39)), Error::Config { .. }));
    normalize(1e-3).unwrap();
    let blur = |sigma: f64| {
        RandomGaussianBlur::new(
            &r,
            GaussianBlurConfig {
                kernel_size: (3, 3),
                sigma: (sigma, sigma),
                ..Default::default()
            },
        )
        .map(|_| ())
    };
    assert!(matches!(err(blur(1e-300)), Error::Config { .. }));
    blur(0.1).unwrap();
    let jitter = ColorJitter::new(
        &r,
        JitterConfig {
            contrast: (1.0, 1e39),
            ..Default::default()
        },
    );
    assert!(matches!(err(jitter), Error::Config { .. }));
}

/// A misspelled key was ignored (an affine with angles all 0) and a missing required field
/// fell back to a default (a 1×1 crop).
#[test]
fn json_refuses_unknown_keys_and_requires_kornias_required_fields() {
    let vs = VarStore::new(Device::Cpu);
    let e = err(Sequential::from_json(
        vs.root(),
        r#"[{"RandomAffine":{"degree":[-30,30]}}]"#,
    ))
    .to_string();
    assert!(e.contains("unknown field `degree`"), "{e}");
    assert!(
        e.contains("`degrees`") && e.contains("`translate`"),
        "lists the allowed: {e}"
    );
    let e = err(Sequential::from_json(vs.root(), r#"[{"RandomCrop":{}}]"#)).to_string();
    assert!(e.contains("missing field `size`"), "{e}");
    let e = err(Sequential::from_json(vs.root(), r#"[{"RandomAffine":{}}]"#)).to_string();
    assert!(e.contains("missing field `degrees`"), "{e}");
    let e = err(Sequential::from_json(
        vs.root(),
        r#"{"steps":[],"fuse":true}"#,
    ))
    .to_string();
    assert!(e.contains("unknown field `fuse`"), "{e}");
    // Every operator's required fields are named, and a spec with them round-trips.
    let mut with_required = 0;
    for name in AugSpec::NAMES {
        if let Some(field) = AugSpec::required_fields(name).first() {
            let e = err(Sequential::from_json(
                vs.root(),
                &format!(r#"[{{"{name}":{{}}}}]"#),
            ));
            assert!(
                e.to_string().contains(&format!("missing field `{field}`")),
                "{name}: {e}"
            );
            with_required += 1;
        }
    }
    assert!(with_required > 10, "{with_required}");
    let seq = Sequential::from_json(
        vs.root() / "ok",
        r#"[{"RandomCrop":{"size":[4,4]}},{"RandomAffine":{"degrees":[-30,30]}}]"#,
    )
    .unwrap();
    let again = Sequential::from_json(vs.root() / "again", &seq.to_json().unwrap()).unwrap();
    assert_eq!(again.to_json().unwrap(), seq.to_json().unwrap());
}

/// 2,000 levels of nesting overflowed the stack (and 1,000 took 16 s to build). Depth is
/// now bounded by `MAX_NESTING`, and the bound is checked without recursion.
#[test]
fn nesting_is_bounded_and_checked_without_recursion() {
    let vs = VarStore::new(Device::Cpu);
    let start = std::time::Instant::now();
    // Built from Rust steps.
    let mut seq = Sequential::from_steps(vec![], SequentialConfig::default()).unwrap();
    let mut refused_at = None;
    for level in 2..=2000 {
        match Sequential::from_steps(vec![Box::new(seq)], SequentialConfig::default()) {
            Ok(s) => seq = s,
            Err(e) => {
                assert!(
                    e.to_string().contains(&format!("at most {MAX_NESTING}")),
                    "{e}"
                );
                refused_at = Some(level);
                break;
            }
        }
    }
    assert_eq!(refused_at, Some(MAX_NESTING + 1));
    // Built from a spec 2,000 deep.
    let mut spec = AugSpec::Sequential(SequentialConfig::default());
    for _ in 0..2000 {
        spec = AugSpec::Sequential(SequentialConfig::new(vec![spec]));
    }
    let e = err(Sequential::new(vs.root(), vec![spec]));
    assert!(e.to_string().contains("nested"), "{e}");
    // A spec 100,000 deep given by reference: cloned without recursion, then refused (the
    // derived clone overflowed the stack).
    let mut deep = vec![AugSpec::Sequential(SequentialConfig::default())];
    for _ in 0..100_000 {
        deep = vec![AugSpec::Sequential(SequentialConfig::new(deep))];
    }
    for e in [
        err(Sequential::new(vs.root(), &deep[..])),
        err(Sequential::new(vs.root(), &deep)),
        err(Sequential::new(
            vs.root(),
            SequentialConfig::one_of(&deep[..], None),
        )),
    ] {
        assert!(e.to_string().contains("nested"), "{e}");
    }
    let copy = deep.clone();
    // The clone is faithful: options and steps at every level.
    let nested = SequentialConfig {
        same_on_batch: Some(true),
        fuse_color: true,
        ..SequentialConfig::some_of(
            vec![
                AugSpec::Sequential(SequentialConfig::one_of(
                    vec![
                        AugSpec::Sequential(SequentialConfig::fast(vec![
                            AugSpec::RandomVerticalFlip(FlipConfig::default()),
                        ])),
                        AugSpec::RandomHorizontalFlip(FlipConfig {
                            p: 0.25,
                            ..Default::default()
                        }),
                    ],
                    Some(vec![1.0, 3.0]),
                )),
                AugSpec::Sequential(SequentialConfig::default()),
            ],
            1,
            2,
        )
    };
    let cloned = nested.clone();
    assert_eq!(cloned, nested);
    assert_eq!(format!("{cloned:?}"), format!("{nested:?}"));
    // Taken apart level by level: the derived drop would recurse 100,000 deep.
    for mut level in [deep, copy] {
        while let Some(AugSpec::Sequential(c)) = level.pop() {
            level = c.steps;
        }
    }
    // From JSON 2,000 deep.
    let json = format!(
        "{}[]{}",
        "[{\"Sequential\":".repeat(2000),
        "}]".repeat(2000)
    );
    assert!(Sequential::from_json(vs.root(), &json).is_err());
    assert!(
        start.elapsed().as_secs_f64() < 5.0,
        "took {:?}",
        start.elapsed()
    );
}

/// An empty pipeline returned the input's own storage: writing to the output wrote to the
/// input.
#[test]
fn an_empty_pipeline_returns_a_copy() {
    let vs = VarStore::new(Device::Cpu);
    let seq = Sequential::new(vs.root(), Vec::<AugSpec>::new()).unwrap();
    let x = img(&[2, 3, 4, 4]);
    let before = x.copy();
    let mut y = seq.f_forward(&x).unwrap();
    assert!(y.equal(&x));
    let _ = y.fill_(7.0);
    assert!(x.equal(&before), "writing to the output changed the input");
}

/// After 3,000 Adam steps learned ranges had left their domain (contrast (-0.06, 0.08),
/// shear_y with lo > hi). A learnable range is now reparameterised: the draws use
/// (min(lo, hi), max(lo, hi)) clamped to the domain, whatever the optimiser does.
#[test]
fn learned_ranges_stay_in_their_domain_under_adam() {
    let _serial = common::serial();
    tch::manual_seed(3);
    let vs = VarStore::new(Device::Cpu);
    let jitter = ColorJitter::new(
        vs.root(),
        JitterConfig {
            contrast: (0.05, 0.3),
            brightness: (0.9, 1.1),
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    let mut opt = nn::Adam::default().build(&vs, 0.05).unwrap();
    let x = img(&[8, 3, 8, 8]);
    let mut raw_left = false;
    for _ in 0..300 {
        // Pushes contrast towards 0 and below, brightness down.
        let out = jitter.f_forward(&x).unwrap();
        let loss = out.var(false) + out.mean(Kind::Float);
        opt.backward_step(&loss);
        let raw: Vec<f64> = vs
            .variables()
            .iter()
            .filter(|(k, _)| k.contains("contrast"))
            .map(|(_, v)| v.double_value(&[]))
            .collect();
        raw_left |= raw.iter().any(|&v| v < 0.0);
        for r in jitter.ranges() {
            let (lo, hi) = r.values();
            let (min, max) = r.domain();
            assert!(min <= lo && lo <= hi && hi <= max, "{r:?}: ({lo}, {hi})");
        }
    }
    assert!(
        raw_left,
        "the test must drive a raw variable out of the domain"
    );
    let out = jitter.f_forward(&x).unwrap();
    assert!(out.isfinite().all().int64_value(&[]) == 1);

    // A raw variable set past the other bound: the draws still see lo <= hi.
    let affine = RandomAffine::new(
        vs.root() / "a",
        RandomAffineConfig {
            shear: Some((-5.0, 5.0)),
            shear_y: Some((-5.0, 5.0)),
            learnable: Learnable::All,
            ..RandomAffineConfig::degrees(0.0)
        },
    )
    .unwrap();
    tch::no_grad(|| {
        for (k, mut v) in vs.variables() {
            if k.ends_with("shear_y_lo") {
                let _ = v.fill_(20.0);
            }
        }
    });
    let r = affine
        .ranges()
        .into_iter()
        .find(|r| r.name() == "shear_y")
        .unwrap();
    assert_eq!(r.values(), (5.0, 20.0));
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tch_dda_reliability_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn snapshot(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(k, t)| (k, t.copy()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn unchanged(vs: &VarStore, before: &[(String, Tensor)]) -> bool {
    let now = snapshot(vs);
    now.len() == before.len()
        && now
            .iter()
            .zip(before)
            .all(|((k, a), (l, b))| k == l && a.equal(b))
}

const LEARNED: &str = r#"[
    {"RandomAffine": {"degrees": [-30, 30], "scale": [0.8, 1.2], "learnable": true}},
    {"ColorJitter": {"brightness": [0.8, 1.2], "contrast": [0.7, 1.3], "learnable": true}},
    {"RandomGaussianBlur": {"kernel_size": [3, 3], "sigma": [0.1, 2.0], "learnable": true}}
]"#;

/// A failed `vs.load` into a pipeline of another shape had already overwritten some of its
/// variables. `load_var_store` checks everything first and changes nothing on `Err`.
#[test]
fn a_failed_load_changes_nothing() {
    let file = tmp("other_shape.safetensors");
    let saved = VarStore::new(Device::Cpu);
    let _a = Sequential::from_json(saved.root() / "aug", LEARNED).unwrap();
    saved.save(&file).unwrap();

    // Same names for the first two steps, but the third is another operator.
    let mut vs = VarStore::new(Device::Cpu);
    let b = Sequential::from_json(
        vs.root() / "aug",
        r#"[
            {"RandomAffine": {"degrees": [-10, 10], "scale": [0.9, 1.1], "learnable": true}},
            {"ColorJitter": {"brightness": [0.9, 1.1], "contrast": [0.9, 1.1], "learnable": true}},
            {"RandomSharpness": {"sharpness": [0.0, 0.5], "learnable": true}}
        ]"#,
    )
    .unwrap();
    let before = snapshot(&vs);
    let e = err(load_var_store(&mut vs, &file, &[&b]));
    assert!(matches!(e, Error::State { .. }), "{e}");
    assert!(e.to_string().contains("sharpness"), "{e}");
    assert!(unchanged(&vs, &before), "a failed load changed variables");

    // The same shape loads, all of it.
    let mut vs2 = VarStore::new(Device::Cpu);
    let c = Sequential::from_json(vs2.root() / "aug", LEARNED).unwrap();
    load_var_store(&mut vs2, &file, &[&c]).unwrap();
    assert!(unchanged(&vs2, &snapshot(&saved)));
}

/// An integer variable in the file panicked inside tch's load; a NaN bound loaded silently
/// and gave NaN output.
#[test]
fn loads_refuse_integer_and_non_finite_values() {
    let saved = VarStore::new(Device::Cpu);
    let aug = Sequential::from_json(saved.root() / "aug", LEARNED).unwrap();
    let file = tmp("good.safetensors");
    aug.f_save_state(&file).unwrap();
    let entries = Tensor::read_safetensors(&file).unwrap();
    let write_with = |name: &str, replace: &str, value: Tensor| {
        let f = tmp(name);
        let named: Vec<(String, Tensor)> = entries
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if k.ends_with(replace) {
                        value.shallow_clone()
                    } else {
                        v.shallow_clone()
                    },
                )
            })
            .collect();
        Tensor::write_safetensors(&named, &f).unwrap();
        f
    };
    let int_file = write_with("int.safetensors", "brightness_hi", Tensor::from(2i64));
    let nan_file = write_with("nan.safetensors", "brightness_hi", Tensor::from(f32::NAN));
    let big_file = write_with("big.safetensors", "sigma_hi", Tensor::from(1e300f64));
    let shape_file = write_with(
        "shape.safetensors",
        "degrees_lo",
        Tensor::zeros([2], (Kind::Float, Device::Cpu)),
    );

    let mut vs = VarStore::new(Device::Cpu);
    let target = Sequential::from_json(vs.root() / "aug", LEARNED).unwrap();
    let before = snapshot(&vs);
    for (f, says) in [
        (&int_file, "Int64"),
        (&nan_file, "not a finite float32"),
        (&big_file, "not a finite float32"),
        (&shape_file, "shape [2]"),
    ] {
        let e = err(target.f_load_state(f)).to_string();
        assert!(e.contains(says), "{f:?}: {e}");
        let e = err(load_var_store(&mut vs, f, &[&target])).to_string();
        assert!(e.contains(says) || e.contains("Int64"), "{f:?}: {e}");
        assert!(unchanged(&vs, &before));
    }
    target.f_load_state(&file).unwrap();
}

/// A learnable pipeline's file loaded into a fixed-range pipeline with degrees (-5, 5):
/// angles were then drawn in [-30, 30] while `to_json` still said (-5, 5). Such a file is
/// now refused.
#[test]
fn a_file_that_contradicts_a_fixed_spec_is_refused() {
    let learned = VarStore::new(Device::Cpu);
    let a = Sequential::from_json(
        learned.root() / "aug",
        r#"[{"RandomAffine": {"degrees": [-30, 30], "learnable": true}}]"#,
    )
    .unwrap();
    let file = tmp("learned_degrees.ot");
    learned.save(&file).unwrap();
    let state_file = tmp("learned_degrees_state.safetensors");
    a.f_save_state(&state_file).unwrap();

    let mut vs = VarStore::new(Device::Cpu);
    let fixed = Sequential::from_json(
        vs.root() / "aug",
        r#"[{"RandomAffine": {"degrees": [-5, 5]}}]"#,
    )
    .unwrap();
    let before = snapshot(&vs);
    let e = err(load_var_store(&mut vs, &file, &[&fixed])).to_string();
    assert!(
        e.contains("fixed at (-5, 5)") && e.contains("(-30, 30)"),
        "{e}"
    );
    let e = err(fixed.f_load_state(&state_file)).to_string();
    assert!(e.contains("fixed at (-5, 5)"), "{e}");
    assert!(unchanged(&vs, &before));
    assert!(fixed.to_json().unwrap().contains("-5"));
    // With equal fixed values the file loads.
    let same = VarStore::new(Device::Cpu);
    let fixed30 = Sequential::from_json(
        same.root() / "x",
        r#"[{"RandomAffine": {"degrees": [-30, 30]}}]"#,
    )
    .unwrap();
    let file30 = tmp("fixed30.safetensors");
    fixed30.f_save_state(&file30).unwrap();
    fixed30.f_load_state(&file30).unwrap();
}

/// One call saves structure plus learned state, one call rebuilds it under any path; a bad
/// file adds nothing to the VarStore.
#[test]
fn structure_and_state_save_and_load_in_one_call() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let aug = Sequential::from_json(vs.root() / "train", LEARNED).unwrap();
    let mut opt = nn::Adam::default().build(&vs, 0.05).unwrap();
    let x = img(&[4, 3, 16, 16]);
    for _ in 0..5 {
        let loss = aug.f_forward(&x).unwrap().mean(Kind::Float);
        opt.backward_step(&loss);
    }
    let file = tmp("pipeline.safetensors");
    aug.f_save(&file).unwrap();

    let other = VarStore::new(Device::Cpu);
    let back = Sequential::f_load(other.root() / "somewhere" / "else", &file).unwrap();
    assert_eq!(back.to_json().unwrap(), aug.to_json().unwrap());
    let (a, b) = (aug.ranges(), back.ranges());
    assert_eq!(a.len(), b.len());
    let fresh_vs = VarStore::new(Device::Cpu);
    let fresh = Sequential::from_json(fresh_vs.root(), LEARNED).unwrap();
    let trained = a
        .iter()
        .zip(fresh.ranges())
        .filter(|(r, f)| r.values() != f.values())
        .count();
    for (r, s) in a.iter().zip(&b) {
        assert_eq!(r.values(), s.values(), "{}", r.name());
    }
    assert!(trained > 0);
    tch::manual_seed(11);
    let y1 = aug.f_forward(&x).unwrap();
    tch::manual_seed(11);
    let y2 = back.f_forward(&x).unwrap();
    assert!(y1.equal(&y2));

    // A file of state alone, or a tampered one, is refused and adds no variable.
    let state_only = tmp("state_only.safetensors");
    aug.f_save_state(&state_only).unwrap();
    let empty = VarStore::new(Device::Cpu);
    let e = err(Sequential::f_load(empty.root(), &state_only)).to_string();
    assert!(e.contains("not written by Sequential::f_save"), "{e}");
    let mut entries = Tensor::read_safetensors(&file).unwrap();
    entries.retain(|(k, _)| !k.ends_with(".3.hi"));
    let tampered = tmp("tampered.safetensors");
    Tensor::write_safetensors(&entries, &tampered).unwrap();
    let e = err(Sequential::f_load(empty.root(), &tampered)).to_string();
    assert!(e.contains("lacks"), "{e}");
    assert_eq!(empty.len(), 0, "a failed load added variables");
}

/// `Sequential::f_load` accepted a file whose learnable hue range was 7.0, outside hue's
/// domain [-0.5, 0.5]. The crate's files now hold learnable ranges as drawn (ordered,
/// clamped), its loaders refuse a value outside the domain, and raw training state that an
/// optimiser moved past the domain still saves, loads and draws the same.
#[test]
fn learnable_ranges_load_only_inside_their_domain() {
    let _serial = common::serial();
    const HUE: &str = r#"[{"ColorJitter": {"hue": [-0.1, 0.1], "learnable": true}}]"#;
    let vs = VarStore::new(Device::Cpu);
    let aug = Sequential::from_json(vs.root() / "aug", HUE).unwrap();
    let file = tmp("hue.safetensors");
    aug.f_save(&file).unwrap();
    let state = tmp("hue_state.safetensors");
    aug.f_save_state(&state).unwrap();

    // The hue's upper bound set to 7.0 in both files.
    let set_hue_hi = |src: &std::path::Path, name: &str, key_ends: &[&str]| {
        let entries = Tensor::read_safetensors(src).unwrap();
        let hue_keys: Vec<String> = entries
            .iter()
            .filter(|(_, v)| v.kind() == Kind::Float && v.double_value(&[]) == 0.1f32 as f64)
            .map(|(k, _)| k.clone())
            .filter(|k| key_ends.iter().any(|e| k.ends_with(e)))
            .collect();
        assert_eq!(hue_keys.len(), 1, "{hue_keys:?}");
        let named: Vec<(String, Tensor)> = entries
            .into_iter()
            .map(|(k, v)| {
                let v = if k == hue_keys[0] {
                    Tensor::from(7.0f32)
                } else {
                    v
                };
                (k, v)
            })
            .collect();
        let f = tmp(name);
        Tensor::write_safetensors(&named, &f).unwrap();
        f
    };
    let bad_file = set_hue_hi(&file, "hue_7.safetensors", &[".hi"]);
    let bad_state = set_hue_hi(&state, "hue_7_state.safetensors", &["hue_hi"]);
    let empty = VarStore::new(Device::Cpu);
    let e = err(Sequential::f_load(empty.root(), &bad_file)).to_string();
    assert!(
        e.contains("`hue`") && e.contains("(-0.1, 7)") && e.contains("[-0.5, 0.5]"),
        "{e}"
    );
    assert_eq!(empty.len(), 0, "a refused load added variables");
    let before = snapshot(&vs);
    let e = err(aug.f_load_state(&bad_state)).to_string();
    assert!(e.contains("`hue`") && e.contains("[-0.5, 0.5]"), "{e}");
    assert!(unchanged(&vs, &before));

    // An optimiser may move the raw variable past the domain: draws clamp it, the crate's
    // files store it as drawn, and the reloaded pipeline draws the same.
    tch::no_grad(|| {
        for (k, mut v) in vs.variables() {
            if k.ends_with("hue_hi") {
                let _ = v.fill_(7.0);
            }
        }
    });
    let hue = |s: &Sequential| {
        s.ranges()
            .into_iter()
            .find(|r| r.name() == "hue")
            .unwrap()
            .values()
    };
    assert_eq!(hue(&aug), (-0.1f32 as f64, 0.5));
    aug.f_save(&file).unwrap();
    let other = VarStore::new(Device::Cpu);
    let back = Sequential::f_load(other.root(), &file).unwrap();
    assert_eq!(hue(&back), hue(&aug));
    let x = img(&[4, 3, 8, 8]);
    tch::manual_seed(5);
    let y1 = aug.f_forward(&x).unwrap();
    tch::manual_seed(5);
    let y2 = back.f_forward(&x).unwrap();
    assert!(y1.equal(&y2));
    aug.f_save_state(&state).unwrap();
    aug.f_load_state(&state).unwrap();
    assert_eq!(hue(&aug), hue(&back));
    // A VarStore file is raw training state: the 7.0 loads there, and draws clamp it.
    let raw = tmp("hue_raw.safetensors");
    vs.save(&raw).unwrap();
    let mut vs2 = VarStore::new(Device::Cpu);
    let c = Sequential::from_json(vs2.root() / "aug", HUE).unwrap();
    load_var_store(&mut vs2, &raw, &[&c]).unwrap();
    assert_eq!(hue(&c), (-0.1f32 as f64, 0.5));
}

/// Replayed params were never checked: a zero scale or an infinite brightness factor gave
/// non-finite output.
#[test]
fn replayed_params_are_checked_for_shape_and_finiteness() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let affine = RandomAffine::new(
        vs.root(),
        RandomAffineConfig::degrees(10.0).scale(0.9, 1.1).p(1.0),
    )
    .unwrap();
    let x = img(&[3, 3, 8, 8]);
    let (_, params) = affine.f_forward_with_params(&x).unwrap();
    let with = |key: &str, value: Tensor| {
        let mut p = Params::new();
        for (k, v) in params.iter() {
            p.insert(
                k,
                if k == key {
                    value.shallow_clone()
                } else {
                    v.shallow_clone()
                },
            );
        }
        p
    };
    let scale = params.get("scale").unwrap();
    let e = err(affine.f_apply(&x, &with("scale", scale.zeros_like())));
    assert!(
        matches!(&e, Error::NonFinite { samples, .. } if samples == &[0, 1, 2]),
        "{e}"
    );
    let nan_angle = params.get("angle").unwrap().copy();
    let _ = nan_angle.get(1).fill_(f64::NAN);
    let e = err(affine.f_apply(&x, &with("angle", nan_angle.shallow_clone())));
    assert!(
        matches!(&e, Error::Params { key, .. } if key == "angle"),
        "{e}"
    );
    let e = err(affine.f_transform_matrix(
        &[3, 3, 8, 8],
        &with("angle", nan_angle),
        Kind::Float,
        Device::Cpu,
    ));
    assert!(
        matches!(&e, Error::Params { key, .. } if key == "angle"),
        "{e}"
    );
    let e = err(affine.f_apply(
        &x,
        &with("angle", Tensor::zeros([2], (Kind::Float, Device::Cpu))),
    ));
    assert!(
        matches!(&e, Error::Params { key, .. } if key == "angle"),
        "{e}"
    );
    let _ = affine.f_apply(&x, &params).unwrap();

    let bright = RandomBrightness::new(vs.root(), FactorConfig::new((0.8, 1.2))).unwrap();
    let (_, params) = bright.f_forward_with_params(&x).unwrap();
    let mut inf = Params::new();
    for (k, v) in params.iter() {
        inf.insert(
            k,
            if k == "brightness_factor" {
                v.full_like(f64::INFINITY)
            } else {
                v.shallow_clone()
            },
        );
    }
    assert!(params.get("brightness_factor").is_some());
    assert!(matches!(
        err(bright.f_apply(&x, &inf)),
        Error::Params { .. }
    ));

    // Mixing carries a NaN sample into others on purpose: that is not refused.
    let mix = RandomMixUp::new(
        vs.root(),
        MixUpConfig {
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let bad = x.copy();
    let _ = bad.get(0).fill_(f64::NAN);
    let labels = Tensor::from_slice(&[0i64, 1, 2]);
    let (_, _, p) = mix.f_forward_with_labels_and_params(&bad, &labels).unwrap();
    let _ = mix.f_apply_with_labels(&bad, &labels, &p).unwrap();
}

/// A failed allocation inside a warp panicked (RandomResizedCrop to 60000², RandomAffine on
/// an expanded 60000² input) where Resize, PadTo and RandomCrop returned `Err`. The sizes
/// here are past any machine's memory, so the first output-sized allocation fails at once.
#[test]
fn sizes_that_do_not_fit_in_memory_are_errors_not_panics() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let r = vs.root();
    let huge = 200_000;
    let x = img(&[1, 3, 16, 16]);
    let expanded =
        Tensor::rand([1, 3, 1, 1], (Kind::Float, Device::Cpu)).expand([1, 3, huge, huge], false);
    let cases: Vec<(Box<dyn Augmentation>, &Tensor)> = vec![
        (
            Box::new(
                RandomResizedCrop::new(&r, RandomResizedCropConfig::new((huge, huge))).unwrap(),
            ),
            &x,
        ),
        (
            Box::new(RandomAffine::new(&r, RandomAffineConfig::degrees(10.0).p(1.0)).unwrap()),
            &expanded,
        ),
        (
            Box::new(
                RandomPerspective::new(
                    &r,
                    PerspectiveConfig {
                        p: 1.0,
                        ..Default::default()
                    },
                )
                .unwrap(),
            ),
            &expanded,
        ),
        (
            Box::new(Resize::new(&r, ResizeConfig::new((huge, huge))).unwrap()),
            &x,
        ),
        (
            Box::new(CenterCrop::new(&r, CenterCropConfig::new((huge - 1, huge - 1))).unwrap()),
            &expanded,
        ),
        (
            Box::new(RandomRotation::new(&r, RandomRotationConfig::degrees(30.0)).unwrap()),
            &expanded,
        ),
    ];
    for (aug, input) in cases {
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| aug.f_forward(input)));
        match got {
            Ok(Err(Error::Torch(_))) => {}
            // A centre crop of an expanded input is a view: nothing to allocate.
            Ok(Ok(t)) if aug.name() == "CenterCrop" => {
                assert_eq!(t.size(), [1, 3, huge - 1, huge - 1])
            }
            Ok(other) => panic!(
                "{}: expected a libtorch allocation error, got {:?}",
                aug.name(),
                other.map(|t| t.size())
            ),
            Err(_) => panic!("{}: panicked", aug.name()),
        }
    }
}

/// Every kind of draw the crate makes (uniform, normal, randint, randperm, bernoulli,
/// multinomial, Dirichlet) in one pipeline: random selection, color order, noise, motion
/// kernel index, MixUp/CutMix pairs and Beta draws.
const EVERY_DRAW: &str = r#"{"steps": [
    {"RandomAffine": {"degrees": [-30, 30], "scale": [0.8, 1.2], "p": 0.7}},
    {"ColorJitter": {"brightness": [0.8, 1.2], "contrast": [0.8, 1.2], "hue": [-0.1, 0.1]}},
    {"RandomGaussianNoise": {"std": 0.1, "p": 0.6}},
    {"RandomMotionBlur": {"kernel_size": {"range": [3, 7]}, "angle": [-30, 30], "direction": [-1, 1]}},
    {"RandomPerspective": {"p": 0.5}},
    {"RandomCutMix": {"p": 1.0}}
], "random_apply": {"between": [2, 5]}}"#;

fn every_draw_pipeline(vs: &VarStore) -> Sequential {
    Sequential::from_json(vs.root(), EVERY_DRAW).unwrap()
}

/// Four threads, each with its own pipeline and its own `manual_seed`, did not reproduce
/// the single-thread outputs (39 of 160 differed): the generator is process-wide. With a
/// `Generator` each, they do, bit for bit, and a `Generator::new(s)` draws exactly what
/// `tch::manual_seed(s)` makes the global generator draw.
#[test]
fn threads_with_their_own_generator_reproduce_single_thread_outputs() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let seq = std::sync::Arc::new(every_draw_pipeline(&vs));
    let x = img(&[4, 3, 24, 24]);
    let seeds: Vec<u64> = (0..4).map(|i| 1000 + i).collect();
    let rounds = 40;
    // Single-thread reference, from the global generator.
    let reference: Vec<Vec<Tensor>> = seeds
        .iter()
        .map(|&s| {
            tch::manual_seed(s as i64);
            (0..rounds).map(|_| seq.f_forward(&x).unwrap()).collect()
        })
        .collect();
    // Four threads share one pipeline (it is Sync) and each owns a generator; the global
    // generator is drawn from concurrently by a fifth thread, which must not disturb them.
    let noise = std::thread::spawn(|| {
        for _ in 0..2000 {
            let _ = Tensor::rand([64], (Kind::Float, Device::Cpu));
        }
    });
    let handles: Vec<_> = seeds
        .iter()
        .map(|&s| {
            let (seq, x) = (seq.clone(), x.shallow_clone());
            std::thread::spawn(move || {
                let mut rng = Generator::new(s);
                (0..rounds)
                    .map(|_| rng.f_scope(|| seq.f_forward(&x)).unwrap().unwrap())
                    .collect::<Vec<Tensor>>()
            })
        })
        .collect();
    let threaded: Vec<Vec<Tensor>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    noise.join().unwrap();
    let mut differing = 0;
    for (r, t) in reference.iter().zip(&threaded) {
        differing += r.iter().zip(t).filter(|(a, b)| !a.equal(b)).count();
    }
    assert_eq!(differing, 0, "of {}", seeds.len() * rounds);
    // The runs differ from each other (the comparison is not vacuous).
    assert!(!reference[0][0].equal(&reference[1][0]));
}

/// A scope does not touch the global generator, nests, and is restored after a panic.
#[test]
fn generator_scopes_leave_the_global_stream_alone() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let seq = every_draw_pipeline(&vs);
    let x = img(&[4, 3, 24, 24]);
    tch::manual_seed(5);
    let a1 = seq.f_forward(&x).unwrap();
    let a2 = seq.f_forward(&x).unwrap();
    tch::manual_seed(5);
    let b1 = seq.f_forward(&x).unwrap();
    let mut rng = Generator::new(99);
    let mut inner = Generator::new(5);
    let (own, nested) = rng
        .f_scope(|| {
            let own = seq.f_forward(&x).unwrap();
            // The inner scope draws as manual_seed(5) would, then the outer one resumes.
            let nested = inner.f_scope(|| seq.f_forward(&x).unwrap()).unwrap();
            (own, nested)
        })
        .unwrap();
    let b2 = seq.f_forward(&x).unwrap();
    assert!(
        a1.equal(&b1) && a2.equal(&b2),
        "the scope moved the global stream"
    );
    assert!(nested.equal(&a1));
    tch::manual_seed(99);
    assert!(seq.f_forward(&x).unwrap().equal(&own));

    // A panic inside a scope restores the previous state of the thread: draws after it come
    // from the global generator again.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rng.scope(|| panic!("inside"));
    }));
    assert!(caught.is_err());
    tch::manual_seed(5);
    assert!(seq.f_forward(&x).unwrap().equal(&a1));

    // State save and restore resumes the stream.
    let mut g = Generator::new(3);
    let state = g.f_state(Device::Cpu).unwrap();
    let first = g.f_scope(|| seq.f_forward(&x).unwrap()).unwrap();
    g.f_set_state(Device::Cpu, &state).unwrap();
    let again = g.f_scope(|| seq.f_forward(&x).unwrap()).unwrap();
    assert!(first.equal(&again));
    assert!(matches!(
        g.f_set_state(Device::Cpu, &Tensor::zeros([3], (Kind::Uint8, Device::Cpu))),
        Err(Error::Rng(_))
    ));
}

/// Whether autograd records on this thread (tch has no getter).
fn grad_enabled() -> bool {
    let v = Tensor::zeros([1], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    (v * 2.0).requires_grad()
}

/// A panic caught inside `tch::no_grad(|| ..)` left autograd disabled on the thread. The
/// crate's own code uses `no_grad_guard` (restored on unwind), never the closure, and a
/// forward pass that panics under the guard the README recommends leaves grad mode as it
/// was.
#[test]
fn a_caught_panic_under_no_grad_guard_leaves_grad_mode_on() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let crop = Sequential::from_json(vs.root(), r#"[{"RandomCrop":{"size":[64,64]}}]"#).unwrap();
    let small = Tensor::zeros([1, 3, 8, 8], (Kind::Float, Device::Cpu));
    assert!(grad_enabled());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = tch::no_grad_guard();
        crop.forward(&small)
    }));
    assert!(caught.is_err());
    assert!(grad_enabled(), "grad mode stayed off after the unwind");
    // The f_ form returns the error instead; grad mode is untouched either way.
    let _guard = tch::no_grad_guard();
    assert!(matches!(crop.f_forward(&small), Err(Error::Size { .. })));
    assert!(!grad_enabled());
}

/// Files that are not what they claim: loaders return errors, never panic, and change
/// nothing.
#[test]
fn garbage_files_are_errors() {
    let garbage = tmp("garbage.safetensors");
    std::fs::write(
        &garbage,
        b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}not a tensor",
    )
    .unwrap();
    let truncated = tmp("truncated.ot");
    std::fs::write(&truncated, b"PK\x03\x04").unwrap();
    let missing = tmp("does_not_exist.safetensors");
    let mut vs = VarStore::new(Device::Cpu);
    let seq = Sequential::from_json(vs.root() / "aug", LEARNED).unwrap();
    let before = snapshot(&vs);
    for f in [&garbage, &truncated, &missing] {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert!(Params::load(f, Device::Cpu).is_err());
            assert!(seq.f_load_state(f).is_err());
            let other = VarStore::new(Device::Cpu);
            assert!(Sequential::f_load(other.root(), f).is_err());
            assert_eq!(other.len(), 0);
        }));
        assert!(caught.is_ok(), "{f:?}: a loader panicked");
        assert!(load_var_store(&mut vs, f, &[&seq]).is_err());
        assert!(unchanged(&vs, &before));
    }
}

/// `Generator::f_randperm` and `f_rand` draw from the generator's stream (what the global
/// generator seeded alike draws), advance it, and refuse sizes out of their domain.
#[test]
fn generator_draws_its_own_permutations_and_uniforms() {
    let _serial = common::serial();
    let mut g = Generator::new(21);
    let p1 = g.f_randperm(50, Device::Cpu).unwrap();
    let u1 = g.f_rand(&[3, 4], Device::Cpu).unwrap();
    let p2 = g.f_randperm(50, Device::Cpu).unwrap();
    assert_eq!(p1.kind(), Kind::Int64);
    assert_eq!(u1.size(), [3, 4]);
    assert!(!p1.equal(&p2), "the stream did not advance");
    let sorted = p1.sort(0, false).0;
    assert!(sorted.equal(&Tensor::arange(50, (Kind::Int64, Device::Cpu))));
    tch::manual_seed(21);
    assert!(Tensor::randperm(50, (Kind::Int64, Device::Cpu)).equal(&p1));
    assert!(Tensor::rand([3, 4], (Kind::Float, Device::Cpu)).equal(&u1));
    assert!(matches!(
        g.f_randperm(-1, Device::Cpu),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        g.f_rand(&[2, -3], Device::Cpu),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        g.f_rand(&[1 << 40, 1 << 20], Device::Cpu),
        Err(Error::TooLarge { .. })
    ));
}
