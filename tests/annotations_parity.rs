//! Kornia 0.9 parity for pipelines with annotations: `AugmentationSequential(data_keys=
//! ["input", "mask", "bbox_xyxy", "keypoints"])` forward and inverse, replayed from the
//! fixtures of scripts/gen_annotation_fixtures.py (torch 2.13.0, kornia 0.9.0), in the
//! Kornia-parity box mode. Every key, inverses included, within 1e-5; the same seed draws
//! the same params; and in the default (corners) box mode a round trip returns the input
//! boxes.

mod common;
use common::{fixture, max_abs_diff, Fixture};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

const TOL: f64 = 1e-5;

fn affine() -> AugSpec {
    AugSpec::RandomAffine(RandomAffineConfig {
        degrees: (-30.0, 30.0),
        translate: Some((0.1, 0.1)),
        scale: Some((0.8, 1.2)),
        shear: Some((-10.0, 10.0)),
        p: 1.0,
        ..Default::default()
    })
}

fn flip_h(p: f64) -> AugSpec {
    AugSpec::RandomHorizontalFlip(FlipConfig {
        p,
        ..Default::default()
    })
}

fn flip_v(p: f64) -> AugSpec {
    AugSpec::RandomVerticalFlip(FlipConfig {
        p,
        ..Default::default()
    })
}

fn rotation(d: f64) -> AugSpec {
    AugSpec::RandomRotation(RandomRotationConfig {
        degrees: (-d, d),
        p: 1.0,
        ..Default::default()
    })
}

fn perspective(d: f64) -> AugSpec {
    AugSpec::RandomPerspective(PerspectiveConfig {
        distortion_scale: d,
        p: 1.0,
        ..Default::default()
    })
}

fn crop(size: (i64, i64)) -> AugSpec {
    AugSpec::RandomCrop(RandomCropConfig {
        size,
        ..Default::default()
    })
}

fn center(size: (i64, i64)) -> AugSpec {
    AugSpec::CenterCrop(CenterCropConfig {
        size,
        ..Default::default()
    })
}

fn resize(h: i64, w: i64) -> AugSpec {
    AugSpec::Resize(ResizeConfig {
        size: ResizeTo::Size(h, w),
        ..Default::default()
    })
}

fn pad_to(size: (i64, i64), pad_value: f64) -> AugSpec {
    AugSpec::PadTo(PadToConfig {
        size,
        pad_value,
        ..Default::default()
    })
}

/// The fixture's params as our map: Kornia's i-th applied child under `"{i}."`, and the
/// applied children's indices under `selection` when the container drew them.
fn params(fx: &Fixture, random: bool) -> Params {
    let p = fx.params();
    if !random {
        return p;
    }
    let names: Vec<String> =
        serde_json::from_str(fx.meta["param_names"].as_str().unwrap()).unwrap();
    let ids: Vec<i64> = names
        .iter()
        .map(|n| n.rsplit('_').next().unwrap().parse().unwrap())
        .collect();
    let mut p = p;
    p.insert(
        "selection",
        Tensor::from_slice(&ids).to_device(common::device()),
    );
    p
}

fn batch(fx: &Fixture, prefix: &str) -> Batch {
    let k = |key: &str| fx.get(&format!("{prefix}{key}")).shallow_clone();
    Batch::new(k("image"))
        .with_masks(k("mask"))
        .with_boxes(Boxes::xyxy(k("boxes")))
        .with_keypoints(Keypoints::new(k("keypoints")))
}

fn compare(name: &str, what: &str, ours: &Batch, fx: &Fixture, prefix: &str) -> f64 {
    let k = |key: &str| fx.get(&format!("{prefix}{key}"));
    let mask = ours.masks.as_ref().unwrap();
    assert_eq!(mask.kind(), k("mask").kind(), "{name} {what}: mask kind");
    let errs = [
        ("image", max_abs_diff(&ours.image, k("image"))),
        ("mask", max_abs_diff(mask, k("mask"))),
        (
            "boxes",
            max_abs_diff(&ours.boxes.as_ref().unwrap().data, k("boxes")),
        ),
        (
            "keypoints",
            max_abs_diff(&ours.keypoints.as_ref().unwrap().points, k("keypoints")),
        ),
    ];
    for (key, e) in errs {
        assert!(
            e <= TOL,
            "{name} {what}: {key} differs from Kornia's by {e:e}"
        );
    }
    let worst = errs.iter().map(|e| e.1).fold(0.0, f64::max);
    println!(
        "PARITY annotations/{name} {what}: image {:.1e} mask {:.1e} boxes {:.1e} keypoints {:.1e}",
        errs[0].1, errs[1].1, errs[2].1, errs[3].1
    );
    worst
}

