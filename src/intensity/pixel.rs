//! Per-pixel and per-channel augmentations: RandomChannelShuffle, RandomGaussianNoise,
//! RandomPosterize and RandomAutoContrast.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::straight_through;
use crate::range::{gate_params, Learnable, Range};
use crate::{AugSpec, Augmentation, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomChannelShuffle`]; `Default` is Kornia's (`p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelShuffleConfig {
    /// One permutation shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of shuffling each sample.
    pub p: f64,
}

impl Default for ChannelShuffleConfig {
    fn default() -> Self {
        ChannelShuffleConfig {
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// Permutes the channels of each sample (Kornia's `RandomChannelShuffle`): the
/// permutation is the argsort of (B,C) uniform scores, one batched draw.
///
/// Params: `channels` (B,C) int64.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomChannelShuffle {
    cfg: ChannelShuffleConfig,
}

const SHUFFLE: &str = "RandomChannelShuffle";

impl RandomChannelShuffle {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: ChannelShuffleConfig,
    ) -> Result<RandomChannelShuffle> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: ChannelShuffleConfig) -> Result<RandomChannelShuffle> {
        checks::probability(SHUFFLE, "p", cfg.p)?;
        Ok(RandomChannelShuffle { cfg })
    }
}

impl Augmentation for RandomChannelShuffle {
    fn name(&self) -> &'static str {
        SHUFFLE
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomChannelShuffle(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, c, same) = (shape[0], shape[1], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let scores = if same {
            crate::rng::rand(&[1, c], (Kind::Float, device))?.f_repeat([b, 1])?
        } else {
            crate::rng::rand(&[b, c], (Kind::Float, device))?
        };
        p.insert("channels", scores.argsort(1, false));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let size = input.size();
        let (b, c) = (size[0], size[1]);
        let channels = params
            .shaped(SHUFFLE, "channels", &[b, c])?
            .to_device(input.device());
        let index = channels.view([b, c, 1, 1]).expand(size.as_slice(), false);
        Ok(input.f_gather(1, &index, false)?)
    }
}

/// Configuration of [`RandomGaussianNoise`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianNoiseConfig {
    /// Mean of the noise.
    pub mean: f64,
    /// Standard deviation of the noise, >= 0.
    pub std: f64,
    /// One noise image shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of adding noise to each sample.
    pub p: f64,
}

impl Default for GaussianNoiseConfig {
    fn default() -> Self {
        GaussianNoiseConfig {
            mean: 0.0,
            std: 1.0,
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// Adds `mean + std·N(0, 1)` noise, drawn per pixel in one batched `randn` (Kornia's
/// `RandomGaussianNoise`). No clamp.
///
/// Params: `gaussian_noise` (B,C,H,W), or (1,C,H,W) with `same_on_batch`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a non-finite mean, a negative or non-finite std, or a bad `p`; `f_*`
/// forms on a bad input.
#[derive(Debug)]
pub struct RandomGaussianNoise {
    cfg: GaussianNoiseConfig,
}

const NOISE: &str = "RandomGaussianNoise";

impl RandomGaussianNoise {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: GaussianNoiseConfig,
    ) -> Result<RandomGaussianNoise> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: GaussianNoiseConfig) -> Result<RandomGaussianNoise> {
        // float32 normal draws stay within 6 standard deviations, so `mean + 6 std` is what
        // must stay finite (with room for the image it is added to).
        const BOUND: f64 = 1e37;
        if !(-BOUND..=BOUND).contains(&cfg.mean) {
            return Err(checks::config(
                NOISE,
                "mean",
                cfg.mean,
                "a number in [-1e37, 1e37]",
            ));
        }
        if !(0.0..=BOUND).contains(&cfg.std) {
            return Err(checks::config(
                NOISE,
                "std",
                cfg.std,
                "a number in [0, 1e37]",
            ));
        }
        checks::probability(NOISE, "p", cfg.p)?;
        Ok(RandomGaussianNoise { cfg })
    }
}

impl Augmentation for RandomGaussianNoise {
    fn name(&self) -> &'static str {
        NOISE
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomGaussianNoise(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let same = self.cfg.same_on_batch;
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let n = if same { 1 } else { shape[0] };
        let noise = crate::rng::randn(&[n, shape[1], shape[2], shape[3]], (Kind::Float, device))?
            * self.cfg.std
            + self.cfg.mean;
        p.insert("gaussian_noise", noise);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let size = input.size();
        let noise = params.require(NOISE, "gaussian_noise")?;
        let n = noise.size().first().copied().unwrap_or(0);
        let noise = params.shaped(
            NOISE,
            "gaussian_noise",
            &[n.clamp(1, size[0]), size[1], size[2], size[3]],
        )?;
        if n != 1 && n != size[0] {
            return Err(crate::Error::Params {
                op: NOISE,
                key: "gaussian_noise".into(),
                problem: format!("has a batch of {n}; expected 1 or {}", size[0]),
            });
        }
        Ok(input + noise.to_device(input.device()).to_kind(input.kind()))
    }
}

/// Configuration of [`RandomPosterize`]; `Default` is Kornia's (`bits = 3` read as
/// (3, 8), `p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PosterizeConfig {
    /// Range of the number of bits kept, within [0, 8] (drawn, then rounded).
    pub bits: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of posterizing each sample.
    pub p: f64,
    /// Make `bits` a trainable variable (a gradient reaches it only with
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
    /// Straight-through estimator: forward unchanged, backward the identity to the input
    /// and to the (unrounded) bits. Kornia gives neither a gradient.
    pub straight_through: bool,
}

