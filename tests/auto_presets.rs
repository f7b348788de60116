//! The auto-augment presets against Kornia 0.9 (tests/fixtures/auto/presets.safetensors, from
//! scripts/gen_auto_fixtures.py): Kornia's choices and params replayed, and the same seed
//! giving the same batch.

mod common;

use common::{fixture, max_abs_diff, serial};
use tch::{nn, Device, Kind, Tensor};
use tch_dda::*;

struct Case {
    preset: String,
    kwargs: serde_json::Value,
    image: Tensor,
    out: Tensor,
    upstream: Tensor,
    grad: Tensor,
    choice: Tensor,
    params: Params,
}

fn cases() -> Vec<Case> {
    let fx = fixture("auto/presets");
    let meta: Vec<serde_json::Value> =
        serde_json::from_str(fx.meta["cases"].as_str().unwrap()).unwrap();
    meta.iter()
        .enumerate()
        .map(|(k, m)| {
            let mut params = Params::new();
            let prefix = format!("c{k}.param.");
            for (key, v) in &fx.tensors {
                if let Some(rest) = key.strip_prefix(&prefix) {
                    params.insert(rest, v.shallow_clone());
                }
            }
            let choice = fx.get(&format!("c{k}.choice")).shallow_clone();
            params.insert("choice", choice.shallow_clone());
            Case {
                preset: m["preset"].as_str().unwrap().to_string(),
                kwargs: m["kwargs"].clone(),
                image: fx.get(&format!("c{k}.image")).shallow_clone(),
                out: fx.get(&format!("c{k}.out")).shallow_clone(),
                upstream: fx.get(&format!("c{k}.upstream")).shallow_clone(),
                grad: fx.get(&format!("c{k}.grad")).shallow_clone(),
                choice,
                params,
            }
        })
        .collect()
}

/// The preset of a case, built through its JSON spec (as a user's pipeline file would).
fn build(case: &Case) -> Box<dyn Augmentation> {
    let spec: AugSpec =
        serde_json::from_value(serde_json::json!({ case.preset.clone(): case.kwargs.clone() }))
            .unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    spec.build(&vs.root()).unwrap()
}

#[test]
fn kornia_choices_and_params_replay_to_kornia_outputs() {
    let cases = cases();
    assert_eq!(cases.len(), 157);
    let mut worst: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    for (k, case) in cases.iter().enumerate() {
        let aug = build(case);
        let x = case.image.detach().set_requires_grad(true);
        let out = aug.f_apply(&x, &case.params).unwrap();
        let err = max_abs_diff(&out, &case.out);
        assert!(
            err < 1e-5,
            "case {k} ({} {}): output differs by {err}",
            case.preset,
            case.kwargs
        );
        (&out * &case.upstream).sum(out.kind()).backward();
        let gerr = max_abs_diff(&x.grad(), &case.grad);
        assert!(
            gerr < 1e-4,
            "case {k} ({} {}): input gradient differs by {gerr}",
            case.preset,
            case.kwargs
        );
        let w = worst.entry(case.preset.clone()).or_insert((0.0, 0.0));
        *w = (w.0.max(err), w.1.max(gerr));
    }
    eprintln!("max replay error (output, input gradient) per preset: {worst:?}");
}

#[test]
fn the_same_seed_gives_kornias_choice_params_and_batch() {
    let _g = serial();
    // Kornia's draws are the CPU generator's.
    if !common::draws_on_cpu() {
        return;
    }
    let mut same_choice = 0;
    for (k, case) in cases().iter().enumerate() {
        let aug = build(case);
        tch::manual_seed(1700 + k as i64);
        let (out, params) = aug.f_forward_with_params(&case.image).unwrap();
        let choice = params.get("choice").unwrap();
        assert_eq!(
            Vec::<i64>::try_from(choice).unwrap(),
            Vec::<i64>::try_from(&case.choice).unwrap(),
            "case {k}: choice"
        );
        same_choice += 1;
        for (key, kornia) in case.params.iter() {
            let ours = params
                .get(key)
                .unwrap_or_else(|| panic!("case {k}: no param {key}"));
            let err = max_abs_diff(ours, kornia);
            assert!(err < 1e-4, "case {k}: param {key} differs by {err}");
        }
        let err = max_abs_diff(&out, &case.out);
        assert!(
            err < 1e-5,
            "case {k} ({}): output differs by {err}",
            case.preset
        );
    }
    assert_eq!(same_choice, 157);
}

