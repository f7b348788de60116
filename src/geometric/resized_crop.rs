//! RandomResizedCrop.

use super::affine::input_shape_tensor;
use super::crop::{box_parts, boxes, check_crop_p, src_box, CroppingMode};
use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::constant;
use crate::range::{gate, uniform};
use crate::warp::{self, Padding, Resample, Sampling};
use crate::{AugSpec, Augmentation, Geometry, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomResizedCrop`]; `Default` is Kornia's, with `size = (1, 1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomResizedCropConfig {
    /// Output (height, width).
    pub size: (i64, i64),
    /// Range of the crop area as a fraction of the image area.
    pub scale: (f64, f64),
    /// Range of the crop aspect ratio (width / height), sampled log-uniformly.
    pub ratio: (f64, f64),
    /// Interpolation (bicubic needs `cropping_mode = Resample`).
    pub resample: Resample,
    /// One crop shared by the whole batch.
    pub same_on_batch: bool,
    /// `align_corners` of the resize (Kornia: true).
    pub align_corners: bool,
    /// Must be 1 (see [`crate::RandomCropConfig::p`]).
    pub p: f64,
    /// Slice (crop then resize) or resample (warp).
    pub cropping_mode: CroppingMode,
}

impl RandomResizedCropConfig {
    /// Kornia's `RandomResizedCrop(size=(h, w))`.
    pub fn new(size: (i64, i64)) -> RandomResizedCropConfig {
        RandomResizedCropConfig {
            size,
            ..Default::default()
        }
    }
}

impl Default for RandomResizedCropConfig {
    fn default() -> Self {
        RandomResizedCropConfig {
            size: (1, 1),
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: true,
            p: 1.0,
            cropping_mode: CroppingMode::Slice,
        }
    }
}

/// Crops a random area and aspect ratio, then resizes to `size` (Kornia's
/// `RandomResizedCrop`, torchvision's algorithm: ten candidates, then a fallback).
///
/// Params: `src` (B,4,2) crop boxes, `dst` (B,4,2) output box, `input_size`,
/// `output_size` (B,2) int64, `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output (B,C,h,w).
///
/// # Errors
/// `new` fails on a bad size, scale or ratio, `p != 1`, or bicubic in slice mode; `f_*`
/// forms on a bad input.
#[derive(Debug)]
pub struct RandomResizedCrop {
    cfg: RandomResizedCropConfig,
    /// log of the ratio bounds, taken by torch in float32 as Kornia does.
    log_ratio: Vec<f32>,
}

const RRC: &str = "RandomResizedCrop";

/// Round half to even, as `torch.round`.
fn round_even(v: f32) -> f32 {
    let r = v.round();
    if (v - v.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - v.signum()
    } else {
        r
    }
}

impl RandomResizedCrop {
    /// Builds the crop (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a non-positive size, a scale range outside (0, ∞) or
    /// reversed, a ratio range outside (0, ∞) or reversed, `p != 1`, or
    /// `resample = Bicubic` with `cropping_mode = Slice`.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: RandomResizedCropConfig,
    ) -> Result<RandomResizedCrop> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: RandomResizedCropConfig) -> Result<RandomResizedCrop> {
        checks::size(RRC, "size", cfg.size)?;
        checks::range(RRC, "scale", cfg.scale, (0.0, f64::MAX))?;
        checks::range(RRC, "ratio", cfg.ratio, (f64::MIN_POSITIVE, f64::MAX))?;
        check_crop_p(RRC, cfg.p)?;
        if cfg.resample == Resample::Bicubic && cfg.cropping_mode == CroppingMode::Slice {
            return Err(checks::config(
                RRC,
                "resample",
                "bicubic",
                "bilinear or nearest with cropping_mode = slice (bicubic needs cropping_mode = resample)",
            ));
        }
        let (r0, r1) = (cfg.ratio.0 as f32, cfg.ratio.1 as f32);
        let log_ratio = Vec::<f32>::try_from(&Tensor::from_slice(&[r0, r1]).log())?;
        Ok(RandomResizedCrop { cfg, log_ratio })
    }

    /// Crops and resizes `input` with `how` = (resample, align_corners).
    fn crop(&self, input: &Tensor, params: &Params, how: (Resample, bool)) -> Result<Tensor> {
        let size = input.size();
        let (b, hi, wi) = (size[0], size[2], size[3]);
        let (ho, wo) = self.cfg.size;
        let src = src_box(RRC, params, b)?.to_device(input.device());
        match self.cfg.cropping_mode {
            CroppingMode::Slice => {
                // The source pixel of every output pixel, as the crop-then-resize would
                // compute it, sampled in one batched grid_sampler call.
                let (x0, y0, w, h) = box_parts(&src, input.kind());
                let xs = self.axis_coords(&x0, &w, wo, how)?; // (B, wo)
                let ys = self.axis_coords(&y0, &h, ho, how)?; // (B, ho)
                if how.0 == Resample::Bilinear {
                    // The grid is separable: on the CPU, one pass per plane, both ways.
                    if let Some(out) = crate::kernels::resample(input, &ys, &xs)? {
                        return Ok(out);
                    }
                }
                let norm = |v: Tensor, n: i64| {
                    if n == 1 {
                        v.zeros_like()
                    } else {
                        v * (2.0 / (n - 1) as f64) - 1.0
                    }
                };
                let gx = norm(xs, wi).view([b, 1, wo]).expand([b, ho, wo], false);
                let gy = norm(ys, hi).view([b, ho, 1]).expand([b, ho, wo], false);
                let grid = Tensor::f_stack(&[gx, gy], -1)?;
                let opts = Sampling {
                    resample: how.0,
                    padding: Padding::Border,
                    align_corners: true,
                    ..Default::default()
                };
                warp::sample(input, &grid, &opts)
            }
            CroppingMode::Resample => {
                let opts = Sampling::new(how.0, how.1);
                let out = warp::warp_by(self, input, params, &size, &[ho, wo], &opts, false)?;
                // A one-pixel source axis is that pixel repeated, as in Kornia.
                let (_, _, w, h) = box_parts(&src, input.kind());
                let one_x = w.le(1.0).view([b, 1, 1, 1]);
                let one_y = h.le(1.0).view([b, 1, 1, 1]);
                let out = out
                    .narrow(3, 0, 1)
                    .expand_as(&out)
                    .f_where_self(&one_x, &out)?;
                Ok(out
                    .narrow(2, 0, 1)
                    .expand_as(&out)
                    .f_where_self(&one_y, &out)?)
            }
        }
    }

    /// (w, h) of torchvision's fallback crop when no candidate fits.
    fn fallback(&self, (h, w): (i64, i64)) -> (f32, f32) {
        let in_ratio = w as f64 / h as f64;
        let (lo, hi) = self.cfg.ratio;
        if in_ratio < lo {
            (w as f32, round_even(w as f32 / lo as f32).floor())
        } else if in_ratio > hi {
            (round_even(h as f32 * hi as f32).floor(), h as f32)
        } else {
            (w as f32, h as f32)
        }
    }

    /// Source pixel coordinates (B, n) along one axis for output indices 0..n.
    fn axis_coords(
        &self,
        start: &Tensor,
        len: &Tensor,
        n: i64,
        (resample, align_corners): (Resample, bool),
    ) -> Result<Tensor> {
        let dev = start.device();
        let j = Tensor::f_arange(n, (start.kind(), dev))?.view([1, n]);
        let start = start.view([-1, 1]);
        let len = len.view([-1, 1]);
        let offset = match (self.cfg.cropping_mode, resample) {
            (CroppingMode::Slice, Resample::Nearest) => {
                // PyTorch's nearest-exact: min(floor((j + 0.5) * len / n), len - 1).
                let scale = (&len / n as f64).to_kind(Kind::Float);
                ((j.to_kind(Kind::Float) + 0.5) * scale)
                    .floor()
                    .to_kind(start.kind())
                    .minimum(&(&len - 1.0))
            }
            (CroppingMode::Slice, _) if !align_corners => {
                // Half-pixel bilinear: max(0, (j + 0.5) * len / n - 0.5), kept inside the slice.
                ((j + 0.5) * (&len / n as f64) - 0.5)
                    .clamp_min(0.0)
                    .minimum(&(&len - 1.0))
            }
            _ => {
                // Corners aligned: j * (len - 1) / (n - 1); a one-pixel axis stays at its start.
                if n == 1 {
                    j.zeros_like() * &len
                } else {
                    j * ((&len - 1.0) / (n - 1) as f64)
                }
            }
        };
        Ok(start + offset)
    }
}