fn check(name: &str, cfg: SequentialConfig) {
    let _serial = common::serial();
    let fx = fixture(&format!("annotations/{name}"));
    let random = cfg.random_apply != RandomApply::Off;
    let vs = VarStore::new(common::device());
    let parity = Sequential::new(
        &(vs.root() / "kornia"),
        SequentialConfig {
            annotations: AnnotationOptions::kornia(),
            ..cfg.clone()
        },
    )
    .unwrap();
    let p = params(&fx, random);
    let input = batch(&fx, "");
    let before: Vec<Tensor> = ["image", "mask", "boxes", "keypoints"]
        .iter()
        .map(|k| fx.get(k).copy())
        .collect();

    // Forward, replaying Kornia's params.
    let out = parity.f_apply_batch(&input, &p).unwrap();
    compare(name, "forward", &out, &fx, "out.");

    // Inverse of Kornia's outputs.
    let kornia_out = batch(&fx, "out.");
    let inv = parity
        .f_inverse_batch(&kornia_out, &p, &fx.get("image").size())
        .unwrap();
    compare(name, "inverse", &inv, &fx, "inv.");

    // The same through Kornia's keyed call, as a ported script makes it
    // (`data_keys=["input", "mask", "bbox_xyxy", "keypoints"]`), the inverse to the input
    // shape the params recorded, as Kornia's `aug.inverse(*outputs, params=...)`.
    let keyed = Sequential::new(
        &(vs.root() / "keyed"),
        SequentialConfig {
            annotations: AnnotationOptions::kornia(),
            data_keys: Some(vec![
                DataKey::Input,
                DataKey::Mask,
                DataKey::BboxXyxy,
                DataKey::Keypoints,
            ]),
            ..cfg.clone()
        },
    )
    .unwrap();
    let keys = ["image", "mask", "boxes", "keypoints"];
    let record = |prefix: &str| -> Vec<Tensor> {
        keys.iter()
            .map(|k| fx.get(&format!("{prefix}{k}")).shallow_clone())
            .collect()
    };
    let inputs = record("");
    let outputs = record("out.");
    let forward = keyed
        .f_call_replay(&inputs.iter().collect::<Vec<_>>(), &p)
        .unwrap();
    let inverse = keyed
        .f_inverse_call(&outputs.iter().collect::<Vec<_>>(), &p)
        .unwrap();
    for (what, got, prefix) in [
        ("keyed forward", &forward, "out."),
        ("keyed inverse", &inverse, "inv."),
    ] {
        for (k, t) in keys.iter().zip(got) {
            let e = max_abs_diff(t, fx.get(&format!("{prefix}{k}")));
            assert!(
                e <= TOL,
                "{name} {what}: {k} differs from Kornia's by {e:e}"
            );
        }
    }
    for (k, b) in ["image", "mask", "boxes", "keypoints"].iter().zip(&before) {
        assert!(fx.get(k).equal(b), "{name}: input {k} modified");
    }

    // The same seed draws Kornia's params.
    if !common::draws_on_cpu() {
        return;
    }
    let seed: i64 = fx.meta["seed"].as_str().unwrap().parse().unwrap();
    tch::manual_seed(1000 + seed);
    let ours = parity.sample(&fx.get("image").size(), Device::Cpu).unwrap();
    let kornia = fx
        .tensors
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("seedparam.").map(|k| (k, v)));
    let mut n = 0;
    for (k, v) in kornia {
        let o = ours
            .get(k)
            .unwrap_or_else(|| panic!("{name}: our draw lacks {k}"));
        let d = max_abs_diff(&o.to_kind(Kind::Double), &v.to_kind(Kind::Double));
        assert!(d == 0.0, "{name}: draw {k} differs from Kornia's by {d:e}");
        n += 1;
    }
    assert!(n > 0, "{name}: no seedparam compared");

    // Corners mode: the inverse of our own output gives back the input boxes and points.
    let exact = Sequential::new(&(vs.root() / "exact"), cfg).unwrap();
    let fwd = exact.f_apply_batch(&input, &p).unwrap();
    let back = exact
        .f_inverse_batch(&fwd, &p, &fx.get("image").size())
        .unwrap();
    let box_err = max_abs_diff(&back.boxes.unwrap().data, fx.get("boxes"));
    let kp_err = max_abs_diff(&back.keypoints.unwrap().points, fx.get("keypoints"));
    println!("ROUNDTRIP annotations/{name}: boxes {box_err:.1e} keypoints {kp_err:.1e}");
    assert!(
        box_err <= 1e-4,
        "{name}: exact-inverse boxes off by {box_err:e}"
    );
    assert!(
        kp_err <= 1e-4,
        "{name}: keypoints off by {kp_err:e} after a round trip"
    );
}