#[test]
fn every_table_entry_is_kornias() {
    // Kornia's three AutoAugment tables, as the fixture script read them from Kornia.
    let fx = fixture("auto/presets");
    let tables: serde_json::Value =
        serde_json::from_str(fx.meta["tables"].as_str().unwrap()).unwrap();
    for (name, policy) in [
        ("imagenet", NamedPolicy::Imagenet),
        ("cifar10", NamedPolicy::Cifar10),
        ("svhn", NamedPolicy::Svhn),
    ] {
        let kornia: Vec<Vec<PolicyEntry>> = serde_json::from_value(tables[name].clone()).unwrap();
        assert_eq!(kornia.len(), 25);
        assert_eq!(policy.table(), kornia, "{name}");
    }
    // Every sub-policy of every table was replayed alone above.
    let fx_cases: Vec<serde_json::Value> =
        serde_json::from_str(fx.meta["cases"].as_str().unwrap()).unwrap();
    let alone = fx_cases
        .iter()
        .filter(|c| c["preset"] == "AutoAugment" && c["kwargs"]["policy"].is_array())
        .count();
    assert_eq!(alone, 75);
}

#[test]
fn rotate_bin_9_turns_counter_clockwise_by_24_to_30_degrees() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = AutoAugmentConfig {
        policy: AutoPolicy::Custom(vec![vec![PolicyEntry(PolicyOp::Rotate, 1.0, Some(9))]]),
        ..Default::default()
    };
    let aug = AutoAugment::new(vs.root(), cfg).unwrap();
    tch::manual_seed(3);
    let params = aug.f_sample(&[64, 3, 8, 8], Device::Cpu).unwrap();
    let d = params.get("0.0.degrees").unwrap();
    let (lo, hi) = (d.min().double_value(&[]), d.max().double_value(&[]));
    assert!(lo >= 24.0 && hi <= 30.0 && hi - lo > 3.0, "{lo}..{hi}");
}

#[test]
fn rand_augment_magnitudes_follow_m() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    // n = 15: every candidate once.
    let aug = RandAugment::new(vs.root(), RandAugmentConfig::new(15, 7.0)).unwrap();
    tch::manual_seed(11);
    let params = aug.f_sample(&[32, 3, 8, 10], Device::Cpu).unwrap();
    let choice = Vec::<i64>::try_from(params.get("choice").unwrap()).unwrap();
    let mut sorted = choice.clone();
    sorted.sort();
    assert_eq!(sorted, (0..15).collect::<Vec<i64>>());
    let pos = |op: usize| choice.iter().position(|&c| c == op as i64).unwrap();
    let get = |op: usize, key: &str| {
        params
            .get(&format!("{}.0.{key}", pos(op)))
            .unwrap()
            .shallow_clone()
    };
    // rotate: ±7 degrees, both signs present.
    let r = get(3, "degrees");
    assert!(
        max_abs_diff(
            &r.abs(),
            &Tensor::full([32], 7.0, (Kind::Float, Device::Cpu))
        ) < 1e-5
    );
    assert!(r.min().double_value(&[]) < 0.0 && r.max().double_value(&[]) > 0.0);
    // posterize runs reversed: 8 - 4 * 7/30 = 7.07 -> 7 bits.
    assert_eq!(get(4, "bits_factor").min().int64_value(&[]), 7);
    // shear: 0.3 * 7/30 * 180 = 12.6 degrees.
    assert!((get(11, "shear_x").abs().max().double_value(&[]) - 12.6).abs() < 1e-4);
    // translate: 0.1 * 7/30 * W = 0.2333 px for W = 10.
    assert!((get(13, "translate_x").abs().max().double_value(&[]) - 7.0 / 30.0).abs() < 1e-5);
    // brightness: 0.1 + 1.8 * 7/30 = 0.52.
    assert!(
        (get(9, "brightness_factor")
            .mean(Kind::Double)
            .double_value(&[])
            - 0.52)
            .abs()
            < 1e-6
    );
}

