//! One-factor colour augmentations: RandomBrightness, RandomContrast, RandomSaturation,
//! RandomHue, RandomGamma and RandomInvert.

use super::color::{adjust_hue, hue_turns, jiggle_saturation};
use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::Ew;
use crate::range::{gate_params, Learnable, Range};
use crate::{AugSpec, Augmentation, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Tensor};

/// Configuration shared by the one-factor colour augmentations.
///
/// `Default` is neutral (Kornia's defaults: factor range (1, 1), or (0, 0) for hue; `p =
/// 1`; `clip_output = true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FactorConfig {
    /// The factor range (Kornia's `brightness`, `contrast`, `saturation` or `hue`).
    pub range: (f64, f64),
    /// Clamp the input and the output to [0, 1] (Kornia's `clip_output`; brightness and
    /// contrast only, the others always clamp).
    pub clip_output: bool,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Default for FactorConfig {
    fn default() -> Self {
        FactorConfig {
            range: (1.0, 1.0),
            clip_output: true,
            same_on_batch: false,
            p: 1.0,
            learnable: Learnable::None,
        }
    }
}

impl FactorConfig {
    /// A config with `range` and Kornia's other defaults.
    pub fn new(range: (f64, f64)) -> FactorConfig {
        FactorConfig {
            range,
            ..Default::default()
        }
    }
}

/// What each one-factor augmentation does with its factor `f` (B,1,1,1).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind1 {
    Brightness,
    Contrast,
    Saturation,
    Hue,
}

#[derive(Debug)]
struct OneFactor {
    cfg: FactorConfig,
    kind: Kind1,
    range: Range,
}

impl OneFactor {
    fn new(
        op: &'static str,
        key: &'static str,
        path: &nn::Path,
        cfg: FactorConfig,
        kind: Kind1,
    ) -> Result<OneFactor> {
        let bounds = match kind {
            Kind1::Brightness => (0.0, 2.0),
            Kind1::Contrast | Kind1::Saturation => (0.0, checks::MAGNITUDE),
            Kind1::Hue => (-0.5, 0.5),
        };
        checks::range(op, key, cfg.range, bounds)?;
        checks::probability(op, "p", cfg.p)?;
        cfg.learnable.check(op, &[key])?;
        let range = Range::new(path, key, cfg.range, &cfg.learnable, bounds);
        Ok(OneFactor { cfg, kind, range })
    }

    fn check_shape(&self, op: &'static str, shape: &[i64]) -> Result<()> {
        match self.kind {
            Kind1::Saturation | Kind1::Hue => checks::channels(op, shape, &[3], "3 channels (RGB)"),
            _ => Ok(()),
        }
    }

    fn sample(&self, key: &str, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        p.insert(key, self.range.sample(b, same, device)?);
        Ok(p)
    }

    fn apply(&self, op: &'static str, key: &str, x: &Tensor, params: &Params) -> Result<Tensor> {
        let b = x.size()[0];
        let f = params.shaped(op, key, &[b])?.to_device(x.device());
        let f = if self.kind == Kind1::Hue {
            hue_turns(&f, x.kind())
        } else {
            f
        };
        let f = f.to_kind(x.kind()).view([-1, 1, 1, 1]);
        let ew = Ew::for_inputs(&[x, &f]);
        let clip = self.cfg.clip_output || matches!(self.kind, Kind1::Saturation | Kind1::Hue);
        let x = if clip {
            x.clamp(0.0, 1.0)
        } else {
            x.shallow_clone()
        };
        let out = match self.kind {
            Kind1::Brightness => &x + (&f - 1.0),
            Kind1::Contrast => &x * &f,
            Kind1::Saturation => jiggle_saturation(x, &f, ew),
            Kind1::Hue => adjust_hue(x, &f.view([-1]), ew)?,
        };
        Ok(if clip { ew.clamp(out, 0.0, 1.0) } else { out })
    }
}