fn steps(s: Vec<AugSpec>) -> SequentialConfig {
    SequentialConfig::new(s)
}

#[test]
fn flips() {
    check("flips", steps(vec![flip_h(0.5), flip_v(0.5)]));
}

#[test]
fn affine_parity() {
    check("affine", steps(vec![affine()]));
    check(
        "affine_nearest_border",
        steps(vec![AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-20.0, 20.0),
            translate: Some((0.2, 0.1)),
            resample: Resample::Nearest,
            padding_mode: Padding::Border,
            align_corners: true,
            p: 0.5,
            ..Default::default()
        })]),
    );
}

#[test]
fn rotation_and_perspective() {
    check("rotation", steps(vec![rotation(45.0)]));
    check("perspective", steps(vec![perspective(0.5)]));
}

#[test]
fn crops() {
    check(
        "crop",
        steps(vec![AugSpec::RandomCrop(RandomCropConfig {
            size: (7, 8),
            padding: Some(vec![2]),
            ..Default::default()
        })]),
    );
    check(
        "crop_fill_int_mask",
        steps(vec![AugSpec::RandomCrop(RandomCropConfig {
            size: (9, 12),
            pad_if_needed: true,
            fill: vec![0.5],
            ..Default::default()
        })]),
    );
    check("center_crop", steps(vec![center((6, 7))]));
}

#[test]
fn resized_crops() {
    check(
        "resized_crop",
        steps(vec![AugSpec::RandomResizedCrop(RandomResizedCropConfig {
            size: (8, 9),
            scale: (0.3, 0.9),
            ..Default::default()
        })]),
    );
    check(
        "resized_crop_resample",
        steps(vec![AugSpec::RandomResizedCrop(RandomResizedCropConfig {
            size: (7, 6),
            cropping_mode: CroppingMode::Resample,
            ..Default::default()
        })]),
    );
    check(
        "resized_crop_half_pixel",
        steps(vec![AugSpec::RandomResizedCrop(RandomResizedCropConfig {
            size: (8, 9),
            scale: (0.3, 0.9),
            align_corners: false,
            ..Default::default()
        })]),
    );
    check(
        "resized_crop_nearest",
        steps(vec![AugSpec::RandomResizedCrop(RandomResizedCropConfig {
            size: (7, 8),
            resample: Resample::Nearest,
            ..Default::default()
        })]),
    );
}

#[test]
fn resize_and_pad() {
    check("resize", steps(vec![resize(7, 15)]));
    check(
        "resize_nearest",
        steps(vec![AugSpec::Resize(ResizeConfig {
            size: ResizeTo::Size(13, 9),
            resample: Resample::Nearest,
            ..Default::default()
        })]),
    );
    check("pad_to", steps(vec![pad_to((12, 14), 0.3)]));
    let resize_to = |size: ResizeTo, align_corners: bool| {
        steps(vec![AugSpec::Resize(ResizeConfig {
            size,
            align_corners,
            ..Default::default()
        })])
    };
    check("resize_half_pixel", resize_to(ResizeTo::Size(7, 15), false));
    check(
        "longest_max_size",
        steps(vec![AugSpec::LongestMaxSize(MaxSizeConfig {
            align_corners: false,
            ..MaxSizeConfig::new(15)
        })]),
    );
    check(
        "smallest_max_size",
        steps(vec![AugSpec::SmallestMaxSize(MaxSizeConfig::new(7))]),
    );
}

