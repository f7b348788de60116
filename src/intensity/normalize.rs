//! Normalize, Denormalize and RandomGrayscale.

use super::color::{rgb_to_gray, LUMA};
use crate::augmentation::impl_module;
use crate::augmentation::{ColorStep, Role};
use crate::checks;
use crate::color_map::{ColorMap, ColorStats};
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::{constant, Ew};
use crate::range::gate_params;
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Tensor};

/// Configuration of [`Normalize`] and [`Denormalize`]: one value for all channels or one
/// per channel. `Default` is mean 0, std 1, `p = 1` (Kornia's `p`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NormalizeConfig {
    /// Per-channel mean (or one value).
    pub mean: Vec<f64>,
    /// Per-channel standard deviation (or one value), non-zero.
    pub std: Vec<f64>,
    /// Probability of applying; one gate for the whole batch (Kornia's
    /// `same_on_batch = True`).
    pub p: f64,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        NormalizeConfig {
            mean: vec![0.0],
            std: vec![1.0],
            p: 1.0,
        }
    }
}

impl NormalizeConfig {
    /// ImageNet's mean and std.
    pub fn imagenet() -> NormalizeConfig {
        NormalizeConfig {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
            p: 1.0,
        }
    }
}

fn check_normalize(op: &'static str, cfg: &NormalizeConfig) -> Result<()> {
    if cfg.mean.is_empty() || cfg.std.is_empty() {
        return Err(checks::config(
            op,
            "mean/std",
            format!("{:?}/{:?}", cfg.mean, cfg.std),
            "at least one value each",
        ));
    }
    checks::finite(op, "mean", &cfg.mean)?;
    checks::finite(op, "std", &cfg.std)?;
    if cfg.std.iter().any(|&s| !checks::f32_positive(s.abs())) {
        return Err(checks::config(
            op,
            "std",
            format!("{:?}", cfg.std),
            "non-zero values whose magnitude is at least float32's smallest normal (1.2e-38)",
        ));
    }
    // Image values up to 1e3 in magnitude must stay finite in float32 (below 1e38).
    let max = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let min = |v: &[f64]| v.iter().fold(f64::INFINITY, |m, x| m.min(x.abs()));
    let (reach, allowed) = if op == "Denormalize" {
        (
            1e3 * max(&cfg.std) + max(&cfg.mean),
            "1e3 * max|std| + max|mean| <= 1e38 (values up to 1e3 stay finite in float32)",
        )
    } else {
        (
            (max(&cfg.mean) + 1e3) / min(&cfg.std),
            "(max|mean| + 1e3) / min|std| <= 1e38 (values up to 1e3 stay finite in float32)",
        )
    };
    if reach > 1e38 {
        return Err(checks::config(
            op,
            "mean/std",
            format!("{:?}/{:?}", cfg.mean, cfg.std),
            allowed,
        ));
    }
    checks::probability(op, "p", cfg.p)
}

fn check_normalize_channels(op: &'static str, cfg: &NormalizeConfig, shape: &[i64]) -> Result<()> {
    let c = shape[1];
    for v in [&cfg.mean, &cfg.std] {
        if v.len() != 1 && v.len() as i64 != c {
            return Err(Error::Channels {
                op,
                expected: format!("{} channels, one per mean/std value", v.len()),
                got: c,
                shape: shape.to_vec(),
            });
        }
    }
    Ok(())
}

/// A (1,C,1,1) (or (1,1,1,1)) tensor of `v`.
fn per_channel(v: &[f64], like: &Tensor) -> Tensor {
    constant(v, like.kind(), like.device()).view([1, -1, 1, 1])
}

