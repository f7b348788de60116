//! Kornia 0.9 parity of the volumetric (3D) augmentations and of MixUp / CutMix with labels:
//! Kornia's params replayed, output and input gradient compared, and our draw after the same
//! seed compared with Kornia's bit for bit.

mod common;

use common::{assert_parity, assert_same_draw, fixture, max_abs_diff, serial};
use tch::nn::VarStore;
use tch::Kind;
use tch_dda::*;

const TOL: f64 = 1e-5;

fn vs() -> VarStore {
    VarStore::new(common::device())
}

/// Parity and, when the fixture has one, the seeded draw.
fn check(aug: &dyn Augmentation, name: &str) {
    assert_parity(aug, name, TOL);
    if fixture(name)
        .tensors
        .keys()
        .any(|k| k.starts_with("seedparam."))
    {
        let _g = serial();
        assert_same_draw(aug, name);
    }
}

#[test]
fn affine3d_parity_and_draw() {
    let v = vs();
    let a = RandomAffine3D::new(
        &(v.root() / "a"),
        Affine3DConfig {
            degrees: [(-20.0, 20.0); 3],
            translate: Some((0.1, 0.2, 0.1)),
            scale: Some(Scale3D::Isotropic((0.9, 1.1))),
            shears: Some([(-5.0, 5.0); 6]),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    check(&a, "affine3d");
    let full = RandomAffine3D::new(
        &(v.root() / "b"),
        Affine3DConfig {
            degrees: [(-10.0, 20.0), (-5.0, 5.0), (0.0, 30.0)],
            scale: Some(Scale3D::PerAxis([(0.8, 1.2), (0.9, 1.1), (0.7, 1.0)])),
            shears: Some([
                (-5.0, 5.0),
                (0.0, 3.0),
                (-2.0, 2.0),
                (-4.0, 0.0),
                (1.0, 2.0),
                (-3.0, 3.0),
            ]),
            resample: Resample::Nearest,
            align_corners: true,
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    check(&full, "affine3d_full_nearest_aligned");
    let gate = RandomAffine3D::new(
        &(v.root() / "c"),
        Affine3DConfig {
            degrees: [(-30.0, 30.0); 3],
            ..Default::default()
        },
    )
    .unwrap();
    check(&gate, "affine3d_gate");
}

#[test]
fn rotation3d_and_perspective3d_parity_and_draw() {
    let v = vs();
    let r = RandomRotation3D::new(
        &(v.root() / "r"),
        Rotation3DConfig {
            degrees: [(-30.0, 30.0); 3],
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    check(&r, "rotation3d");
    let r2 = RandomRotation3D::new(
        &(v.root() / "r2"),
        Rotation3DConfig {
            degrees: [(-10.0, 40.0), (0.0, 0.0), (20.0, 30.0)],
            resample: Resample::Nearest,
            align_corners: true,
            ..Default::default()
        },
    )
    .unwrap();
    check(&r2, "rotation3d_ranges_aligned_gate");
    let p = RandomPerspective3D::new(
        &(v.root() / "p"),
        Perspective3DConfig {
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    check(&p, "perspective3d");
    let p2 = RandomPerspective3D::new(
        &(v.root() / "p2"),
        Perspective3DConfig {
            distortion_scale: 0.3,
            resample: Resample::Nearest,
            align_corners: true,
            ..Default::default()
        },
    )
    .unwrap();
    check(&p2, "perspective3d_nearest_aligned_gate");
}

#[test]
fn flips3d_parity_and_draw() {
    let v = vs();
    let cfg = FlipConfig::default();
    check(
        &RandomHorizontalFlip3D::new(v.root(), cfg.clone()).unwrap(),
        "hflip3d",
    );
    check(
        &RandomVerticalFlip3D::new(v.root(), cfg.clone()).unwrap(),
        "vflip3d",
    );
    check(
        &RandomDepthicalFlip3D::new(v.root(), cfg).unwrap(),
        "dflip3d",
    );
}

#[test]
fn crops3d_parity_and_draw() {
    // Both modes: the exact gather (default) and Kornia's warp.
    for mode in [CroppingMode::Slice, CroppingMode::Resample] {
        let v = vs();
        let c = |size| {
            CenterCrop3D::new(
                v.root(),
                CenterCrop3DConfig {
                    size,
                    cropping_mode: mode,
                    ..Default::default()
                },
            )
            .unwrap()
        };
        check(&c([2, 3, 4]), "center_crop3d");
        check(&c([3, 3, 3]), "center_crop3d_odd");
        let r = RandomCrop3D::new(
            v.root(),
            RandomCrop3DConfig {
                size: [2, 3, 4],
                cropping_mode: mode,
                ..Default::default()
            },
        )
        .unwrap();
        check(&r, "crop3d");
        let padded = RandomCrop3D::new(
            v.root(),
            RandomCrop3DConfig {
                size: [4, 5, 7],
                padding: Some([1; 6]),
                pad_if_needed: true,
                fill: 0.3,
                cropping_mode: mode,
                ..Default::default()
            },
        )
        .unwrap();
        check(&padded, "crop3d_padding_fill");
    }
}

#[test]
fn motion_blur3d_and_equalize3d_parity_and_draw() {
    let v = vs();
    let m = RandomMotionBlur3D::new(
        &(v.root() / "m"),
        MotionBlur3DConfig {
            kernel_size: MotionKernelSize::Fixed(3),
            angle: [(-30.0, 30.0); 3],
            direction: (-0.5, 0.5),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    check(&m, "motion_blur3d");
    let m2 = RandomMotionBlur3D::new(
        &(v.root() / "m2"),
        MotionBlur3DConfig {
            kernel_size: MotionKernelSize::Range(3, 5),
            angle: [(-30.0, 30.0), (0.0, 45.0), (-10.0, 10.0)],
            direction: (-1.0, 1.0),
            resample: Resample::Bilinear,
            border_type: Border::Reflect,
            ..Default::default()
        },
    )
    .unwrap();
    check(&m2, "motion_blur3d_range_bilinear_reflect_gate");
    let e = |p| {
        RandomEqualize3D::new(
            v.root(),
            Equalize3DConfig {
                p,
                ..Default::default()
            },
        )
        .unwrap()
    };
    check(&e(1.0), "equalize3d");
    check(&e(0.5), "equalize3d_gate");
}

/// Replays Kornia's params with the labels: output and input gradient within `TOL`,
/// labels exactly; then our seeded draw against Kornia's.
fn check_mix(aug: &dyn MixAugmentation, name: &str) {
    let fx = fixture(name);
    let input = fx.get("input");
    let x = input.detach().set_requires_grad(true);
    let (y, labels) = aug
        .f_apply_with_labels(&x, fx.get("labels"), &fx.params())
        .unwrap();
    let out_err = max_abs_diff(&y, fx.get("output"));
    (&y * fx.get("grad_output")).sum(Kind::Float).backward();
    let grad_err = max_abs_diff(&x.grad(), fx.get("grad_input"));
    let label_err = max_abs_diff(&labels, fx.get("labels_out"));
    println!("PARITY {name}: output {out_err:.3e}, grad {grad_err:.3e}, labels {label_err:.3e}");
    assert_eq!(
        labels.kind(),
        fx.get("labels_out").kind(),
        "{name}: label kind"
    );
    assert!(out_err <= TOL, "{name}: output differs by {out_err:e}");
    assert!(grad_err <= TOL, "{name}: gradient differs by {grad_err:e}");
    assert!(label_err == 0.0, "{name}: labels differ by {label_err:e}");
    let _g = serial();
    assert_same_draw(aug, name);
}

#[test]
fn mixup_parity_labels_and_draw() {
    let v = vs();
    let m = RandomMixUp::new(&(v.root() / "a"), MixUpConfig::default()).unwrap();
    check_mix(&m, "mixup");
    let same = RandomMixUp::new(
        &(v.root() / "b"),
        MixUpConfig {
            lambda_val: (0.2, 0.6),
            same_on_batch: true,
            ..Default::default()
        },
    )
    .unwrap();
    check_mix(&same, "mixup_range_same");
    let gate = RandomMixUp::new(
        &(v.root() / "c"),
        MixUpConfig {
            p: 0.5,
            ..Default::default()
        },
    )
    .unwrap();
    check_mix(&gate, "mixup_gate");
}

#[test]
fn cutmix_parity_labels_and_draw() {
    let v = vs();
    let c = RandomCutMix::new(v.root(), CutMixConfig::default()).unwrap();
    check_mix(&c, "cutmix");
    let two = RandomCutMix::new(
        v.root(),
        CutMixConfig {
            num_mix: 2,
            cut_size: (0.2, 0.8),
            beta: 0.5,
            use_correct_lambda: true,
            ..Default::default()
        },
    )
    .unwrap();
    check_mix(&two, "cutmix_two_correct");
    let gated = RandomCutMix::new(
        v.root(),
        CutMixConfig {
            same_on_batch: true,
            p: 0.5,
            ..Default::default()
        },
    )
    .unwrap();
    check_mix(&gated, "cutmix_same_gate");
}
