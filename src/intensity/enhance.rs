//! RandomSolarize and RandomSharpness.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::{constant, straight_through};
use crate::params::typed_params;
use crate::range::{gate, gate_params, Learnable, Range};
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Tensor};

/// Configuration of [`RandomSolarize`]; `Default` is Kornia's (`thresholds = 0.1` read
/// as (0.4, 0.6), `additions = 0.1` as (-0.1, 0.1), `p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SolarizeConfig {
    /// Threshold range within [0, 1]: pixels at or above it are inverted.
    pub thresholds: (f64, f64),
    /// Range of the value added before thresholding, within [-0.5, 0.5].
    pub additions: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
    /// Straight-through estimator: the forward output is unchanged, the backward pass
    /// treats the thresholding as the identity, so the input and the threshold range get
    /// a gradient (Kornia gives the threshold none).
    pub straight_through: bool,
}

impl SolarizeConfig {
    /// Kornia's `RandomSolarize(thresholds=t, additions=a)`: thresholds in
    /// `(0.5 - t, 0.5 + t)` (floored at 0), additions in `(-a, a)` (floored at -0.5).
    pub fn new(thresholds: f64, additions: f64) -> SolarizeConfig {
        SolarizeConfig {
            thresholds: ((0.5 - thresholds).max(0.0), 0.5 + thresholds),
            additions: ((-additions).max(-0.5), additions),
            ..Default::default()
        }
    }
}

impl Default for SolarizeConfig {
    fn default() -> Self {
        SolarizeConfig {
            thresholds: (0.4, 0.6),
            additions: (-0.1, 0.1),
            same_on_batch: false,
            p: 0.5,
            learnable: Learnable::None,
            straight_through: false,
        }
    }
}

typed_params!(
    /// Parameters of [`RandomSolarize`].
    SolarizeParams, "RandomSolarize" {
        /// (B,) thresholds.
        thresholds,
        /// (B,) additions.
        additions,
    }
);

/// Inverts the pixels at or above a random threshold, after adding a random offset
/// (Kornia's `RandomSolarize`): `x' = clamp(x + a)`, `out = x' if x' < t else 1 - x'`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64 (clamped to [0, 1]); output the same.
///
/// # Errors
/// `new` fails on a range outside its domain or a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomSolarize {
    cfg: SolarizeConfig,
    thresholds: Range,
    additions: Range,
}

const SOLARIZE: &str = "RandomSolarize";

/// The names of [`RandomSolarize`]'s ranges (see [`crate::Learnable`]).
const RANDOM_SOLARIZE_RANGES: [&str; 2] = ["thresholds", "additions"];

impl RandomSolarize {
    /// Builds the augmentation; its two ranges live under `path`.
    ///
    /// # Errors
    /// [`Error::Config`] for thresholds outside [0, 1], additions outside [-0.5, 0.5],
    /// NaN or reversed ranges, or a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: SolarizeConfig,
    ) -> Result<RandomSolarize> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomSolarize", &RANDOM_SOLARIZE_RANGES)?;
        checks::range(SOLARIZE, "thresholds", cfg.thresholds, (0.0, 1.0))?;
        checks::range(SOLARIZE, "additions", cfg.additions, (-0.5, 0.5))?;
        checks::probability(SOLARIZE, "p", cfg.p)?;
        let thresholds = Range::new(
            path,
            "thresholds",
            cfg.thresholds,
            &cfg.learnable,
            (0.0, 1.0),
        );
        let additions = Range::new(
            path,
            "additions",
            cfg.additions,
            &cfg.learnable,
            (-0.5, 0.5),
        );
        Ok(RandomSolarize {
            cfg,
            thresholds,
            additions,
        })
    }

    /// The threshold range.
    pub fn thresholds(&self) -> &Range {
        &self.thresholds
    }

    /// The addition range.
    pub fn additions(&self) -> &Range {
        &self.additions
    }
}

