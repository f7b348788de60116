//! Coming from Kornia: every parity fixture's Kornia constructor (class and keyword
//! arguments, as scripts/gen_fixtures.py recorded them) goes through
//! `AugSpec::from_kornia`; the operator it builds replays Kornia's params to Kornia's
//! output and input gradient, and draws Kornia's params after the same seed. The table of
//! docs/KORNIA.md is generated from these translations and checked here, so it cannot
//! drift (`UPDATE_KORNIA_DOC=1 cargo test --test kornia` rewrites it).

mod common;
use serde_json::Value;
use std::fmt::Write;
use tch::nn::VarStore;
use tch::Device;
use tch_dda::prelude::*;

const TOL: f64 = 1e-5;
const DOC: &str = "docs/KORNIA.md";

/// Kornia's call as Python: `KA.RandomAffine(degrees=30, translate=(0.1, 0.2))`.
fn python(class: &str, kwargs: &Value) -> String {
    fn py(v: &Value) -> String {
        match v {
            Value::Null => "None".into(),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => format!("\"{s}\""),
            Value::Array(a) => {
                let items: Vec<String> = a.iter().map(py).collect();
                if a.len() == 1 {
                    format!("({},)", items[0])
                } else {
                    format!("({})", items.join(", "))
                }
            }
            Value::Object(o) if o.contains_key("tensor") => {
                format!("torch.tensor({})", o["tensor"])
            }
            Value::Object(o) => {
                let items: Vec<String> = o.iter().map(|(k, v)| format!("{k}={}", py(v))).collect();
                format!("dict({})", items.join(", "))
            }
        }
    }
    let args: Vec<String> = match kwargs {
        Value::Object(o) if o.contains_key("steps") => {
            let steps: Vec<String> = o["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| python(s[0].as_str().unwrap(), &s[1]))
                .collect();
            let mut a = vec![steps.join(", ")];
            a.extend(
                o.iter()
                    .filter(|(k, _)| *k != "steps")
                    .map(|(k, v)| format!("{k}={}", py(v))),
            );
            a
        }
        Value::Object(o) => o.iter().map(|(k, v)| format!("{k}={}", py(v))).collect(),
        _ => vec![],
    };
    format!("KA.{class}({})", args.join(", "))
}

/// Our spec's fields that differ from the defaults of its type, as JSON (a container's
/// steps each so, then its own options).
fn ours(spec: &AugSpec) -> String {
    if let AugSpec::Sequential(c) = spec {
        let steps: Vec<String> = c.steps.iter().map(ours).collect();
        let mut opts = serde_json::to_value(SequentialConfig {
            steps: vec![],
            ..c.clone()
        })
        .unwrap();
        if let Value::Object(o) = &mut opts {
            o.remove("steps");
            // The annotation options that differ from the defaults.
            if let Some(Value::Object(a)) = o.get_mut("annotations") {
                let d = serde_json::to_value(AnnotationOptions::default()).unwrap();
                a.retain(|k, v| d.get(k) != Some(v));
            }
        }
        let opts = if opts.is_array() || opts == serde_json::json!({}) {
            String::new()
        } else {
            format!(" {opts}")
        };
        return format!("Sequential [{}]{opts}", steps.join(", "));
    }
    let json = serde_json::to_value(spec).unwrap();
    let (name, cfg) = json.as_object().unwrap().iter().next().unwrap();
    let default = match spec {
        AugSpec::Sequential(_) => Value::Null,
        _ => {
            // Every config is `#[serde(default)]`: `{}` plus the required fields is its
            // Default (Kornia's defaults).
            let required: serde_json::Map<String, Value> = AugSpec::required_fields(name)
                .iter()
                .map(|f| (f.to_string(), cfg[*f].clone()))
                .collect();
            let d: AugSpec = serde_json::from_value(serde_json::json!({ name: required })).unwrap();
            serde_json::to_value(&d).unwrap()[name].clone()
        }
    };
    let shown = match (cfg, &default) {
        (Value::Object(c), Value::Object(d)) => {
            let diff: serde_json::Map<String, Value> = c
                .iter()
                .filter(|(k, v)| {
                    AugSpec::required_fields(name).contains(&k.as_str()) || d.get(*k) != Some(*v)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(diff)
        }
        _ => cfg.clone(),
    };
    format!("{name} {shown}")
}

#[test]
fn every_kornia_constructor_of_the_fixtures_translates_to_kornias_numbers() {
    let _serial = common::serial();
    let names = common::fixture_stems("");
    let mut rows = Vec::new();
    let mut ops: std::collections::BTreeMap<String, OperatorRow> = Default::default();
    for name in &names {
        let fx = common::fixture(name);
        let class = fx.meta["kornia_class"].as_str().unwrap();
        let kwargs: Value = serde_json::from_str(fx.meta["kwargs"].as_str().unwrap()).unwrap();
        let spec = AugSpec::from_kornia(class, &kwargs).unwrap_or_else(|e| panic!("{name}: {e}"));
        let vs = VarStore::new(common::device());
        let aug = spec
            .build(&(vs.root() / "k"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let params = common::replay_params(aug.as_ref(), &fx);
        let (o, g) = common::parity_with(aug.as_ref(), &fx, &params);
        assert!(o <= TOL && g <= TOL, "{name}: {o:e} / {g:e} from Kornia");
        // The same seed draws the same params.
        let seeded = !fx.seed_params().is_empty() && common::draws_on_cpu();
        // Where Kornia draws part of its params from the data when it applies them
        // (RandomTransplantation's labels), the seeded draw covers only the rest: "partly".
        let mut partly = false;
        if seeded {
            tch::manual_seed(1000 + fx.seed());
            let drawn = aug.sample(&fx.get("input").size(), Device::Cpu).unwrap();
            for (k, v) in fx.seed_params().iter() {
                let d = common::max_abs_diff(drawn.get(k).unwrap(), v);
                assert!(d == 0.0, "{name}: {k} drawn {d:e} away from Kornia's");
            }
            // (A container's `selection` is Kornia's item names, not a tensor it records.)
            partly = drawn
                .keys()
                .any(|k| fx.seed_params().get(k).is_none() && !k.ends_with("selection"));
        }
        let op = ops
            .entry(spec.name().to_string())
            .or_insert_with(|| OperatorRow {
                kornia: Default::default(),
                ranges: String::new(),
                fixtures: 0,
                output: 0.0,
                gradient: 0.0,
                drawn: "–",
            });
        op.kornia.insert(class.to_string());
        op.ranges = aug.range_names().join(", ");
        op.fixtures += 1;
        op.output = op.output.max(o);
        op.gradient = op.gradient.max(g);
        op.drawn = match (op.drawn, seeded, partly) {
            ("yes", _, _) | (_, true, false) => "yes",
            (_, true, true) => "partly",
            (d, false, _) => d,
        };
        rows.push((
            class.to_string(),
            name.clone(),
            python(class, &kwargs),
            ours(&spec),
            o.max(g),
            match (seeded, partly) {
                (false, _) => "–",
                (true, false) => "yes",
                (true, true) => "partly",
            },
        ));
    }
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut doc = String::from(
        "# Coming from Kornia\n\n\
         Each row is a Kornia 0.9 constructor from the parity fixtures, and what\n\
         `AugSpec::from_kornia(class, kwargs)` makes of it: the variant and the fields that differ\n\
         from its defaults (which are Kornia's). Built that way, the operator replays Kornia's\n\
         params to Kornia's output and input gradient within the error shown (float32; the larger\n\
         of the two CPU paths, the fused kernels and the libtorch compositions CUDA runs), and, where\n\
         the fixture records a seeded draw, draws Kornia's params bit for bit after the same seed.\n\n\
         Generated and checked by `cargo test --test kornia` (`UPDATE_KORNIA_DOC=1` rewrites this\n\
         file); do not edit by hand.\n\n\
         Kornia's shorthands, as `from_kornia` reads them: a scalar range `f` is `(c - f, c + f)`\n\
         around the neutral value `c` with its lower end floored at the domain's (`degrees=30` is\n\
         `(-30, 30)`; `brightness=0.2` is `(0.8, 1.2)`; `contrast=1.5` is `(0, 2.5)`;\n\
         `thresholds=0.1` is `(0.4, 0.6)`; `sharpness=0.5` is `(0, 0.5)`); `bits=b` is `(b, 8)`;\n\
         RandomAffine's 4-value `scale` and `shear` split into x and y ranges (`scale_y`,\n\
         `shear_y`), a scalar `shear` is x only; 3D angles and shears take one range for every axis\n\
         or one per axis; `random_apply=k` is `RandomApply::Exactly(k)`, `(lo, hi)` is\n\
         `Between(lo, hi)`, `(lo,)` is `AtLeast(lo)` and `True` is `All`. An argument the class\n\
         does not take is an error that lists the ones it does.\n\n",
    );
    let classes: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let worst = rows.iter().map(|r| r.4).fold(0.0, f64::max);
    let drawn = rows.iter().filter(|r| r.5 == "yes").count();
    writeln!(
        doc,
        "{} constructors of {} Kornia classes; the largest error is {worst:.1e}; {drawn} also draw\n\
         Kornia's params bit for bit after the same seed (\"partly\": the gate, where Kornia draws the\n\
         rest from the data as it applies them, RandomTransplantation's labels).\n\n\
         | Kornia | tch-dda (`AugSpec`, fields other than the defaults) | max error | same draw |\n\
         |---|---|---|---|",
        rows.len(),
        classes.len()
    )
    .unwrap();
    for (_, name, py, ours, err, seeded) in &rows {
        writeln!(doc, "| `{py}` | `{ours}` | {err:.1e} | {seeded} |").unwrap();
        let _ = name;
    }
    // The doc's errors and draws are the CPU's.
    if !common::draws_on_cpu() {
        return;
    }
    check_doc(DOC, &doc);
    // The operator table of docs/operators.md, between its markers.
    let path = format!("{}/{OPERATORS_DOC}", env!("CARGO_MANIFEST_DIR"));
    let committed = std::fs::read_to_string(&path).unwrap();
    let (start, end) = (
        committed
            .find(TABLE_START)
            .expect("the table's start marker")
            + TABLE_START.len(),
        committed.find(TABLE_END).expect("the table's end marker"),
    );
    let doc = format!(
        "{}\n{}\n{}",
        &committed[..start],
        operator_table(&ops),
        &committed[end..]
    );
    check_doc(OPERATORS_DOC, &doc);
}

const OPERATORS_DOC: &str = "docs/operators.md";
const TABLE_START: &str = "<!-- generated by `cargo test --test kornia`: do not edit -->";
const TABLE_END: &str = "<!-- end of the generated table -->";

/// What the parity fixtures show of one of our operators.
struct OperatorRow {
    kornia: std::collections::BTreeSet<String>,
    ranges: String,
    fixtures: usize,
    output: f64,
    gradient: f64,
    /// "yes", "partly" (see the doc) or "–".
    drawn: &'static str,
}

/// One row per operator that a Kornia constructor of the fixtures builds, with its
/// learnable ranges and the largest replay errors over its fixtures.
fn operator_table(ops: &std::collections::BTreeMap<String, OperatorRow>) -> String {
    let mut table = String::from(
        "| ours | Kornia 0.9 | learnable ranges | fixtures | max error from Kornia (output / input grad) | same draw |\n\
         |---|---|---|---|---|---|\n",
    );
    for (name, row) in ops {
        let kornia: Vec<String> = row.kornia.iter().map(|k| format!("`{k}`")).collect();
        let ranges = if row.ranges.is_empty() {
            "–"
        } else {
            &row.ranges
        };
        writeln!(
            table,
            "| `{name}` | {} | {ranges} | {} | {} / {} | {} |",
            kornia.join(", "),
            row.fixtures,
            error(row.output),
            error(row.gradient),
            row.drawn
        )
        .unwrap();
    }
    table
}

/// An error as the tables show it: 0 when exact, else two digits.
fn error(e: f64) -> String {
    if e == 0.0 {
        "0".into()
    } else {
        format!("{e:.1e}")
    }
}

/// Checks a generated doc against the committed one (`UPDATE_KORNIA_DOC=1` writes it).
fn check_doc(doc_path: &str, doc: &str) {
    let path = format!("{}/{doc_path}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var("UPDATE_KORNIA_DOC").is_ok() {
        std::fs::write(&path, doc).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "{doc_path} is out of date: run UPDATE_KORNIA_DOC=1 cargo test --test kornia"
    );
}

#[test]
fn kornias_shorthands_and_misspellings() {
    let spec = |c: &str, k: Value| AugSpec::from_kornia(c, &k);
    let AugSpec::RandomAffine(a) = spec(
        "RandomAffine",
        serde_json::json!({"degrees": 30, "scale": [0.8, 1.2, 0.9, 1.1], "shear": 10}),
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(a.degrees, (-30.0, 30.0));
    assert_eq!((a.scale, a.scale_y), (Some((0.8, 1.2)), Some((0.9, 1.1))));
    assert_eq!((a.shear, a.shear_y), (Some((-10.0, 10.0)), None));
    let AugSpec::ColorJitter(j) = spec(
        "ColorJitter",
        serde_json::json!({"brightness": 0.2, "contrast": 1.5, "hue": 0.1}),
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        (j.brightness, j.contrast, j.hue),
        ((0.8, 1.2), (0.0, 2.5), (-0.1, 0.1))
    );
    let AugSpec::RandomSolarize(s) = spec(
        "RandomSolarize",
        serde_json::json!({"thresholds": 0.1, "additions": 0.1}),
    )
    .unwrap() else {
        panic!()
    };
    assert!((s.thresholds.0 - 0.4).abs() < 1e-12 && (s.thresholds.1 - 0.6).abs() < 1e-12);
    assert_eq!(s.additions, (-0.1, 0.1));
    let AugSpec::RandomPosterize(p) =
        spec("RandomPosterize", serde_json::json!({"bits": 3})).unwrap()
    else {
        panic!()
    };
    assert_eq!(p.bits, (3.0, 8.0));
    assert_eq!(
        spec("RandomAffine", serde_json::json!({"degree": [-30, 30]})).unwrap_err().to_string(),
        "AugSpec::from_kornia: kwargs = RandomAffine(degree=...) is invalid; allowed: the arguments of RandomAffine: align_corners, degrees, fill_value, keepdim, p, padding_mode, resample, same_on_batch, scale, shear, translate"
    );
    // RandomDissolving needs a diffusion model: not ported.
    assert!(spec("RandomDissolving", serde_json::json!({}))
        .unwrap_err()
        .to_string()
        .starts_with("AugSpec::from_kornia: class = RandomDissolving is invalid; allowed: a Kornia class this crate has: RandomAffine, "));
}

/// The typed shorthand constructors equal the translation of Kornia's call.
#[test]
fn typed_shorthands_equal_kornias_call() {
    use serde_json::json;
    let k = |c: &str, j: Value| AugSpec::from_kornia(c, &j).unwrap();
    let cases: Vec<(AugSpec, AugSpec)> = vec![
        (
            AugSpec::RandomAffine(
                RandomAffineConfig::degrees(30.0)
                    .translate(0.1, 0.2)
                    .scale(0.9, 1.1)
                    .shear(10.0)
                    .p(1.0),
            ),
            k(
                "RandomAffine",
                json!({"degrees": 30, "translate": [0.1, 0.2], "scale": [0.9, 1.1], "shear": 10, "p": 1.0}),
            ),
        ),
        (
            AugSpec::RandomRotation(RandomRotationConfig::degrees(45.0)),
            k("RandomRotation", json!({"degrees": 45})),
        ),
        (
            AugSpec::RandomSolarize(SolarizeConfig::new(0.1, 0.1)),
            k(
                "RandomSolarize",
                json!({"thresholds": 0.1, "additions": 0.1}),
            ),
        ),
        (
            AugSpec::RandomSharpness(SharpnessConfig::new(0.5)),
            k("RandomSharpness", json!({"sharpness": 0.5})),
        ),
        (
            AugSpec::RandomPosterize(PosterizeConfig::new(3.0)),
            k("RandomPosterize", json!({"bits": 3})),
        ),
        (
            AugSpec::ColorJitter(JitterConfig::new(0.2, 0.3, 0.2, 0.3)),
            k(
                "ColorJitter",
                json!({"brightness": 0.2, "contrast": 0.3, "saturation": 0.2, "hue": 0.3}),
            ),
        ),
        (
            AugSpec::RandomCrop(RandomCropConfig::new((3, 4))),
            k("RandomCrop", json!({"size": [3, 4]})),
        ),
        (
            AugSpec::CenterCrop(CenterCropConfig::new((4, 4))),
            k("CenterCrop", json!({"size": 4})),
        ),
        (
            AugSpec::RandomResizedCrop(RandomResizedCropConfig::new((8, 9))),
            k("RandomResizedCrop", json!({"size": [8, 9]})),
        ),
        (
            AugSpec::Resize(ResizeConfig::new((5, 9))),
            k("Resize", json!({"size": [5, 9]})),
        ),
        (
            AugSpec::PadTo(PadToConfig::new((7, 9))),
            k("PadTo", json!({"size": [7, 9]})),
        ),
        (
            AugSpec::RandomShear(ShearConfig::new(15.0)),
            k("RandomShear", json!({"shear": 15})),
        ),
        (
            AugSpec::RandomGaussianBlur(GaussianBlurConfig::new((3, 5), (0.5, 2.0))),
            k(
                "RandomGaussianBlur",
                json!({"kernel_size": [3, 5], "sigma": [0.5, 2.0]}),
            ),
        ),
        (
            AugSpec::RandomMotionBlur(MotionBlurConfig::new(5, 35.0, 0.5)),
            k(
                "RandomMotionBlur",
                json!({"kernel_size": 5, "angle": 35.0, "direction": 0.5}),
            ),
        ),
        (
            AugSpec::RandomPerspective(PerspectiveConfig::new(0.3)),
            k("RandomPerspective", json!({"distortion_scale": 0.3})),
        ),
        (
            AugSpec::RandomRotation3D(Rotation3DConfig::degrees(30.0)),
            k("RandomRotation3D", json!({"degrees": 30})),
        ),
        (
            AugSpec::RandomAffine3D(Affine3DConfig::degrees(20.0)),
            k("RandomAffine3D", json!({"degrees": 20})),
        ),
        (
            AugSpec::CenterCrop3D(CenterCrop3DConfig::new([2, 3, 4])),
            k("CenterCrop3D", json!({"size": [2, 3, 4]})),
        ),
        (
            AugSpec::RandomCrop3D(RandomCrop3DConfig::new([2, 3, 4])),
            k("RandomCrop3D", json!({"size": [2, 3, 4]})),
        ),
    ];
    for (typed, translated) in cases {
        assert_eq!(typed, translated, "{}", typed.name());
    }
}

#[test]
fn kornias_required_arguments_are_required_here_as_in_json() {
    let mut checked = 0;
    for &name in AugSpec::NAMES {
        if AugSpec::reference(name) == Some(tch_dda::Reference::Torchvision) {
            // Not Kornia's: refused as a Kornia class, saying whose it is (tests/torchvision/
            // checks their JSON).
            let e = AugSpec::from_kornia(name, &serde_json::json!({}))
                .expect_err(name)
                .to_string();
            assert!(
                e.contains("torchvision's") && e.contains(name),
                "{name}: {e}"
            );
            continue;
        }
        let required = AugSpec::required_fields(name);
        let Some(first) = required.first() else {
            continue;
        };
        // From Kornia's keyword arguments and from JSON alike, a missing required argument
        // is an error that names it (no silent 1×1 crop or 3×3 kernel).
        let e = match AugSpec::from_kornia(name, &serde_json::json!({})) {
            Err(e) => e.to_string(),
            Ok(spec) => panic!("{name}() built {spec:?} without its required {required:?}"),
        };
        assert!(e.contains(first), "{name}: {e}");
        let j = serde_json::from_str::<AugSpec>(&format!("{{\"{name}\": {{}}}}"))
            .expect_err(name)
            .to_string();
        assert!(j.contains(&format!("`{first}`")), "{name}: {j}");
        // An explicit None is not an argument either.
        let null = serde_json::json!({ *first: null });
        assert!(
            AugSpec::from_kornia(name, &null).is_err(),
            "{name}({first}=None)"
        );
        checked += 1;
    }
    assert!(checked >= 15, "{checked}");
    // The message lists the constructor's arguments.
    let e = AugSpec::from_kornia("RandomCrop", &serde_json::json!({ "p": 1.0 }))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("without `size`") && e.contains("pad_if_needed") && e.contains("padding_mode"),
        "{e}"
    );
    // Given, it builds as before.
    let ok = AugSpec::from_kornia("RandomCrop", &serde_json::json!({ "size": [8, 8] })).unwrap();
    assert!(matches!(
        ok,
        AugSpec::RandomCrop(RandomCropConfig { size: (8, 8), .. })
    ));
}

/// `AugmentationSequential(..., data_keys=[...])` as a port writes it: the keys are read
/// (case-insensitive, with Kornia's aliases), set Kornia's box mode, survive the JSON round
/// trip, and a keyed call takes and returns the tensors in their order: a flip of an 8-wide
/// image moves the xywh box [2, 3, 5, 7] (inclusive corners x 2..6) to x 1..5, the keypoint
/// (1, 2) to (6, 2) (Kornia's documented results), flips the mask and leaves the labels.
#[test]
fn data_keys_set_the_keyed_call_and_kornias_box_mode() {
    let spec = AugSpec::from_kornia(
        "AugmentationSequential",
        &serde_json::json!({
            "steps": [["RandomHorizontalFlip", {"p": 1.0}]],
            "data_keys": ["Image", "MASK", "bbox_xywh", "keypoints", "class"],
        }),
    )
    .unwrap();
    let AugSpec::Sequential(cfg) = spec else {
        panic!("not a container: {spec:?}")
    };
    use DataKey::*;
    assert_eq!(
        cfg.data_keys,
        Some(vec![Input, Mask, BboxXywh, Keypoints, Label])
    );
    assert_eq!(cfg.annotations, AnnotationOptions::kornia());
    let vs = VarStore::new(Device::Cpu);
    let aug = Sequential::new(vs.root() / "a", cfg).unwrap();
    let again = Sequential::from_json(vs.root() / "b", &aug.to_json().unwrap()).unwrap();
    assert_eq!(again.data_keys(), aug.data_keys());

    let opts = (tch::Kind::Float, Device::Cpu);
    let image = tch::Tensor::rand([2, 3, 6, 8], opts);
    let mask = tch::Tensor::rand([2, 1, 6, 8], opts);
    let boxes = tch::Tensor::from_slice(&[2f32, 3., 5., 7.])
        .view([1, 1, 4])
        .repeat([2, 1, 1]);
    let points = tch::Tensor::from_slice(&[1f32, 2.])
        .view([1, 1, 2])
        .repeat([2, 1, 1]);
    let labels = tch::Tensor::from_slice(&[4i64, 9]);
    let out = again
        .f_call(&[&image, &mask, &boxes, &points, &labels])
        .unwrap();
    assert_eq!(out.len(), 5);
    assert!(out[0].equal(&image.flip([3])));
    assert!(out[1].equal(&mask.flip([3])));
    let want_box = tch::Tensor::from_slice(&[1f32, 3., 5., 7.])
        .view([1, 1, 4])
        .repeat([2, 1, 1]);
    assert!(common::max_abs_diff(&out[2], &want_box) < 1e-6, "{out:?}");
    let want_point = tch::Tensor::from_slice(&[6f32, 2.])
        .view([1, 1, 2])
        .repeat([2, 1, 1]);
    assert!(common::max_abs_diff(&out[3], &want_point) < 1e-6, "{out:?}");
    assert!(out[4].equal(&labels));

    // Too few tensors for the keys: the error names them in order.
    let e = again.f_call(&[&image, &mask]).unwrap_err().to_string();
    assert!(
        e.contains("2 tensors")
            && e.contains(r#"["input", "mask", "bbox_xywh", "keypoints", "label"]"#),
        "{e}"
    );
    // Without data_keys, the image alone.
    let plain = Sequential::new(
        vs.root() / "c",
        [AugSpec::RandomHorizontalFlip(FlipConfig::default())],
    )
    .unwrap();
    assert_eq!(plain.data_keys(), vec![Input]);
}

/// What Kornia refuses is refused, naming what is allowed: an unknown key (the list of
/// names), a key that is not a string, the image not first, a repeated key, two box
/// formats.
#[test]
fn bad_data_keys_are_refused_with_what_kornia_takes() {
    let build = |keys: Value| -> String {
        let spec = AugSpec::from_kornia(
            "AugmentationSequential",
            &serde_json::json!({"steps": [["RandomHorizontalFlip", {}]], "data_keys": keys}),
        );
        let e = match spec {
            Err(e) => e,
            Ok(AugSpec::Sequential(cfg)) => {
                Sequential::new(VarStore::new(Device::Cpu).root(), cfg).unwrap_err()
            }
            Ok(other) => panic!("not a container: {other:?}"),
        };
        assert!(matches!(e, tch_dda::Error::Config { .. }), "{e}");
        e.to_string()
    };
    let e = build(serde_json::json!(["input", "bbox_xywhr"]));
    assert!(
        e.contains("bbox_xywhr") && e.contains(DataKey::KORNIA_NAMES),
        "{e}"
    );
    let e = build(serde_json::json!(["input", 3]));
    assert!(
        e.contains("data_keys") && e.contains(DataKey::KORNIA_NAMES),
        "{e}"
    );
    let e = build(serde_json::json!("input"));
    assert!(e.contains("a list of Kornia's data key names"), "{e}");
    let e = build(serde_json::json!(["mask", "input"]));
    assert!(
        e.contains(r#"["mask", "input"]"#) && e.contains("first"),
        "{e}"
    );
    let e = build(serde_json::json!(["input", "mask", "mask"]));
    assert!(e.contains("at most once"), "{e}");
    let e = build(serde_json::json!(["input", "bbox_xyxy", "bbox_xywh"]));
    assert!(e.contains("one box key"), "{e}");
    let e = build(serde_json::json!(["input", "bbox", "bbox_xyxy"]));
    assert!(e.contains("one box key"), "{e}");
}

/// A MixUp ported with `data_keys=["input", "class"]` returns Kornia's mixed labels
/// through the keyed call: the mixup fixture's params replayed, the image within 1e-5 and
/// the labels exactly.
#[test]
fn a_keyed_call_returns_kornias_mixed_labels() {
    let _serial = common::serial();
    let fx = common::fixture("mixup");
    let spec = AugSpec::from_kornia(
        "AugmentationSequential",
        &serde_json::json!({
            "steps": [["RandomMixUpV2", {"data_keys": ["input", "class"]}]],
            "data_keys": ["input", "class"],
        }),
    )
    .unwrap();
    let AugSpec::Sequential(cfg) = spec else {
        panic!("not a container")
    };
    let vs = VarStore::new(common::device());
    let aug = Sequential::new(vs.root(), cfg).unwrap();
    let mut params = Params::new();
    params.extend_prefixed("0", &fx.params());
    let out = aug
        .f_call_replay(&[fx.get("input"), fx.get("labels")], &params)
        .unwrap();
    let image_err = common::max_abs_diff(&out[0], fx.get("output"));
    assert!(
        image_err <= TOL,
        "image differs from Kornia's by {image_err:e}"
    );
    assert_eq!(out[1].kind(), fx.get("labels_out").kind());
    let label_err = common::max_abs_diff(&out[1], fx.get("labels_out"));
    assert!(
        label_err == 0.0,
        "labels differ from Kornia's by {label_err:e}"
    );
}

/// Kornia's positional arguments, in the order of Kornia 0.9's signatures: each call
/// written positionally reads as the same call written with keywords (the names written
/// here by hand from Kornia's documentation), in Python source and as a JSON list.
#[test]
fn positional_arguments_follow_kornias_signatures() {
    let cases = [
        (
            "K.RandomAffine(30, (0.1, 0.2), (0.9, 1.1), 10, p=1.0)",
            "RandomAffine",
            serde_json::json!({"degrees": 30, "translate": [0.1, 0.2], "scale": [0.9, 1.1], "shear": 10, "p": 1.0}),
        ),
        (
            "kornia.augmentation.ColorJitter(0.2, 0.3, 0.2, 0.1)",
            "ColorJitter",
            serde_json::json!({"brightness": 0.2, "contrast": 0.3, "saturation": 0.2, "hue": 0.1}),
        ),
        (
            "K.RandomResizedCrop((32, 32), (0.25, 1.0), (0.75, 1.3333))",
            "RandomResizedCrop",
            serde_json::json!({"size": [32, 32], "scale": [0.25, 1.0], "ratio": [0.75, 1.3333]}),
        ),
        (
            "K.RandomCrop((24, 20), 2)",
            "RandomCrop",
            serde_json::json!({"size": [24, 20], "padding": 2}),
        ),
        (
            "K.RandomGaussianBlur((5, 5), (0.1, 2.0), p=0.5)",
            "RandomGaussianBlur",
            serde_json::json!({"kernel_size": [5, 5], "sigma": [0.1, 2.0], "p": 0.5}),
        ),
        (
            "K.Normalize(torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225]))",
            "Normalize",
            serde_json::json!({"mean": {"tensor": [0.485, 0.456, 0.406]}, "std": {"tensor": [0.229, 0.224, 0.225]}}),
        ),
        (
            "K.RandomErasing((0.02, 0.33), (0.3, 3.3), 0.5, p=1.0)",
            "RandomErasing",
            serde_json::json!({"scale": [0.02, 0.33], "ratio": [0.3, 3.3], "value": 0.5, "p": 1.0}),
        ),
        (
            "K.RandomRotation(degrees=45.0, resample=kornia.constants.Resample.NEAREST)",
            "RandomRotation",
            serde_json::json!({"degrees": 45.0, "resample": "nearest"}),
        ),
        (
            "K.RandomSolarize(0.1, 0.1, True, 1.0)",
            "RandomSolarize",
            serde_json::json!({"thresholds": 0.1, "additions": 0.1, "same_on_batch": true, "p": 1.0}),
        ),
    ];
    for (source, class, keywords) in cases {
        let want = AugSpec::from_kornia(class, &keywords).unwrap();
        assert_eq!(
            AugSpec::from_kornia_python(source).unwrap(),
            want,
            "{source}"
        );
        // The JSON list form: the positional arguments alone.
        if !source.contains('=') {
            let open = source.find('(').unwrap();
            let args = source[open + 1..source.len() - 1]
                .replace('(', "[")
                .replace(')', "]")
                .replace("True", "true");
            if !args.contains("torch") {
                let list: Value = serde_json::from_str(&format!("[{args}]")).unwrap();
                assert_eq!(
                    AugSpec::from_kornia(class, &list).unwrap(),
                    want,
                    "{source}"
                );
            }
        }
    }
    // A container's positional arguments are its steps, calls in any module spelling.
    let spec = AugSpec::from_kornia_python(
        "K.AugmentationSequential(K.RandomHorizontalFlip(), kornia.augmentation.RandomAffine(20, p=1.0), random_apply=1)",
    )
    .unwrap();
    let want = AugSpec::from_kornia(
        "AugmentationSequential",
        &serde_json::json!({"steps": [["RandomHorizontalFlip", {}], ["RandomAffine", {"degrees": 20, "p": 1.0}]], "random_apply": 1}),
    )
    .unwrap();
    assert_eq!(spec, want);
}

/// Every positional parameter of every Kornia class the fixtures build is an argument the
/// translation takes (the signature table and the translations agree), and every argument
/// error names the class's positional arguments.
#[test]
fn kornias_signatures_name_arguments_the_translation_takes() {
    let classes: std::collections::BTreeSet<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
            .unwrap()
            .filter_map(|e| {
                let path = e.unwrap().path();
                (path.extension()? == "safetensors").then(|| {
                    let name = path.file_stem().unwrap().to_string_lossy().to_string();
                    common::fixture(&name)
                        .meta
                        .get("kornia_class")
                        .and_then(|c| c.as_str().map(String::from))
                })?
            })
            .collect();
    assert!(classes.len() > 50, "{classes:?}");
    let mut checked = 0;
    for class in &classes {
        let Some(params) = AugSpec::kornia_signature(class) else {
            panic!("{class}: no Kornia signature")
        };
        for p in params {
            if let Err(e) = AugSpec::from_kornia(class, &serde_json::json!({ p.to_string(): null }))
            {
                let msg = e.to_string();
                assert!(
                    !msg.contains(&format!("({p}=...)")),
                    "{class}: `{p}` refused: {msg}"
                );
            }
            checked += 1;
        }
    }
    println!(
        "{checked} positional parameters of {} classes",
        classes.len()
    );
    let e = AugSpec::from_kornia("RandomAffine", &serde_json::json!({"degrees": "thirty"}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("degrees, translate, scale, shear"), "{e}");
    // Kornia's arguments this crate lacks are read, and refused unless neutral, saying so.
    let e = AugSpec::from_kornia("ColorJitter", &serde_json::json!({"order": [1, 0]}))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no `order` here") && e.contains("not supported yet"),
        "{e}"
    );
    let e = AugSpec::from_kornia("RandomHorizontalFlip", &serde_json::json!({"p_batch": 0.5}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no `p_batch` here"), "{e}");
    for (class, kwargs) in [
        ("RandomHorizontalFlip", serde_json::json!({"p_batch": 1.0})),
        ("ColorJitter", serde_json::json!({"order": null})),
        ("RandomBoxBlur", serde_json::json!({"normalized": false})),
    ] {
        AugSpec::from_kornia(class, &kwargs).unwrap_or_else(|e| panic!("{class}: {e}"));
    }
}

/// What a port can get wrong is an error that says where and what is allowed.
#[test]
fn kornia_python_errors_say_where_and_what() {
    let err = |s: &str| AugSpec::from_kornia_python(s).unwrap_err().to_string();
    let e = err("K.RandomRotation(30, 'bilinear', False, True, 1.0, False, 7)");
    assert!(
        e.contains("at most 6 positional arguments: degrees, resample"),
        "{e}"
    );
    let e = err("K.RandomRotation(30, degrees=20)");
    assert!(
        e.contains("`degrees` given by position and by keyword"),
        "{e}"
    );
    let e = err("K.RandomRotation(degrees=angle)");
    assert!(e.contains("`angle`") && e.contains("written out"), "{e}");
    let e = err("K.RandomRotation(30, p=1.0");
    assert!(e.contains("the end") && e.contains("`,` or `)`"), "{e}");
    let e = err("K.RandomRotation(p=1.0, 30)");
    assert!(
        e.contains("keyword arguments after the positional ones"),
        "{e}"
    );
    let e = err("K.RandomRotation(30) + 1");
    assert!(e.contains("the end of the call"), "{e}");
    let e = err("(1, 2)");
    assert!(e.contains("a Kornia constructor call"), "{e}");
    let e = err("K.RandomRotation(K.RandomAffine(30))");
    assert!(e.contains("calls only as a container's steps"), "{e}");
    let e = err("K.NotAClass(1)");
    assert!(e.contains("not a Kornia class"), "{e}");
    let e = err("K.RandomRotation(30, p=1.0, p=0.5)");
    assert!(e.contains("`p` given once"), "{e}");
    let e = err("K.RandomRotation(1e999)");
    assert!(e.contains("a finite number"), "{e}");
    let e = err(&format!(
        "K.RandomRotation({}30{})",
        "[".repeat(100),
        "]".repeat(100)
    ));
    assert!(e.contains("nested at most"), "{e}");
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 2000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_205),
        ..Default::default()
    })]

    /// The Python reader never panics: on any text, and on random strings of the tokens
    /// Kornia calls are made of, it gives a spec or a typed error.
    #[test]
    fn the_python_reader_never_panics(
        text in "\\PC{0,40}",
        tokens in proptest::collection::vec(proptest::sample::select(vec![
            "K.", "RandomAffine", "AugmentationSequential", "(", ")", "[", "]", "{", "}", ",",
            "=", "p", "degrees", "30", "-1.5e3", "'x'", "\"é\"", "True", "None", ":", ".", "é",
            "torch.tensor", "data_keys", "#c\n", " ", "1_0", "(,)",
        ]), 0..24),
    ) {
        for source in [text, tokens.concat()] {
            if let Err(e) = AugSpec::from_kornia_python(&source) {
                proptest::prop_assert!(!e.to_string().is_empty());
            }
        }
    }
}

/// Kornia's recorded params, saved from Python with docs/kornia-params.md's lines
/// (scripts/gen_kornia_params_fixtures.py), imported by `Params::load_kornia`: the pipeline
/// (its Python source, read by `from_kornia_python`) replays them to Kornia's outputs (images
/// and masks bit for bit where the arithmetic is copies: flips, crops, erasing; boxes and
/// keypoints, through matrices, within 1e-5), and they
/// equal, key for key and bit for bit, what this crate draws after the same seed.
#[test]
fn kornias_recorded_params_import_and_replay() {
    let _serial = common::serial();
    for (name, tol) in [
        ("random_apply_annotations", 0.0),
        ("nested_affine", TOL),
        ("rand_augment", TOL),
        ("auto_augment", TOL),
        ("vertex_boxes", TOL),
        ("mosaic_boxes", TOL),
        ("mosaic_vertices", TOL),
    ] {
        let fx = common::fixture(&format!("kornia_params/{name}"));
        let path = format!(
            "{}/tests/fixtures/kornia_params/{name}.safetensors",
            env!("CARGO_MANIFEST_DIR")
        );
        let imported = Params::load_kornia(&path, "params.", common::device()).unwrap();
        let source = fx.meta["source"].as_str().unwrap();
        let keys: Vec<String> = serde_json::from_str(fx.meta["keys"].as_str().unwrap()).unwrap();
        let inputs: Vec<&tch::Tensor> =
            keys.iter().map(|k| fx.get(&format!("input.{k}"))).collect();
        let spec = AugSpec::from_kornia_python(source).unwrap_or_else(|e| panic!("{name}: {e}"));
        let vs = VarStore::new(common::device());
        let (replayed, drawn) = match spec {
            AugSpec::Sequential(cfg) => {
                let aug = Sequential::new(vs.root(), cfg).unwrap();
                let replayed = aug.f_call_replay(&inputs, &imported).unwrap();
                let seed = 1000 + fixture_seed(name);
                tch::manual_seed(seed);
                (replayed, aug.f_call_with_params(&inputs).unwrap().1)
            }
            spec => {
                let aug = spec.build(&vs.root()).unwrap();
                let replayed = vec![aug.f_apply(inputs[0], &imported).unwrap()];
                tch::manual_seed(1000 + fixture_seed(name));
                (replayed, aug.f_forward_with_params(inputs[0]).unwrap().1)
            }
        };
        // Again on the composed path (what CUDA runs), for the pipelines.
        let composed = match AugSpec::from_kornia_python(source).unwrap() {
            AugSpec::Sequential(cfg) => {
                let _path = tch_dda::kernel_path_scope(tch_dda::KernelPath::Composed);
                let aug = Sequential::new(vs.root() / "composed", cfg).unwrap();
                aug.f_call_replay(&inputs, &imported).unwrap()
            }
            _ => replayed.iter().map(|t| t.shallow_clone()).collect(),
        };
        for (k, got) in keys
            .iter()
            .chain(&keys)
            .zip(replayed.iter().chain(&composed))
        {
            let e = common::max_abs_diff(got, fx.get(&format!("output.{k}")));
            // Boxes and keypoints go through matrices: float rounding.
            let tol = if k.starts_with("bbox") || k == "keypoints" {
                TOL
            } else {
                tol
            };
            assert!(e <= tol, "{name}: {k} differs from Kornia's by {e:e}");
        }
        if common::draws_on_cpu() {
            // A container records which children Kornia applied even when it applies them
            // all in order; this crate records `selection` only where it draws one.
            let all_in_order = |k: &str, v: &tch::Tensor| {
                k.ends_with("selection")
                    && drawn.get(k).is_none()
                    && Vec::<i64>::try_from(v).unwrap() == (0..v.numel() as i64).collect::<Vec<_>>()
            };
            let ours: Vec<&str> = drawn.keys().collect();
            let theirs: Vec<&str> = imported
                .iter()
                .filter(|(k, v)| !all_in_order(k, v))
                .map(|(k, _)| k)
                .collect();
            assert_eq!(ours, theirs, "{name}: keys");
            for k in theirs {
                let d = common::max_abs_diff(drawn.get(k).unwrap(), imported.get(k).unwrap());
                assert!(d == 0.0, "{name}: {k} drawn {d:e} away from Kornia's");
            }
        }
        println!(
            "KORNIA PARAMS {name}: {} keys imported and replayed",
            imported.len()
        );
    }
}

/// The seed scripts/gen_kornia_params_fixtures.py drew a case's inputs with: its position.
fn fixture_seed(name: &str) -> i64 {
    [
        "random_apply_annotations",
        "nested_affine",
        "rand_augment",
        "auto_augment",
        "vertex_boxes",
        "mosaic_boxes",
        "mosaic_vertices",
    ]
    .iter()
    .position(|n| *n == name)
    .unwrap() as i64
}

/// A params file that is not what `kornia_params` writes is refused, saying what is wrong.
#[test]
fn malformed_kornia_params_are_refused() {
    let t = || tch::Tensor::from_slice(&[1f32]);
    let import = |keys: &[&str]| {
        Params::from_kornia(keys.iter().map(|k| (k.to_string(), t())), Device::Cpu)
            .unwrap_err()
            .to_string()
    };
    let e = import(&[
        "0:RandomAffine_0.angle",
        "2:RandomVerticalFlip_1.batch_prob",
    ]);
    assert!(e.contains("positions [0, 2]"), "{e}");
    let e = import(&["0:Custom.angle"]);
    assert!(e.contains("Custom") && e.contains("child index"), "{e}");
    let e = import(&["0:RandomAffine_0.angle", "0:RandomRotation_0.degrees"]);
    assert!(e.contains("another key names it"), "{e}");
    // A PatchSequential's items all say which patches they ran on.
    let e = import(&[
        "0:RandomAffine_0.patch_indices",
        "0:RandomAffine_0.angle",
        "1:RandomVerticalFlip_1.batch_prob",
    ]);
    assert!(e.contains("without patch_indices"), "{e}");
    // A step's own params pass through as they are.
    let p = Params::from_kornia([("angle".to_string(), t())], Device::Cpu).unwrap();
    assert_eq!(p.keys().collect::<Vec<_>>(), ["angle"]);
}

/// docs/kornia-params.md gives users the Python that wrote the importer's fixtures.
#[test]
fn the_documented_python_is_the_fixture_scripts() {
    let root = env!("CARGO_MANIFEST_DIR");
    let doc = std::fs::read_to_string(format!("{root}/docs/kornia-params.md")).unwrap();
    let script =
        std::fs::read_to_string(format!("{root}/scripts/gen_kornia_params_fixtures.py")).unwrap();
    let function = |text: &str| -> String {
        let start = text.find("def kornia_params").expect("the function");
        let body = &text[start..];
        // Up to the first line that is not indented after the signature.
        let end = body
            .match_indices('\n')
            .map(|(i, _)| i)
            .find(|&i| !body[i + 1..].starts_with(' '))
            .unwrap_or(body.len());
        body[..end].to_string()
    };
    assert_eq!(function(&doc), function(&script));
}

/// The params of a call know its input shape, as Kornia's `inverse` reads it: a padded
/// crop's record less its padding, through nested containers and presets, batched or not;
/// the inverse with it equals the inverse with the shape given; params without a record say
/// so.
#[test]
fn the_params_record_the_input_shape_for_the_inverse() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let padded_crop = AugSpec::from_kornia_python("K.RandomCrop((9, 8), 2, p=1.0)").unwrap();
    let nested = AugSpec::Sequential(SequentialConfig::new([
        padded_crop.clone(),
        AugSpec::RandomHorizontalFlip(FlipConfig::default()),
    ]));
    let cases: Vec<(&str, Box<dyn Augmentation>)> = vec![
        (
            "padded crop",
            padded_crop.build(&(vs.root() / "a")).unwrap(),
        ),
        (
            "nested containers",
            Box::new(
                Sequential::new(
                    vs.root() / "b",
                    [nested, AugSpec::RandomVerticalFlip(FlipConfig::default())],
                )
                .unwrap(),
            ),
        ),
        (
            "preset",
            AugSpec::from_kornia_python("K.auto.RandAugment(2, 9)")
                .unwrap()
                .build(&(vs.root() / "c"))
                .unwrap(),
        ),
    ];
    tch::manual_seed(5);
    for (what, aug) in &cases {
        for shape in [vec![2i64, 3, 10, 11], vec![3, 10, 11]] {
            let x = tch::Tensor::rand(shape.as_slice(), (tch::Kind::Float, Device::Cpu));
            let (y, params) = aug.f_forward_with_params(&x).unwrap();
            let recorded = params.recorded_input_shape().unwrap();
            let batched = if shape.len() == 3 {
                [&[1][..], &shape[..]].concat()
            } else {
                shape.clone()
            };
            assert_eq!(recorded, batched, "{what} {shape:?}");
            if what != &"preset" {
                let want = aug.f_inverse(&y, &params, &shape).unwrap();
                let got = aug.f_inverse(&y, &params, &recorded).unwrap();
                assert!(got.equal(&want), "{what} {shape:?}");
                assert_eq!(got.size(), shape);
            }
        }
    }
    let e = Params::new()
        .recorded_input_shape()
        .unwrap_err()
        .to_string();
    assert!(e.contains("give the input shape"), "{e}");
}

/// Kornia's ImageSequential (images only) ports as a plain Sequential: its steps by
/// position, `random_apply`, and `if_unsupported_ops="skip"` refused (it would drop steps
/// silently).
#[test]
fn image_sequential_ports_as_a_plain_sequential() {
    let spec = AugSpec::from_kornia_python(
        "K.ImageSequential(K.ColorJitter(0.1, 0.2, 0.3, 0.05, p=1.0), K.RandomAffine(360, p=1.0), random_apply=1)",
    )
    .unwrap();
    let want = AugSpec::Sequential(SequentialConfig {
        steps: vec![
            AugSpec::from_kornia(
                "ColorJitter",
                &serde_json::json!({"brightness": 0.1, "contrast": 0.2, "saturation": 0.3, "hue": 0.05, "p": 1.0}),
            )
            .unwrap(),
            AugSpec::from_kornia("RandomAffine", &serde_json::json!({"degrees": 360, "p": 1.0})).unwrap(),
        ],
        random_apply: RandomApply::Exactly(1),
        ..Default::default()
    });
    assert_eq!(spec, want);
    let e = AugSpec::from_kornia_python(
        "K.ImageSequential(K.RandomAffine(10), if_unsupported_ops='skip')",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no `if_unsupported_ops` here"), "{e}");
    let e =
        AugSpec::from_kornia_python("K.ImageSequential(K.RandomAffine(10), data_keys=['input'])")
            .unwrap_err()
            .to_string();
    assert!(e.contains("ImageSequential(data_keys=...)"), "{e}");
}

/// Kornia's dispatchers (scripts/gen_dispatcher_fixtures.py): the pipelines, written as
/// Kornia's Python source, called through `ManyToOne` / `ManyToMany` after the fixture's
/// seed, give Kornia's outputs (the same draws, pipeline after pipeline). A wrong number of
/// input bundles, and pipelines of different data keys under `strict`, are typed errors,
/// and the former draws nothing.
#[test]
fn dispatchers_call_their_pipelines_as_kornias() {
    let _serial = common::serial();
    if !common::draws_on_cpu() {
        return;
    }
    for (seed, name) in ["many_to_one", "many_to_many"].into_iter().enumerate() {
        let fx = common::fixture(&format!("dispatch/{name}"));
        let sources: Vec<String> =
            serde_json::from_str(fx.meta["sources"].as_str().unwrap()).unwrap();
        let keys: Vec<Vec<String>> =
            serde_json::from_str(fx.meta["keys"].as_str().unwrap()).unwrap();
        let vs = VarStore::new(common::device());
        let pipelines: Vec<Sequential> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| match AugSpec::from_kornia_python(s).unwrap() {
                AugSpec::Sequential(cfg) => {
                    Sequential::new(vs.root() / i.to_string(), cfg).unwrap()
                }
                other => panic!("{name}: {other:?}"),
            })
            .collect();
        let bundle = |b: usize| -> Vec<&tch::Tensor> {
            keys[b]
                .iter()
                .map(|k| fx.get(&format!("input.{b}.{k}")))
                .collect()
        };
        tch::manual_seed(1000 + seed as i64);
        let outs = if fx.meta["kind"] == "many_to_one" {
            tch_dda::ManyToOne::new(pipelines, true)
                .unwrap()
                .f_call(&bundle(0))
                .unwrap()
        } else {
            let bundles: Vec<Vec<&tch::Tensor>> = (0..keys.len()).map(bundle).collect();
            let refs: Vec<&[&tch::Tensor]> = bundles.iter().map(|b| b.as_slice()).collect();
            let many = tch_dda::ManyToMany::new(pipelines);
            // One bundle short: refused before any draw.
            tch::manual_seed(7);
            let e = many.f_call(&refs[..1]).unwrap_err().to_string();
            assert_eq!(
                e,
                "ManyToMany: inputs = 1 input bundles is invalid; allowed: one bundle per pipeline: 2"
            );
            let next = tch::Tensor::rand([3], tch::kind::FLOAT_CPU);
            tch::manual_seed(7);
            assert!(
                next.equal(&tch::Tensor::rand([3], tch::kind::FLOAT_CPU)),
                "a draw was made"
            );
            tch::manual_seed(1000 + seed as i64);
            many.f_call(&refs).unwrap()
        };
        assert_eq!(outs.len(), keys.len());
        for (i, (out, ks)) in outs.iter().zip(&keys).enumerate() {
            for (k, got) in ks.iter().zip(out) {
                let e = common::max_abs_diff(got, fx.get(&format!("output.{i}.{k}")));
                assert!(
                    e <= TOL,
                    "{name}: pipeline {i}'s {k} is {e:e} from Kornia's"
                );
            }
        }
    }
    // Under strict, a pipeline of the image alone next to one of image and mask is refused.
    let vs = VarStore::new(Device::Cpu);
    let seq = |keys: serde_json::Value| -> Sequential {
        let AugSpec::Sequential(cfg) = AugSpec::from_kornia(
            "AugmentationSequential",
            &serde_json::json!({"steps": [["RandomHorizontalFlip", {}]], "data_keys": keys}),
        )
        .unwrap() else {
            panic!()
        };
        Sequential::new(vs.root(), cfg).unwrap()
    };
    let e = tch_dda::ManyToOne::new(
        vec![
            seq(serde_json::json!(["input"])),
            seq(serde_json::json!(["input", "mask"])),
        ],
        true,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(
            "ManyToOne: data_keys = [Input] (pipeline 0) and [Input, Mask] (pipeline 1) is invalid"
        ),
        "{e}"
    );
    assert!(tch_dda::ManyToOne::new(
        vec![
            seq(serde_json::json!(["input"])),
            seq(serde_json::json!(["input", "mask"]))
        ],
        false
    )
    .is_ok());
    // Kornia's class names say where the dispatchers are.
    let e = AugSpec::from_kornia("ManyToOneAugmentationDispather", &serde_json::json!({}))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("build tch_dda::ManyToOne from its pipelines"),
        "{e}"
    );
}

/// RandomTransplantation's masks: Kornia's params replayed on the fixture's image and label
/// mask give Kornia's image and mask, on both ranks.
#[test]
fn transplants_move_masks_as_kornias() {
    let _serial = common::serial();
    for name in ["transplant", "transplant_excluded_gate", "transplant3d"] {
        let fx = common::fixture(name);
        let class = fx.meta["kornia_class"].as_str().unwrap();
        let kwargs: Value = serde_json::from_str(fx.meta["kwargs"].as_str().unwrap()).unwrap();
        let vs = VarStore::new(common::device());
        let aug = AugSpec::from_kornia(class, &kwargs)
            .unwrap()
            .build(&vs.root())
            .unwrap();
        let params = common::replay_params(aug.as_ref(), &fx);
        let batch = Batch {
            masks: Some(fx.get("mask").unsqueeze(1).to_kind(tch::Kind::Float)),
            ..Batch::new(fx.get("input").shallow_clone())
        };
        let out = aug.f_apply_batch(&batch, &params).unwrap();
        let mask = out.masks.unwrap().squeeze_dim(1);
        let expected = fx.get("mask_out").to_kind(tch::Kind::Float);
        assert!(
            mask.equal(&expected),
            "{name}: the mask differs from Kornia's"
        );
        let e = common::max_abs_diff(&out.image, fx.get("output"));
        assert!(e == 0.0, "{name}: the image is {e:e} from Kornia's");
    }
}

/// Kornia's `bbox` key takes each box's four vertices: other shapes are refused, naming
/// the layout; an axis-aligned box through a flip comes back as its flipped vertices.
#[test]
fn vertex_boxes_go_through_a_keyed_call() {
    let spec = AugSpec::from_kornia(
        "AugmentationSequential",
        &serde_json::json!({"steps": [["RandomHorizontalFlip", {"p": 1.0}]], "data_keys": ["input", "bbox"]}),
    )
    .unwrap();
    let AugSpec::Sequential(cfg) = spec else {
        panic!("not a container")
    };
    let aug = Sequential::new(VarStore::new(Device::Cpu).root(), cfg).unwrap();
    let image = tch::Tensor::rand([1, 3, 6, 10], (tch::Kind::Float, Device::Cpu));
    let flat = tch::Tensor::from_slice(&[2.0f32, 1., 5., 4.]).view([1, 1, 4]);
    let e = aug.f_call(&[&image, &flat]).unwrap_err().to_string();
    assert!(e.contains("bbox") && e.contains("(B, N, 4, 2)"), "{e}");
    let flags = tch::Tensor::ones([1, 1, 4, 2], (tch::Kind::Bool, Device::Cpu));
    let e = aug.f_call(&[&image, &flags]).unwrap_err().to_string();
    assert!(e.contains("Bool") && e.contains("real numbers"), "{e}");
    // [2, 1]..[5, 4] on W = 10: x -> 9 - x gives [4, 1]..[7, 4].
    let v = tch::Tensor::from_slice(&[2.0f32, 1., 5., 1., 5., 4., 2., 4.]).view([1, 1, 4, 2]);
    let out = aug.f_call(&[&image, &v]).unwrap();
    assert_eq!(
        Vec::<f32>::try_from(out[1].reshape([-1])).unwrap(),
        [4., 1., 7., 1., 7., 4., 4., 4.]
    );
}
