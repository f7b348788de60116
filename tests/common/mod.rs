//! Test helpers: golden fixtures from scripts/gen_fixtures.py (Kornia 0.9.0, torch 2.13.0).
#![allow(dead_code)]

use std::collections::HashMap;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

/// One fixture file: its tensors and its metadata.
pub struct Fixture {
    pub name: String,
    pub tensors: HashMap<String, Tensor>,
    pub meta: serde_json::Map<String, serde_json::Value>,
}

/// The specs of torchvision's fixtures (tests/fixtures/torchvision/*, each case's `spec` in
/// the `cases` metadata), in the order of the files and their cases: how the operators that
/// Kornia lacks are checked (`AugSpec::reference`).
pub fn torchvision_fixture_specs() -> Vec<AugSpec> {
    let mut specs = Vec::new();
    for stem in fixture_stems("torchvision/") {
        let fx = fixture(&stem);
        let Some(cases) = fx.meta.get("cases").and_then(|c| c.as_str()) else {
            continue;
        };
        let cases: Vec<serde_json::Value> = serde_json::from_str(cases).unwrap();
        for case in cases {
            if let Some(spec) = case.get("spec") {
                specs.push(
                    serde_json::from_value(spec.clone()).unwrap_or_else(|e| panic!("{stem}: {e}")),
                );
            }
        }
    }
    specs
}

/// The device the fixture replays and the gradchecks run on: the CPU, or the one
/// `TCH_DDA_TEST_DEVICE` names (`cpu`, `cuda`, `cuda:N`; scripts/run_on_device.sh sets
/// `cuda`). The per-device tests (`per_device!`) run on every device regardless.
pub fn device() -> Device {
    match std::env::var("TCH_DDA_TEST_DEVICE").as_deref() {
        Err(_) | Ok("") | Ok("cpu") => Device::Cpu,
        Ok("cuda") => Device::Cuda(0),
        Ok(other) => match other.strip_prefix("cuda:").map(str::parse) {
            Some(Ok(n)) => Device::Cuda(n),
            _ => panic!("TCH_DDA_TEST_DEVICE={other}: expected cpu, cuda or cuda:N"),
        },
    }
}

/// Whether a test may compare a draw with Kornia's: the fixtures hold draws from the CPU's
/// generator, which CUDA's does not reproduce.
pub fn draws_on_cpu() -> bool {
    device() == Device::Cpu
}

/// Fixture `name`, its tensors on [`device()`].
pub fn fixture(name: &str) -> Fixture {
    let path = format!(
        "{}/tests/fixtures/{name}.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let meta = header["__metadata__"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let device = device();
    let tensors = Tensor::read_safetensors(&path)
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, t.to_device(device)))
        .collect();
    Fixture {
        name: name.to_string(),
        tensors,
        meta,
    }
}

impl Fixture {
    pub fn get(&self, key: &str) -> &Tensor {
        self.tensors
            .get(key)
            .unwrap_or_else(|| panic!("{}: no tensor {key}", self.name))
    }

    fn prefixed(&self, prefix: &str) -> Params {
        let mut p = Params::new();
        for (k, v) in &self.tensors {
            if let Some(key) = k.strip_prefix(prefix) {
                p.insert(key, v.shallow_clone());
            }
        }
        p
    }

    /// Kornia's `aug._params`.
    pub fn params(&self) -> Params {
        self.prefixed("param.")
    }

    /// Kornia's params drawn right after `manual_seed(1000 + seed)`.
    pub fn seed_params(&self) -> Params {
        self.prefixed("seedparam.")
    }

    pub fn seed(&self) -> i64 {
        self.meta["seed"].as_str().unwrap().parse().unwrap()
    }
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    if a.numel() == 0 {
        return 0.0;
    }
    // On the host: either may be on the test device.
    let host = |t: &Tensor| t.to_device(Device::Cpu).to_kind(Kind::Double);
    (host(a) - host(b)).abs().max().double_value(&[])
}

/// Kornia's params of a container that drew which children apply: `param_names` (e.g.
/// `["RandomMixUpV2_1", "RandomHorizontalFlip_0"]`) give our `selection`.
pub fn params_with_selection(fx: &Fixture) -> Params {
    let mut p = fx.params();
    let names: Vec<String> =
        serde_json::from_str(fx.meta["param_names"].as_str().unwrap()).unwrap();
    let ids: Vec<i64> = names
        .iter()
        .map(|n| n.rsplit('_').next().unwrap().parse().unwrap())
        .collect();
    p.insert("selection", Tensor::from_slice(&ids).to_device(device()));
    p
}

