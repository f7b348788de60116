//! RandomEqualize.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, FromKornia, Kwargs};
use crate::ops::straight_through;
use crate::range::gate_params;
use crate::{AugSpec, Augmentation, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomEqualize`]; `Default` is Kornia's (`p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EqualizeConfig {
    /// One gate shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of equalizing each sample.
    pub p: f64,
    /// Straight-through estimator: the forward output is unchanged, the backward pass is
    /// the identity (equalization is piecewise constant, so its true gradient is zero; Kornia
    /// gives none).
    pub straight_through: bool,
}

impl Default for EqualizeConfig {
    fn default() -> Self {
        EqualizeConfig {
            same_on_batch: false,
            p: 0.5,
            straight_through: false,
        }
    }
}

/// Histogram equalization per sample and channel, PIL's algorithm as Kornia implements it
/// (Kornia's `RandomEqualize`): 256 bins of `floor(255·x)`, `step = (N - n_last) div 255`,
/// lookup `(cumsum shifted by one + step div 2) div step`; a channel with step 0 is left
/// unchanged. All histograms of the batch are built with one `scatter_add`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64 (clamped to [0, 1]); output the same.
///
/// # Errors
/// `new` fails on a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomEqualize {
    cfg: EqualizeConfig,
}

const EQUALIZE: &str = "RandomEqualize";

impl RandomEqualize {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: EqualizeConfig,
    ) -> Result<RandomEqualize> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: EqualizeConfig) -> Result<RandomEqualize> {
        checks::probability(EQUALIZE, "p", cfg.p)?;
        Ok(RandomEqualize { cfg })
    }
}

/// Equalizes every (sample, channel) of a (B,C,...) image or volume in [0, 1].
///
/// Values outside [0, 1] are counted in the end bins (below 0 in bin 0, above 1 and +inf in
/// bin 255); a NaN is counted in bin 0 and stays NaN in the output. So any input has a
/// histogram, and a NaN changes only its own (sample, channel).
pub(crate) fn equalize(x: &Tensor) -> Tensor {
    let size = x.size();
    let (kind, device) = (x.kind(), x.device());
    let n = size[0] * size[1];
    let scaled = x.reshape([n, -1]) * 255.0;
    let index = scaled
        .nan_to_num(0.0, 255.0, 0.0)
        .clamp(0.0, 255.0)
        .to_kind(Kind::Int64);
    let histo = Tensor::zeros([n, 256], (kind, device)).scatter_add(1, &index, &scaled.ones_like());
    let total = histo.sum_dim_intlist([1i64].as_slice(), false, kind);
    let bins = Tensor::arange(256, (Kind::Int64, device)).view([1, 256]);
    let last_bin = (bins * histo.gt(0.0)).amax([1], true);
    let last_count = histo.gather(1, &last_bin, false).squeeze_dim(1);
    let step = ((total - last_count) / 255.0).trunc().unsqueeze(1);
    let lut = ((histo.cumsum(1, kind) + (&step / 2.0).trunc()) / step.clamp_min(1.0)).trunc();
    // Shift right by one bin: the lookup of bin i is the cumulative count below it.
    let lut = Tensor::cat(
        &[lut.zeros_like().narrow(1, 0, 1), lut.narrow(1, 0, 255)],
        1,
    )
    .clamp(0.0, 255.0);
    let out = lut.gather(1, &index, false).where_self(
        &step.ne(0.0).logical_and(&scaled.isnan().logical_not()),
        &scaled,
    );
    (out / 255.0).reshape(size.as_slice())
}

impl Augmentation for RandomEqualize {
    fn name(&self) -> &'static str {
        EQUALIZE
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomEqualize(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let p = gate_params(shape, self.cfg.p, self.cfg.same_on_batch, device)?;
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
        let x = input.clamp(0.0, 1.0);
        let out = equalize(&x);
        if self.cfg.straight_through {
            Ok(straight_through(out, &x))
        } else {
            Ok(out)
        }
    }
}

impl_module!(RandomEqualize);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomEqualize {
    type Config = EqualizeConfig;

    fn from_kornia(kw: &Kwargs) -> Result<EqualizeConfig> {
        let mut c = EqualizeConfig::default();
        common!(kw, c);
        Ok(c)
    }
}
