//! Kornia 0.9 parity: replay Kornia's params through our `apply`; output and input
//! gradient must agree within 1e-5 (float32) unless a case states a larger bound and why.
//! Also: a draw after the same seed equals Kornia's draw bit for bit (CPU).

mod common;
use common::{assert_parity, assert_same_draw};
use tch::nn::VarStore;
use tch::Device;
use tch_dda::*;

const TOL: f64 = 1e-5;

fn vs() -> VarStore {
    VarStore::new(common::device())
}

fn affine(cfg: RandomAffineConfig) -> RandomAffine {
    RandomAffine::new(vs().root(), cfg).unwrap()
}

fn affine_basic() -> RandomAffine {
    affine(RandomAffineConfig {
        degrees: (-30.0, 30.0),
        translate: Some((0.1, 0.2)),
        scale: Some((0.8, 1.2)),
        shear: Some((-10.0, 10.0)),
        p: 1.0,
        ..Default::default()
    })
}

fn affine_full() -> RandomAffine {
    affine(RandomAffineConfig {
        degrees: (-20.0, 40.0),
        translate: Some((0.2, 0.1)),
        scale: Some((0.7, 1.3)),
        scale_y: Some((0.9, 1.1)),
        shear: Some((-10.0, 10.0)),
        shear_y: Some((-5.0, 5.0)),
        p: 1.0,
        ..Default::default()
    })
}

fn affine_gate() -> RandomAffine {
    affine(RandomAffineConfig {
        degrees: (-30.0, 30.0),
        translate: Some((0.1, 0.1)),
        p: 0.5,
        ..Default::default()
    })
}

#[test]
fn affine_parity() {
    let _serial = common::serial();
    assert_parity(&affine_basic(), "affine_basic", TOL);
    assert_parity(&affine_basic(), "affine_basic_f64", 1e-12);
    assert_parity(&affine_full(), "affine_full", TOL);
    assert_parity(
        &affine(RandomAffineConfig {
            degrees: (-25.0, 25.0),
            translate: Some((0.1, 0.1)),
            scale: Some((0.9, 1.1)),
            resample: Resample::Nearest,
            padding_mode: Padding::Border,
            p: 1.0,
            ..Default::default()
        }),
        "affine_nearest_border",
        TOL,
    );
    assert_parity(
        &affine(RandomAffineConfig {
            degrees: (-35.0, 35.0),
            scale: Some((0.8, 1.0)),
            padding_mode: Padding::Reflection,
            align_corners: true,
            p: 1.0,
            ..Default::default()
        }),
        "affine_reflection_aligned",
        TOL,
    );
    assert_parity(
        &affine(RandomAffineConfig {
            degrees: (-30.0, 30.0),
            translate: Some((0.2, 0.2)),
            padding_mode: Padding::Fill,
            fill_value: Some(vec![0.2, 0.5, 0.9]),
            p: 1.0,
            ..Default::default()
        }),
        "affine_fill",
        TOL,
    );
    assert_parity(&affine_gate(), "affine_gate", TOL);
}

#[test]
fn affine_same_draw_as_kornia() {
    let _serial = common::serial();
    assert_same_draw(&affine_basic(), "affine_basic");
    assert_same_draw(&affine_full(), "affine_full");
    assert_same_draw(&affine_gate(), "affine_gate");
    assert_same_draw(&affine_basic(), "affine_basic_f64");
}

fn rotation(cfg: RandomRotationConfig) -> RandomRotation {
    RandomRotation::new(vs().root(), cfg).unwrap()
}

#[test]
fn rotation_parity_and_draw() {
    let _serial = common::serial();
    let basic = rotation(RandomRotationConfig {
        degrees: (-45.0, 45.0),
        p: 1.0,
        ..Default::default()
    });
    assert_parity(&basic, "rotation_basic", TOL);
    assert_same_draw(&basic, "rotation_basic");
    let nearest = rotation(RandomRotationConfig {
        degrees: (-10.0, 60.0),
        resample: Resample::Nearest,
        align_corners: false,
        p: 1.0,
        ..Default::default()
    });
    assert_parity(&nearest, "rotation_nearest_unaligned", TOL);
}

