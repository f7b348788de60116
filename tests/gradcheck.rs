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
    Tensor::rand(shape, (Kind::Double, Device::Cpu)) * 0.8 + 0.1
}

/// Input gradcheck of `aug` with params drawn once (seeded) and replayed.
fn check_input(aug: &dyn Augmentation, shape: &[i64]) {
    let x = input(shape);
    tch::manual_seed(11);
    let params = aug.sample(&x.size(), Device::Cpu).unwrap();
    let err = gradcheck(&|x| aug.f_apply(x, &params).unwrap(), &x);
    println!("GRADCHECK {} input: {err:.2e}", aug.name());
    assert!(err < TOL, "{}: input gradient off by {err:e}", aug.name());
}

fn root() -> VarStore {
    VarStore::new(Device::Cpu)
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
    check_input(&RandomAffine::new(&r, affine_cfg()).unwrap(), &[2, 3, 5, 6]);
    check_input(
        &RandomAffine::new(
            &r,
            RandomAffineConfig {
                padding_mode: Padding::Fill,
                fill_value: Some(vec![0.3]),
                ..affine_cfg()
            },
        )
        .unwrap(),
        &[1, 2, 5, 4],
    );
    check_input(
        &RandomRotation::new(
            &r,
            RandomRotationConfig {
                degrees: (-40.0, 40.0),
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 1, 5, 6],
    );
    check_input(
        &RandomHorizontalFlip::new(
            &r,
            FlipConfig {
                p: 0.5,
                ..Default::default()
            },
        )
        .unwrap(),
        &[3, 1, 3, 4],
    );
    check_input(
        &RandomVerticalFlip::new(
            &r,
            FlipConfig {
                p: 0.5,
                ..Default::default()
            },
        )
        .unwrap(),
        &[3, 1, 3, 4],
    );
    check_input(
        &RandomCrop::new(
            &r,
            RandomCropConfig {
                size: (3, 4),
                padding: Some(vec![1]),
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 1, 4, 5],
    );
    check_input(
        &CenterCrop::new(
            &r,
            CenterCropConfig {
                size: (3, 3),
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 1, 5, 4],
    );
    check_input(
        &RandomResizedCrop::new(
            &r,
            RandomResizedCropConfig {
                size: (4, 5),
                scale: (0.3, 1.0),
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 1, 6, 7],
    );
    check_input(
        &ColorJitter::new(&r, JitterConfig::new(0.2, 0.3, 0.2, 0.3)).unwrap(),
        &[2, 3, 3, 4],
    );
    check_input(
        &ColorJiggle::new(&r, JitterConfig::new(0.2, 0.3, 0.2, 0.3)).unwrap(),
        &[2, 3, 3, 4],
    );
    check_input(
        &Normalize::new(&r, NormalizeConfig::imagenet()).unwrap(),
        &[2, 3, 2, 3],
    );
    check_input(
        &Denormalize::new(&r, NormalizeConfig::imagenet()).unwrap(),
        &[2, 3, 2, 3],
    );
    check_input(
        &RandomGrayscale::new(
            &r,
            RandomGrayscaleConfig {
                p: 0.5,
                ..Default::default()
            },
        )
        .unwrap(),
        &[4, 3, 2, 3],
    );
    check_input(
        &RandomBrightness::new(&r, FactorConfig::new((0.6, 1.4))).unwrap(),
        &[2, 3, 3, 4],
    );
    check_input(
        &RandomContrast::new(&r, FactorConfig::new((0.5, 1.5))).unwrap(),
        &[2, 3, 3, 4],
    );
    check_input(
        &RandomSaturation::new(&r, FactorConfig::new((0.2, 1.8))).unwrap(),
        &[2, 3, 3, 4],
    );
    check_input(
        &RandomHue::new(&r, FactorConfig::new((-0.3, 0.4))).unwrap(),
        &[2, 3, 3, 4],
    );
    check_input(
        &RandomGamma::new(
            &r,
            GammaConfig {
                gamma: (0.5, 1.5),
                gain: (0.8, 1.2),
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 3, 3, 4],
    );
    check_input(
        &RandomInvert::new(&r, InvertConfig::default()).unwrap(),
        &[4, 3, 3, 4],
    );
    check_input(
        &RandomGaussianBlur::new(
            &r,
            GaussianBlurConfig {
                kernel_size: (3, 5),
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &RandomBoxBlur::new(
            &r,
            BoxBlurConfig {
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &RandomChannelShuffle::new(&r, ChannelShuffleConfig::default()).unwrap(),
        &[4, 3, 3, 4],
    );
    check_input(
        &RandomGaussianNoise::new(&r, GaussianNoiseConfig::default()).unwrap(),
        &[4, 3, 3, 4],
    );
    check_input(
        &RandomAutoContrast::new(&r, AutoContrastConfig::default()).unwrap(),
        &[2, 3, 3, 4],
    );
    check_input(
        &RandomShear::new(
            &r,
            ShearConfig {
                shear: (-15.0, 20.0),
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &RandomTranslate::new(
            &r,
            TranslateConfig {
                translate_x: Some((-0.2, 0.3)),
                translate_y: Some((-0.1, 0.1)),
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &RandomRotation90::new(
            &r,
            Rotation90Config {
                times: (-3.0, 3.0),
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &RandomChannelDropout::new(
            &r,
            ChannelDropoutConfig {
                num_drop_channels: 2,
                ..Default::default()
            },
        )
        .unwrap(),
        &[4, 3, 3, 4],
    );
    check_input(
        &RandomRGBShift::new(&r, RgbShiftConfig::default()).unwrap(),
        &[4, 3, 3, 4],
    );
    check_input(
        &RandomSaltAndPepperNoise::new(&r, SaltAndPepperConfig::default()).unwrap(),
        &[4, 3, 5, 6],
    );
    check_input(
        &RandomMedianBlur::new(
            &r,
            MedianBlurConfig {
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &Resize::new(
            &r,
            ResizeConfig {
                size: ResizeTo::Size(3, 6),
                antialias: true,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 5, 4],
    );
    check_input(
        &PadTo::new(
            &r,
            PadToConfig {
                size: (6, 3),
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &RandomMotionBlur::new(
            &r,
            MotionBlurConfig {
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &RandomFisheye::new(
            &r,
            FisheyeConfig {
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &RandomElasticTransform::new(
            &r,
            ElasticConfig {
                kernel_size: (3, 5),
                sigma: (1.0, 2.0),
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &RandomThinPlateSpline::new(
            &r,
            ThinPlateSplineConfig {
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 4, 5],
    );
    check_input(
        &RandomPlanckianJitter::new(&r, PlanckianConfig::default()).unwrap(),
        &[4, 3, 3, 4],
    );
    // RandomEqualize and RandomPosterize are piecewise constant (a step at every bin edge),
    // so finite differences do not apply; their zero gradients, and the straight-through
    // identities, are tested in behaviour.rs.
    check_input(
        &RandomErasing::new(
            &r,
            ErasingConfig {
                p: 0.5,
                ..Default::default()
            },
        )
        .unwrap(),
        &[4, 2, 5, 6],
    );
    check_input(
        &RandomPerspective::new(
            &r,
            PerspectiveConfig {
                p: 1.0,
                ..Default::default()
            },
        )
        .unwrap(),
        &[2, 2, 5, 6],
    );
    check_input(
        &RandomSolarize::new(
            &r,
            SolarizeConfig {
                p: 0.5,
                ..Default::default()
            },
        )
        .unwrap(),
        &[4, 2, 3, 4],
    );
    check_input(
        &RandomSharpness::new(
            &r,
            SharpnessConfig {
                p: 0.5,
                ..Default::default()
            },
        )
        .unwrap(),
        &[4, 2, 4, 5],
    );
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
            learnable: true,
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
            learnable: true,
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
            learnable: true,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomPerspective", &vs, &persp, &[2, 3, 5, 6]);

    let mut vs = root();
    let sharp = RandomSharpness::new(
        &(vs.root() / "aug"),
        SharpnessConfig {
            sharpness: (0.2, 1.5),
            p: 1.0,
            learnable: true,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomSharpness", &vs, &sharp, &[2, 3, 4, 5]);

    // Solarize: the additions get a true gradient; the thresholds only through the
    // straight-through option (checked in behaviour.rs), so only the additions here.
    let mut vs = root();
    let sol = RandomSolarize::new(
        &(vs.root() / "aug"),
        SolarizeConfig {
            p: 1.0,
            learnable: true,
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
            learnable: true,
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
            learnable: true,
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
            learnable: true,
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
            learnable: true,
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
            learnable: true,
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
            learnable: true,
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
            learnable: true,
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
            learnable: true,
            ..Default::default()
        },
    )
    .unwrap();
    vs.set_kind(Kind::Double);
    check_ranges("RandomFisheye", &vs, &fisheye, &[2, 3, 4, 5]);

    for jiggle in [false, true] {
        let mut vs = root();
        let cfg = JitterConfig {
            learnable: true,
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