macro_rules! one_factor {
    ($(#[$meta:meta])* $name:ident, $kornia:literal, $key:literal, $kind:expr, $default:expr) => {
        $(#[$meta])*
        ///
        /// # Shapes
        /// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
        ///
        /// # Errors
        /// `new` fails on a range outside its domain or a bad `p`; `f_*` forms on a bad input.
        #[derive(Debug)]
        pub struct $name {
            inner: OneFactor,
        }

        impl $name {
            /// Builds the augmentation; its range lives under `path`.
            ///
            /// # Errors
            /// [`crate::Error::Config`] for a NaN, reversed or out-of-domain range, or a
            /// `p` outside [0, 1].
            pub fn new<'p, P: Borrow<nn::Path<'p>>>(path: P, cfg: FactorConfig) -> Result<$name> {
                let path = path.borrow();
                Ok($name { inner: OneFactor::new($kornia, $key, path, cfg, $kind)? })
            }

            /// Kornia's defaults for this augmentation.
            pub fn default_config() -> FactorConfig {
                $default
            }

            /// The factor range.
            pub fn range(&self) -> &Range {
                &self.inner.range
            }
        }

        impl Augmentation for $name {
            fn range_names(&self) -> &'static [&'static str] {
                &[$key]
            }

            fn ranges(&self) -> Vec<&Range> {
                vec![&self.inner.range]
            }

            fn name(&self) -> &'static str {
                $kornia
            }

            fn spec(&self) -> AugSpec {
                AugSpec::$name(self.inner.cfg.clone())
            }

            fn probabilities(&self) -> (f64, f64) {
                (self.inner.cfg.p, 1.0)
            }

            fn check_shape(&self, shape: &[i64]) -> Result<()> {
                self.inner.check_shape($kornia, shape)
            }

            fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
                self.inner.sample($key, shape, device)
            }

            fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
                self.inner.apply($kornia, $key, input, params)
            }
        }

        impl_module!($name);
    };
}

one_factor!(
    /// Adds `f - 1` to each sample, then clamps (Kornia's `RandomBrightness`; OpenCV's
    /// additive brightness).
    RandomBrightness, "RandomBrightness", "brightness_factor", Kind1::Brightness, FactorConfig::default()
);
one_factor!(
    /// Multiplies each sample by `f`, then clamps (Kornia's `RandomContrast`; OpenCV's).
    RandomContrast, "RandomContrast", "contrast_factor", Kind1::Contrast, FactorConfig::default()
);
one_factor!(
    /// Scales the HSV saturation of each sample by `f` (Kornia's `RandomSaturation`).
    RandomSaturation, "RandomSaturation", "saturation_factor", Kind1::Saturation, FactorConfig::default()
);
one_factor!(
    /// Rotates the hue of each sample by `f` turns, `f` in [-0.5, 0.5] (Kornia's
    /// `RandomHue`).
    RandomHue, "RandomHue", "hue_factor", Kind1::Hue, FactorConfig::new((0.0, 0.0))
);

/// Configuration of [`RandomGamma`]; `Default` is Kornia's (neutral, `p = 1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GammaConfig {
    /// Range of the exponent, >= 0.
    pub gamma: (f64, f64),
    /// Range of the gain, >= 0.
    pub gain: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Default for GammaConfig {
    fn default() -> Self {
        GammaConfig {
            gamma: (1.0, 1.0),
            gain: (1.0, 1.0),
            same_on_batch: false,
            p: 1.0,
            learnable: Learnable::None,
        }
    }
}

/// Gamma correction `clamp(gain · x^gamma)` (Kornia's `RandomGamma`).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64 (clamped to [0, 1]); output the same.
///
/// # Errors
/// `new` fails on a negative or NaN range or a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomGamma {
    cfg: GammaConfig,
    gamma: Range,
    gain: Range,
}

const GAMMA: &str = "RandomGamma";

/// The names of [`RandomGamma`]'s ranges (see [`crate::Learnable`]).
const RANDOM_GAMMA_RANGES: [&str; 2] = ["gamma", "gain"];

impl RandomGamma {
    /// Builds the augmentation; its ranges live under `path` (`&path` or `path / "name"`, as tch's layers take it).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a negative, NaN or reversed range, or a `p` outside
    /// [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(path: P, cfg: GammaConfig) -> Result<RandomGamma> {
        let path = path.borrow();
        cfg.learnable.check("RandomGamma", &RANDOM_GAMMA_RANGES)?;
        checks::range(GAMMA, "gamma", cfg.gamma, (0.0, checks::MAGNITUDE))?;
        checks::range(GAMMA, "gain", cfg.gain, (0.0, checks::MAGNITUDE))?;
        checks::probability(GAMMA, "p", cfg.p)?;
        let gamma = Range::new(
            path,
            "gamma",
            cfg.gamma,
            &cfg.learnable,
            (0.0, checks::MAGNITUDE),
        );
        let gain = Range::new(
            path,
            "gain",
            cfg.gain,
            &cfg.learnable,
            (0.0, checks::MAGNITUDE),
        );
        Ok(RandomGamma { cfg, gamma, gain })
    }
}