#[test]
fn flip_parity_and_draw() {
    let _serial = common::serial();
    let h = RandomHorizontalFlip::new(vs().root(), FlipConfig::default()).unwrap();
    assert_parity(&h, "hflip", 0.0);
    assert_same_draw(&h, "hflip");
    let v = RandomVerticalFlip::new(vs().root(), FlipConfig::default()).unwrap();
    assert_parity(&v, "vflip", 0.0);
    assert_same_draw(&v, "vflip");
}

fn crop(cfg: RandomCropConfig) -> RandomCrop {
    RandomCrop::new(vs().root(), cfg).unwrap()
}

#[test]
fn crop_parity_and_draw() {
    let _serial = common::serial();
    let basic = crop(RandomCropConfig {
        size: (3, 4),
        ..Default::default()
    });
    // Slicing copies values: exact.
    assert_parity(&basic, "crop_basic", 0.0);
    assert_same_draw(&basic, "crop_basic");
    assert_parity(
        &crop(RandomCropConfig {
            size: (6, 8),
            pad_if_needed: true,
            fill: vec![0.3],
            ..Default::default()
        }),
        "crop_pad_if_needed",
        0.0,
    );
    assert_parity(
        &crop(RandomCropConfig {
            size: (5, 6),
            padding: Some(vec![1, 2]),
            padding_mode: CropPadding::Reflect,
            ..Default::default()
        }),
        "crop_padding_reflect",
        0.0,
    );
    assert_parity(
        &crop(RandomCropConfig {
            size: (4, 4),
            padding: Some(vec![1]),
            padding_mode: CropPadding::Replicate,
            ..Default::default()
        }),
        "crop_padding_edge",
        0.0,
    );
    assert_parity(
        &crop(RandomCropConfig {
            size: (3, 4),
            cropping_mode: CroppingMode::Resample,
            ..Default::default()
        }),
        "crop_resample",
        TOL,
    );
}

#[test]
fn center_crop_parity() {
    let _serial = common::serial();
    let c = |cfg| CenterCrop::new(vs().root(), cfg).unwrap();
    assert_parity(
        &c(CenterCropConfig {
            size: (3, 4),
            ..Default::default()
        }),
        "center_crop",
        0.0,
    );
    assert_parity(
        &c(CenterCropConfig {
            size: (4, 4),
            ..Default::default()
        }),
        "center_crop_odd",
        0.0,
    );
    assert_parity(
        &c(CenterCropConfig {
            size: (3, 5),
            cropping_mode: CroppingMode::Resample,
            align_corners: false,
            ..Default::default()
        }),
        "center_crop_resample",
        TOL,
    );
}

#[test]
fn resized_crop_parity_and_draw() {
    let _serial = common::serial();
    let r = |cfg| RandomResizedCrop::new(vs().root(), cfg).unwrap();
    let basic = r(RandomResizedCropConfig {
        size: (4, 6),
        scale: (0.3, 1.0),
        ratio: (0.75, 1.333),
        ..Default::default()
    });
    assert_parity(&basic, "resized_crop", TOL);
    assert_same_draw(&basic, "resized_crop");
    assert_parity(
        &r(RandomResizedCropConfig {
            size: (5, 4),
            cropping_mode: CroppingMode::Resample,
            ..Default::default()
        }),
        "resized_crop_resample",
        TOL,
    );
    assert_parity(
        &r(RandomResizedCropConfig {
            size: (4, 4),
            resample: Resample::Nearest,
            ..Default::default()
        }),
        "resized_crop_nearest",
        TOL,
    );
}

fn jit_cfg() -> JitterConfig {
    JitterConfig::new(0.2, 0.3, 0.2, 0.3)
}

fn ranges_cfg() -> JitterConfig {
    JitterConfig {
        brightness: (0.5, 1.5),
        contrast: (0.6, 1.4),
        saturation: (0.0, 2.0),
        hue: (-0.5, 0.5),
        ..Default::default()
    }
}

#[test]
fn color_jitter_parity_and_draw() {
    let _serial = common::serial();
    let j = |cfg| ColorJitter::new(vs().root(), cfg).unwrap();
    assert_parity(&j(jit_cfg()), "color_jitter", TOL);
    assert_same_draw(&j(jit_cfg()), "color_jitter");
    assert_parity(&j(jit_cfg()), "color_jitter_f64", 1e-12);
    assert_same_draw(&j(jit_cfg()), "color_jitter_f64");
    assert_parity(&j(ranges_cfg()), "color_jitter_ranges", TOL);
    assert_parity(
        &j(JitterConfig::new(0.4, 0.0, 0.0, 0.0)),
        "color_jitter_brightness",
        TOL,
    );
}