#[test]
fn keypoints_and_boxes_follow_the_chosen_geometry_and_come_back() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let aug = RandAugment::new(vs.root(), RandAugmentConfig::new(15, 12.0)).unwrap();
    tch::manual_seed(5);
    let image = Tensor::rand([4, 3, 20, 24], (Kind::Float, Device::Cpu));
    let kp = Tensor::rand([4, 5, 2], (Kind::Float, Device::Cpu)) * 14.0 + 4.0;
    let batch =
        Batch::new(image.shallow_clone()).with_keypoints(Keypoints::new(kp.shallow_clone()));
    let (out, params) = aug.f_forward_batch(&batch).unwrap();
    // The output keypoints are those of the composed geometric operations.
    let g = aug
        .f_geometry(&[4, 3, 20, 24], &params, Kind::Float, Device::Cpu)
        .unwrap();
    let mapped = g.map_points(&kp);
    let out_kp = &out.keypoints.as_ref().unwrap().points;
    assert!(max_abs_diff(out_kp, &mapped) < 1e-4);
    assert!(
        max_abs_diff(out_kp, &kp) > 0.5,
        "the rotations, shears and translations moved them"
    );
    let back = aug.f_inverse_batch(&out, &params, &[4, 3, 20, 24]).unwrap();
    let err = max_abs_diff(&back.keypoints.as_ref().unwrap().points, &kp);
    assert!(err < 1e-3, "round trip {err}");
}

#[test]
fn presets_save_as_json_and_replay_the_same_batch() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let specs = vec![
        AugSpec::AutoAugment(AutoAugmentConfig::named(NamedPolicy::Cifar10)),
        AugSpec::RandAugment(RandAugmentConfig::new(2, 9.0)),
        AugSpec::TrivialAugment(TrivialAugmentConfig::default()),
    ];
    let seq = Sequential::new(vs.root(), specs).unwrap();
    let json = seq.to_json().unwrap();
    let again = Sequential::from_json(vs.root() / "again", &json).unwrap();
    assert_eq!(again.to_json().unwrap(), json);
    let x = Tensor::rand([6, 3, 12, 12], (Kind::Float, Device::Cpu));
    tch::manual_seed(9);
    let (a, params) = seq.f_forward_with_params(&x).unwrap();
    tch::manual_seed(9);
    let b = again.f_forward(&x).unwrap();
    assert_eq!(max_abs_diff(&a, &b), 0.0);
    assert_eq!(max_abs_diff(&again.f_apply(&x, &params).unwrap(), &a), 0.0);
    // Structure and state in one file, rebuilt under another path.
    let file = std::env::temp_dir().join(format!(
        "tch_dda_presets_{}.safetensors",
        std::process::id()
    ));
    seq.f_save(&file).unwrap();
    let other = nn::VarStore::new(Device::Cpu);
    let loaded = Sequential::f_load(other.root() / "p", &file).unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(loaded.ranges().len(), seq.ranges().len());
    assert!(
        !seq.ranges().is_empty(),
        "the presets' operators have ranges"
    );
    tch::manual_seed(9);
    assert_eq!(max_abs_diff(&loaded.f_forward(&x).unwrap(), &a), 0.0);
    // Kornia's custom-policy JSON form.
    let custom: AugSpec = serde_json::from_str(
        r#"{"AutoAugment": {"policy": [[["rotate", 0.5, 3], ["equalize", 0.8, null]], [["invert", 1.0, null]]]}}"#,
    )
    .unwrap();
    custom.build(&vs.root()).unwrap();
}