impl Augmentation for RandomGamma {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_GAMMA_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.gamma, &self.gain]
    }

    fn name(&self) -> &'static str {
        GAMMA
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomGamma(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        p.insert("gamma_factor", self.gamma.sample(b, same, device)?);
        p.insert("gain_factor", self.gain.sample(b, same, device)?);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let get = |k: &str| params.factor(GAMMA, k, input);
        let (gamma, gain) = (get("gamma_factor")?, get("gain_factor")?);
        Ok((gain * input.clamp(0.0, 1.0).pow(&gamma)).clamp(0.0, 1.0))
    }
}

/// Configuration of [`RandomInvert`]; `Default` is Kornia's (`max_val = 1`, `p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InvertConfig {
    /// The value inverted about: `out = max_val - x`.
    pub max_val: f64,
    /// One gate shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of inverting each sample.
    pub p: f64,
}

impl Default for InvertConfig {
    fn default() -> Self {
        InvertConfig {
            max_val: 1.0,
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// `max_val - x` (Kornia's `RandomInvert`); no clamp.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a non-finite `max_val` or a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomInvert {
    cfg: InvertConfig,
}

const INVERT: &str = "RandomInvert";

impl RandomInvert {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a non-finite `max_val` or a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: InvertConfig) -> Result<RandomInvert> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: InvertConfig) -> Result<RandomInvert> {
        checks::finite(INVERT, "max_val", &[cfg.max_val])?;
        checks::probability(INVERT, "p", cfg.p)?;
        Ok(RandomInvert { cfg })
    }
}

impl Augmentation for RandomInvert {
    fn name(&self) -> &'static str {
        INVERT
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomInvert(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let p = gate_params(shape, self.cfg.p, self.cfg.same_on_batch, device)?;
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
        Ok(self.cfg.max_val - input)
    }
}

impl_module!(RandomGamma, RandomInvert);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomGamma {
    type Config = GammaConfig;

    fn from_kornia(kw: &Kwargs) -> Result<GammaConfig> {
        let mut c = GammaConfig::default();
        set!(c.gamma = kw.pair("gamma")?);
        set!(c.gain = kw.pair("gain")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomInvert {
    type Config = InvertConfig;

    fn from_kornia(kw: &Kwargs) -> Result<InvertConfig> {
        let mut c = InvertConfig::default();
        set!(c.max_val = kw.num("max_val")?);
        common!(kw, c);
        Ok(c)
    }
}

/// Kornia's arguments of the one-factor colour steps: the factor under `key` (a number `f`
/// is `(center - f, center + f)`, floored at `floor`), `clip_output`, and the common ones.
fn factor_from_kornia(kw: &Kwargs, key: &str, center: f64, floor: f64) -> Result<FactorConfig> {
    let mut c = FactorConfig::default();
    if key == "hue" {
        c.range = (0.0, 0.0);
    }
    set!(c.range = kw.range(key, center, floor)?);
    set!(c.clip_output = kw.flag("clip_output")?);
    common!(kw, c);
    Ok(c)
}

impl FromKornia for RandomBrightness {
    type Config = FactorConfig;

    fn from_kornia(kw: &Kwargs) -> Result<FactorConfig> {
        factor_from_kornia(kw, "brightness", 1.0, 0.0)
    }
}

impl FromKornia for RandomContrast {
    type Config = FactorConfig;

    fn from_kornia(kw: &Kwargs) -> Result<FactorConfig> {
        factor_from_kornia(kw, "contrast", 1.0, 0.0)
    }
}

impl FromKornia for RandomSaturation {
    type Config = FactorConfig;

    fn from_kornia(kw: &Kwargs) -> Result<FactorConfig> {
        factor_from_kornia(kw, "saturation", 1.0, 0.0)
    }
}

impl FromKornia for RandomHue {
    type Config = FactorConfig;

    fn from_kornia(kw: &Kwargs) -> Result<FactorConfig> {
        factor_from_kornia(kw, "hue", 0.0, -0.5)
    }
}