#[test]
fn color_jiggle_parity_and_draw() {
    let _serial = common::serial();
    let j = |cfg| ColorJiggle::new(vs().root(), cfg).unwrap();
    assert_parity(&j(jit_cfg()), "color_jiggle", TOL);
    assert_same_draw(&j(jit_cfg()), "color_jiggle");
    assert_parity(&j(ranges_cfg()), "color_jiggle_ranges", TOL);
}

#[test]
fn normalize_parity() {
    let _serial = common::serial();
    let n = Normalize::new(vs().root(), NormalizeConfig::imagenet()).unwrap();
    assert_parity(&n, "normalize", TOL);
    let s = Normalize::new(
        vs().root(),
        NormalizeConfig {
            mean: vec![0.5],
            std: vec![0.25],
            p: 1.0,
        },
    )
    .unwrap();
    assert_parity(&s, "normalize_scalar", TOL);
    let d = Denormalize::new(vs().root(), NormalizeConfig::imagenet()).unwrap();
    assert_parity(&d, "denormalize", TOL);
}

#[test]
fn grayscale_parity_and_draw() {
    let _serial = common::serial();
    let g = |cfg| RandomGrayscale::new(vs().root(), cfg).unwrap();
    assert_parity(
        &g(RandomGrayscaleConfig {
            p: 1.0,
            ..Default::default()
        }),
        "grayscale",
        TOL,
    );
    let w = g(RandomGrayscaleConfig {
        rgb_weights: Some(vec![0.2, 0.3, 0.5]),
        p: 0.5,
        ..Default::default()
    });
    assert_parity(&w, "grayscale_weights", TOL);
    assert_same_draw(&w, "grayscale_weights");
}

#[test]
fn sequential_parity() {
    let _serial = common::serial();
    let specs = [
        AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-30.0, 30.0),
            translate: Some((0.1, 0.1)),
            scale: Some((0.9, 1.1)),
            shear: Some((-10.0, 10.0)),
            p: 1.0,
            ..Default::default()
        }),
        AugSpec::ColorJitter(jit_cfg()),
        AugSpec::Normalize(NormalizeConfig::imagenet()),
    ];
    let seq = Sequential::new(vs().root(), &specs).unwrap();
    assert_parity(&seq, "sequential", TOL);
}

/// Containers that draw which children apply (Kornia's `random_apply`), mixing steps
/// included: the selection, the mixing step's insertion and every child's params come out
/// of the same seed as Kornia's, and replaying them gives Kornia's output.
#[test]
fn random_apply_parity_and_draw() {
    let _serial = common::serial();
    let flip = |p: f64, v: bool| {
        let c = FlipConfig {
            p,
            ..Default::default()
        };
        if v {
            AugSpec::RandomVerticalFlip(c)
        } else {
            AugSpec::RandomHorizontalFlip(c)
        }
    };
    let cases = [
        (
            "sequential_random_apply_mix",
            SequentialConfig {
                random_apply: RandomApply::Between(1, 3),
                ..SequentialConfig::new(vec![
                    flip(1.0, false),
                    AugSpec::RandomMixUp(MixUpConfig {
                        p: 1.0,
                        ..Default::default()
                    }),
                    AugSpec::RandomAffine(RandomAffineConfig {
                        degrees: (-20.0, 20.0),
                        p: 1.0,
                        ..Default::default()
                    }),
                    flip(1.0, true),
                ])
            },
        ),
        (
            "sequential_random_apply_all",
            SequentialConfig {
                random_apply: RandomApply::All,
                ..SequentialConfig::new(vec![
                    flip(0.5, false),
                    AugSpec::RandomCutMix(CutMixConfig {
                        p: 1.0,
                        ..Default::default()
                    }),
                    AugSpec::RandomRotation(RandomRotationConfig {
                        degrees: (-30.0, 30.0),
                        p: 1.0,
                        ..Default::default()
                    }),
                ])
            },
        ),
    ];
    for (name, cfg) in cases {
        let seq = Sequential::new(vs().root(), cfg).unwrap();
        let fx = common::fixture(name);
        let p = common::params_with_selection(&fx);
        let (o, g) = common::parity_with(&seq, &fx, &p);
        println!("PARITY {name}: output {o:.3e}, grad {g:.3e}");
        assert!(o <= TOL && g <= TOL, "{name}: {o:e} / {g:e}");
        // The same seed: the same selection, then the same params.
        if !common::draws_on_cpu() {
            continue;
        }
        tch::manual_seed(1000 + fx.seed());
        let ours = seq.sample(&fx.get("input").size(), Device::Cpu).unwrap();
        assert!(ours
            .get("selection")
            .unwrap()
            .equal(p.get("selection").unwrap()));
        for (k, v) in fx.seed_params().iter() {
            let d = common::max_abs_diff(ours.get(k).unwrap(), v);
            assert!(d == 0.0, "{name}: {k} differs from Kornia's draw by {d:e}");
        }
    }
}