impl Augmentation for RandomSolarize {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_SOLARIZE_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.thresholds, &self.additions]
    }

    fn name(&self) -> &'static str {
        SOLARIZE
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomSolarize(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let batch_prob = gate(b, self.cfg.p, 1.0, same, device)?;
        let thresholds = self.thresholds.sample(b, same, device)?;
        let additions = self.additions.sample(b, same, device)?;
        let mut p: Params = SolarizeParams {
            thresholds,
            additions,
            batch_prob,
        }
        .into();
        p.insert("forward_input_shape", Tensor::from_slice(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let get = |k: &str| params.factor(SOLARIZE, k, input);
        let (thr, add) = (get("thresholds")?, get("additions")?);
        let x = (input.clamp(0.0, 1.0) + add).clamp(0.0, 1.0);
        let out = x.where_self(&x.lt_tensor(&thr), &(1.0 - &x));
        if !self.cfg.straight_through {
            return Ok(out);
        }
        // Forward: `out` exactly (the added terms are zeros). Backward: identity to the
        // (offset) input and to the threshold.
        Ok(straight_through(out, &x) + (&thr - thr.detach()))
    }
}

/// Configuration of [`RandomSharpness`]; `Default` is Kornia's (`sharpness = 0.5` read as
/// (0, 0.5), `p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharpnessConfig {
    /// Range of the sharpness factor, >= 0 (0: the smoothed image, 1: unchanged, > 1:
    /// sharper).
    pub sharpness: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl SharpnessConfig {
    /// Kornia's `RandomSharpness(sharpness=s)`: factors in `(0, s)`.
    pub fn new(s: f64) -> SharpnessConfig {
        SharpnessConfig {
            sharpness: (0.0, s),
            ..Default::default()
        }
    }
}

impl Default for SharpnessConfig {
    fn default() -> Self {
        SharpnessConfig {
            sharpness: (0.0, 0.5),
            same_on_batch: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Blends each sample with its smoothed version, PIL's sharpness (Kornia's
/// `RandomSharpness`): kernel `[[1,1,1],[1,5,1],[1,1,1]]/13` on the interior (border
/// pixels keep their value), `out = clamp(blur + (x - blur)·f)`.
///
/// Params: `sharpness` (B,), `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W) with H, W >= 3, float32 or float64 (clamped to [0, 1]);
/// output the same.
///
/// # Errors
/// `new` fails on a negative or NaN range or a bad `p`; `f_*` forms on a bad input or an
/// image smaller than 3×3.
#[derive(Debug)]
pub struct RandomSharpness {
    cfg: SharpnessConfig,
    sharpness: Range,
}

const SHARPNESS: &str = "RandomSharpness";

/// The names of [`RandomSharpness`]'s ranges (see [`crate::Learnable`]).
const RANDOM_SHARPNESS_RANGES: [&str; 1] = ["sharpness"];

impl RandomSharpness {
    /// Builds the augmentation; its range lives under `path`.
    ///
    /// # Errors
    /// [`Error::Config`] for a negative, NaN or reversed range, or a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: SharpnessConfig,
    ) -> Result<RandomSharpness> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomSharpness", &RANDOM_SHARPNESS_RANGES)?;
        checks::range(
            SHARPNESS,
            "sharpness",
            cfg.sharpness,
            (0.0, checks::MAGNITUDE),
        )?;
        checks::probability(SHARPNESS, "p", cfg.p)?;
        let sharpness = Range::new(
            path,
            "sharpness",
            cfg.sharpness,
            &cfg.learnable,
            (0.0, checks::MAGNITUDE),
        );
        Ok(RandomSharpness { cfg, sharpness })
    }

    /// The sharpness range.
    pub fn sharpness(&self) -> &Range {
        &self.sharpness
    }
}

impl Augmentation for RandomSharpness {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_SHARPNESS_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.sharpness]
    }

    fn name(&self) -> &'static str {
        SHARPNESS
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomSharpness(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        if shape[2] < 3 || shape[3] < 3 {
            return Err(Error::Size {
                op: SHARPNESS,
                what: "3x3 filter",
                size: vec![3, 3],
                input: vec![shape[2], shape[3]],
                allowed: "an image of at least 3x3",
            });
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        p.insert("sharpness", self.sharpness.sample(b, same, device)?);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let size = input.size();
        let (b, c, h, w) = (size[0], size[1], size[2], size[3]);
        let (kind, device) = (input.kind(), input.device());
        let f = params
            .shaped(SHARPNESS, "sharpness", &[b])?
            .to_device(device)
            .to_kind(kind)
            .view([-1, 1, 1, 1]);
        let x = input.clamp(0.0, 1.0);
        let kernel = constant(
            &[1.0f32, 1.0, 1.0, 1.0, 5.0, 1.0, 1.0, 1.0, 1.0],
            kind,
            device,
        )
        .view([1, 1, 3, 3])
        .f_repeat([c, 1, 1, 1])?
            / 13.0;
        let blur = x
            .f_conv2d(&kernel, None::<Tensor>, [1, 1], [0, 0], [1, 1], c)?
            .clamp(0.0, 1.0);
        // The border keeps the input: paste the (H-2)×(W-2) blur into the input's frame.
        let inside = Tensor::f_ones([1, 1, h - 2, w - 2], (kind, device))?
            .f_constant_pad_nd([1, 1, 1, 1])?
            .gt(0.5);
        let blur = blur
            .f_constant_pad_nd([1, 1, 1, 1])?
            .where_self(&inside, &x);
        Ok((&blur + (x - &blur) * f).clamp(0.0, 1.0))
    }
}

impl_module!(RandomSolarize, RandomSharpness);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomSolarize {
    type Config = SolarizeConfig;

    fn from_kornia(kw: &Kwargs) -> Result<SolarizeConfig> {
        let mut c = SolarizeConfig::default();
        set!(c.thresholds = kw.range("thresholds", 0.5, 0.0)?);
        set!(c.additions = kw.range("additions", 0.0, -0.5)?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomSharpness {
    type Config = SharpnessConfig;

    fn from_kornia(kw: &Kwargs) -> Result<SharpnessConfig> {
        let mut c = SharpnessConfig::default();
        set!(c.sharpness = kw.range("sharpness", 0.0, 0.0)?);
        common!(kw, c);
        Ok(c)
    }
}