impl Augmentation for RandomResizedCrop {
    fn name(&self) -> &'static str {
        RRC
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomResizedCrop(self.cfg.clone())
    }

    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        vec![shape[0], shape[1], self.cfg.size.0, self.cfg.size.1]
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let (hi, wi) = (shape[2], shape[3]);
        let opts = (Kind::Float, device);
        let batch_prob = gate(b, 1.0, self.cfg.p, same, device)?;
        let rand10 = || -> Result<Tensor> {
            if same {
                Ok(crate::rng::rand(&[1, 10], opts)?.f_repeat([b, 1])?)
            } else {
                crate::rng::rand(&[b, 10], opts)
            }
        };
        let (s0, s1) = (self.cfg.scale.0 as f32, self.cfg.scale.1 as f32);
        let area = (rand10()? * (s1 - s0) as f64 + s0 as f64) * hi as f64 * wi as f64;
        let log_ratio = constant(&self.log_ratio, Kind::Float, device);
        let (lr0, lr1) = (log_ratio.get(0), log_ratio.get(1));
        let log_ratio = &lr0 + rand10()? * (&lr1 - &lr0);
        let aspect = log_ratio.exp();
        let w = (&area * &aspect).sqrt().round().floor();
        let h = (&area / &aspect).sqrt().round().floor();
        let ok = w
            .gt(0.0)
            .logical_and(&w.le(wi as f64))
            .logical_and(&h.gt(0.0))
            .logical_and(&h.le(hi as f64));
        let first = ok
            .to_kind(Kind::Int)
            .cumsum(1, Kind::Int64)
            .eq(1)
            .logical_and(&ok);
        let (found, idx) = first.to_kind(Kind::Int).max_dim(1, true);
        let found = found.squeeze_dim(1).gt(0);
        let (fw, fh) = self.fallback((hi, wi));
        let h = h
            .gather(1, &idx, false)
            .squeeze_dim(1)
            .where_scalarother(&found, fh as f64);
        let w = w
            .gather(1, &idx, false)
            .squeeze_dim(1)
            .where_scalarother(&found, fw as f64);
        let h = h.clamp(1.0, hi as f64).floor();
        let w = w.clamp(1.0, wi as f64).floor();
        let x_diff = (-&w + (wi + 1) as f64).clamp_min(0.0);
        let y_diff = (-&h + (hi + 1) as f64).clamp_min(0.0);
        let (x_diff, y_diff) = if same {
            (x_diff.narrow(0, 0, 1), y_diff.narrow(0, 0, 1))
        } else {
            (x_diff, y_diff)
        };
        let x0 = (uniform(b, same, device)? * x_diff).floor();
        let y0 = (uniform(b, same, device)? * y_diff).floor();
        let (ho, wo) = self.cfg.size;
        let zero = Tensor::f_zeros([b], opts)?;
        let mut p = Params::new();
        p.insert("src", boxes(&x0, &y0, &w, &h));
        p.insert(
            "dst",
            boxes(
                &zero,
                &zero,
                &Tensor::f_full([b], wo as f64, opts)?,
                &Tensor::f_full([b], ho as f64, opts)?,
            ),
        );
        p.insert(
            "input_size",
            constant(&[hi, wi], Kind::Int64, device)
                .view([1, 2])
                .f_repeat([b, 1])?,
        );
        p.insert(
            "output_size",
            constant(&[ho, wo], Kind::Int64, device)
                .view([1, 2])
                .f_repeat([b, 1])?,
        );
        p.insert("batch_prob", batch_prob);
        p.insert("forward_input_shape", input_shape_tensor(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        self.crop(input, params, (self.cfg.resample, self.cfg.align_corners))
    }

    fn sampling(&self) -> Option<Sampling> {
        Some(Sampling::new(self.cfg.resample, self.cfg.align_corners))
    }

    /// Masks are cropped and resized as the image, with the mask's resampling (nearest:
    /// PyTorch's `nearest-exact` in slice mode, as Kornia).
    fn apply_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        how: &crate::MaskSampling,
    ) -> Result<Tensor> {
        let align = how.align_corners.unwrap_or(self.cfg.align_corners);
        self.crop(mask, params, (how.resample, align))
    }

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let src = src_box(RRC, params, shape[0])?.to_device(device);
        let (x0, y0, w, h) = box_parts(&src, kind);
        let (ho, wo) = self.cfg.size;
        // Kornia's slice mode with nearest, or bilinear/bicubic without aligned corners,
        // resizes on the half-pixel grid: pixel centres map as
        // x' = (x - x0 + ½)·s - ½ with s = wo / w (inclusive extents).
        let half_pixel = self.cfg.cropping_mode == CroppingMode::Slice
            && (self.cfg.resample == Resample::Nearest || !self.cfg.align_corners);
        if half_pixel {
            let sx = (wo as f64) / &w;
            let sy = (ho as f64) / &h;
            let zero = sx.zeros_like();
            let tx = -(&x0 * &sx) + (&sx - 1.0) / 2.0;
            let ty = -(&y0 * &sy) + (&sy - 1.0) / 2.0;
            return Ok(Geometry::affine(warp::affine_rows([
                &sx, &zero, &tx, &zero, &sy, &ty,
            ])));
        }
        // Corner-aligned scale (dst - 1)/(src - 1); a one-pixel axis keeps scale 1.
        let scale = |len: &Tensor, n: i64| {
            let s = (n - 1) as f64 / (len - 1.0);
            if n > 1 {
                s.where_scalarother(&len.gt(1.0), 1.0)
            } else {
                s.ones_like()
            }
        };
        let (sx, sy) = (scale(&w, wo), scale(&h, ho));
        let zero = sx.zeros_like();
        let tx = -(&x0 * &sx);
        let ty = -(&y0 * &sy);
        Ok(Geometry::affine(warp::affine_rows([
            &sx, &zero, &tx, &zero, &sy, &ty,
        ])))
    }
}

impl_module!(RandomResizedCrop);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomResizedCrop {
    type Config = RandomResizedCropConfig;

    fn from_kornia(kw: &Kwargs) -> Result<RandomResizedCropConfig> {
        let mut c = RandomResizedCropConfig::default();
        set!(c.size = kw.size("size")?);
        set!(c.scale = kw.pair("scale")?);
        set!(c.ratio = kw.pair("ratio")?);
        set!(c.resample = kw.enm("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.cropping_mode = kw.enm("cropping_mode")?);
        common!(kw, c);
        Ok(c)
    }
}