#[test]
fn solarize_parity_and_draw() {
    let _serial = common::serial();
    let s = |cfg| RandomSolarize::new(vs().root(), cfg).unwrap();
    let basic = s(SolarizeConfig {
        p: 1.0,
        ..Default::default()
    });
    assert_parity(&basic, "solarize", TOL);
    assert_same_draw(&basic, "solarize");
    let gated = s(SolarizeConfig {
        thresholds: (0.2, 0.7),
        additions: (-0.3, 0.2),
        p: 0.5,
        ..Default::default()
    });
    assert_parity(&gated, "solarize_ranges_gate", TOL);
    assert_same_draw(&gated, "solarize_ranges_gate");
}

#[test]
fn sharpness_parity_and_draw() {
    let _serial = common::serial();
    let s = |cfg| RandomSharpness::new(vs().root(), cfg).unwrap();
    let basic = s(SharpnessConfig {
        p: 1.0,
        ..Default::default()
    });
    assert_parity(&basic, "sharpness", TOL);
    assert_same_draw(&basic, "sharpness");
    assert_parity(
        &s(SharpnessConfig {
            sharpness: (0.2, 1.5),
            p: 1.0,
            ..Default::default()
        }),
        "sharpness_range",
        TOL,
    );
}

#[test]
fn perspective_parity_and_draw() {
    let _serial = common::serial();
    let p = |cfg| RandomPerspective::new(vs().root(), cfg).unwrap();
    let basic = p(PerspectiveConfig {
        p: 1.0,
        ..Default::default()
    });
    assert_parity(&basic, "perspective", TOL);
    assert_same_draw(&basic, "perspective");
    assert_parity(
        &p(PerspectiveConfig {
            distortion_scale: 0.3,
            resample: Resample::Nearest,
            align_corners: true,
            p: 1.0,
            ..Default::default()
        }),
        "perspective_nearest_aligned",
        TOL,
    );
    let area = p(PerspectiveConfig {
        distortion_scale: 0.4,
        sampling_method: PerspectiveSampling::AreaPreserving,
        p: 0.5,
        ..Default::default()
    });
    assert_parity(&area, "perspective_area_gate", TOL);
    assert_same_draw(&area, "perspective_area_gate");
}

#[test]
fn erasing_parity_and_draw() {
    let _serial = common::serial();
    let e = |cfg| RandomErasing::new(vs().root(), cfg).unwrap();
    let basic = e(ErasingConfig {
        p: 1.0,
        ..Default::default()
    });
    // Filling copies values: exact.
    assert_parity(&basic, "erasing", 0.0);
    assert_same_draw(&basic, "erasing");
    let other = e(ErasingConfig {
        scale: (0.1, 0.4),
        ratio: (1.2, 2.5),
        value: 0.7,
        p: 0.5,
        ..Default::default()
    });
    assert_parity(&other, "erasing_ratio_gate", 0.0);
    assert_same_draw(&other, "erasing_ratio_gate");
}

#[test]
fn equalize_parity_and_draw() {
    let _serial = common::serial();
    let e = |cfg| RandomEqualize::new(vs().root(), cfg).unwrap();
    // Kornia's gradient is zero wherever equalization applies (piecewise constant): the
    // fixture's zero gradient is compared like any other.
    assert_parity(
        &e(EqualizeConfig {
            p: 1.0,
            ..Default::default()
        }),
        "equalize",
        0.0,
    );
    let gated = e(EqualizeConfig::default());
    assert_parity(&gated, "equalize_gate", 0.0);
    assert_same_draw(&gated, "equalize_gate");
}