macro_rules! normalize_type {
    ($(#[$meta:meta])* $name:ident, $kornia:literal, |$x:ident, $mean:ident, $std:ident| $body:expr) => {
        $(#[$meta])*
        ///
        /// Deterministic (applies under [`crate::TrainOnly`] in evaluation too). No clamp.
        ///
        /// # Shapes
        /// Input (B,C,H,W) or (C,H,W), float32 or float64, C matching `mean`/`std` (or
        /// any C for single values). Output the same shape.
        ///
        /// # Errors
        /// `new` fails on empty, non-finite or zero-std values; `f_*` forms on a bad input.
        #[derive(Debug)]
        pub struct $name {
            cfg: NormalizeConfig,
        }

        impl $name {
            /// Builds the layer (it has no variables).
            ///
            /// # Errors
            /// [`Error::Config`] for empty or non-finite mean/std, a zero std, or a `p`
            /// outside [0, 1].
            pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: NormalizeConfig) -> Result<$name> {
                $name::from_config(cfg)
            }

            /// Builds it without a VarStore: it has no variables.
            ///
            /// # Errors
            /// As `new`.
            pub fn from_config(cfg: NormalizeConfig) -> Result<$name> {
                check_normalize($kornia, &cfg)?;
                Ok($name { cfg })
            }
        }

        impl Augmentation for $name {
            fn name(&self) -> &'static str {
                $kornia
            }

            fn role(&self) -> Role<'_> {
                Role::color(self)
            }

            fn spec(&self) -> AugSpec {
                AugSpec::$name(self.cfg.clone())
            }

            fn is_random(&self) -> bool {
                false
            }

            fn probabilities(&self) -> (f64, f64) {
                (self.cfg.p, 1.0)
            }

            fn check_shape(&self, shape: &[i64]) -> Result<()> {
                check_normalize_channels($kornia, &self.cfg, shape)
            }

            fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
                gate_params(shape, self.cfg.p, true, device)
            }

            fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
                let $x = input;
                let $mean = per_channel(&self.cfg.mean, input);
                let $std = per_channel(&self.cfg.std, input);
                Ok($body)
            }
        }

        impl ColorStep for $name {
            /// Exact: a per-channel scale and shift, no clamp.
            fn color_map(
                &self,
                shape: &[i64],
                _params: &Params,
                stats: &ColorStats<'_>,
            ) -> Result<ColorMap> {
                let like = stats.like();
                let (b, c) = (shape[0], shape[1]);
                let ones = Tensor::f_ones([b, c], (like.kind(), like.device()))?;
                let mean = &ones * per_channel(&self.cfg.mean, like).view([1, -1]);
                let std = &ones * per_channel(&self.cfg.std, like).view([1, -1]);
                // Normalize: x/std - mean/std; Denormalize: x·std + mean.
                let (scale, shift) = if $kornia == "Normalize" {
                    (std.reciprocal(), -(mean / &std))
                } else {
                    (std, mean)
                };
                Ok(crate::color_map::ColorMap {
                    matrix: scale.diag_embed(0, -2, -1),
                    bias: shift,
                    bounds: None,
                    diagonal: true,
                })
            }
        }

        impl_module!($name);
    };
}

normalize_type!(
    /// `(x - mean) / std` per channel (Kornia's `Normalize`).
    Normalize, "Normalize", |x, mean, std| Ew::for_inputs(&[x]).div(x - mean, &std)
);
normalize_type!(
    /// `x · std + mean` per channel (Kornia's `Denormalize`).
    Denormalize, "Denormalize", |x, mean, std| mean.addcmul(x, &std)
);

/// Configuration of [`RandomGrayscale`]; `Default` is Kornia's (`p = 0.1`, BT.601 weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomGrayscaleConfig {
    /// Weights of R, G, B (or one per channel for other channel counts); `None` for
    /// BT.601 (0.299, 0.587, 0.114), or 1/C each when C != 3.
    pub rgb_weights: Option<Vec<f64>>,
    /// One gate shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of graying each sample.
    pub p: f64,
}

impl Default for RandomGrayscaleConfig {
    fn default() -> Self {
        RandomGrayscaleConfig {
            rgb_weights: None,
            same_on_batch: false,
            p: 0.1,
        }
    }
}

/// Replaces each sample, with probability `p`, by its weighted channel sum repeated over
/// the channels (Kornia's `RandomGrayscale`).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on non-finite weights or a bad `p`; `f_*` forms on a bad input, or when
/// `rgb_weights` does not have one weight per channel.
#[derive(Debug)]
pub struct RandomGrayscale {
    cfg: RandomGrayscaleConfig,
}

