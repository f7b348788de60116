//! Finite-difference gradient checks in float64: with respect to the input for every
//! operator, and with respect to every learnable range.

mod common;
use common::{gradcheck, gradcheck_scalar};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

const TOL: f64 = 1e-6;

fn input(shape: &[i64]) -> Tensor {
    tch::manual_seed(3);
    // Away from 0 and 1 so that the colour clamps are not at a kink.
    Tensor::rand(shape, (Kind::Double, common::device())) * 0.8 + 0.1
}

/// Input gradcheck of `aug` with params drawn once (seeded) and replayed.
fn check_input(aug: &dyn Augmentation, shape: &[i64]) {
    let x = input(shape);
    tch::manual_seed(11);
    let params = aug.sample(&x.size(), x.device()).unwrap();
    let err = gradcheck(&|x| aug.f_apply(x, &params).unwrap(), &x);
    println!("GRADCHECK {} input: {err:.2e}", aug.name());
    assert!(err < TOL, "{}: input gradient off by {err:e}", aug.name());
}

fn root() -> VarStore {
    VarStore::new(common::device())
}

fn affine_cfg() -> RandomAffineConfig {
    RandomAffineConfig {
        degrees: (-30.0, 30.0),
        translate: Some((0.1, 0.2)),
        scale: Some((0.8, 1.2)),
        scale_y: Some((0.9, 1.1)),
        shear: Some((-10.0, 10.0)),
        shear_y: Some((-5.0, 5.0)),
        p: 1.0,
        ..Default::default()
    }
}