/// Kornia's params of `fx` as `aug` replays them: with the `selection` of a container that
/// drew which of its children apply, else as recorded.
pub fn replay_params(aug: &dyn Augmentation, fx: &Fixture) -> Params {
    match aug.spec() {
        AugSpec::Sequential(c) if c.random_apply != RandomApply::Off => params_with_selection(fx),
        _ => fx.params(),
    }
}

/// The kernel paths a parity check runs on: on the CPU both the fused kernels and the
/// libtorch compositions (what CUDA runs); elsewhere the compositions only.
pub fn kernel_paths() -> Vec<KernelPath> {
    if device() == Device::Cpu {
        vec![KernelPath::Fused, KernelPath::Composed]
    } else {
        vec![KernelPath::Composed]
    }
}

/// Replays Kornia's params through `aug.f_apply` on every kernel path, compares output and
/// input gradient. Returns (max output error, max gradient error) over the paths.
pub fn parity(aug: &dyn Augmentation, fx: &Fixture) -> (f64, f64) {
    parity_with(aug, fx, &fx.params())
}

/// [`parity`] with the given params.
pub fn parity_with(aug: &dyn Augmentation, fx: &Fixture, params: &Params) -> (f64, f64) {
    kernel_paths()
        .into_iter()
        .map(|path| parity_on(aug, fx, params, path))
        .fold((0.0, 0.0), |(o, g), (po, pg)| (o.max(po), g.max(pg)))
}

/// [`parity_with`] on one kernel path (for this thread, for the call).
pub fn parity_on(
    aug: &dyn Augmentation,
    fx: &Fixture,
    params: &Params,
    path: KernelPath,
) -> (f64, f64) {
    let _path = kernel_path_scope(path);
    let input = fx.get("input");
    let before = input.copy();
    let x = input.detach().set_requires_grad(true);
    let y = aug
        .f_apply(&x, params)
        .unwrap_or_else(|e| panic!("{} ({path:?}): {e}", fx.name));
    assert_eq!(y.kind(), input.kind(), "{}: output dtype", fx.name);
    let out_err = max_abs_diff(&y, fx.get("output"));
    (&y * fx.get("grad_output")).sum(y.kind()).backward();
    let grad_err = max_abs_diff(&x.grad(), fx.get("grad_input"));
    // Without a gradient to record, operators work in place on their own buffers: same
    // numbers, and the input must stay untouched.
    let y_nograd = aug.f_apply(input, params).unwrap();
    let out_err = out_err.max(max_abs_diff(&y_nograd, fx.get("output")));
    assert!(input.equal(&before), "{}: input modified in place", fx.name);
    (out_err, grad_err)
}

/// Asserts parity within `tol` for both output and gradient on every kernel path, printing
/// the errors.
pub fn assert_parity(aug: &dyn Augmentation, name: &str, tol: f64) {
    let fx = fixture(name);
    // The fixtures are the CPU's. CUDA's kernels round differently (a division by a scalar is
    // a multiplication by its reciprocal there): on CUDA a case the CPU holds bit-exact is
    // held to one unit in the last place of values in [0, 1].
    let tol = match (device(), fx.get("output").kind()) {
        (Device::Cpu, _) => tol,
        (_, Kind::Double) => tol.max(f64::EPSILON),
        _ => tol.max(f32::EPSILON as f64),
    };
    for path in kernel_paths() {
        let (o, g) = parity_on(aug, &fx, &fx.params(), path);
        println!("PARITY {name} ({path:?}): output {o:.3e}, grad {g:.3e}");
        assert!(
            o <= tol,
            "{name} ({path:?} path): output differs from Kornia by {o:e} > {tol:e}"
        );
        assert!(
            g <= tol,
            "{name} ({path:?} path): input gradient differs from Kornia by {g:e} > {tol:e}"
        );
    }
}

