//! RandomErasing.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::params::typed_params;
use crate::range::{gate, uniform, uniform_between};
use crate::{AugSpec, Augmentation, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomErasing`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErasingConfig {
    /// Range of the erased area as a fraction of the image area.
    pub scale: (f64, f64),
    /// Range of the box aspect ratio (height / width); a range around 1 is sampled half
    /// below and half above 1.
    pub ratio: (f64, f64),
    /// The fill value, in [0, 1].
    pub value: f64,
    /// One box shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of erasing each sample.
    pub p: f64,
}

impl Default for ErasingConfig {
    fn default() -> Self {
        ErasingConfig {
            scale: (0.02, 0.33),
            ratio: (0.3, 3.3),
            value: 0.0,
            same_on_batch: false,
            p: 0.5,
        }
    }
}

typed_params!(
    /// Parameters of [`RandomErasing`]: the box of each sample, float32 (B,).
    ErasingParams, "RandomErasing" {
        /// (B,) box widths.
        widths,
        /// (B,) box heights.
        heights,
        /// (B,) left columns.
        xs,
        /// (B,) top rows.
        ys,
        /// (B,) fill values.
        values,
    }
);

/// Fills a random box of each sample with a constant (Kornia's `RandomErasing`,
/// Zhong et al.'s random erasing): area `U(scale)·H·W`, aspect ratio from `ratio`,
/// `h = round(sqrt(area·r))`, `w = round(sqrt(area/r))`, position uniform.
///
/// The gradient reaches the input outside the box; the box position is discrete.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a bad scale, ratio, value or `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomErasing {
    cfg: ErasingConfig,
}

const ERASING: &str = "RandomErasing";

impl RandomErasing {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a negative, NaN or reversed scale or ratio, a value
    /// outside [0, 1], or a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: ErasingConfig) -> Result<RandomErasing> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: ErasingConfig) -> Result<RandomErasing> {
        checks::range(ERASING, "scale", cfg.scale, (0.0, f64::MAX))?;
        checks::range(ERASING, "ratio", cfg.ratio, (0.0, f64::MAX))?;
        if !(0.0..=1.0).contains(&cfg.value) {
            return Err(checks::config(
                ERASING,
                "value",
                cfg.value,
                "a number in [0, 1]",
            ));
        }
        checks::probability(ERASING, "p", cfg.p)?;
        Ok(RandomErasing { cfg })
    }

    /// The erased rectangle of every sample (B,1,H,W) and its fill values (B,1,1,1), for an
    /// input shaped like `input`.
    fn rectangle(&self, input: &Tensor, params: &Params) -> Result<(Tensor, Tensor)> {
        let size = input.size();
        let (b, h, w) = (size[0], size[2], size[3]);
        let (kind, device) = (input.kind(), input.device());
        let get = |k: &str| -> Result<Tensor> {
            Ok(params
                .shaped(ERASING, k, &[b])?
                .to_device(device)
                .to_kind(kind)
                .view([-1, 1, 1, 1]))
        };
        let (xs, ys, bw, bh, values) = (
            get("xs")?,
            get("ys")?,
            get("widths")?,
            get("heights")?,
            get("values")?,
        );
        let cols = Tensor::f_arange(w, (kind, device))?.view([1, 1, 1, w]);
        let rows = Tensor::f_arange(h, (kind, device))?.view([1, 1, h, 1]);
        let inside_x = cols
            .ge_tensor(&xs)
            .logical_and(&cols.lt_tensor(&(&xs + &bw)));
        let inside_y = rows
            .ge_tensor(&ys)
            .logical_and(&rows.lt_tensor(&(&ys + &bh)));
        let inside = inside_x.logical_and(&inside_y);
        Ok((inside, values))
    }
}

impl Augmentation for RandomErasing {
    fn name(&self) -> &'static str {
        ERASING
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomErasing(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    /// Kornia's draw order: area, then the ratio (two candidates and a coin when the range
    /// straddles 1), then x, then y.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let (h, w) = (shape[2] as f64, shape[3] as f64);
        let batch_prob = gate(b, self.cfg.p, 1.0, same, device)?;
        let between = |lo: f64, hi: f64| uniform_between(b, same, device, (lo, hi));
        let (s0, s1) = self.cfg.scale;
        let areas = between(s0, s1)? * (h * w);
        let (r0, r1) = self.cfg.ratio;
        let ratios = if r0 < 1.0 && r1 > 1.0 {
            let below = between(r0, 1.0)?;
            let above = between(1.0, r1)?;
            let coin = uniform(b, same, device)?.round().gt(0.5);
            below.where_self(&coin, &above)
        } else {
            between(r0, r1)?
        };
        let heights = (&areas * &ratios)
            .pow_tensor_scalar(0.5)
            .round()
            .clamp(1.0, h);
        let widths = (&areas / &ratios)
            .pow_tensor_scalar(0.5)
            .round()
            .clamp(1.0, w);
        let xs = (uniform(b, same, device)? * (-&widths + (w + 1.0))).floor();
        let ys = (uniform(b, same, device)? * (-&heights + (h + 1.0))).floor();
        let values = Tensor::f_full([b], self.cfg.value, (Kind::Float, device))?;
        let mut p: Params = ErasingParams {
            widths: widths.floor(),
            heights: heights.floor(),
            xs,
            ys,
            values,
            batch_prob,
        }
        .into();
        p.insert("forward_input_shape", Tensor::from_slice(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let (inside, values) = self.rectangle(input, params)?;
        Ok(values.expand_as(input).where_self(&inside, input))
    }

    /// Masks get 0 in the erased rectangle (Kornia writes 0 there, whatever `value` is).
    fn apply_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        _how: &crate::MaskSampling,
    ) -> Result<Tensor> {
        let (inside, _) = self.rectangle(mask, params)?;
        Ok(mask.where_scalarother(&inside.logical_not(), 0.0))
    }
}

impl_module!(RandomErasing);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomErasing {
    type Config = ErasingConfig;

    fn from_kornia(kw: &Kwargs) -> Result<ErasingConfig> {
        let mut c = ErasingConfig::default();
        set!(c.scale = kw.pair("scale")?);
        set!(c.ratio = kw.pair("ratio")?);
        set!(c.value = kw.num("value")?);
        common!(kw, c);
        Ok(c)
    }
}
