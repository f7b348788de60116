//! RandomChannelDropout, RandomRGBShift, RandomSaltAndPepperNoise and RandomMedianBlur.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, uniform_between, Learnable, Range};
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomChannelDropout`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelDropoutConfig {
    /// How many channels to fill, >= 1 and at most the channel count.
    pub num_drop_channels: i64,
    /// The fill value, in [0, 1].
    pub fill_value: f64,
    /// One choice shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of dropping channels of each sample.
    pub p: f64,
}

impl Default for ChannelDropoutConfig {
    fn default() -> Self {
        ChannelDropoutConfig {
            num_drop_channels: 1,
            fill_value: 0.0,
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// Fills `num_drop_channels` random channels of each sample with `fill_value` (Kornia's
/// `RandomChannelDropout`): the channels are the first of an argsort of (B,C) uniform
/// scores.
///
/// Params: `batch_idx` (B,1), `channel_idx` (B,k) int64.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on `num_drop_channels < 1`, a fill outside [0, 1] or a bad `p`; `f_*` forms
/// on a bad input or fewer channels than `num_drop_channels`.
#[derive(Debug)]
pub struct RandomChannelDropout {
    cfg: ChannelDropoutConfig,
}

const DROPOUT: &str = "RandomChannelDropout";

impl RandomChannelDropout {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: ChannelDropoutConfig,
    ) -> Result<RandomChannelDropout> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: ChannelDropoutConfig) -> Result<RandomChannelDropout> {
        if cfg.num_drop_channels < 1 {
            return Err(checks::config(
                DROPOUT,
                "num_drop_channels",
                cfg.num_drop_channels,
                "an integer >= 1",
            ));
        }
        if !(0.0..=1.0).contains(&cfg.fill_value) {
            return Err(checks::config(
                DROPOUT,
                "fill_value",
                cfg.fill_value,
                "a number in [0, 1]",
            ));
        }
        checks::probability(DROPOUT, "p", cfg.p)?;
        Ok(RandomChannelDropout { cfg })
    }
}

impl Augmentation for RandomChannelDropout {
    fn name(&self) -> &'static str {
        DROPOUT
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomChannelDropout(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        if self.cfg.num_drop_channels > shape[1] {
            return Err(Error::Channels {
                op: DROPOUT,
                expected: format!(
                    "at least num_drop_channels = {}",
                    self.cfg.num_drop_channels
                ),
                got: shape[1],
                shape: shape.to_vec(),
            });
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, c, same) = (shape[0], shape[1], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let scores = if same {
            crate::rng::rand(&[1, c], (Kind::Float, device))?.f_repeat([b, 1])?
        } else {
            crate::rng::rand(&[b, c], (Kind::Float, device))?
        };
        p.insert(
            "batch_idx",
            Tensor::f_arange(b, (Kind::Int64, device))?.view([b, 1]),
        );
        p.insert(
            "channel_idx",
            scores
                .argsort(1, false)
                .narrow(1, 0, self.cfg.num_drop_channels),
        );
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let size = input.size();
        let (b, c) = (size[0], size[1]);
        let idx = params
            .shaped(DROPOUT, "channel_idx", &[b, self.cfg.num_drop_channels])?
            .to_device(input.device());
        let drop = Tensor::f_zeros([b, c], (Kind::Bool, input.device()))?
            .scatter_value(1, &idx, 1)
            .view([b, c, 1, 1]);
        Ok(input.masked_fill(&drop, self.cfg.fill_value))
    }
}

/// Configuration of [`RandomRGBShift`]; `Default` is Kornia's (each shift in (-0.5, 0.5)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RgbShiftConfig {
    /// Range of the red shift.
    pub r_shift_limit: (f64, f64),
    /// Range of the green shift.
    pub g_shift_limit: (f64, f64),
    /// Range of the blue shift.
    pub b_shift_limit: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of shifting each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Default for RgbShiftConfig {
    fn default() -> Self {
        RgbShiftConfig {
            r_shift_limit: (-0.5, 0.5),
            g_shift_limit: (-0.5, 0.5),
            b_shift_limit: (-0.5, 0.5),
            same_on_batch: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Adds a random offset to each of R, G and B, then clamps (Kornia's `RandomRGBShift`).
///
/// Params: `r_shift`, `g_shift`, `b_shift` (B,).
///
/// # Shapes
/// Input (B,3,H,W) or (3,H,W), float32 or float64 (clamped to [0, 1]); output the same.
///
/// # Errors
/// `new` fails on a NaN or reversed range or a bad `p`; `f_*` forms on a bad input or a
/// channel count other than 3.
#[derive(Debug)]
pub struct RandomRGBShift {
    cfg: RgbShiftConfig,
    ranges: [Range; 3],
}

const RGB_SHIFT: &str = "RandomRGBShift";
const SHIFT_KEYS: [&str; 3] = ["r_shift", "g_shift", "b_shift"];

impl RandomRGBShift {
    /// Builds the augmentation; its ranges live under `path` (`&path` or `path / "name"`, as tch's layers take it).
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: RgbShiftConfig,
    ) -> Result<RandomRGBShift> {
        let path = path.borrow();
        cfg.learnable.check("RandomRGBShift", &SHIFT_KEYS)?;
        let limits = [cfg.r_shift_limit, cfg.g_shift_limit, cfg.b_shift_limit];
        for (name, r) in ["r_shift_limit", "g_shift_limit", "b_shift_limit"]
            .into_iter()
            .zip(limits)
        {
            checks::range(RGB_SHIFT, name, r, (-checks::MAGNITUDE, checks::MAGNITUDE))?;
        }
        checks::probability(RGB_SHIFT, "p", cfg.p)?;
        let ranges = [0, 1, 2].map(|i| {
            Range::new(
                path,
                SHIFT_KEYS[i],
                limits[i],
                &cfg.learnable,
                (-checks::MAGNITUDE, checks::MAGNITUDE),
            )
        });
        Ok(RandomRGBShift { cfg, ranges })
    }
}

impl Augmentation for RandomRGBShift {
    fn range_names(&self) -> &'static [&'static str] {
        &SHIFT_KEYS
    }

    fn ranges(&self) -> Vec<&Range> {
        self.ranges.iter().collect()
    }

    fn name(&self) -> &'static str {
        RGB_SHIFT
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomRGBShift(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        checks::channels(RGB_SHIFT, shape, &[3], "3 channels (RGB)")
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        for (key, range) in SHIFT_KEYS.into_iter().zip(&self.ranges) {
            p.insert(key, range.sample(b, same, device)?);
        }
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = input.size()[0];
        let shifts = SHIFT_KEYS
            .iter()
            .map(|k| Ok(params.shaped(RGB_SHIFT, k, &[b])?.shallow_clone()))
            .collect::<Result<Vec<_>>>()?;
        let shift = Tensor::stack(&shifts, 1)
            .view([-1, 3, 1, 1])
            .to_device(input.device())
            .to_kind(input.kind());
        Ok((input.clamp(0.0, 1.0) + shift).clamp(0.0, 1.0))
    }
}

/// Configuration of [`RandomSaltAndPepperNoise`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaltAndPepperConfig {
    /// Range of the fraction of noisy pixels, within [0, 1].
    pub amount: (f64, f64),
    /// Range of the fraction of noisy pixels that are salt (1) rather than pepper (0).
    pub salt_vs_pepper: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of adding noise to each sample.
    pub p: f64,
}

impl Default for SaltAndPepperConfig {
    fn default() -> Self {
        SaltAndPepperConfig {
            amount: (0.01, 0.06),
            salt_vs_pepper: (0.4, 0.6),
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// Sets random pixels (all channels at once) to 1 (salt) or 0 (pepper) (Kornia's
/// `RandomSaltAndPepperNoise`); the masks are drawn per pixel in two batched calls.
///
/// Params: `amount_factor`, `salt_and_pepper_factor` (B,); `mask_salt`, `mask_pepper`
/// (B,C,H,W) bool.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W) with C = 1 or 3, float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on ranges outside [0, 1] or a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomSaltAndPepperNoise {
    cfg: SaltAndPepperConfig,
}

const SALT: &str = "RandomSaltAndPepperNoise";

impl RandomSaltAndPepperNoise {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: SaltAndPepperConfig,
    ) -> Result<RandomSaltAndPepperNoise> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: SaltAndPepperConfig) -> Result<RandomSaltAndPepperNoise> {
        checks::range(SALT, "amount", cfg.amount, (0.0, 1.0))?;
        checks::range(SALT, "salt_vs_pepper", cfg.salt_vs_pepper, (0.0, 1.0))?;
        checks::probability(SALT, "p", cfg.p)?;
        Ok(RandomSaltAndPepperNoise { cfg })
    }
}

impl Augmentation for RandomSaltAndPepperNoise {
    fn name(&self) -> &'static str {
        SALT
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomSaltAndPepperNoise(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        checks::channels(SALT, shape, &[1, 3], "1 or 3 channels")
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        let same = self.cfg.same_on_batch;
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let between = |r: (f64, f64)| uniform_between(b, same, device, r);
        let amount = between(self.cfg.amount)?;
        let salt_share = between(self.cfg.salt_vs_pepper)?;
        let field = || -> Result<Tensor> {
            if same {
                Ok(crate::rng::rand(&[1, 1, h, w], (Kind::Float, device))?
                    .f_repeat([b, 1, 1, 1])?)
            } else {
                crate::rng::rand(&[b, 1, h, w], (Kind::Float, device))
            }
        };
        let noise = field()?
            .lt_tensor(&amount.view([b, 1, 1, 1]))
            .f_repeat([1, c, 1, 1])?;
        let salt = field()?
            .lt_tensor(&salt_share.view([b, 1, 1, 1]))
            .f_repeat([1, c, 1, 1])?;
        p.insert("amount_factor", amount);
        p.insert("salt_and_pepper_factor", salt_share);
        p.insert("mask_pepper", salt.logical_not().logical_and(&noise));
        p.insert("mask_salt", salt.logical_and(&noise));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let size = input.size();
        let mask = |k: &str| -> Result<Tensor> {
            Ok(params
                .shaped(SALT, k, &size)?
                .to_device(input.device())
                .gt(0.5))
        };
        Ok(input
            .masked_fill(&mask("mask_salt")?, 1.0)
            .masked_fill(&mask("mask_pepper")?, 0.0))
    }
}

/// Configuration of [`RandomMedianBlur`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MedianBlurConfig {
    /// Window (height, width), odd.
    pub kernel_size: (i64, i64),
    /// One gate shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of filtering each sample.
    pub p: f64,
}

impl Default for MedianBlurConfig {
    fn default() -> Self {
        MedianBlurConfig {
            kernel_size: (3, 3),
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// The median of each (kh, kw) window, reflect border (Kornia's `RandomMedianBlur`). The
/// gradient reaches the median element of each window (Kornia's too).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on an even or non-positive window or a bad `p`; `f_*` forms on a bad input
/// or an image too small for reflect padding.
#[derive(Debug)]
pub struct RandomMedianBlur {
    cfg: MedianBlurConfig,
}

const MEDIAN: &str = "RandomMedianBlur";

impl RandomMedianBlur {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: MedianBlurConfig,
    ) -> Result<RandomMedianBlur> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: MedianBlurConfig) -> Result<RandomMedianBlur> {
        let (kh, kw) = cfg.kernel_size;
        if kh < 1 || kw < 1 || kh % 2 == 0 || kw % 2 == 0 {
            return Err(checks::config(
                MEDIAN,
                "kernel_size",
                format!("({kh}, {kw})"),
                "odd sizes >= 1",
            ));
        }
        checks::probability(MEDIAN, "p", cfg.p)?;
        Ok(RandomMedianBlur { cfg })
    }
}

impl Augmentation for RandomMedianBlur {
    fn name(&self) -> &'static str {
        MEDIAN
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomMedianBlur(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let (kh, kw) = self.cfg.kernel_size;
        if shape[2] <= kh / 2 || shape[3] <= kw / 2 {
            return Err(Error::Size {
                op: MEDIAN,
                what: "window",
                size: vec![kh, kw],
                input: vec![shape[2], shape[3]],
                allowed: "reflect padding needs H, W > window size / 2",
            });
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let p = gate_params(shape, self.cfg.p, self.cfg.same_on_batch, device)?;
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
        let (kh, kw) = self.cfg.kernel_size;
        let size = input.size();
        let padded = input.f_pad([kw / 2, kw / 2, kh / 2, kh / 2], "reflect", None)?;
        let windows = padded.unfold(2, kh, 1).unfold(3, kw, 1).reshape([
            size[0],
            size[1],
            size[2],
            size[3],
            kh * kw,
        ]);
        Ok(windows.median_dim(-1, false).0)
    }
}

impl_module!(
    RandomChannelDropout,
    RandomRGBShift,
    RandomSaltAndPepperNoise,
    RandomMedianBlur
);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomChannelDropout {
    type Config = ChannelDropoutConfig;

    fn from_kornia(kw: &Kwargs) -> Result<ChannelDropoutConfig> {
        let mut c = ChannelDropoutConfig::default();
        set!(c.num_drop_channels = kw.int("num_drop_channels")?);
        set!(c.fill_value = kw.num("fill_value")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomRGBShift {
    type Config = RgbShiftConfig;

    fn from_kornia(kw: &Kwargs) -> Result<RgbShiftConfig> {
        let mut c = RgbShiftConfig::default();
        set!(c.r_shift_limit = kw.range("r_shift_limit", 0.0, -1.0)?);
        set!(c.g_shift_limit = kw.range("g_shift_limit", 0.0, -1.0)?);
        set!(c.b_shift_limit = kw.range("b_shift_limit", 0.0, -1.0)?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomSaltAndPepperNoise {
    type Config = SaltAndPepperConfig;

    fn from_kornia(kw: &Kwargs) -> Result<SaltAndPepperConfig> {
        let mut c = SaltAndPepperConfig::default();
        set!(c.amount = kw.pair("amount")?);
        set!(c.salt_vs_pepper = kw.pair("salt_vs_pepper")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomMedianBlur {
    type Config = MedianBlurConfig;

    fn from_kornia(kw: &Kwargs) -> Result<MedianBlurConfig> {
        let mut c = MedianBlurConfig::default();
        set!(c.kernel_size = kw.size("kernel_size")?);
        common!(kw, c);
        Ok(c)
    }
}
