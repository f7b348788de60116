//! Bad input gets a typed error with a message that says what was given and what is
//! allowed; the input is never modified.

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

fn msg<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

fn img(shape: &[i64]) -> Tensor {
    Tensor::rand(shape, (Kind::Float, Device::Cpu))
}

#[test]
fn bad_inputs_get_typed_errors_with_clear_messages_and_stay_unmodified() {
    let vs = VarStore::new(Device::Cpu);
    let r = vs.root();
    let affine = RandomAffine::new(
        &r,
        RandomAffineConfig {
            degrees: (-10.0, 10.0),
            ..Default::default()
        },
    )
    .unwrap();
    let jitter = ColorJitter::new(&r, JitterConfig::new(0.1, 0.1, 0.1, 0.1)).unwrap();

    let x = img(&[5, 7]);
    assert_eq!(
        msg(affine.f_forward(&x)),
        "RandomAffine: expected an input of rank 3 (C,H,W) or 4 (B,C,H,W), got shape [5, 7]"
    );
    let x = img(&[1, 2, 3, 5, 7]);
    assert!(matches!(affine.f_forward(&x), Err(Error::Rank { .. })));

    let x = img(&[2, 2, 5, 7]);
    let before = x.copy();
    assert_eq!(
        msg(jitter.f_forward(&x)),
        "ColorJitter: got 2 channels (input shape [2, 2, 5, 7]); allowed: 1 or 3 channels"
    );
    assert!(x.equal(&before));
    let hue_on_gray = img(&[2, 1, 5, 7]);
    assert_eq!(
        msg(jitter.f_forward(&hue_on_gray)),
        "ColorJitter: got 1 channels (input shape [2, 1, 5, 7]); allowed: 3 (a hue range other than (0, 0) needs RGB)"
    );

    let x = Tensor::zeros([2, 3, 5, 7], (Kind::Uint8, Device::Cpu));
    assert_eq!(
        msg(affine.f_forward(&x)),
        "RandomAffine: expected a floating point input (float32 or float64), got Uint8; convert it first, e.g. `x.to_kind(Kind::Float) / 255.0` for uint8 images in [0, 255]"
    );
    let x = Tensor::zeros([2, 3, 5, 7], (Kind::Int64, Device::Cpu));
    assert!(matches!(
        jitter.f_forward(&x),
        Err(Error::Dtype {
            kind: Kind::Int64,
            ..
        })
    ));

    assert_eq!(
        msg(affine.f_forward(&img(&[0, 3, 5, 7]))),
        "RandomAffine: expected a non-empty input with H, W >= 1 and batch >= 1, got shape [0, 3, 5, 7]"
    );
    assert!(matches!(
        jitter.f_forward(&img(&[2, 3, 0, 7])),
        Err(Error::Empty { .. })
    ));

    let crop = RandomCrop::new(
        &r,
        RandomCropConfig {
            size: (8, 8),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        msg(crop.f_forward(&img(&[2, 3, 5, 7]))),
        "RandomCrop: crop size [8, 8] does not fit the input of spatial size [5, 7]; \
         at most the (padded) input size; set pad_if_needed or padding"
    );
    let center = CenterCrop::new(
        &r,
        CenterCropConfig {
            size: (8, 3),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        msg(center.f_forward(&img(&[3, 5, 7]))),
        "CenterCrop: crop size [8, 3] does not fit the input of spatial size [5, 7]; at most the input size"
    );

    let sharp = RandomSharpness::new(&r, SharpnessConfig::default()).unwrap();
    assert_eq!(
        msg(sharp.f_forward(&img(&[2, 3, 2, 7]))),
        "RandomSharpness: 3x3 filter [3, 3] does not fit the input of spatial size [2, 7]; an image of at least 3x3"
    );
    let norm = Normalize::new(&r, NormalizeConfig::imagenet()).unwrap();
    assert_eq!(
        msg(norm.f_forward(&img(&[2, 4, 5, 7]))),
        "Normalize: got 4 channels (input shape [2, 4, 5, 7]); allowed: 3 channels, one per mean/std value"
    );
}

#[test]
fn bad_configs_get_typed_errors() {
    let vs = VarStore::new(Device::Cpu);
    let r = vs.root();
    assert_eq!(
        msg(RandomAffine::new(&r, RandomAffineConfig { degrees: (f64::NAN, 10.0), ..Default::default() })),
        "RandomAffine: degrees = (NaN, 10) is invalid; allowed: finite (lo, hi) with -360 <= lo <= hi <= 360, as float32"
    );
    assert_eq!(
        msg(RandomAffine::new(&r, RandomAffineConfig { translate: Some((f64::NAN, 0.1)), ..Default::default() })),
        "RandomAffine: translate = (NaN, 0.1) is invalid; allowed: fractions of the width and height in [0, 1]"
    );
    let fill = RandomAffine::new(
        &r,
        RandomAffineConfig {
            padding_mode: Padding::Fill,
            fill_value: Some(vec![0.1, 0.2]),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        msg(fill.f_forward(&img(&[2, 3, 4, 4]))),
        "RandomAffine: got 3 channels (input shape [2, 3, 4, 4]); allowed: 2 channels, one per fill_value (or a single fill_value)"
    );
    assert_eq!(
        msg(RandomRotation::new(&r, RandomRotationConfig { degrees: (10.0, -10.0), ..Default::default() })),
        "RandomRotation: degrees = (10, -10) is invalid; allowed: finite (lo, hi) with -360 <= lo <= hi <= 360, as float32"
    );
    assert_eq!(
        msg(RandomHorizontalFlip::new(
            &r,
            FlipConfig {
                p: 1.5,
                ..Default::default()
            }
        )),
        "RandomHorizontalFlip: p = 1.5 is invalid; allowed: a probability in [0, 1]"
    );
    assert_eq!(
        msg(ColorJitter::new(&r, JitterConfig { hue: (-0.7, 0.2), ..Default::default() })),
        "ColorJitter: hue = (-0.7, 0.2) is invalid; allowed: finite (lo, hi) with -0.5 <= lo <= hi <= 0.5, as float32"
    );
    assert_eq!(
        msg(ColorJiggle::new(&r, JitterConfig { brightness: (-0.5, 1.0), ..Default::default() })),
        "ColorJiggle: brightness = (-0.5, 1) is invalid; allowed: finite (lo, hi) with 0 <= lo <= hi <= 1e30, as float32"
    );
    assert_eq!(
        msg(RandomBrightness::new(&r, FactorConfig::new((0.5, 2.5)))),
        "RandomBrightness: brightness_factor = (0.5, 2.5) is invalid; allowed: finite (lo, hi) with 0 <= lo <= hi <= 2, as float32"
    );
    let sat = RandomSaturation::new(&r, FactorConfig::new((0.5, 1.5))).unwrap();
    assert_eq!(
        msg(sat.f_forward(&img(&[2, 1, 4, 4]))),
        "RandomSaturation: got 1 channels (input shape [2, 1, 4, 4]); allowed: 3 channels (RGB)"
    );
    assert_eq!(
        msg(RandomGaussianBlur::new(
            &r,
            GaussianBlurConfig {
                kernel_size: (4, 3),
                ..Default::default()
            }
        )),
        "RandomGaussianBlur: kernel_size = (4, 3) is invalid; allowed: odd sizes >= 1"
    );
    let blur = RandomBoxBlur::new(
        &r,
        BoxBlurConfig {
            kernel_size: (7, 7),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        msg(blur.f_forward(&img(&[1, 3, 3, 9]))),
        "RandomBoxBlur: kernel [7, 7] does not fit the input of spatial size [3, 9]; reflect padding needs H, W > kernel size / 2"
    );
    assert_eq!(
        msg(RandomPosterize::new(&r, PosterizeConfig { bits: (3.0, 9.0), ..Default::default() })),
        "RandomPosterize: bits = (3, 9) is invalid; allowed: finite (lo, hi) with 0 <= lo <= hi <= 8, as float32"
    );
    assert_eq!(
        msg(RandomTranslate::new(&r, TranslateConfig { translate_x: Some((-1.5, 0.5)), ..Default::default() })),
        "RandomTranslate: translate_x = (-1.5, 0.5) is invalid; allowed: finite (lo, hi) with -1 <= lo <= hi <= 1, as float32"
    );
    assert_eq!(
        msg(RandomRotation90::new(&r, Rotation90Config { times: (0.0, 4.0), ..Default::default() })),
        "RandomRotation90: times = (0, 4) is invalid; allowed: finite (lo, hi) with -3 <= lo <= hi <= 3, as float32"
    );
    let drop = RandomChannelDropout::new(
        &r,
        ChannelDropoutConfig {
            num_drop_channels: 4,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        msg(drop.f_forward(&img(&[2, 3, 4, 4]))),
        "RandomChannelDropout: got 3 channels (input shape [2, 3, 4, 4]); allowed: at least num_drop_channels = 4"
    );
    assert_eq!(
        msg(RandomMedianBlur::new(
            &r,
            MedianBlurConfig {
                kernel_size: (3, 4),
                ..Default::default()
            }
        )),
        "RandomMedianBlur: kernel_size = (3, 4) is invalid; allowed: odd sizes >= 1"
    );
    assert_eq!(
        msg(Resize::new(
            &r,
            ResizeConfig {
                p: 0.5,
                ..Default::default()
            }
        )),
        "Resize: p = 0.5 is invalid; allowed: 1.0 (a resize changes the size)"
    );
    let thin = Resize::new(
        &r,
        ResizeConfig {
            size: ResizeTo::Side(2, Side::Long),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        msg(thin.f_forward(&img(&[1, 3, 40, 4]))),
        "Resize: output size [2, 0] does not fit the input of spatial size [40, 4]; a side size that keeps both sides >= 1 at this aspect ratio"
    );
    assert_eq!(
        msg(RandomMotionBlur::new(
            &r,
            MotionBlurConfig {
                kernel_size: MotionKernelSize::Fixed(4),
                ..Default::default()
            }
        )),
        "RandomMotionBlur: kernel_size = 4 is invalid; allowed: an odd size >= 3"
    );
    assert_eq!(
        msg(RandomElasticTransform::new(
            &r,
            ElasticConfig {
                sigma: (0.0, 1.0),
                ..Default::default()
            }
        )),
        "RandomElasticTransform: sigma = (0.0, 1.0) is invalid; allowed: positive finite numbers (as float32)"
    );
    assert_eq!(
        msg(RandomThinPlateSpline::new(
            &r,
            ThinPlateSplineConfig {
                scale: -0.1,
                ..Default::default()
            }
        )),
        "RandomThinPlateSpline: scale = -0.1 is invalid; allowed: a number in [0, 1000]"
    );
    assert_eq!(
        msg(RandomPlanckianJitter::new(
            &r,
            PlanckianConfig { mode: PlanckianMode::Cied, select_from: Some(vec![3, 23]), ..Default::default() }
        )),
        "RandomPlanckianJitter: select_from = [3, 23] is invalid; allowed: a non-empty list of rows below 23"
    );
    assert_eq!(
        msg(RandomErasing::new(
            &r,
            ErasingConfig {
                value: 2.0,
                ..Default::default()
            }
        )),
        "RandomErasing: value = 2 is invalid; allowed: a number in [0, 1]"
    );
    assert_eq!(
        msg(RandomPerspective::new(
            &r,
            PerspectiveConfig {
                distortion_scale: 1.5,
                ..Default::default()
            }
        )),
        "RandomPerspective: distortion_scale = 1.5 is invalid; allowed: a number in [0, 1]"
    );
    assert_eq!(
        msg(RandomSolarize::new(&r, SolarizeConfig { thresholds: (0.5, 1.2), ..Default::default() })),
        "RandomSolarize: thresholds = (0.5, 1.2) is invalid; allowed: finite (lo, hi) with 0 <= lo <= hi <= 1, as float32"
    );
    assert_eq!(
        msg(RandomSharpness::new(&r, SharpnessConfig { sharpness: (-0.1, 0.5), ..Default::default() })),
        "RandomSharpness: sharpness = (-0.1, 0.5) is invalid; allowed: finite (lo, hi) with 0 <= lo <= hi <= 1e30, as float32"
    );
    assert_eq!(
        msg(RandomCrop::new(
            &r,
            RandomCropConfig {
                size: (0, 4),
                ..Default::default()
            }
        )),
        "RandomCrop: size = (0, 4) is invalid; allowed: a size (height, width) with both >= 1"
    );
    // One side's length is one number, and said as one.
    assert_eq!(
        msg(LongestMaxSize::new(&r, MaxSizeConfig::new(0))),
        "LongestMaxSize: max_size = 0 is invalid; allowed: a side length >= 1"
    );
    assert_eq!(
        msg(Resize::new(
            &r,
            ResizeConfig {
                size: ResizeTo::Side(-3, Side::Short),
                ..ResizeConfig::new((1, 1))
            }
        )),
        "Resize: size = -3 is invalid; allowed: a side length >= 1"
    );
    assert_eq!(
        msg(RandomCrop::new(&r, RandomCropConfig { size: (2, 4), p: 0.5, ..Default::default() })),
        "RandomCrop: p = 0.5 is invalid; allowed: 1.0 (a crop changes the size, so samples cannot pass through)"
    );
    assert_eq!(
        msg(Normalize::new(
            &r,
            NormalizeConfig {
                mean: vec![0.5],
                std: vec![0.0],
                p: 1.0
            }
        )),
        "Normalize: std = [0.0] is invalid; allowed: non-zero values whose magnitude is at least float32's smallest normal (1.2e-38)"
    );
    assert_eq!(
        msg(RandomResizedCrop::new(
            &r,
            RandomResizedCropConfig {
                ratio: (2.0, 1.0),
                ..Default::default()
            }
        )),
        "RandomResizedCrop: ratio = (2, 1) is invalid; allowed: finite (lo, hi) with 0 < lo <= hi, as float32"
    );
}

#[test]
fn bad_params_get_typed_errors() {
    let vs = VarStore::new(Device::Cpu);
    let affine = RandomAffine::new(
        vs.root(),
        RandomAffineConfig {
            degrees: (-10.0, 10.0),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let x = img(&[2, 3, 5, 7]);
    let (_, params) = affine.forward_with_params(&x);
    let wrong_batch = img(&[3, 3, 5, 7]);
    assert_eq!(
        msg(affine.f_apply(&wrong_batch, &params)),
        "RandomAffine: parameter `batch_prob` has shape [2]: drawn for another batch than 3 \
         (shape [3, 3, 5, 7])"
    );
    // Without its gate, the first per-sample value found says the same.
    let mut ungated = params.clone();
    ungated.remove("batch_prob");
    assert_eq!(
        msg(affine.f_apply(&wrong_batch, &ungated)),
        "RandomAffine: parameter `translations` has shape [2, 2]; expected [3, 2]"
    );
    let mut bad = params.clone();
    bad.insert("angle", Tensor::zeros([2, 1], (Kind::Float, Device::Cpu)));
    assert_eq!(
        msg(affine.f_apply(&x, &bad)),
        "RandomAffine: parameter `angle` has shape [2, 1]; expected [2]"
    );
    let mut missing = Params::new();
    missing.insert("angle", Tensor::zeros([2], (Kind::Float, Device::Cpu)));
    assert!(msg(affine.f_apply(&x, &missing))
        .starts_with("RandomAffine: parameter `translations` is missing"));
}

/// The illumination operators refuse what Kornia refuses, naming it; replayed params of the
/// wrong size are a typed error too.
#[test]
fn illumination_configs_and_params_get_typed_errors() {
    let vs = VarStore::new(Device::Cpu);
    let r = vs.root();
    let cfg = |gain: (f64, f64), sign: (f64, f64), p: f64| IlluminationConfig {
        gain,
        sign,
        p,
        ..Default::default()
    };
    assert_eq!(
        msg(RandomLinearIllumination::new(&r, cfg((0.1, 1.5), (-1.0, 1.0), 0.5))),
        "RandomLinearIllumination: gain = (0.1, 1.5) is invalid; allowed: finite (lo, hi) with 0 <= lo <= hi <= 1, as float32"
    );
    assert_eq!(
        msg(RandomLinearCornerIllumination::new(&r, cfg((0.1, 0.2), (-2.0, 1.0), 0.5))),
        "RandomLinearCornerIllumination: sign = (-2, 1) is invalid; allowed: finite (lo, hi) with -1 <= lo <= hi <= 1, as float32"
    );
    assert!(msg(RandomLinearIllumination::new(
        &r,
        cfg((0.3, 0.1), (-1.0, 1.0), 0.5)
    ))
    .contains("gain = (0.3, 0.1)"));
    assert!(msg(RandomLinearIllumination::new(
        &r,
        cfg((0.1, 0.2), (-1.0, 1.0), 1.5)
    ))
    .contains("p = 1.5"));
    let aug = RandomLinearIllumination::new(&r, cfg((0.1, 0.2), (-1.0, 1.0), 1.0)).unwrap();
    let params = aug.f_sample(&[2, 3, 4, 5], Device::Cpu).unwrap();
    let x = img(&[2, 3, 4, 6]);
    let before = x.copy();
    let e = msg(aug.f_apply(&x, &params));
    assert!(e.contains("gradient") && e.contains("[2, 3, 4, 5]"), "{e}");
    assert!(x.equal(&before));
    let spot = |center: (f64, f64), sigma: (f64, f64)| {
        RandomGaussianIllumination::new(
            &r,
            GaussianIlluminationConfig {
                center,
                sigma,
                ..Default::default()
            },
        )
    };
    assert_eq!(
        msg(spot((0.1, 1.2), (0.2, 1.0))),
        "RandomGaussianIllumination: center = (0.1, 1.2) is invalid; allowed: finite (lo, hi) with 0 <= lo <= hi <= 1, as float32"
    );
    assert!(msg(spot((0.1, 0.9), (-0.2, 1.0))).contains("sigma = (-0.2, 1)"));
}

/// Snow needs RGB and a brightness of at least 1, and says so.
#[test]
fn snow_gets_typed_errors() {
    let vs = VarStore::new(Device::Cpu);
    let r = vs.root();
    let snow = RandomSnow::new(&r, SnowConfig::default()).unwrap();
    let x = img(&[2, 1, 4, 5]);
    let before = x.copy();
    let e = snow.f_forward(&x).unwrap_err();
    assert!(matches!(e, Error::Channels { .. }), "{e}");
    assert!(e.to_string().contains("3 channels (RGB)"), "{e}");
    assert!(x.equal(&before));
    let e = msg(RandomSnow::new(
        &r,
        SnowConfig {
            brightness: (0.5, 2.0),
            ..Default::default()
        },
    ));
    assert!(e.starts_with("RandomSnow: brightness = (0.5, 2)"), "{e}");
}

/// A plasma operator refuses a field it does not use, naming it, and ranges outside their
/// domains.
#[test]
fn plasma_configs_get_typed_errors() {
    let vs = VarStore::new(Device::Cpu);
    let r = vs.root();
    assert_eq!(
        msg(RandomPlasmaContrast::new(
            &r,
            PlasmaConfig {
                intensity: (0.1, 0.2),
                ..Default::default()
            }
        )),
        "RandomPlasmaContrast: intensity = a value other than the default is invalid; allowed: the default: RandomPlasmaContrast does not use `intensity`"
    );
    assert!(msg(RandomPlasmaShadow::new(
        &r,
        PlasmaConfig {
            shade_intensity: (-0.5, 0.5),
            ..Default::default()
        }
    ))
    .contains("shade_intensity = (-0.5, 0.5)"));
    assert!(msg(RandomPlasmaBrightness::new(
        &r,
        PlasmaConfig {
            roughness: (0.5, 1.5),
            ..Default::default()
        }
    ))
    .contains("roughness = (0.5, 1.5)"));
}