#[test]
fn bad_configs_are_refused_with_the_field_named() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let err = |r: Result<Box<dyn Augmentation>>| r.unwrap_err().to_string();
    let build = |spec: AugSpec| spec.build(&vs.root());
    assert!(err(build(AugSpec::RandAugment(RandAugmentConfig::new(2, 30.0)))).contains("m = 30"));
    assert!(err(build(AugSpec::RandAugment(RandAugmentConfig::new(0, 9.0)))).contains("n = 0"));
    assert!(err(build(AugSpec::RandAugment(RandAugmentConfig::new(16, 9.0)))).contains("1..=15"));
    let bad_bin = AutoAugmentConfig {
        policy: AutoPolicy::Custom(vec![vec![PolicyEntry(PolicyOp::Rotate, 0.5, Some(10))]]),
        ..Default::default()
    };
    assert!(err(build(AugSpec::AutoAugment(bad_bin))).contains("magnitude"));
    let bad_p = AutoAugmentConfig {
        policy: AutoPolicy::Custom(vec![vec![PolicyEntry(PolicyOp::Invert, 1.5, None)]]),
        ..Default::default()
    };
    assert!(err(build(AugSpec::AutoAugment(bad_p))).contains("p = 1.5"));
    let empty = AutoAugmentConfig {
        policy: AutoPolicy::Custom(vec![vec![]]),
        ..Default::default()
    };
    assert!(err(build(AugSpec::AutoAugment(empty))).contains("policy"));
    let asym = TrivialAugmentConfig {
        policy: Some(vec![OpRange(PolicyOp::Rotate, -10.0, 30.0)]),
        ..Default::default()
    };
    assert!(err(build(AugSpec::TrivialAugment(asym))).contains("symmetric"));
    // JSON: RandAugment's n and m are required, as in Kornia.
    let e = serde_json::from_str::<AugSpec>(r#"{"RandAugment": {"n": 2}}"#).unwrap_err();
    assert!(e.to_string().contains('m'), "{e}");
    // A replayed choice outside the table.
    let aug = TrivialAugment::new(vs.root(), TrivialAugmentConfig::default()).unwrap();
    let x = Tensor::rand([2, 3, 8, 8], (Kind::Float, Device::Cpu));
    let mut p = aug.f_sample(&[2, 3, 8, 8], Device::Cpu).unwrap();
    p.insert("choice", Tensor::from_slice(&[12i64]));
    assert!(aug
        .f_apply(&x, &p)
        .unwrap_err()
        .to_string()
        .contains("choice"));
}

/// Per-sample mode: the rows that chose sub-policy (or candidates) `ks` equal the per-call
/// preset replaying `ks` with the same params.
fn per_call_params(params: &Params, ks: &[i64]) -> Params {
    let mut p = Params::new();
    p.insert("choice", Tensor::from_slice(ks));
    for (pos, k) in ks.iter().enumerate() {
        p.extend_prefixed(&pos.to_string(), &params.sub(&k.to_string()));
    }
    p
}