#[test]
fn chains() {
    check(
        "chain_affine_flip_rrc_jitter",
        steps(vec![
            affine(),
            flip_h(0.5),
            AugSpec::RandomResizedCrop(RandomResizedCropConfig {
                size: (9, 10),
                scale: (0.5, 1.0),
                ..Default::default()
            }),
            AugSpec::ColorJitter(JitterConfig {
                p: 1.0,
                ..JitterConfig::new(0.2, 0.2, 0.0, 0.0)
            }),
        ]),
    );
    check(
        "chain_rotation_crop_resize_pad",
        steps(vec![
            rotation(30.0),
            crop((8, 9)),
            resize(10, 12),
            pad_to((12, 14), 0.0),
        ]),
    );
    check(
        "chain_perspective_center_erasing",
        steps(vec![
            perspective(0.4),
            center((8, 9)),
            AugSpec::RandomErasing(ErasingConfig {
                p: 1.0,
                value: 0.7,
                ..Default::default()
            }),
        ]),
    );
}

#[test]
fn containers() {
    let four = vec![
        flip_h(1.0),
        AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-20.0, 20.0),
            p: 1.0,
            ..Default::default()
        }),
        flip_v(1.0),
        rotation(30.0),
    ];
    check(
        "random_apply",
        SequentialConfig {
            random_apply: RandomApply::Exactly(2),
            ..SequentialConfig::new(four.clone())
        },
    );
    check(
        "one_of_weighted",
        SequentialConfig::one_of(four[..3].to_vec(), Some(vec![0.2, 0.5, 0.3])),
    );
    check(
        "same_on_batch",
        SequentialConfig {
            same_on_batch: Some(true),
            ..SequentialConfig::new(vec![affine(), flip_h(0.5)])
        },
    );
}

/// A Kornia script ported verbatim: the fixture's pipeline written as a Python call with
/// positional arguments and `data_keys`, read by `AugSpec::from_kornia_python`; Kornia's
/// params replayed through the keyed call give Kornia's outputs and inverses, and the same
/// seed gives Kornia's outputs from a plain `f_call`.
#[test]
fn a_kornia_script_with_positional_arguments_and_data_keys_ports_verbatim() {
    let _serial = common::serial();
    let name = "chain_affine_flip_rrc_jitter";
    let fx = fixture(&format!("annotations/{name}"));
    let script = r#"
        aug = K.AugmentationSequential(
            K.RandomAffine(30, (0.1, 0.1), (0.8, 1.2), 10, p=1.0),
            K.RandomHorizontalFlip(p=0.5),
            K.RandomResizedCrop((9, 10), (0.5, 1.0)),
            K.ColorJitter(0.2, 0.2, p=1.0),  # brightness, contrast
            data_keys=["input", "mask", "bbox_xyxy", "keypoints"],
        )
    "#;
    let call = script.trim().trim_start_matches("aug =");
    let AugSpec::Sequential(cfg) = AugSpec::from_kornia_python(call).unwrap() else {
        panic!("not a container")
    };
    let vs = VarStore::new(common::device());
    let aug = Sequential::new(vs.root(), cfg).unwrap();
    let keys = ["image", "mask", "boxes", "keypoints"];
    let record = |prefix: &str| -> Vec<Tensor> {
        keys.iter()
            .map(|k| fx.get(&format!("{prefix}{k}")).shallow_clone())
            .collect()
    };
    let (inputs, outputs) = (record(""), record("out."));
    let p = params(&fx, false);
    let forward = aug
        .f_call_replay(&inputs.iter().collect::<Vec<_>>(), &p)
        .unwrap();
    let inverse = aug
        .f_inverse_call(&outputs.iter().collect::<Vec<_>>(), &p)
        .unwrap();
    let mut checks = vec![("replayed", forward, "out."), ("inverse", inverse, "inv.")];
    if common::draws_on_cpu() {
        let seed: i64 = fx.meta["seed"].as_str().unwrap().parse().unwrap();
        tch::manual_seed(1000 + seed);
        let drawn = aug.f_call(&inputs.iter().collect::<Vec<_>>()).unwrap();
        checks.push(("drawn after the same seed", drawn, "out."));
    }
    for (what, got, prefix) in checks {
        for (k, t) in keys.iter().zip(&got) {
            let e = max_abs_diff(t, fx.get(&format!("{prefix}{k}")));
            assert!(e <= TOL, "{what}: {k} differs from Kornia's by {e:e}");
        }
    }
}
