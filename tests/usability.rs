//! Using the crate as a user would: learning one range at a time, error messages in panics,
//! names, and the Kornia shorthands.

mod common;
use std::collections::BTreeSet;
use tch::nn::{self, Module, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};
use tch_dda::prelude::*;

/// `spec` with its config's `learnable` field set to `learnable` (specs without one are
/// returned unchanged).
fn with_learnable(spec: &AugSpec, learnable: &Learnable) -> AugSpec {
    let mut json = serde_json::to_value(spec).unwrap();
    if let Some(serde_json::Value::Object(cfg)) =
        json.as_object_mut().and_then(|m| m.values_mut().next())
    {
        if cfg.contains_key("learnable") {
            cfg.insert("learnable".into(), serde_json::to_value(learnable).unwrap());
        }
    }
    serde_json::from_value(json).unwrap()
}

/// The range names behind the trainable variables of `vs` under `prefix`.
fn trainable(vs: &VarStore, prefix: &str) -> BTreeSet<String> {
    let vars = vs.variables();
    vars.iter()
        .filter(|(k, v)| k.starts_with(prefix) && v.requires_grad())
        .map(|(k, _)| {
            let k = &k[prefix.len()..];
            k.strip_suffix("_lo")
                .or_else(|| k.strip_suffix("_hi"))
                .unwrap_or(k)
                .to_string()
        })
        .collect()
}

#[test]
fn each_range_can_be_learned_on_its_own() {
    let mut with_ranges = 0;
    for (i, spec) in common::all_specs().iter().enumerate() {
        let vs = VarStore::new(Device::Cpu);
        let all = with_learnable(spec, &Learnable::All);
        let aug = all.build(&(vs.root() / format!("a{i}"))).unwrap();
        let names: BTreeSet<String> = aug.range_names().iter().map(|s| s.to_string()).collect();
        let learned = trainable(&vs, &format!("a{i}."));
        // Every trainable variable belongs to a named range.
        assert!(
            learned.is_subset(&names),
            "{}: trainable {learned:?} not among its range names {names:?}",
            spec.name()
        );
        if names.is_empty() {
            continue;
        }
        with_ranges += 1;
        // Each one alone: exactly its own variables become trainable.
        for name in &learned {
            let vs = VarStore::new(Device::Cpu);
            let one = with_learnable(spec, &Learnable::only([name.as_str()]));
            one.build(&(vs.root() / "b")).unwrap();
            assert_eq!(
                trainable(&vs, "b."),
                BTreeSet::from([name.clone()]),
                "{}: learning {name} alone",
                spec.name()
            );
        }
        // A name the operator does not have is refused before any variable is made.
        let vs = VarStore::new(Device::Cpu);
        let bad = with_learnable(spec, &Learnable::only(["nope"]));
        let err = bad.build(&(vs.root() / "c")).unwrap_err().to_string();
        assert!(
            err.contains("learnable = [\"nope\"] is invalid; allowed: names of its ranges: "),
            "{}: {err}",
            spec.name()
        );
        assert!(vs.variables().is_empty(), "{}: half-built", spec.name());
    }
    assert!(
        with_ranges >= 20,
        "only {with_ranges} operators with ranges"
    );
}

#[test]
fn brightness_alone_learns_on_grayscale_images() {
    let vs = VarStore::new(Device::Cpu);
    let json = r#"[{"ColorJitter": {"brightness": [0.8, 1.2], "contrast": [0.7, 1.3],
                   "saturation": [1.0, 1.0], "hue": [0.0, 0.0], "p": 1.0,
                   "learnable": ["brightness"]}}]"#;
    let seq = Sequential::from_json(&(vs.root() / "aug"), json).unwrap();
    let gray = Tensor::rand([4, 1, 8, 8], (Kind::Float, Device::Cpu));
    let mut opt = nn::Adam::default().build(&vs, 0.05).unwrap();
    let vars = vs.variables();
    let before: Vec<(String, f64)> = ["aug.0.brightness_lo", "aug.0.contrast_lo"]
        .iter()
        .map(|k| (k.to_string(), vars[*k].double_value(&[])))
        .collect();
    for _ in 0..3 {
        let y = seq.forward(&gray);
        opt.backward_step(&(y - 0.9).square().mean(Kind::Float));
    }
    let after = vs.variables();
    assert_ne!(after["aug.0.brightness_lo"].double_value(&[]), before[0].1);
    assert_eq!(after["aug.0.contrast_lo"].double_value(&[]), before[1].1);
    assert!(seq.to_json().unwrap().contains("\"learnable\": [\n"));
    // A learnable hue can move away from (0, 0), so it needs RGB.
    let hue = ColorJitter::new(
        vs.root(),
        JitterConfig {
            learnable: Learnable::only(["hue"]),
            ..JitterConfig::new(0.2, 0.0, 0.0, 0.0)
        },
    )
    .unwrap();
    assert_eq!(
        hue.f_forward(&gray).unwrap_err().to_string(),
        "ColorJitter: got 1 channels (input shape [4, 1, 8, 8]); allowed: 3 (a hue range other than (0, 0) needs RGB)"
    );
}