#[test]
fn per_sample_choices_mix_sub_policies_and_each_row_is_its_own_sub_policy() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let shape = [48i64, 3, 10, 12];
    tch::manual_seed(21);
    let x = Tensor::rand(shape, (Kind::Float, Device::Cpu));
    for (spec, n) in [
        (
            AugSpec::AutoAugment(AutoAugmentConfig {
                per_sample: true,
                ..AutoAugmentConfig::named(NamedPolicy::Svhn)
            }),
            1usize,
        ),
        (
            AugSpec::RandAugment(RandAugmentConfig {
                per_sample: true,
                ..RandAugmentConfig::new(2, 11.0)
            }),
            2,
        ),
        (
            AugSpec::TrivialAugment(TrivialAugmentConfig {
                per_sample: true,
                ..Default::default()
            }),
            1,
        ),
    ] {
        let per_sample = spec.build(&(vs.root() / "ps")).unwrap();
        let mut per_call_spec = serde_json::to_value(&spec).unwrap();
        let cfg = per_call_spec
            .as_object_mut()
            .unwrap()
            .values_mut()
            .next()
            .unwrap();
        cfg["per_sample"] = serde_json::Value::Bool(false);
        let per_call: AugSpec = serde_json::from_value(per_call_spec).unwrap();
        let per_call = per_call.build(&(vs.root() / "pc")).unwrap();

        let (out, params) = per_sample.f_forward_with_params(&x).unwrap();
        let choice = params.get("choice").unwrap();
        assert_eq!(choice.size(), [48, n as i64]);
        let rows: Vec<Vec<i64>> = (0..48)
            .map(|b| Vec::<i64>::try_from(choice.get(b)).unwrap())
            .collect();
        let distinct: std::collections::BTreeSet<_> = rows.iter().cloned().collect();
        assert!(
            distinct.len() > 5,
            "{}: {} distinct choices",
            per_sample.name(),
            distinct.len()
        );
        for ks in &distinct {
            let expect = per_call.f_apply(&x, &per_call_params(&params, ks)).unwrap();
            for (b, row) in rows.iter().enumerate() {
                if row == ks {
                    let err = max_abs_diff(&out.get(b as i64), &expect.get(b as i64));
                    assert_eq!(err, 0.0, "{}: row {b} ({ks:?})", per_sample.name());
                }
            }
        }
        // Replay and the same seed.
        assert_eq!(
            max_abs_diff(&per_sample.f_apply(&x, &params).unwrap(), &out),
            0.0
        );
        // Geometry: each row's matrix is its own choice's.
        let g = per_sample
            .f_transform_matrix(&shape, &params, Kind::Float, Device::Cpu)
            .unwrap();
        for ks in distinct.iter().take(4) {
            let expect = per_call
                .f_transform_matrix(
                    &shape,
                    &per_call_params(&params, ks),
                    Kind::Float,
                    Device::Cpu,
                )
                .unwrap();
            for (b, row) in rows.iter().enumerate() {
                if row == ks {
                    let e = expect.get(if expect.size()[0] == 1 { 0 } else { b as i64 });
                    assert!(max_abs_diff(&g.get(b as i64), &e) < 1e-6);
                }
            }
        }
    }
}

#[test]
fn per_sample_keypoints_go_through_and_come_back() {
    let _g = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = RandAugmentConfig {
        per_sample: true,
        ..RandAugmentConfig::new(3, 12.0)
    };
    let aug = RandAugment::new(vs.root(), cfg).unwrap();
    tch::manual_seed(8);
    let image = Tensor::rand([16, 3, 20, 24], (Kind::Float, Device::Cpu));
    let kp = Tensor::rand([16, 5, 2], (Kind::Float, Device::Cpu)) * 14.0 + 4.0;
    let batch = Batch::new(image).with_keypoints(Keypoints::new(kp.shallow_clone()));
    let (out, params) = aug.f_forward_batch(&batch).unwrap();
    let out_kp = &out.keypoints.as_ref().unwrap().points;
    assert!(max_abs_diff(out_kp, &kp) > 0.5);
    let back = aug
        .f_inverse_batch(&out, &params, &[16, 3, 20, 24])
        .unwrap();
    let err = max_abs_diff(&back.keypoints.as_ref().unwrap().points, &kp);
    assert!(err < 1e-3, "round trip {err}");
    // A choice of the wrong shape is refused.
    let mut bad = params.clone();
    bad.insert("choice", Tensor::zeros([16], (Kind::Int64, Device::Cpu)));
    let e = aug.f_apply(
        &Tensor::rand([16, 3, 20, 24], (Kind::Float, Device::Cpu)),
        &bad,
    );
    assert!(e.unwrap_err().to_string().contains("choice"));
}