#[test]
fn one_factor_colour_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let b = RandomBrightness::new(r.root(), FactorConfig::new((0.6, 1.4))).unwrap();
    assert_parity(&b, "brightness", TOL);
    assert_same_draw(&b, "brightness");
    let b = RandomBrightness::new(
        r.root(),
        FactorConfig {
            clip_output: false,
            ..FactorConfig::new((0.5, 1.8))
        },
    );
    assert_parity(&b.unwrap(), "brightness_noclip", TOL);
    let c = RandomContrast::new(r.root(), FactorConfig::new((0.5, 1.5))).unwrap();
    assert_parity(&c, "contrast", TOL);
    assert_same_draw(&c, "contrast");
    let c = RandomContrast::new(
        r.root(),
        FactorConfig {
            clip_output: false,
            p: 0.5,
            ..FactorConfig::new((0.5, 2.5))
        },
    )
    .unwrap();
    assert_parity(&c, "contrast_noclip", TOL);
    assert_same_draw(&c, "contrast_noclip");
    let s = RandomSaturation::new(r.root(), FactorConfig::new((0.2, 1.8))).unwrap();
    assert_parity(&s, "saturation", TOL);
    assert_same_draw(&s, "saturation");
    let h = RandomHue::new(r.root(), FactorConfig::new((-0.3, 0.4))).unwrap();
    assert_parity(&h, "hue", TOL);
    assert_same_draw(&h, "hue");
    let g = RandomGamma::new(
        r.root(),
        GammaConfig {
            gamma: (0.5, 1.5),
            gain: (0.8, 1.2),
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&g, "gamma", TOL);
    assert_same_draw(&g, "gamma");
    let i = RandomInvert::new(r.root(), InvertConfig::default()).unwrap();
    assert_parity(&i, "invert", 0.0);
    assert_same_draw(&i, "invert");
}