#[test]
fn panics_read_as_the_typed_error() {
    let vs = VarStore::new(Device::Cpu);
    let aug = RandomAffine::new(vs.root(), RandomAffineConfig::default()).unwrap();
    let x = Tensor::zeros([2, 3, 5, 7], (Kind::Uint8, Device::Cpu));
    let payload =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| aug.forward(&x))).unwrap_err();
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        msg,
        "RandomAffine: expected a floating point input (float32 or float64), got Uint8; convert it first, e.g. `x.to_kind(Kind::Float) / 255.0` for uint8 images in [0, 255]"
    );
    let seq = nn::seq_t().add(aug.train_only());
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        nn::ModuleT::forward_t(&seq, &x, true)
    }))
    .unwrap_err();
    assert!(payload
        .downcast_ref::<String>()
        .unwrap()
        .starts_with("RandomAffine: expected a floating point input"));
}

#[test]
fn every_operator_is_named_after_its_type() {
    let vs = VarStore::new(Device::Cpu);
    for spec in common::all_specs() {
        let aug = spec.build(&vs.root()).unwrap();
        assert_eq!(aug.name(), spec.name());
    }
    let mix = RandomMixUp::new(vs.root(), MixUpConfig::default()).unwrap();
    assert_eq!(
        (mix.name(), mix.kornia_name()),
        ("RandomMixUp", "RandomMixUpV2")
    );
    // Kornia's LongestMaxSize is a Resize by its own name and spec.
    let longest = Resize::longest_max_size(&vs.root(), 5, Resample::Bilinear, true).unwrap();
    assert_eq!(
        (longest.name(), longest.kornia_name()),
        ("LongestMaxSize", "LongestMaxSize")
    );
    assert_eq!(
        longest.spec(),
        AugSpec::LongestMaxSize(MaxSizeConfig::new(5))
    );
}

#[test]
fn constructors_take_paths_as_tch_layers_do_and_need_none_without_variables() {
    let vs = VarStore::new(Device::Cpu);
    // By value, as nn::linear(vs.root() / "fc", ...), or by reference.
    let a = RandomAffine::new(vs.root() / "affine", RandomAffineConfig::degrees(10.0)).unwrap();
    let root = vs.root();
    let r = RandomRotation::new(&root, RandomRotationConfig::degrees(10.0)).unwrap();
    let seq = Sequential::new(
        vs.root() / "seq",
        [AugSpec::RandomHorizontalFlip(FlipConfig::default())],
    )
    .unwrap();
    // No variables, no VarStore.
    let flip = RandomHorizontalFlip::from_config(FlipConfig {
        p: 1.0,
        ..Default::default()
    })
    .unwrap();
    let crop = CenterCrop3D::from_config(CenterCrop3DConfig::new([2, 3, 4])).unwrap();
    let x = Tensor::rand([2, 1, 5, 6], (Kind::Float, Device::Cpu));
    assert!(flip.forward(&x).equal(&x.flip([3])));
    assert_eq!(
        crop.forward(&Tensor::rand([1, 1, 4, 5, 6], (Kind::Float, Device::Cpu)))
            .size(),
        [1, 1, 2, 3, 4]
    );
    let _ = (a, r, seq);
    // The 3D crops take Kornia's `p`, which must be 1 like the 2D crops'.
    assert_eq!(
        RandomCrop3D::from_config(RandomCrop3DConfig { p: 0.5, ..RandomCrop3DConfig::new([1, 1, 1]) })
            .unwrap_err()
            .to_string(),
        "RandomCrop3D: p = 0.5 is invalid; allowed: 1.0 (a crop changes the size, so samples cannot pass through)"
    );
}

