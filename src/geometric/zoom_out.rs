//! torchvision's RandomZoomOut: the image placed on a larger canvas of a drawn size.
//!
//! As torchvision draws it, from torch's CPU generator, once per call for the whole batch:
//! the gate (`rand(1) < p`), the canvas factor, then where the image sits. The canvas size
//! is recorded as `output_size` (B,2) int64 on the CPU and the placement as `padding` (B,4)
//! `[left, top, right, bottom]`, so the steps after it see the drawn size.

use super::affine::input_shape_tensor;
use crate::kornia::kwargs::{FromKornia, Reference};
use crate::{AugSpec, Augmentation, Error, Geometry, MaskSampling, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

const OP: &str = "RandomZoomOut";
/// The largest canvas factor a config may ask (torchvision's default reaches 4).
const MAX_SIDE: f64 = 1000.0;

/// Configuration of [`RandomZoomOut`]; `Default` is torchvision's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomZoomOutConfig {
    /// The canvas colour: one value, or one per channel (masks get 0).
    pub fill: Vec<f64>,
    /// The canvas sides are the image's times a factor drawn from this range,
    /// `1 <= lo <= hi <= 1000`.
    pub side_range: (f64, f64),
    /// Probability that a call zooms out (the whole batch, as torchvision).
    pub p: f64,
}

impl Default for RandomZoomOutConfig {
    fn default() -> Self {
        RandomZoomOutConfig {
            fill: vec![0.0],
            side_range: (1.0, 4.0),
            p: 0.5,
        }
    }
}

/// torchvision's `RandomZoomOut`: the batch placed on a canvas `side_range` times as large,
/// at a drawn position, the rest filled with `fill` (SSD's zoom out). Boxes, keypoints and
/// masks move with the image; the inverse crops the image back out.
///
/// Params: `output_size` (B,2) and `padding` (B,4) int64 on the CPU, the draws (`applied`
/// (1,) bool, `side` (1,) float32, on the CPU), `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output (B,C,h,w), (h,w) drawn.
///
/// # Errors
/// `new` fails on a side range outside `1 <= lo <= hi <= 1000`, a `p` outside [0, 1] or a
/// fill not finite in float32; `f_*` forms on a bad input, a fill that has neither 1 nor C values, or
/// params without their sizes.
#[derive(Debug)]
pub struct RandomZoomOut {
    cfg: RandomZoomOutConfig,
}

impl RandomZoomOut {
    /// Builds it (it has no variables).
    ///
    /// # Errors
    /// See the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: RandomZoomOutConfig) -> Result<Self> {
        let (lo, hi) = cfg.side_range;
        if !(lo.is_finite() && hi.is_finite() && lo >= 1.0 && lo <= hi && hi <= MAX_SIDE) {
            return Err(crate::checks::config(
                OP,
                "side_range",
                format!("({lo}, {hi})"),
                "factors 1 <= lo <= hi <= 1000",
            ));
        }
        if !(0.0..=1.0).contains(&cfg.p) {
            return Err(crate::checks::config(
                OP,
                "p",
                cfg.p,
                "a probability in [0, 1]",
            ));
        }
        if cfg.fill.is_empty() || cfg.fill.iter().any(|&v| !crate::checks::f32_finite(v)) {
            return Err(crate::checks::config(
                OP,
                "fill",
                format!("{:?}", cfg.fill),
                "one value finite in float32, or one per channel",
            ));
        }
        Ok(RandomZoomOut { cfg })
    }

    /// `[left, top, right, bottom]` of `params`.
    fn padding(&self, params: &Params) -> Result<[i64; 4]> {
        let v = params.batch_row(OP, "padding", 4, 0)?;
        Ok([v[0], v[1], v[2], v[3]])
    }
}