#[test]
fn blur_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let g = RandomGaussianBlur::new(
        r.root(),
        GaussianBlurConfig {
            kernel_size: (3, 5),
            sigma: (0.5, 2.0),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&g, "gaussian_blur", TOL);
    assert_same_draw(&g, "gaussian_blur");
    let g = RandomGaussianBlur::new(
        r.root(),
        GaussianBlurConfig {
            kernel_size: (5, 5),
            sigma: (0.3, 1.5),
            border_type: Border::Replicate,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&g, "gaussian_blur_replicate_gate", TOL);
    assert_same_draw(&g, "gaussian_blur_replicate_gate");
    let b = RandomBoxBlur::new(
        r.root(),
        BoxBlurConfig {
            kernel_size: (3, 5),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&b, "box_blur", TOL);
    let b = RandomBoxBlur::new(
        r.root(),
        BoxBlurConfig {
            kernel_size: (4, 2),
            border_type: Border::Constant,
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&b, "box_blur_even_constant", TOL);
}

#[test]
fn pixel_ops_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let s = RandomChannelShuffle::new(
        r.root(),
        ChannelShuffleConfig {
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&s, "channel_shuffle", 0.0);
    assert_same_draw(&s, "channel_shuffle");
    let s = RandomChannelShuffle::new(r.root(), ChannelShuffleConfig::default()).unwrap();
    assert_parity(&s, "channel_shuffle_gate", 0.0);
    assert_same_draw(&s, "channel_shuffle_gate");
    let n = RandomGaussianNoise::new(
        r.root(),
        GaussianNoiseConfig {
            mean: 0.1,
            std: 0.2,
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&n, "gaussian_noise", 0.0);
    assert_same_draw(&n, "gaussian_noise");
    let p = RandomPosterize::new(
        r.root(),
        PosterizeConfig {
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    // Piecewise constant: Kornia's gradient is zero (identity where 8 bits are kept).
    assert_parity(&p, "posterize", 0.0);
    assert_same_draw(&p, "posterize");
    let p = RandomPosterize::new(
        r.root(),
        PosterizeConfig {
            bits: (0.0, 8.0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&p, "posterize_range_gate", 0.0);
    assert_same_draw(&p, "posterize_range_gate");
    let a = RandomAutoContrast::new(r.root(), AutoContrastConfig::default()).unwrap();
    assert_parity(&a, "auto_contrast", TOL);
    let a = RandomAutoContrast::new(
        r.root(),
        AutoContrastConfig {
            clip_output: false,
            p: 0.5,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&a, "auto_contrast_noclip", TOL);
    assert_same_draw(&a, "auto_contrast_noclip");
}

#[test]
fn shear_translate_rotation90_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let s = RandomShear::new(
        r.root(),
        ShearConfig {
            shear: (-15.0, 20.0),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&s, "shear", TOL);
    assert_same_draw(&s, "shear");
    let s = RandomShear::new(
        r.root(),
        ShearConfig {
            shear: (-10.0, 10.0),
            shear_y: Some((-5.0, 15.0)),
            padding_mode: Padding::Border,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&s, "shear_xy_border", TOL);
    assert_same_draw(&s, "shear_xy_border");
    let t = RandomTranslate::new(
        r.root(),
        TranslateConfig {
            translate_x: Some((-0.2, 0.3)),
            translate_y: Some((-0.1, 0.1)),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&t, "translate", TOL);
    assert_same_draw(&t, "translate");
    let t = RandomTranslate::new(
        r.root(),
        TranslateConfig {
            translate_y: Some((-0.3, 0.3)),
            resample: Resample::Nearest,
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&t, "translate_y_only", TOL);
    assert_same_draw(&t, "translate_y_only");
    let q = RandomRotation90::new(
        r.root(),
        Rotation90Config {
            times: (-3.0, 3.0),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&q, "rotation90", TOL);
    assert_same_draw(&q, "rotation90");
    let q = RandomRotation90::new(
        r.root(),
        Rotation90Config {
            times: (1.0, 2.0),
            p: 1.0,
            align_corners: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&q, "rotation90_nonsquare", TOL);
    assert_same_draw(&q, "rotation90_nonsquare");
}

#[test]
fn channel_ops_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let d = RandomChannelDropout::new(
        r.root(),
        ChannelDropoutConfig {
            num_drop_channels: 2,
            fill_value: 0.3,
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&d, "channel_dropout", 0.0);
    assert_same_draw(&d, "channel_dropout");
    let s = RandomRGBShift::new(
        r.root(),
        RgbShiftConfig {
            r_shift_limit: (-0.2, 0.2),
            g_shift_limit: (-0.1, 0.3),
            b_shift_limit: (-0.4, 0.4),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&s, "rgb_shift", TOL);
    assert_same_draw(&s, "rgb_shift");
    let n = RandomSaltAndPepperNoise::new(
        r.root(),
        SaltAndPepperConfig {
            amount: (0.1, 0.3),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&n, "salt_pepper", 0.0);
    assert_same_draw(&n, "salt_pepper");
    let n = RandomSaltAndPepperNoise::new(r.root(), SaltAndPepperConfig::default()).unwrap();
    assert_parity(&n, "salt_pepper_gray_gate", 0.0);
    assert_same_draw(&n, "salt_pepper_gray_gate");
    let m = RandomMedianBlur::new(
        r.root(),
        MedianBlurConfig {
            kernel_size: (3, 5),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    // The output picks input values (exact); the gradient sums over overlapping windows and
    // the reflect pad, in another order than Kornia's.
    assert_parity(&m, "median_blur", TOL);
}

#[test]
fn resize_and_pad_parity() {
    let _serial = common::serial();
    let r = vs();
    let rs = |cfg: ResizeConfig| Resize::new(r.root(), cfg).unwrap();
    assert_parity(
        &rs(ResizeConfig {
            size: ResizeTo::Size(5, 9),
            ..Default::default()
        }),
        "resize",
        TOL,
    );
    assert_parity(
        &rs(ResizeConfig {
            size: ResizeTo::Side(4, Side::Long),
            align_corners: false,
            ..Default::default()
        }),
        "resize_side_unaligned",
        TOL,
    );
    assert_parity(
        &rs(ResizeConfig {
            size: ResizeTo::Size(3, 4),
            resample: Resample::Nearest,
            antialias: true,
            ..Default::default()
        }),
        "resize_nearest_antialias",
        TOL,
    );
    assert_parity(
        &rs(ResizeConfig {
            size: ResizeTo::Size(4, 5),
            resample: Resample::Bicubic,
            antialias: true,
            ..Default::default()
        }),
        "resize_bicubic_antialias",
        TOL,
    );
    let l = Resize::longest_max_size(&r.root(), 5, Resample::Bilinear, true).unwrap();
    assert_parity(&l, "longest_max_size", TOL);
    let s = Resize::smallest_max_size(&r.root(), 5, Resample::Bilinear, true).unwrap();
    assert_parity(&s, "smallest_max_size", TOL);
    let p = PadTo::new(
        r.root(),
        PadToConfig {
            size: (7, 9),
            pad_value: 0.4,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&p, "pad_to", 0.0);
    let p = PadTo::new(
        r.root(),
        PadToConfig {
            size: (6, 4),
            pad_mode: PadMode::Reflect,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&p, "pad_to_reflect_crop", 0.0);
}

#[test]
fn motion_blur_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let m = RandomMotionBlur::new(
        r.root(),
        MotionBlurConfig {
            kernel_size: MotionKernelSize::Fixed(5),
            angle: (-35.0, 35.0),
            direction: (-0.5, 0.5),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&m, "motion_blur", TOL);
    assert_same_draw(&m, "motion_blur");
    let m = RandomMotionBlur::new(
        r.root(),
        MotionBlurConfig {
            kernel_size: MotionKernelSize::Range(3, 7),
            angle: (-90.0, 90.0),
            direction: (-1.0, 1.0),
            resample: Resample::Bilinear,
            border_type: Border::Reflect,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&m, "motion_blur_range_bilinear_reflect", TOL);
    assert_same_draw(&m, "motion_blur_range_bilinear_reflect");
}

#[test]
fn fisheye_and_elastic_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let f = RandomFisheye::new(
        r.root(),
        FisheyeConfig {
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&f, "fisheye", TOL);
    assert_same_draw(&f, "fisheye");
    let e = RandomElasticTransform::new(
        r.root(),
        ElasticConfig {
            kernel_size: (5, 7),
            sigma: (2.0, 3.0),
            alpha: (0.5, 0.8),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&e, "elastic", TOL);
    assert_same_draw(&e, "elastic");
    let e = RandomElasticTransform::new(
        r.root(),
        ElasticConfig {
            kernel_size: (3, 3),
            sigma: (1.0, 1.0),
            alpha: (1.0, 1.0),
            align_corners: true,
            padding_mode: Padding::Border,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&e, "elastic_aligned_border_gate", TOL);
    assert_same_draw(&e, "elastic_aligned_border_gate");
}

#[test]
fn thin_plate_spline_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let t = RandomThinPlateSpline::new(
        r.root(),
        ThinPlateSplineConfig {
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&t, "thin_plate_spline", TOL);
    assert_same_draw(&t, "thin_plate_spline");
    let t = RandomThinPlateSpline::new(
        r.root(),
        ThinPlateSplineConfig {
            scale: 0.3,
            align_corners: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&t, "thin_plate_spline_aligned_gate", TOL);
    assert_same_draw(&t, "thin_plate_spline_aligned_gate");
}

#[test]
fn planckian_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let p = RandomPlanckianJitter::new(
        r.root(),
        PlanckianConfig {
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&p, "planckian", TOL);
    assert_same_draw(&p, "planckian");
    let p = RandomPlanckianJitter::new(
        r.root(),
        PlanckianConfig {
            mode: PlanckianMode::Cied,
            select_from: Some(vec![1, 5, 10]),
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&p, "planckian_cied_select_gate", TOL);
    assert_same_draw(&p, "planckian_cied_select_gate");
}

#[test]
fn linear_illumination_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let edge = |cfg| RandomLinearIllumination::new(r.root(), cfg).unwrap();
    let corner = |cfg| RandomLinearCornerIllumination::new(r.root(), cfg).unwrap();
    let all = IlluminationConfig {
        p: 1.0,
        ..Default::default()
    };
    let a = edge(all.clone());
    assert_parity(&a, "linear_illumination", TOL);
    assert_same_draw(&a, "linear_illumination");
    let a = edge(IlluminationConfig {
        gain: (0.1, 0.5),
        sign: (-0.5, 1.0),
        same_on_batch: true,
        p: 0.5,
        ..Default::default()
    });
    assert_parity(&a, "linear_illumination_gain_sign_same_gate", TOL);
    assert_same_draw(&a, "linear_illumination_gain_sign_same_gate");
    let a = corner(all);
    assert_parity(&a, "linear_corner_illumination", TOL);
    assert_same_draw(&a, "linear_corner_illumination");
    let a = corner(IlluminationConfig {
        gain: (0.3, 0.3),
        sign: (1.0, 1.0),
        p: 0.5,
        ..Default::default()
    });
    assert_parity(&a, "linear_corner_illumination_point_gate", TOL);
    assert_same_draw(&a, "linear_corner_illumination_point_gate");
}

#[test]
fn gaussian_illumination_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let build = |cfg| RandomGaussianIllumination::new(r.root(), cfg).unwrap();
    let cases = [
        (
            "gaussian_illumination",
            GaussianIlluminationConfig {
                p: 1.0,
                ..Default::default()
            },
        ),
        (
            "gaussian_illumination_ranges_same_gate",
            GaussianIlluminationConfig {
                gain: (0.2, 0.6),
                center: (0.3, 0.4),
                sigma: (0.05, 0.3),
                sign: (-1.0, 0.2),
                same_on_batch: true,
                p: 0.5,
                ..Default::default()
            },
        ),
        (
            // σ = 0: Kornia's unit impulse on the nearest sample.
            "gaussian_illumination_point_sigma",
            GaussianIlluminationConfig {
                gain: (0.5, 0.5),
                sigma: (0.0, 0.0),
                center: (0.5, 0.5),
                sign: (1.0, 1.0),
                p: 1.0,
                ..Default::default()
            },
        ),
    ];
    for (name, cfg) in cases {
        let a = build(cfg);
        assert_parity(&a, name, TOL);
        assert_same_draw(&a, name);
    }
}

#[test]
fn longest_and_smallest_max_size_parity() {
    let _serial = common::serial();
    let r = vs();
    let longest = LongestMaxSize::new(r.root(), MaxSizeConfig::new(11)).unwrap();
    assert_parity(&longest, "longest_max_size_image", TOL);
    let nearest = SmallestMaxSize::new(
        r.root(),
        MaxSizeConfig {
            resample: Resample::Nearest,
            ..MaxSizeConfig::new(5)
        },
    )
    .unwrap();
    assert_parity(&nearest, "smallest_max_size_nearest", TOL);
    let half_pixel = SmallestMaxSize::new(
        r.root(),
        MaxSizeConfig {
            align_corners: false,
            ..MaxSizeConfig::new(9)
        },
    )
    .unwrap();
    assert_parity(&half_pixel, "smallest_max_size_half_pixel", TOL);
}

#[test]
fn snow_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let snow = RandomSnow::new(r.root(), SnowConfig::default()).unwrap();
    assert_parity(&snow, "snow", TOL);
    assert_same_draw(&snow, "snow");
    let snow = RandomSnow::new(
        r.root(),
        SnowConfig {
            snow_coefficient: (0.3, 0.7),
            brightness: (1.5, 2.5),
            same_on_batch: true,
            p: 0.5,
            ..Default::default()
        },
    )
    .unwrap();
    assert_parity(&snow, "snow_ranges_same_gate", TOL);
    assert_same_draw(&snow, "snow_ranges_same_gate");
}

#[test]
fn plasma_parity_and_draw() {
    let _serial = common::serial();
    let r = vs();
    let all = PlasmaConfig {
        p: 1.0,
        ..Default::default()
    };
    let check = |aug: &dyn Augmentation, name: &str| {
        assert_parity(aug, name, TOL);
        assert_same_draw(aug, name);
    };
    check(
        &RandomPlasmaBrightness::new(r.root(), all.clone()).unwrap(),
        "plasma_brightness",
    );
    check(
        &RandomPlasmaBrightness::new(
            r.root(),
            PlasmaConfig {
                roughness: (0.3, 0.5),
                intensity: (0.2, 0.6),
                same_on_batch: true,
                p: 0.5,
                ..Default::default()
            },
        )
        .unwrap(),
        "plasma_brightness_same_gate_tall",
    );
    check(
        &RandomPlasmaContrast::new(r.root(), all.clone()).unwrap(),
        "plasma_contrast",
    );
    check(
        &RandomPlasmaShadow::new(r.root(), all).unwrap(),
        "plasma_shadow",
    );
    check(
        &RandomPlasmaShadow::new(
            r.root(),
            PlasmaConfig {
                roughness: (0.2, 0.9),
                shade_intensity: (-0.5, -0.1),
                shade_quantity: (0.3, 0.8),
                p: 0.5,
                ..Default::default()
            },
        )
        .unwrap(),
        "plasma_shadow_ranges_gate",
    );
}