const GRAY: &str = "RandomGrayscale";

impl RandomGrayscale {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] for empty or non-finite weights or a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: RandomGrayscaleConfig,
    ) -> Result<RandomGrayscale> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: RandomGrayscaleConfig) -> Result<RandomGrayscale> {
        if let Some(w) = &cfg.rgb_weights {
            if w.is_empty() {
                return Err(checks::config(
                    GRAY,
                    "rgb_weights",
                    "[]",
                    "one weight per channel",
                ));
            }
            checks::finite(GRAY, "rgb_weights", w)?;
        }
        checks::probability(GRAY, "p", cfg.p)?;
        Ok(RandomGrayscale { cfg })
    }
}

impl Augmentation for RandomGrayscale {
    fn name(&self) -> &'static str {
        GRAY
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomGrayscale(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        match &self.cfg.rgb_weights {
            Some(w) if w.len() as i64 != shape[1] => Err(Error::Channels {
                op: GRAY,
                expected: format!("{} channels, one per rgb_weights value", w.len()),
                got: shape[1],
                shape: shape.to_vec(),
            }),
            _ => Ok(()),
        }
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        gate_params(shape, self.cfg.p, self.cfg.same_on_batch, device)
    }

    fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
        let c = input.size()[1];
        let gray = match (&self.cfg.rgb_weights, c) {
            (None, 3) => rgb_to_gray(input, LUMA),
            (Some(w), 3) => rgb_to_gray(input, [w[0], w[1], w[2]]),
            (w, c) => {
                let w = w
                    .clone()
                    .unwrap_or_else(|| vec![1.0 / c as f64; c as usize]);
                let w = constant(&w, input.kind(), input.device());
                (input * w.view([1, c, 1, 1])).sum_dim_intlist(
                    [1i64].as_slice(),
                    true,
                    input.kind(),
                )
            }
        };
        Ok(gray.f_repeat([1, c, 1, 1])?)
    }

    fn role(&self) -> Role<'_> {
        Role::color(self)
    }
}

impl ColorStep for RandomGrayscale {
    /// Exact: every channel replaced by the weighted sum, no clamp.
    fn color_map(
        &self,
        shape: &[i64],
        _params: &Params,
        stats: &ColorStats<'_>,
    ) -> Result<ColorMap> {
        let like = stats.like();
        let (b, c) = (shape[0], shape[1]);
        let w = match &self.cfg.rgb_weights {
            Some(w) => w.clone(),
            None if c == 3 => LUMA.to_vec(),
            None => vec![1.0 / c as f64; c as usize],
        };
        let w = constant(&w, like.kind(), like.device());
        Ok(crate::color_map::ColorMap {
            matrix: w.view([1, 1, c]).expand([b, c, c], false),
            bias: Tensor::f_zeros([b, c], (like.kind(), like.device()))?,
            bounds: None,
            diagonal: false,
        })
    }
}

impl_module!(RandomGrayscale);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomGrayscale {
    type Config = RandomGrayscaleConfig;

    fn from_kornia(kw: &Kwargs) -> Result<RandomGrayscaleConfig> {
        let mut c = RandomGrayscaleConfig {
            rgb_weights: kw.nums("rgb_weights")?,
            ..Default::default()
        };
        common!(kw, c);
        Ok(c)
    }
}

/// Kornia's Normalize and Denormalize arguments.
fn normalize_from_kornia(kw: &Kwargs) -> Result<NormalizeConfig> {
    let mut c = NormalizeConfig::default();
    set!(c.mean = kw.nums("mean")?);
    set!(c.std = kw.nums("std")?);
    set!(c.p = kw.num("p")?);
    let _ = kw.flag("keepdim")?;
    Ok(c)
}

impl FromKornia for Normalize {
    type Config = NormalizeConfig;

    fn from_kornia(kw: &Kwargs) -> Result<NormalizeConfig> {
        normalize_from_kornia(kw)
    }
}

impl FromKornia for Denormalize {
    type Config = NormalizeConfig;

    fn from_kornia(kw: &Kwargs) -> Result<NormalizeConfig> {
        normalize_from_kornia(kw)
    }
}