#[test]
fn input_gradients_match_finite_differences() {
    let _serial = common::serial();
    let vs = root();
    let r = vs.root();
    let cases: Vec<(AugSpec, [i64; 4])> = vec![
        (AugSpec::RandomAffine(affine_cfg()), [2, 3, 5, 6]),
        (
            AugSpec::RandomAffine(RandomAffineConfig {
                padding_mode: Padding::Fill,
                fill_value: Some(vec![0.3]),
                ..affine_cfg()
            }),
            [1, 2, 5, 4],
        ),
        (
            AugSpec::RandomRotation(RandomRotationConfig {
                degrees: (-40.0, 40.0),
                p: 1.0,
                ..Default::default()
            }),
            [2, 1, 5, 6],
        ),
        (
            AugSpec::RandomHorizontalFlip(FlipConfig {
                p: 0.5,
                ..Default::default()
            }),
            [3, 1, 3, 4],
        ),
        (
            AugSpec::RandomVerticalFlip(FlipConfig {
                p: 0.5,
                ..Default::default()
            }),
            [3, 1, 3, 4],
        ),
        (
            AugSpec::RandomCrop(RandomCropConfig {
                size: (3, 4),
                padding: Some(vec![1]),
                ..Default::default()
            }),
            [2, 1, 4, 5],
        ),
        (
            AugSpec::CenterCrop(CenterCropConfig {
                size: (3, 3),
                ..Default::default()
            }),
            [2, 1, 5, 4],
        ),
        (
            AugSpec::RandomResizedCrop(RandomResizedCropConfig {
                size: (4, 5),
                scale: (0.3, 1.0),
                ..Default::default()
            }),
            [2, 1, 6, 7],
        ),
        (
            AugSpec::ColorJitter(JitterConfig::new(0.2, 0.3, 0.2, 0.3)),
            [2, 3, 3, 4],
        ),
        (
            AugSpec::ColorJiggle(JitterConfig::new(0.2, 0.3, 0.2, 0.3)),
            [2, 3, 3, 4],
        ),
        (
            AugSpec::Normalize(NormalizeConfig::imagenet()),
            [2, 3, 2, 3],
        ),
        (
            AugSpec::Denormalize(NormalizeConfig::imagenet()),
            [2, 3, 2, 3],
        ),
        (
            AugSpec::RandomGrayscale(RandomGrayscaleConfig {
                p: 0.5,
                ..Default::default()
            }),
            [4, 3, 2, 3],
        ),
        (
            AugSpec::RandomBrightness(FactorConfig::new((0.6, 1.4))),
            [2, 3, 3, 4],
        ),
        (
            AugSpec::RandomContrast(FactorConfig::new((0.5, 1.5))),
            [2, 3, 3, 4],
        ),
        (
            AugSpec::RandomSaturation(FactorConfig::new((0.2, 1.8))),
            [2, 3, 3, 4],
        ),
        (
            AugSpec::RandomHue(FactorConfig::new((-0.3, 0.4))),
            [2, 3, 3, 4],
        ),
        (
            AugSpec::RandomGamma(GammaConfig {
                gamma: (0.5, 1.5),
                gain: (0.8, 1.2),
                ..Default::default()
            }),
            [2, 3, 3, 4],
        ),
        (AugSpec::RandomInvert(InvertConfig::default()), [4, 3, 3, 4]),
        (
            AugSpec::RandomGaussianBlur(GaussianBlurConfig {
                kernel_size: (3, 5),
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::RandomBoxBlur(BoxBlurConfig {
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::RandomChannelShuffle(ChannelShuffleConfig::default()),
            [4, 3, 3, 4],
        ),
        (
            AugSpec::RandomGaussianNoise(GaussianNoiseConfig::default()),
            [4, 3, 3, 4],
        ),
        (
            AugSpec::RandomAutoContrast(AutoContrastConfig::default()),
            [2, 3, 3, 4],
        ),
        (
            AugSpec::RandomShear(ShearConfig {
                shear: (-15.0, 20.0),
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::RandomTranslate(TranslateConfig {
                translate_x: Some((-0.2, 0.3)),
                translate_y: Some((-0.1, 0.1)),
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::RandomRotation90(Rotation90Config {
                times: (-3.0, 3.0),
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::RandomChannelDropout(ChannelDropoutConfig {
                num_drop_channels: 2,
                ..Default::default()
            }),
            [4, 3, 3, 4],
        ),
        (
            AugSpec::RandomRGBShift(RgbShiftConfig::default()),
            [4, 3, 3, 4],
        ),
        (
            AugSpec::RandomSaltAndPepperNoise(SaltAndPepperConfig::default()),
            [4, 3, 5, 6],
        ),
        (
            AugSpec::RandomMedianBlur(MedianBlurConfig {
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::Resize(ResizeConfig {
                size: ResizeTo::Size(3, 6),
                antialias: true,
                ..Default::default()
            }),
            [2, 2, 5, 4],
        ),
        (AugSpec::LongestMaxSize(MaxSizeConfig::new(6)), [2, 2, 5, 4]),
        (
            AugSpec::SmallestMaxSize(MaxSizeConfig {
                align_corners: false,
                ..MaxSizeConfig::new(3)
            }),
            [2, 2, 5, 4],
        ),
        (
            AugSpec::PadTo(PadToConfig {
                size: (6, 3),
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::RandomMotionBlur(MotionBlurConfig {
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::RandomFisheye(FisheyeConfig {
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::RandomElasticTransform(ElasticConfig {
                kernel_size: (3, 5),
                sigma: (1.0, 2.0),
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::RandomThinPlateSpline(ThinPlateSplineConfig {
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 4, 5],
        ),
        (
            AugSpec::RandomPlanckianJitter(PlanckianConfig::default()),
            [4, 3, 3, 4],
        ),
        (
            AugSpec::RandomLinearIllumination(IlluminationConfig {
                p: 1.0,
                ..Default::default()
            }),
            [4, 2, 3, 4],
        ),
        (
            AugSpec::RandomLinearCornerIllumination(IlluminationConfig {
                p: 1.0,
                ..Default::default()
            }),
            [4, 2, 3, 4],
        ),
        (
            AugSpec::RandomGaussianIllumination(GaussianIlluminationConfig {
                p: 1.0,
                ..Default::default()
            }),
            [4, 2, 3, 4],
        ),
        (AugSpec::RandomSnow(SnowConfig::default()), [3, 3, 4, 5]),
        (
            AugSpec::RandomPlasmaBrightness(PlasmaConfig {
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 5, 6],
        ),
        (
            AugSpec::RandomPlasmaContrast(PlasmaConfig {
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 5, 6],
        ),
        (
            AugSpec::RandomPlasmaShadow(PlasmaConfig {
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 5, 6],
        ),
        (
            AugSpec::RandomErasing(ErasingConfig {
                p: 0.5,
                ..Default::default()
            }),
            [4, 2, 5, 6],
        ),
        (
            AugSpec::RandomPerspective(PerspectiveConfig {
                p: 1.0,
                ..Default::default()
            }),
            [2, 2, 5, 6],
        ),
        (
            AugSpec::RandomSolarize(SolarizeConfig {
                p: 0.5,
                ..Default::default()
            }),
            [4, 2, 3, 4],
        ),
        (
            AugSpec::RandomSharpness(SharpnessConfig {
                p: 0.5,
                ..Default::default()
            }),
            [4, 2, 4, 5],
        ),
    ];
    for (i, (spec, shape)) in cases.iter().enumerate() {
        check_input(spec.build(&(&r / i.to_string())).unwrap().as_ref(), shape);
    }

    // The presets, with their differentiable operations (the tables also hold equalize,
    // posterize and solarize, piecewise constant; see above).
    use PolicyOp::*;
    let presets = [
        AugSpec::AutoAugment(AutoAugmentConfig {
            policy: AutoPolicy::Custom(vec![
                vec![
                    PolicyEntry(Rotate, 1.0, Some(3)),
                    PolicyEntry(Color, 0.5, Some(4)),
                ],
                vec![
                    PolicyEntry(ShearX, 0.7, Some(2)),
                    PolicyEntry(Contrast, 1.0, Some(6)),
                ],
            ]),
            // Each sample its own sub-policy: the gradient goes through the selection.
            per_sample: true,
        }),
        AugSpec::RandAugment(RandAugmentConfig {
            policy: Some(vec![
                OpRange(Brightness, 0.1, 1.9),
                OpRange(Color, 0.1, 1.9),
                OpRange(Rotate, -30.0, 30.0),
                OpRange(TranslateX, -0.1, 0.1),
                OpRange(Sharpness, 0.1, 1.9),
            ]),
            ..RandAugmentConfig::new(3, 10.0)
        }),
        AugSpec::TrivialAugment(TrivialAugmentConfig {
            policy: Some(vec![
                OpRange(ShearY, -0.3, 0.3),
                OpRange(Contrast, 0.1, 1.9),
            ]),
            ..Default::default()
        }),
    ];
    for (i, spec) in presets.iter().enumerate() {
        check_input(
            spec.build(&(&r / format!("preset{i}"))).unwrap().as_ref(),
            &[3, 3, 4, 5],
        );
    }

    // RandomEqualize and RandomPosterize are piecewise constant (a step at every bin edge),
    // so finite differences do not apply; their zero gradients, and the straight-through
    // identities, are tested in behaviour.rs.

    let seq = Sequential::new(
        &(&r / "seq"),
        &[
            AugSpec::RandomAffine(affine_cfg()),
            AugSpec::ColorJitter(JitterConfig::new(0.2, 0.3, 0.2, 0.0)),
            AugSpec::Normalize(NormalizeConfig::imagenet()),
        ],
    )
    .unwrap();
    check_input(&seq, &[2, 3, 4, 5]);
}

/// Gradcheck of every learnable variable of `aug` (its VarStore in float64).
///
/// The augmentation is built under a sub-path: tch's `VarStore::set_kind` skips variables
/// that sit directly at the root.
fn check_ranges(name: &str, vs: &VarStore, aug: &dyn Augmentation, shape: &[i64]) {
    let x = input(shape);
    let vars = vs.trainable_variables();
    assert!(!vars.is_empty(), "{name}: no learnable variables");
    for (k, v) in vs.variables() {
        assert_eq!(
            v.kind(),
            Kind::Double,
            "{name}: {k} was not converted to float64"
        );
        let f = || {
            tch::manual_seed(5);
            aug.f_forward(&x).unwrap()
        };
        let (a, n) = gradcheck_scalar(&f, &v);
        let err = (a - n).abs() / n.abs().max(1.0);
        println!("GRADCHECK {name} range {k}: analytic {a:.6e} numeric {n:.6e}");
        assert!(err < 1e-5, "{name}: d/d{k} analytic {a} vs numeric {n}");
    }
}

#[test]
fn learnable_range_gradients_match_finite_differences() {
    let _serial = common::serial();
    let mut vs = root();
    let affine = RandomAffine::new(
        &(vs.root() / "aug"),
        RandomAffineConfig {
            learnable: Learnable::All,
            ..affine_cfg()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomAffine", &vs, &affine, &[2, 3, 5, 6]);

    let mut vs = root();
    let rot = RandomRotation::new(
        &(vs.root() / "aug"),
        RandomRotationConfig {
            degrees: (-40.0, 40.0),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomRotation", &vs, &rot, &[2, 1, 5, 6]);

    let mut vs = root();
    let persp = RandomPerspective::new(
        &(vs.root() / "aug"),
        PerspectiveConfig {
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomPerspective", &vs, &persp, &[2, 3, 5, 6]);

    // The illumination's strength: the field is linear in the drawn gain.
    for corner in [false, true] {
        let mut vs = root();
        let cfg = IlluminationConfig {
            gain: (0.05, 0.3),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        };
        let aug: Box<dyn Augmentation> = if corner {
            Box::new(RandomLinearCornerIllumination::new(&(vs.root() / "aug"), cfg).unwrap())
        } else {
            Box::new(RandomLinearIllumination::new(&(vs.root() / "aug"), cfg).unwrap())
        };
        vs.set_kind(Kind::Double);
        check_ranges(aug.name(), &vs, aug.as_ref(), &[3, 2, 4, 5]);
    }

    // The Gaussian spot: its strength, centre and size (inside the domain [0, 1]: at a
    // bound the clamp makes the finite difference one-sided).
    let mut vs = root();
    let spot = RandomGaussianIllumination::new(
        &(vs.root() / "aug"),
        GaussianIlluminationConfig {
            gain: (0.1, 0.4),
            sigma: (0.2, 0.8),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomGaussianIllumination", &vs, &spot, &[3, 2, 5, 6]);

    // Snow: the brightness factor (the threshold only selects pixels: not a variable).
    let mut vs = root();
    let snow = RandomSnow::new(
        &(vs.root() / "aug"),
        SnowConfig {
            brightness: (1.2, 2.0),
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomSnow", &vs, &snow, &[3, 3, 5, 6]);

    let mut vs = root();
    let sharp = RandomSharpness::new(
        &(vs.root() / "aug"),
        SharpnessConfig {
            sharpness: (0.2, 1.5),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomSharpness", &vs, &sharp, &[2, 3, 4, 5]);

    // JPEG: the quality scales the quantisation tables (through libjpeg's formula and
    // Kornia's soft clipping and polynomial floor).
    let mut vs = root();
    let jpeg = RandomJPEG::new(
        &(vs.root() / "aug"),
        JpegConfig {
            learnable: Learnable::All,
            ..JpegConfig::new(30.0, 90.0)
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomJPEG", &vs, &jpeg, &[2, 3, 8, 8]);

    // Solarize: the additions get a true gradient; the thresholds only through the
    // straight-through option (checked in behaviour.rs), so only the additions here.
    let mut vs = root();
    let sol = RandomSolarize::new(
        &(vs.root() / "aug"),
        SolarizeConfig {
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    for (k, v) in vs.variables() {
        if !k.contains("additions") {
            continue;
        }
        let x = input(&[2, 3, 4, 5]);
        let f = || {
            tch::manual_seed(5);
            sol.f_forward(&x).unwrap()
        };
        let (a, n) = gradcheck_scalar(&f, &v);
        println!("GRADCHECK RandomSolarize range {k}: analytic {a:.6e} numeric {n:.6e}");
        assert!((a - n).abs() / n.abs().max(1.0) < 1e-5, "{k}: {a} vs {n}");
        assert!(a.abs() > 1e-3, "{k}: no gradient");
    }

    for (name, range) in [
        ("brightness", (0.6, 1.4)),
        ("contrast", (0.5, 1.5)),
        ("saturation", (0.2, 1.8)),
        ("hue", (-0.3, 0.4)),
    ] {
        let mut vs = root();
        let cfg = FactorConfig {
            learnable: Learnable::All,
            ..FactorConfig::new(range)
        };
        let path = vs.root() / "aug";
        let aug: Box<dyn Augmentation> = match name {
            "brightness" => Box::new(RandomBrightness::new(&path, cfg).unwrap()),
            "contrast" => Box::new(RandomContrast::new(&path, cfg).unwrap()),
            "saturation" => Box::new(RandomSaturation::new(&path, cfg).unwrap()),
            _ => Box::new(RandomHue::new(&path, cfg).unwrap()),
        };
        vs.set_kind(Kind::Double);
        check_ranges(aug.name(), &vs, aug.as_ref(), &[2, 3, 3, 4]);
    }
    let mut vs = root();
    let gamma = RandomGamma::new(
        &(vs.root() / "aug"),
        GammaConfig {
            gamma: (0.5, 1.5),
            gain: (0.8, 1.2),
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomGamma", &vs, &gamma, &[2, 3, 3, 4]);

    let mut vs = root();
    let blur = RandomGaussianBlur::new(
        &(vs.root() / "aug"),
        GaussianBlurConfig {
            kernel_size: (3, 5),
            sigma: (0.5, 2.0),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomGaussianBlur", &vs, &blur, &[2, 3, 4, 5]);

    let mut vs = root();
    let shear = RandomShear::new(
        &(vs.root() / "aug"),
        ShearConfig {
            shear: (-15.0, 20.0),
            shear_y: Some((-5.0, 10.0)),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomShear", &vs, &shear, &[2, 3, 4, 5]);
    let mut vs = root();
    let translate = RandomTranslate::new(
        &(vs.root() / "aug"),
        TranslateConfig {
            translate_x: Some((-0.2, 0.3)),
            translate_y: Some((-0.1, 0.1)),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomTranslate", &vs, &translate, &[2, 3, 4, 5]);

    let mut vs = root();
    let shift = RandomRGBShift::new(
        &(vs.root() / "aug"),
        RgbShiftConfig {
            r_shift_limit: (-0.1, 0.1),
            g_shift_limit: (-0.1, 0.15),
            b_shift_limit: (-0.05, 0.1),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomRGBShift", &vs, &shift, &[2, 3, 4, 5]);

    let mut vs = root();
    let motion = RandomMotionBlur::new(
        &(vs.root() / "aug"),
        MotionBlurConfig {
            kernel_size: MotionKernelSize::Fixed(5),
            angle: (-40.0, 30.0),
            direction: (-0.6, 0.7),
            resample: Resample::Bilinear,
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomMotionBlur", &vs, &motion, &[2, 3, 5, 6]);

    let mut vs = root();
    let fisheye = RandomFisheye::new(
        &(vs.root() / "aug"),
        FisheyeConfig {
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomFisheye", &vs, &fisheye, &[2, 3, 4, 5]);

    for jiggle in [false, true] {
        let mut vs = root();
        let cfg = JitterConfig {
            learnable: Learnable::All,
            ..JitterConfig::new(0.2, 0.3, 0.2, 0.3)
        };
        let aug: Box<dyn Augmentation> = if jiggle {
            Box::new(ColorJiggle::new(&(vs.root() / "aug"), cfg).unwrap())
        } else {
            Box::new(ColorJitter::new(&(vs.root() / "aug"), cfg).unwrap())
        };
        vs.set_kind(Kind::Double);
        check_ranges(aug.name(), &vs, aug.as_ref(), &[2, 3, 3, 4]);
    }
}

#[test]
fn volume_and_mix_input_gradients_match_finite_differences() {
    let _serial = common::serial();
    let vs = root();
    let r = vs.root();
    let cases: Vec<(AugSpec, Vec<i64>)> = vec![
        (
            AugSpec::RandomAffine3D(Affine3DConfig {
                degrees: [(-20.0, 20.0), (-10.0, 10.0), (-30.0, 30.0)],
                translate: Some((0.1, 0.2, 0.1)),
                scale: Some(Scale3D::PerAxis([(0.8, 1.2), (0.9, 1.1), (0.9, 1.0)])),
                shears: Some([(-5.0, 5.0); 6]),
                p: 1.0,
                ..Default::default()
            }),
            vec![2, 1, 3, 4, 5],
        ),
        (
            AugSpec::RandomRotation3D(Rotation3DConfig {
                degrees: [(-30.0, 30.0); 3],
                p: 0.5,
                ..Default::default()
            }),
            vec![3, 1, 3, 4, 4],
        ),
        (
            AugSpec::RandomPerspective3D(Perspective3DConfig {
                p: 1.0,
                ..Default::default()
            }),
            vec![2, 1, 3, 4, 4],
        ),
        (
            AugSpec::RandomDepthicalFlip3D(FlipConfig::default()),
            vec![4, 1, 3, 3, 4],
        ),
        (
            AugSpec::RandomHorizontalFlip3D(FlipConfig::default()),
            vec![4, 1, 2, 3, 4],
        ),
        (
            AugSpec::RandomVerticalFlip3D(FlipConfig::default()),
            vec![4, 1, 2, 3, 4],
        ),
        (
            AugSpec::CenterCrop3D(CenterCrop3DConfig {
                size: [2, 3, 3],
                ..Default::default()
            }),
            vec![2, 1, 3, 4, 5],
        ),
        (
            AugSpec::RandomCrop3D(RandomCrop3DConfig {
                size: [3, 3, 4],
                padding: Some([1, 0, 0, 1, 1, 0]),
                padding_mode: CropPadding::Reflect,
                ..Default::default()
            }),
            vec![2, 1, 3, 4, 4],
        ),
        (
            AugSpec::RandomMotionBlur3D(MotionBlur3DConfig {
                kernel_size: MotionKernelSize::Fixed(3),
                resample: Resample::Bilinear,
                border_type: Border::Replicate,
                p: 1.0,
                ..Default::default()
            }),
            vec![2, 1, 3, 4, 4],
        ),
        (
            AugSpec::RandomMixUp(MixUpConfig::default()),
            vec![4, 2, 3, 4],
        ),
        (
            AugSpec::RandomCutMix(CutMixConfig {
                num_mix: 2,
                ..Default::default()
            }),
            vec![4, 2, 5, 6],
        ),
    ];
    for (i, (spec, shape)) in cases.iter().enumerate() {
        check_input(spec.build(&(&r / i.to_string())).unwrap().as_ref(), shape);
    }
}

#[test]
fn volume_and_mixup_learnable_range_gradients_match_finite_differences() {
    let _serial = common::serial();
    let mut vs = root();
    let affine = RandomAffine3D::new(
        &(vs.root() / "aug"),
        Affine3DConfig {
            degrees: [(-20.0, 20.0), (-10.0, 10.0), (-30.0, 30.0)],
            translate: Some((0.1, 0.2, 0.1)),
            scale: Some(Scale3D::Isotropic((0.8, 1.2))),
            shears: Some([(-5.0, 5.0); 6]),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomAffine3D", &vs, &affine, &[2, 1, 3, 4, 5]);

    let mut vs = root();
    let rot = RandomRotation3D::new(
        &(vs.root() / "aug"),
        Rotation3DConfig {
            degrees: [(-30.0, 30.0); 3],
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomRotation3D", &vs, &rot, &[2, 1, 3, 4, 4]);

    let mut vs = root();
    let persp = RandomPerspective3D::new(
        &(vs.root() / "aug"),
        Perspective3DConfig {
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomPerspective3D", &vs, &persp, &[2, 1, 3, 4, 4]);

    let mut vs = root();
    let blur = RandomMotionBlur3D::new(
        &(vs.root() / "aug"),
        MotionBlur3DConfig {
            resample: Resample::Bilinear,
            // Inside the domain [-1, 1]: at its edge the learnable range's projection is a
            // kink, where central differences see half the one-sided slope.
            direction: (-0.8, 0.9),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomMotionBlur3D", &vs, &blur, &[2, 1, 3, 4, 4]);

    let mut vs = root();
    let mixup = RandomMixUp::new(
        &(vs.root() / "aug"),
        MixUpConfig {
            lambda_val: (0.2, 0.7),
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomMixUp", &vs, &mixup, &[4, 2, 3, 4]);
}

/// A gradient of a gradient (a backward pass with `create_graph`, as a gradient penalty
/// through augmentations takes): the fused CPU kernels' nodes (ColorJitter's,
/// RandomResizedCrop's resampling, the fast mode's colour map) refuse it with an error that
/// names the switch; with the kernels off, the gradient taken with a graph equals the
/// kernels' gradient, and ColorJitter's second derivative matches finite differences of the
/// first (the other two are linear in the image, piecewise: their second derivative is
/// zero, with no graph to check).
#[test]
fn a_gradient_of_a_gradient_names_the_switch_and_matches_with_the_kernels_off() {
    let _serial = common::serial();
    // The kernels are the CPU's: this test is the CPU's whatever the test device.
    let vs = VarStore::new(Device::Cpu);
    let jitter = || AugSpec::ColorJitter(JitterConfig::new(0.2, 0.3, 0.2, 0.3));
    // ColorJitter's node, and the fast mode's colour map (ColorJitter and Normalize fused).
    let augs: Vec<(&str, bool, Box<dyn Augmentation>)> = vec![
        (
            "ColorJitter",
            true,
            Box::new(ColorJitter::new(vs.root(), JitterConfig::new(0.2, 0.3, 0.2, 0.3)).unwrap()),
        ),
        (
            "RandomResizedCrop",
            false,
            Box::new(
                RandomResizedCrop::new(vs.root(), RandomResizedCropConfig::new((3, 4))).unwrap(),
            ),
        ),
        (
            "fast mode",
            false,
            Box::new(
                Sequential::new(
                    vs.root() / "fast",
                    SequentialConfig::fast(vec![
                        jitter(),
                        AugSpec::Normalize(NormalizeConfig::imagenet()),
                    ]),
                )
                .unwrap(),
            ),
        ),
    ];
    for (name, second, aug) in &augs {
        let x = input(&[2, 3, 3, 4]).to_device(Device::Cpu);
        tch::manual_seed(11);
        let params = aug.sample(&x.size(), Device::Cpu).unwrap();
        let w = Tensor::rand(x.size(), (Kind::Double, Device::Cpu));
        // x ↦ ∂/∂x Σ aug(x)·w, with a graph when x requires a gradient.
        let grad = |x: &Tensor| -> std::result::Result<Tensor, tch::TchError> {
            let create = x.requires_grad();
            let leaf = if create {
                x.shallow_clone()
            } else {
                x.detach().set_requires_grad(true)
            };
            let y = aug.f_apply(&leaf, &params).unwrap();
            let mut g =
                Tensor::f_run_backward(&[(y * &w).sum(Kind::Double)], &[&leaf], true, create)?;
            Ok(g.remove(0))
        };
        assert!(fused_cpu_kernels());
        let err = grad(&x.copy().set_requires_grad(true))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("kernel_path_scope(KernelPath::Composed)"),
            "{name}: {err}"
        );

        let fused = grad(&x).unwrap();

        let (first, second) = {
            let _composed = kernel_path_scope(KernelPath::Composed);
            assert!(!fused_cpu_kernels());
            let composed = grad(&x.copy().set_requires_grad(true)).unwrap();
            let first = (composed - &fused).abs().max().double_value(&[]);
            let second = second.then(|| common::gradcheck_here(&|x| grad(x).unwrap(), &x));
            (first, second)
        };
        assert!(fused_cpu_kernels());
        assert!(first < 1e-12, "{name}: the gradients differ by {first:e}");
        if let Some(err) = second {
            println!("GRADGRADCHECK {name}: {err:.2e}");
            assert!(err < TOL, "{name}: second derivative off by {err:e}");
        }
    }
}