/// Asserts that a draw after `manual_seed(1000 + seed)` equals Kornia's, key by key, exactly.
pub fn assert_same_draw(aug: &dyn Augmentation, name: &str) {
    if !draws_on_cpu() {
        return;
    }
    let fx = fixture(name);
    let kornia = fx.seed_params();
    assert!(!kornia.is_empty(), "{name}: no seedparam");
    tch::manual_seed(1000 + fx.seed());
    let ours = aug.sample(&fx.get("input").size(), Device::Cpu).unwrap();
    for (k, v) in kornia.iter() {
        let o = ours
            .get(k)
            .unwrap_or_else(|| panic!("{name}: we lack key {k}"));
        assert_eq!(o.size(), v.size(), "{name}: shape of {k}");
        let d = max_abs_diff(o, v);
        assert!(d == 0.0, "{name}: {k} differs from Kornia's draw by {d:e}");
    }
    let extra: Vec<_> = ours.keys().filter(|k| kornia.get(k).is_none()).collect();
    assert!(
        extra.is_empty(),
        "{name}: keys Kornia does not have: {extra:?}"
    );
}

/// Largest |analytic - numeric| / max(1, |numeric|) over every element of `x` (float64),
/// for `L(x) = sum(f(x) * g)` with a fixed random `g`; central differences with step 1e-6;
/// the worst over the kernel paths ([`kernel_paths`]).
pub fn gradcheck(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor) -> f64 {
    kernel_paths()
        .into_iter()
        .map(|path| {
            let _path = kernel_path_scope(path);
            gradcheck_here(f, x)
        })
        .fold(0.0, f64::max)
}

/// [`gradcheck`] on the calling thread's kernel path only (a second derivative, which the
/// fused kernels refuse).
pub fn gradcheck_here(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor) -> f64 {
    let x = x.to_kind(Kind::Double).detach();
    let xg = x.copy().set_requires_grad(true);
    let y = f(&xg);
    tch::manual_seed(7);
    let g = Tensor::rand(y.size(), (Kind::Double, y.device()));
    (&y * &g).sum(Kind::Double).backward();
    let analytic = xg.grad().view([-1]);
    let flat = x.view([-1]);
    let eps = 1e-6;
    let mut worst: f64 = 0.0;
    for i in 0..flat.numel() as i64 {
        let eval = |delta: f64| {
            let xp = flat.copy();
            let _ = xp.get(i).fill_(flat.double_value(&[i]) + delta);
            (f(&xp.view_as(&x)) * &g)
                .sum(Kind::Double)
                .double_value(&[])
        };
        let numeric = (eval(eps) - eval(-eps)) / (2.0 * eps);
        let a = analytic.double_value(&[i]);
        worst = worst.max((a - numeric).abs() / numeric.abs().max(1.0));
    }
    worst
}

/// Gradient of `L = sum(f() * g)` with respect to the scalar variable `v`, analytic vs
/// numeric (central differences on `v`, step 1e-6); `f` must re-seed before drawing. On
/// every kernel path ([`kernel_paths`]): the pair that differs most.
pub fn gradcheck_scalar(f: &dyn Fn() -> Tensor, v: &Tensor) -> (f64, f64) {
    let off = |(a, n): (f64, f64)| (a - n).abs() / n.abs().max(1.0);
    kernel_paths()
        .into_iter()
        .map(|path| {
            let _path = kernel_path_scope(path);
            gradcheck_scalar_here(f, v)
        })
        .fold((0.0, 0.0), |worst, pair| {
            if off(pair) >= off(worst) {
                pair
            } else {
                worst
            }
        })
}

/// [`gradcheck_scalar`] on the calling thread's kernel path.
fn gradcheck_scalar_here(f: &dyn Fn() -> Tensor, v: &Tensor) -> (f64, f64) {
    let y = f();
    tch::manual_seed(7);
    let g = Tensor::rand(y.size(), (Kind::Double, y.device()));
    v.shallow_clone().zero_grad();
    (&y.to_kind(Kind::Double) * &g).sum(Kind::Double).backward();
    let analytic = v.grad().double_value(&[]);
    let v0 = v.double_value(&[]);
    let eps = 1e-6;
    let eval = |val: f64| {
        tch::no_grad(|| {
            let _ = v.shallow_clone().fill_(val);
        });
        (f().to_kind(Kind::Double) * &g)
            .sum(Kind::Double)
            .double_value(&[])
    };
    let numeric = (eval(v0 + eps) - eval(v0 - eps)) / (2.0 * eps);
    tch::no_grad(|| {
        let _ = v.shallow_clone().fill_(v0);
    });
    (analytic, numeric)
}