impl Augmentation for RandomZoomOut {
    fn name(&self) -> &'static str {
        OP
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomZoomOut(self.cfg.clone())
    }

    fn output_size_drawn(&self) -> bool {
        true
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let n = self.cfg.fill.len() as i64;
        if n != 1 && n != shape[1] {
            return Err(Error::Channels {
                op: OP,
                expected: format!("{n}, one per fill value (or a single fill value)"),
                got: shape[1],
                shape: shape.to_vec(),
            });
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, h, w) = (shape[0], shape[2], shape[3]);
        let cpu = (Kind::Float, Device::Cpu);
        let mut p = Params::new();
        // torchvision's order and arithmetic: the gate, the factor (float32), the place.
        let applied = crate::rng::rand(&[1], cpu)?.lt(self.cfg.p);
        let pad = if bool::try_from(&applied)? {
            let (lo, hi) = self.cfg.side_range;
            let side = crate::rng::rand(&[1], cpu)? * (hi - lo) + lo;
            let trunc = |t: Tensor| -> Result<i64> { Ok(f64::try_from(t)?.trunc() as i64) };
            let (cw, ch) = (trunc(&side * w as f64)?, trunc(&side * h as f64)?);
            crate::checks::fits(OP, "canvas", &[b, shape[1], ch, cw])?;
            let at = crate::rng::rand(&[2], cpu)?;
            let left = trunc(at.get(0) * (cw - w) as f64)?;
            let top = trunc(at.get(1) * (ch - h) as f64)?;
            p.insert("side", side);
            [left, top, cw - (left + w), ch - (top + h)]
        } else {
            [0; 4]
        };
        p.insert("applied", applied);
        let [l, t, r, bt] = pad;
        let rows = |v: &[i64]| -> Result<Tensor> {
            Ok(Tensor::from_slice(v).view([1, -1]).f_repeat([b, 1])?)
        };
        p.insert("padding", rows(&pad)?);
        p.insert("output_size", rows(&[h + t + bt, w + l + r])?);
        p.insert("batch_prob", Tensor::f_ones([b], (Kind::Float, device))?);
        p.insert("forward_input_shape", input_shape_tensor(shape));
        Ok(p)
    }

    /// The image padded with the fill (one pass for a single value, as torchvision's pad;
    /// per channel, zeros plus the fill where the padding is). The image's own pixels are
    /// copied exactly.
    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let [l, t, r, b] = self.padding(params)?;
        if [l, t, r, b] == [0; 4] {
            return Ok(input.shallow_clone());
        }
        let pad = [l, r, t, b];
        if let [value] = self.cfg.fill[..] {
            return Ok(input.f_pad(pad, "constant", value)?);
        }
        let size = input.size();
        let opts = (input.kind(), input.device());
        let inside = Tensor::f_ones([1, 1, size[2], size[3]], opts)?.f_constant_pad_nd(pad)?;
        let fill = Tensor::f_from_slice(&self.cfg.fill)?
            .f_to_kind(input.kind())?
            .f_to_device(input.device())?
            .f_view([1, -1, 1, 1])?;
        Ok(input.f_constant_pad_nd(pad)? + fill * (1.0 - inside))
    }

    /// The translation by `(left, top)`.
    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let [l, t, _, _] = self.padding(params)?;
        Ok(super::same_affine(
            [1.0, 0.0, l as f64, 0.0, 1.0, t as f64],
            shape[0],
            kind,
            device,
        ))
    }

    /// The image cut back out of the canvas (exact).
    fn inverse_transform(
        &self,
        output: &Tensor,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        let [l, t, r, b] = self.padding(params)?;
        let (h, w) = (input_shape[2], input_shape[3]);
        let got = &output.size()[2..];
        if got[0] < t + h || got[1] < l + w {
            // (A step after it, PadTo cropping, may give back less than the canvas.)
            return Err(Error::Size {
                op: OP,
                what: "image to invert",
                size: got.to_vec(),
                input: vec![t + h + b, l + w + r],
                allowed: "the inverse cuts the image out of its canvas: give at least the \
                          canvas the forward pass made",
            });
        }
        Ok(output
            .f_narrow(2, t, input_shape[2])?
            .f_narrow(3, l, input_shape[3])?)
    }

    /// Masks padded with 0.
    fn apply_mask(&self, mask: &Tensor, params: &Params, _how: &MaskSampling) -> Result<Tensor> {
        let [l, t, r, b] = self.padding(params)?;
        Ok(mask.f_constant_pad_nd([l, r, t, b])?)
    }

    fn inverse_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        input_shape: &[i64],
        _how: &MaskSampling,
    ) -> Result<Tensor> {
        self.inverse_transform(mask, params, input_shape)
    }
}

crate::augmentation::impl_module!(RandomZoomOut);

impl FromKornia for RandomZoomOut {
    type Config = RandomZoomOutConfig;
    const REFERENCE: Reference = Reference::Torchvision;
}