/// `train_only` moves the pipeline into the layer: its JSON does not change with training
/// (take it before), and the learned values are in the VarStore under dotted names.
#[test]
fn a_train_only_layers_pipeline_stays_within_reach() {
    let vs = VarStore::new(Device::Cpu);
    let seq = Sequential::new(
        vs.root() / "aug",
        [AugSpec::ColorJitter(JitterConfig {
            learnable: Learnable::All,
            p: 1.0,
            ..JitterConfig::new(0.2, 0.2, 0.2, 0.1)
        })],
    )
    .unwrap();
    let json = seq.to_json().unwrap();
    let layer = seq.train_only();
    assert_eq!(layer.0.to_json().unwrap(), json);
    let model = nn::seq_t().add(layer);
    let mut opt = nn::Adam::default().build(&vs, 0.05).unwrap();
    let x = Tensor::rand([4, 3, 8, 8], (Kind::Float, Device::Cpu));
    let before = vs.variables()["aug.0.brightness_hi"].double_value(&[]);
    let y = nn::ModuleT::forward_t(&model, &x, true);
    opt.backward_step(&(y - 1.0).square().mean(Kind::Float));
    let after = vs.variables()["aug.0.brightness_hi"].double_value(&[]);
    assert_ne!(before, after);
    // Rebuilt from the JSON, with the VarStore's values loaded, it draws the same.
    let dir = std::env::temp_dir().join(format!("tch-dda-usability-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    vs.save(dir.join("vs.safetensors")).unwrap();
    let mut vs2 = VarStore::new(Device::Cpu);
    let again = Sequential::from_json(vs2.root() / "aug", &json).unwrap();
    vs2.load(dir.join("vs.safetensors")).unwrap();
    assert_eq!(
        vs2.variables()["aug.0.brightness_hi"].double_value(&[]),
        after
    );
    // Streams of their own: other tests of this file draw from the global one meanwhile.
    let a = Generator::new(3).scope(|| nn::ModuleT::forward_t(&model, &x, true));
    let b = Generator::new(3).scope(|| again.forward(&x));
    assert!(a.equal(&b));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_pipeline_takes_uint8_images_as_decoded() {
    let vs = VarStore::new(Device::Cpu);
    let seq = Sequential::new(vs.root(), common::paper_specs(false)).unwrap();
    let bytes = Tensor::arange(4 * 3 * 20 * 24, (Kind::Int64, Device::Cpu))
        .remainder(251)
        .to_kind(Kind::Uint8)
        .view([4, 3, 20, 24]);
    let before = bytes.copy();
    let floats = bytes.to_kind(Kind::Float) / 255.0;
    // Generators of their own: other tests of this binary draw from the global one.
    let (from_bytes, params) = Generator::new(9)
        .scope(|| seq.f_forward_with_params(&bytes))
        .unwrap();
    let from_floats = Generator::new(9).scope(|| seq.f_forward(&floats)).unwrap();
    assert_eq!(from_bytes.kind(), Kind::Float);
    assert_eq!(common::max_abs_diff(&from_bytes, &from_floats), 0.0);
    assert_eq!(
        common::max_abs_diff(&seq.f_apply(&bytes, &params).unwrap(), &from_bytes),
        0.0
    );
    // Unbatched, and inside a record.
    assert!(
        seq.f_apply(&bytes.get(0), &params).is_err(),
        "params are for 4"
    );
    let (rec, _) = seq
        .f_forward_batch(&Batch::new(bytes.shallow_clone()))
        .unwrap();
    assert_eq!(rec.image.kind(), Kind::Float);
    // The input is untouched; an operator on its own still asks for floats.
    assert!(bytes.equal(&before));
    let affine = RandomAffine::new(vs.root() / "a", RandomAffineConfig::default()).unwrap();
    assert!(matches!(
        affine.f_forward(&bytes),
        Err(tch_dda::Error::Dtype { .. })
    ));
}