/// Serialises tests that seed torch's global RNG: the test harness runs tests on several
/// threads, and a draw from another test between `manual_seed` and ours would change it.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The paper pipeline of the benchmarks (affine, jitter, flip, resized crop, normalize).
pub fn paper_specs(learnable: bool) -> Vec<AugSpec> {
    vec![
        AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-30.0, 30.0),
            translate: Some((0.1, 0.1)),
            scale: Some((0.9, 1.1)),
            shear: Some((-10.0, 10.0)),
            p: 1.0,
            learnable: learnable.into(),
            ..Default::default()
        }),
        AugSpec::ColorJitter(JitterConfig {
            learnable: learnable.into(),
            ..JitterConfig::new(0.2, 0.3, 0.2, 0.3)
        }),
        AugSpec::RandomHorizontalFlip(FlipConfig::default()),
        AugSpec::RandomResizedCrop(RandomResizedCropConfig {
            size: (12, 10),
            ..Default::default()
        }),
        AugSpec::Normalize(NormalizeConfig::imagenet()),
    ]
}

/// Every operator of this crate, for the loops of tests/behaviour.rs; tests/registry.rs
/// checks that it covers every name of the registry. Configured here where a test wants a
/// particular configuration, else built from its first Kornia fixture.
pub fn all_specs() -> Vec<AugSpec> {
    let mut specs = vec![
        AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-30.0, 30.0),
            translate: Some((0.1, 0.1)),
            scale: Some((0.9, 1.1)),
            shear: Some((-10.0, 10.0)),
            ..Default::default()
        }),
        AugSpec::RandomRotation(RandomRotationConfig {
            degrees: (-45.0, 45.0),
            ..Default::default()
        }),
        AugSpec::RandomHorizontalFlip(FlipConfig::default()),
        AugSpec::RandomVerticalFlip(FlipConfig::default()),
        AugSpec::RandomCrop(RandomCropConfig {
            size: (9, 11),
            padding: Some(vec![2]),
            ..Default::default()
        }),
        AugSpec::CenterCrop(CenterCropConfig {
            size: (9, 11),
            ..Default::default()
        }),
        AugSpec::RandomResizedCrop(RandomResizedCropConfig {
            size: (8, 9),
            ..Default::default()
        }),
        AugSpec::ColorJitter(JitterConfig {
            p: 0.5,
            ..JitterConfig::new(0.2, 0.3, 0.2, 0.3)
        }),
        AugSpec::ColorJiggle(JitterConfig {
            p: 0.5,
            ..JitterConfig::new(0.2, 0.3, 0.2, 0.3)
        }),
        AugSpec::Normalize(NormalizeConfig::imagenet()),
        AugSpec::Denormalize(NormalizeConfig::imagenet()),
        AugSpec::RandomGrayscale(RandomGrayscaleConfig {
            p: 0.5,
            ..Default::default()
        }),
        AugSpec::RandomPerspective(PerspectiveConfig::default()),
        AugSpec::RandomShear(ShearConfig {
            shear: (-15.0, 20.0),
            ..Default::default()
        }),
        AugSpec::RandomTranslate(TranslateConfig {
            translate_x: Some((-0.2, 0.2)),
            ..Default::default()
        }),
        AugSpec::Resize(ResizeConfig {
            size: ResizeTo::Side(12, Side::Short),
            ..Default::default()
        }),
        AugSpec::LongestMaxSize(MaxSizeConfig::new(15)),
        AugSpec::SmallestMaxSize(MaxSizeConfig {
            align_corners: false,
            ..MaxSizeConfig::new(9)
        }),
        AugSpec::PadTo(PadToConfig {
            size: (20, 20),
            ..Default::default()
        }),
        AugSpec::RandomFisheye(FisheyeConfig::default()),
        AugSpec::RandomThinPlateSpline(ThinPlateSplineConfig::default()),
        AugSpec::RandomElasticTransform(ElasticConfig {
            kernel_size: (5, 5),
            sigma: (2.0, 2.0),
            ..Default::default()
        }),
        AugSpec::RandomRotation90(Rotation90Config {
            times: (-3.0, 3.0),
            ..Default::default()
        }),
        AugSpec::RandomErasing(ErasingConfig::default()),
        AugSpec::RandomEqualize(EqualizeConfig::default()),
        AugSpec::RandomBrightness(FactorConfig::new((0.6, 1.4))),
        AugSpec::RandomContrast(FactorConfig::new((0.5, 1.5))),
        AugSpec::RandomSaturation(FactorConfig::new((0.2, 1.8))),
        AugSpec::RandomHue(FactorConfig::new((-0.3, 0.4))),
        AugSpec::RandomGamma(GammaConfig {
            gamma: (0.5, 1.5),
            ..Default::default()
        }),
        AugSpec::RandomInvert(InvertConfig::default()),
        AugSpec::RandomGaussianBlur(GaussianBlurConfig::default()),
        AugSpec::RandomBoxBlur(BoxBlurConfig::default()),
        AugSpec::RandomChannelShuffle(ChannelShuffleConfig::default()),
        AugSpec::RandomGaussianNoise(GaussianNoiseConfig {
            std: 0.1,
            ..Default::default()
        }),
        AugSpec::RandomPosterize(PosterizeConfig::default()),
        AugSpec::RandomAutoContrast(AutoContrastConfig {
            p: 0.5,
            ..Default::default()
        }),
        AugSpec::RandomChannelDropout(ChannelDropoutConfig::default()),
        AugSpec::RandomPlanckianJitter(PlanckianConfig::default()),
        AugSpec::RandomLinearIllumination(IlluminationConfig::default()),
        AugSpec::RandomLinearCornerIllumination(IlluminationConfig {
            sign: (1.0, 1.0),
            ..Default::default()
        }),
        AugSpec::RandomGaussianIllumination(GaussianIlluminationConfig::default()),
        AugSpec::RandomSnow(SnowConfig {
            p: 0.5,
            ..Default::default()
        }),
        // Clip limits that differ on 7x9 tiles (the defaults' 8x8 grid needs sides above 8).
        AugSpec::RandomClahe(ClaheConfig {
            clip_limit: (10.0, 60.0),
            grid_size: (2, 2),
            ..Default::default()
        }),
        // The transplant needs a label mask: the generic loops give it one
        // (`needs_mask`), or expect its typed error without.
        // A 2x2 grid on 13x17 and 17x23 images, the output the input's size.
        AugSpec::RandomMosaic(MosaicConfig::default()),
        // torchvision's: a size drawn per call (about the input's).
        AugSpec::ScaleJitter(ScaleJitterConfig {
            scale_range: (0.8, 1.25),
            ..ScaleJitterConfig::new((20, 20))
        }),
        AugSpec::RandomShortestSize(RandomShortestSizeConfig::new(vec![9, 13], Some(30))),
        // Canvases at most 1.5 times the side (the fixture's reach 2.5: the fuzz chains
        // would grow twentyfold).
        AugSpec::RandomZoomOut(RandomZoomOutConfig {
            side_range: (1.0, 1.5),
            ..Default::default()
        }),
        AugSpec::RandomTransplantation(TransplantConfig::default()),
        AugSpec::RandomTransplantation3D(TransplantConfig::default()),
        AugSpec::RandomPlasmaBrightness(PlasmaConfig::default()),
        AugSpec::RandomPlasmaContrast(PlasmaConfig::default()),
        AugSpec::RandomPlasmaShadow(PlasmaConfig::default()),
        AugSpec::RandomMotionBlur(MotionBlurConfig {
            kernel_size: MotionKernelSize::Range(3, 7),
            ..Default::default()
        }),
        AugSpec::RandomRGBShift(RgbShiftConfig::default()),
        AugSpec::RandomSaltAndPepperNoise(SaltAndPepperConfig::default()),
        AugSpec::RandomMedianBlur(MedianBlurConfig::default()),
        AugSpec::RandomSolarize(SolarizeConfig::default()),
        AugSpec::RandomSharpness(SharpnessConfig::default()),
        AugSpec::Sequential(paper_specs(false).into()),
        AugSpec::AutoAugment(AutoAugmentConfig::default()),
        AugSpec::RandAugment(RandAugmentConfig::new(3, 12.0)),
        AugSpec::RandAugment(RandAugmentConfig {
            per_sample: true,
            ..RandAugmentConfig::new(2, 20.0)
        }),
        AugSpec::TrivialAugment(TrivialAugmentConfig::default()),
        AugSpec::RandomMixUp(MixUpConfig::default()),
        AugSpec::RandomCutMix(CutMixConfig {
            num_mix: 2,
            ..Default::default()
        }),
        AugSpec::RandomAffine3D(Affine3DConfig {
            degrees: [(-20.0, 20.0); 3],
            translate: Some((0.1, 0.1, 0.1)),
            scale: Some(Scale3D::Isotropic((0.9, 1.1))),
            shears: Some([(-5.0, 5.0); 6]),
            ..Default::default()
        }),
        AugSpec::RandomRotation3D(Rotation3DConfig {
            degrees: [(-30.0, 30.0); 3],
            ..Default::default()
        }),
        AugSpec::RandomPerspective3D(Perspective3DConfig::default()),
        AugSpec::RandomHorizontalFlip3D(FlipConfig::default()),
        AugSpec::RandomVerticalFlip3D(FlipConfig::default()),
        AugSpec::RandomDepthicalFlip3D(FlipConfig::default()),
        AugSpec::CenterCrop3D(CenterCrop3DConfig {
            size: [3, 9, 11],
            ..Default::default()
        }),
        AugSpec::RandomCrop3D(RandomCrop3DConfig {
            size: [3, 9, 11],
            padding: Some([1; 6]),
            ..Default::default()
        }),
        AugSpec::RandomMotionBlur3D(MotionBlur3DConfig {
            kernel_size: MotionKernelSize::Range(3, 5),
            ..Default::default()
        }),
        AugSpec::RandomEqualize3D(Equalize3DConfig::default()),
    ];
    // An operator not configured above comes in as its first Kornia fixture builds it (or,
    // for torchvision's, its first torchvision fixture case), so that a new operator needs
    // no edit here.
    let named: std::collections::BTreeSet<&str> = specs.iter().map(|s| s.name()).collect();
    let mut from_fixtures: Vec<AugSpec> = Vec::new();
    let kornias = fixture_stems("").into_iter().map(|stem| {
        let fx = fixture(&stem);
        let class = fx.meta["kornia_class"].as_str().unwrap();
        let kwargs: serde_json::Value =
            serde_json::from_str(fx.meta["kwargs"].as_str().unwrap()).unwrap();
        AugSpec::from_kornia(class, &kwargs).unwrap_or_else(|e| panic!("{stem}: {e}"))
    });
    for spec in kornias.chain(torchvision_fixture_specs()) {
        if !named.contains(spec.name()) && from_fixtures.iter().all(|s| s.name() != spec.name()) {
            from_fixtures.push(spec);
        }
    }
    specs.extend(from_fixtures);
    specs
}