#[test]
fn kornias_constructor_calls_translate() {
    let vs = nn::VarStore::new(Device::Cpu);
    use serde_json::json;
    let ra = AugSpec::from_kornia("RandAugment", &json!({"n": 2, "m": 9})).unwrap();
    assert_eq!(ra, AugSpec::RandAugment(RandAugmentConfig::new(2, 9.0)));
    let custom = AugSpec::from_kornia(
        "TrivialAugment",
        &json!({"policy": [[["rotate", -30.0, 30.0]], [["equalize", 0, 1]]]}),
    )
    .unwrap();
    assert_eq!(
        custom,
        AugSpec::TrivialAugment(TrivialAugmentConfig {
            policy: Some(vec![
                OpRange(PolicyOp::Rotate, -30.0, 30.0),
                OpRange(PolicyOp::Equalize, 0.0, 1.0)
            ]),
            ..Default::default()
        })
    );
    custom.build(&vs.root()).unwrap();
    let aa = AugSpec::from_kornia("AutoAugment", &json!({"policy": "svhn"})).unwrap();
    assert_eq!(
        aa,
        AugSpec::AutoAugment(AutoAugmentConfig::named(NamedPolicy::Svhn))
    );
    // Kornia's errors: m missing, a candidate of two operations, an unknown argument.
    assert!(AugSpec::from_kornia("RandAugment", &json!({"n": 2})).is_err());
    let two = json!({"policy": [[["rotate", -30.0, 30.0], ["equalize", 0, 1]]]});
    assert!(AugSpec::from_kornia("TrivialAugment", &two).is_err());
    let e = AugSpec::from_kornia("AutoAugment", &json!({"polcy": "svhn"})).unwrap_err();
    assert!(e.to_string().contains("polcy"), "{e}");
}

/// RandAugment(2, 9) refused every 1-channel batch (RandomSaturation needs RGB), whichever
/// operations were drawn. Inside a preset a colour operation is now the identity on
/// 1-channel images, as torchvision's is; every other operation still applies.
#[test]
fn grayscale_presets_run_with_colour_as_the_identity() {
    let _serial = serial();
    let vs = nn::VarStore::new(Device::Cpu);
    let x = Tensor::rand([6, 1, 20, 22], (Kind::Float, Device::Cpu));
    let presets: Vec<Box<dyn Augmentation>> = vec![
        Box::new(RandAugment::new(vs.root() / "ra", RandAugmentConfig::new(2, 9.0)).unwrap()),
        Box::new(TrivialAugment::new(vs.root() / "ta", TrivialAugmentConfig::default()).unwrap()),
        Box::new(
            AutoAugment::new(
                vs.root() / "aa",
                AutoAugmentConfig::named(NamedPolicy::Imagenet),
            )
            .unwrap(),
        ),
    ];
    for aug in &presets {
        for seed in 0..20 {
            tch::manual_seed(seed);
            let y = aug.f_forward(&x);
            let y = y.unwrap_or_else(|e| panic!("{} seed {seed}: {e}", aug.name()));
            assert_eq!(y.size(), x.size());
        }
    }
    // Two channels are neither grayscale nor RGB: the error names the preset, the operation
    // and the way out.
    let two = Tensor::rand([2, 2, 20, 22], (Kind::Float, Device::Cpu));
    let e = presets[0].f_forward(&two).unwrap_err();
    assert!(matches!(e, Error::Channels { got: 2, .. }), "{e}");
    let e = e.to_string();
    for says in [
        "RandAugment",
        "RandomSaturation",
        "PolicyOp::Color",
        "rand_augment_policy()",
    ] {
        assert!(e.contains(says), "{says}: {e}");
    }
    // Without colour, any channel count.
    let no_colour: Vec<OpRange> = rand_augment_policy()
        .into_iter()
        .filter(|r| !r.0.needs_rgb())
        .collect();
    let gray_ok = RandAugment::new(
        vs.root() / "no_colour",
        RandAugmentConfig {
            policy: Some(no_colour),
            ..RandAugmentConfig::new(2, 9.0)
        },
    )
    .unwrap();
    assert!(gray_ok.f_forward(&two).is_ok());
    // A sub-policy of colour alone leaves a grayscale image as it is, and changes an RGB one.
    let color = RandAugment::new(
        vs.root() / "color",
        RandAugmentConfig {
            n: 1,
            policy: Some(vec![OpRange(PolicyOp::Color, 0.1, 1.9)]),
            ..RandAugmentConfig::new(1, 9.0)
        },
    )
    .unwrap();
    tch::manual_seed(3);
    let (y, p) = color.f_forward_with_params(&x).unwrap();
    assert!(y.equal(&x), "colour changed a grayscale image");
    let rgb = Tensor::rand([6, 3, 20, 22], (Kind::Float, Device::Cpu));
    let y = color.f_apply(&rgb, &p).unwrap();
    assert!(max_abs_diff(&y, &rgb) > 1e-3, "colour did nothing to RGB");
}