impl PosterizeConfig {
    /// Kornia's `RandomPosterize(bits=b)`: bits in `(b, 8)`.
    pub fn new(bits: f64) -> PosterizeConfig {
        PosterizeConfig {
            bits: (bits, 8.0),
            ..Default::default()
        }
    }
}

impl Default for PosterizeConfig {
    fn default() -> Self {
        PosterizeConfig {
            bits: (3.0, 8.0),
            same_on_batch: false,
            p: 0.5,
            learnable: Learnable::None,
            straight_through: false,
        }
    }
}

/// Keeps the `bits` high bits of each 8-bit value (Kornia's `RandomPosterize`), with
/// Kornia's float arithmetic: `u8(u8(255x) / 2^s / 255 · 255) · 2^s / 255`, `s = 8 - bits`;
/// 0 bits gives black, 8 bits the input.
///
/// Params: `bits_factor` (B,) int32.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64 (clamped to [0, 1]); output the same.
///
/// # Errors
/// `new` fails on a range outside [0, 8] or a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomPosterize {
    cfg: PosterizeConfig,
    bits: Range,
}

const POSTERIZE: &str = "RandomPosterize";

/// The names of [`RandomPosterize`]'s ranges (see [`crate::Learnable`]).
const RANDOM_POSTERIZE_RANGES: [&str; 1] = ["bits"];

impl RandomPosterize {
    /// Builds the augmentation; `bits` lives under `path`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a range outside [0, 8] or a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: PosterizeConfig,
    ) -> Result<RandomPosterize> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomPosterize", &RANDOM_POSTERIZE_RANGES)?;
        checks::range(POSTERIZE, "bits", cfg.bits, (0.0, 8.0))?;
        checks::probability(POSTERIZE, "p", cfg.p)?;
        let bits = Range::new(path, "bits", cfg.bits, &cfg.learnable, (0.0, 8.0));
        Ok(RandomPosterize { cfg, bits })
    }

    /// The bits range.
    pub fn bits(&self) -> &Range {
        &self.bits
    }
}