/// The parity fixtures of tests/fixtures/`sub` (`""` for the top level, `"auto/"`, ...) as
/// `common::fixture` names them, sorted.
pub fn fixture_stems(sub: &str) -> Vec<String> {
    let dir = format!("{}/tests/fixtures/{sub}", env!("CARGO_MANIFEST_DIR"));
    let mut stems: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let stem = path.file_stem()?.to_string_lossy().to_string();
            (path.extension()? == "safetensors").then(|| format!("{sub}{stem}"))
        })
        .collect();
    stems.sort();
    stems
}

/// One test per device for each `fn name(device: Device)` (candle's per-device test macro):
/// `name::cpu`, and `name::cuda` when libtorch was built with CUDA (build.rs then sets the
/// `tch_dda_cuda` cfg). On such a build a machine that shows no GPU fails `name::cuda`
/// rather than skipping it silently.
#[allow(unused_macros)]
macro_rules! per_device {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn cpu() {
                    super::$name(tch::Device::Cpu)
                }

                #[cfg(tch_dda_cuda)]
                #[test]
                fn cuda() {
                    assert!(
                        tch::Cuda::is_available(),
                        "libtorch was built with CUDA but sees no device"
                    );
                    super::$name(tch::Device::Cuda(0))
                }
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use per_device;

/// (B,C,H,W) float64, C >= 2: a coordinate ramp, channel 0 each pixel's x, channel 1 its
/// y, the rest 0. A linear interpolation reproduces it exactly, so after a warp a pixel
/// that sampled the interior holds the source coordinate it sampled.
pub fn coordinate_ramp(b: i64, c: i64, h: i64, w: i64) -> Tensor {
    let opts = (Kind::Double, Device::Cpu);
    let xs = Tensor::arange(w, opts)
        .view([1, 1, 1, w])
        .expand([b, 1, h, w], false);
    let ys = Tensor::arange(h, opts)
        .view([1, 1, h, 1])
        .expand([b, 1, h, w], false);
    Tensor::cat(&[xs, ys, Tensor::zeros([b, c - 2, h, w], opts)], 1)
}

/// A pipeline of `steps` under `vs`'s root "p", carrying annotations as `annotations` says.
pub fn annotated(
    vs: &tch::nn::VarStore,
    steps: Vec<AugSpec>,
    annotations: AnnotationOptions,
) -> Sequential {
    Sequential::new(
        &(vs.root() / "p"),
        SequentialConfig {
            annotations,
            ..SequentialConfig::new(steps)
        },
    )
    .unwrap()
}