impl Augmentation for RandomPosterize {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_POSTERIZE_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.bits]
    }

    fn name(&self) -> &'static str {
        POSTERIZE
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomPosterize(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let raw = self.bits.sample(b, same, device)?;
        p.insert("bits_factor", raw.round().to_kind(Kind::Int));
        if self.cfg.straight_through {
            // The unrounded draw, through which the straight-through gradient reaches the range.
            p.insert("bits_raw", raw);
        }
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = input.size()[0];
        let kind = input.kind();
        // Replayed bits outside [0, 8] are read as the nearest end (no shift past a byte).
        let bits = params
            .shaped(POSTERIZE, "bits_factor", &[b])?
            .to_device(input.device())
            .clamp(0, 8)
            .view([-1, 1, 1, 1]);
        let x = input.clamp(0.0, 1.0);
        let shift = 8 - bits.to_kind(Kind::Int);
        // Made on the device: a copy from the host would wait for the GPU.
        let scale = Tensor::f_full([1], 2, (Kind::Int64, input.device()))?.pow(&shift); // int
        let bytes = |t: &Tensor| (t * 255.0).to_kind(Kind::Uint8);
        let right = bytes(&x) / scale.to_kind(kind) / 255.0;
        let left = (bytes(&right) * &scale).to_kind(kind) / 255.0;
        let out = left.where_self(&bits.ne(0), &x.zeros_like());
        // A NaN stays NaN (its byte conversion is undefined); ±inf were clamped above.
        let out = x.where_self(&bits.eq(8).logical_or(&x.isnan()), &out);
        if !self.cfg.straight_through {
            return Ok(out);
        }
        let out = straight_through(out, &x);
        Ok(match params.get("bits_raw") {
            Some(_) => {
                let raw = params
                    .shaped(POSTERIZE, "bits_raw", &[b])?
                    .to_device(input.device())
                    .to_kind(kind)
                    .view([-1, 1, 1, 1]);
                out + (&raw - raw.detach())
            }
            None => out,
        })
    }
}

/// Configuration of [`RandomAutoContrast`]; `Default` is Kornia's (`p = 1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoContrastConfig {
    /// Clamp the output to [0, 1].
    pub clip_output: bool,
    /// One gate shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Straight-through estimator: forward unchanged, backward the identity.
    pub straight_through: bool,
}

impl Default for AutoContrastConfig {
    fn default() -> Self {
        AutoContrastConfig {
            clip_output: true,
            same_on_batch: false,
            p: 1.0,
            straight_through: false,
        }
    }
}

/// Stretches each channel of each sample to [0, 1]: `(x - min) / (max - min + 1e-6)`
/// (Kornia's `RandomAutoContrast`).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomAutoContrast {
    cfg: AutoContrastConfig,
}

const AUTOCONTRAST: &str = "RandomAutoContrast";

impl RandomAutoContrast {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: AutoContrastConfig,
    ) -> Result<RandomAutoContrast> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: AutoContrastConfig) -> Result<RandomAutoContrast> {
        checks::probability(AUTOCONTRAST, "p", cfg.p)?;
        Ok(RandomAutoContrast { cfg })
    }
}

impl Augmentation for RandomAutoContrast {
    fn name(&self) -> &'static str {
        AUTOCONTRAST
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomAutoContrast(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let p = gate_params(shape, self.cfg.p, self.cfg.same_on_batch, device)?;
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
        let min = input.amin([-2, -1], true);
        let max = input.amax([-2, -1], true);
        let out = (input - &min) / (max - min + 1e-6);
        let out = if self.cfg.clip_output {
            out.clamp(0.0, 1.0)
        } else {
            out
        };
        Ok(if self.cfg.straight_through {
            straight_through(out, input)
        } else {
            out
        })
    }
}

impl_module!(
    RandomChannelShuffle,
    RandomGaussianNoise,
    RandomPosterize,
    RandomAutoContrast
);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomChannelShuffle {
    type Config = ChannelShuffleConfig;

    fn from_kornia(kw: &Kwargs) -> Result<ChannelShuffleConfig> {
        let mut c = ChannelShuffleConfig::default();
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomGaussianNoise {
    type Config = GaussianNoiseConfig;

    fn from_kornia(kw: &Kwargs) -> Result<GaussianNoiseConfig> {
        let mut c = GaussianNoiseConfig::default();
        set!(c.mean = kw.num("mean")?);
        set!(c.std = kw.num("std")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomPosterize {
    type Config = PosterizeConfig;

    fn from_kornia(kw: &Kwargs) -> Result<PosterizeConfig> {
        let mut c = PosterizeConfig::default();
        set!(
            c.bits = match kw.nums("bits")?.as_deref() {
                None => None,
                Some([b]) => Some((*b, 8.0)),
                Some([a, b]) => Some((*a, *b)),
                Some(_) => return Err(kw.err("bits", "a number of bits or a (lo, hi) range")),
            }
        );
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomAutoContrast {
    type Config = AutoContrastConfig;

    fn from_kornia(kw: &Kwargs) -> Result<AutoContrastConfig> {
        let mut c = AutoContrastConfig::default();
        set!(c.clip_output = kw.flag("clip_output")?);
        common!(kw, c);
        Ok(c)
    }
}
