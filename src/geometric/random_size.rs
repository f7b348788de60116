//! torchvision's ScaleJitter and RandomShortestSize: a resize to a size drawn per call.
//!
//! The size is one draw for the whole batch (a batch has one size), from torch's CPU
//! generator as torchvision draws it, so the same seed gives torchvision's size; it is
//! recorded in the params as `output_size` (B,2) int64 on the CPU, where reading it
//! synchronises no device. The image is resized as torchvision's `F.resize` resizes a float
//! tensor: `interpolate` without aligned corners, antialiased (libtorch's
//! `_upsample_bilinear2d_aa`) unless asked otherwise, `nearest` being PyTorch's legacy
//! nearest as in torchvision. Masks, boxes and keypoints follow the scale
//! `x' = (x + ½) s - ½` (pixel-index coordinates), the inverse warps back.

use super::affine::input_shape_tensor;
use crate::kornia::kwargs::{FromKornia, Reference};
use crate::warp::{Padding, Resample, Sampling};
use crate::{AugSpec, Augmentation, Error, Geometry, MaskSampling, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`ScaleJitter`] (torchvision's `ScaleJitter`); `Default` is
/// torchvision's, with the required `target_size` 1×1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScaleJitterConfig {
    /// torchvision's `target_size` `(a, b)`: the scale is `min(b / H, a / W) · s`, `s` drawn
    /// uniformly from `scale_range` (torchvision pairs the second number with the height).
    pub target_size: (i64, i64),
    /// The range of the scale factor.
    pub scale_range: (f64, f64),
    /// Interpolation (`Nearest` is PyTorch's legacy `nearest`, as in torchvision).
    pub resample: Resample,
    /// Antialias when downscaling (bilinear and bicubic), as torchvision's default.
    pub antialias: bool,
}

impl ScaleJitterConfig {
    /// torchvision's `ScaleJitter(target_size)`.
    pub fn new(target_size: (i64, i64)) -> ScaleJitterConfig {
        ScaleJitterConfig {
            target_size,
            ..Default::default()
        }
    }
}

impl Default for ScaleJitterConfig {
    fn default() -> Self {
        ScaleJitterConfig {
            target_size: (1, 1),
            scale_range: (0.1, 2.0),
            resample: Resample::Bilinear,
            antialias: true,
        }
    }
}

/// Configuration of [`RandomShortestSize`] (torchvision's `RandomShortestSize`); `Default`
/// is torchvision's, with the required `min_size` `[1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomShortestSizeConfig {
    /// The shorter side becomes one of these, drawn uniformly.
    pub min_size: Vec<i64>,
    /// The longer side becomes at most this.
    pub max_size: Option<i64>,
    /// Interpolation (`Nearest` is PyTorch's legacy `nearest`, as in torchvision).
    pub resample: Resample,
    /// Antialias when downscaling (bilinear and bicubic), as torchvision's default.
    pub antialias: bool,
}

impl RandomShortestSizeConfig {
    /// torchvision's `RandomShortestSize(min_size, max_size)`.
    pub fn new(min_size: Vec<i64>, max_size: Option<i64>) -> RandomShortestSizeConfig {
        RandomShortestSizeConfig {
            min_size,
            max_size,
            ..Default::default()
        }
    }
}

impl Default for RandomShortestSizeConfig {
    fn default() -> Self {
        RandomShortestSizeConfig {
            min_size: vec![1],
            max_size: None,
            resample: Resample::Bilinear,
            antialias: true,
        }
    }
}

/// torchvision's `ScaleJitter`: the image scaled to fit `target_size`, times a factor drawn
/// from `scale_range` (large-scale jitter). A [`RandomSize`] ([`AugSpec::ScaleJitter`]).
#[derive(Debug)]
pub struct ScaleJitter;

impl ScaleJitter {
    /// Builds it (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] for a target size that is not positive, or a scale range that is
    /// not finite, positive and ordered.
    // A `RandomSize` by another name: the registry builds every operator with `Type::new`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: ScaleJitterConfig,
    ) -> Result<RandomSize> {
        const OP: &str = "ScaleJitter";
        crate::checks::size(OP, "target_size", cfg.target_size)?;
        let (lo, hi) = cfg.scale_range;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
            return Err(crate::checks::config(
                OP,
                "scale_range",
                format!("({lo}, {hi})"),
                "finite factors 0 < lo <= hi",
            ));
        }
        Ok(RandomSize {
            class: Class::Jitter(cfg),
        })
    }
}

/// torchvision's `RandomShortestSize`: the shorter side becomes one of `min_size`, drawn,
/// the longer side at most `max_size`, the aspect ratio kept. A [`RandomSize`]
/// ([`AugSpec::RandomShortestSize`]).
#[derive(Debug)]
pub struct RandomShortestSize;

impl RandomShortestSize {
    /// Builds it (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] for no sizes, or a size or `max_size` below 1.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: RandomShortestSizeConfig,
    ) -> Result<RandomSize> {
        const OP: &str = "RandomShortestSize";
        if cfg.min_size.is_empty() || cfg.min_size.iter().any(|&s| s < 1) {
            return Err(crate::checks::config(
                OP,
                "min_size",
                format!("{:?}", cfg.min_size),
                "one or more side lengths >= 1",
            ));
        }
        if let Some(m) = cfg.max_size.filter(|&m| m < 1) {
            return Err(crate::checks::config(
                OP,
                "max_size",
                m,
                "a side length >= 1",
            ));
        }
        Ok(RandomSize {
            class: Class::Shortest(cfg),
        })
    }
}

/// A resize to a size drawn per call: [`ScaleJitter`] or [`RandomShortestSize`].
///
/// Params: `output_size` (B,2) int64 `(h, w)` on the CPU, the draw (`scale` (1,) float32
/// or `min_size_index` (1,) int64, on the CPU), `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output (B,C,h,w), (h,w) drawn.
///
/// # Errors
/// `f_*` forms on a bad input, a draw that leaves a side 0, or params without their
/// `output_size`.
#[derive(Debug)]
pub struct RandomSize {
    class: Class,
}

#[derive(Debug, Clone)]
enum Class {
    Jitter(ScaleJitterConfig),
    Shortest(RandomShortestSizeConfig),
}

impl RandomSize {
    fn op(&self) -> &'static str {
        match self.class {
            Class::Jitter(_) => "ScaleJitter",
            Class::Shortest(_) => "RandomShortestSize",
        }
    }

    fn resample(&self) -> (Resample, bool) {
        match &self.class {
            Class::Jitter(c) => (c.resample, c.antialias),
            Class::Shortest(c) => (c.resample, c.antialias),
        }
    }

    /// The drawn `(h, w)` of `params`.
    fn size_of(&self, params: &Params) -> Result<(i64, i64)> {
        let hw = params.batch_row(self.op(), "output_size", 2, 1)?;
        Ok((hw[0], hw[1]))
    }

    /// torchvision's resize of a float image to `(h, w)`.
    fn resize(&self, x: &Tensor, (h, w): (i64, i64)) -> Result<Tensor> {
        let size = x.size();
        if (size[2], size[3]) == (h, w) {
            return Ok(x.shallow_clone());
        }
        let (resample, antialias) = self.resample();
        Ok(match (resample, antialias) {
            (Resample::Bilinear, true) => {
                x.f_internal_upsample_bilinear2d_aa([h, w], false, None, None)?
            }
            (Resample::Bilinear, false) => x.f_upsample_bilinear2d([h, w], false, None, None)?,
            (Resample::Bicubic, true) => {
                x.f_internal_upsample_bicubic2d_aa([h, w], false, None, None)?
            }
            (Resample::Bicubic, false) => x.f_upsample_bicubic2d([h, w], false, None, None)?,
            (Resample::Nearest, _) => x.f_upsample_nearest2d([h, w], None, None)?,
        })
    }
}

impl Augmentation for RandomSize {
    fn name(&self) -> &'static str {
        self.op()
    }

    fn spec(&self) -> AugSpec {
        match &self.class {
            Class::Jitter(c) => AugSpec::ScaleJitter(c.clone()),
            Class::Shortest(c) => AugSpec::RandomShortestSize(c.clone()),
        }
    }

    fn output_size_drawn(&self) -> bool {
        true
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, hi, wi) = (shape[0], shape[2], shape[3]);
        let cpu = (Kind::Float, Device::Cpu);
        let mut p = Params::new();
        // torchvision's arithmetic, to its rounding: ScaleJitter's factor is a float32
        // tensor, RandomShortestSize's Python floats.
        let (ho, wo) = match &self.class {
            Class::Jitter(c) => {
                let (lo, hi_s) = c.scale_range;
                let scale = crate::rng::rand(&[1], cpu)? * (hi_s - lo) + lo;
                let fit =
                    (c.target_size.1 as f64 / hi as f64).min(c.target_size.0 as f64 / wi as f64);
                let r = &scale * fit;
                let side =
                    |n: i64| -> Result<i64> { Ok(f64::try_from(&r * n as f64)?.trunc() as i64) };
                let hw = (side(hi)?, side(wi)?);
                p.insert("scale", scale);
                hw
            }
            Class::Shortest(c) => {
                let n = c.min_size.len() as i64;
                let i = crate::rng::randint(0, n, &[1], (Kind::Int64, Device::Cpu))?;
                let pick = c.min_size[i64::try_from(&i)?.clamp(0, n - 1) as usize];
                let mut r = pick as f64 / hi.min(wi) as f64;
                if let Some(m) = c.max_size {
                    r = r.min(m as f64 / hi.max(wi) as f64);
                }
                p.insert("min_size_index", i);
                ((hi as f64 * r) as i64, (wi as f64 * r) as i64)
            }
        };
        if ho < 1 || wo < 1 {
            return Err(Error::Size {
                op: self.op(),
                what: "output size",
                size: vec![ho, wo],
                input: vec![hi, wi],
                allowed: "a drawn size with both sides >= 1 (a larger target or scale)",
            });
        }
        crate::checks::fits(self.op(), "output size", &[b, shape[1], ho, wo])?;
        p.insert(
            "output_size",
            Tensor::from_slice(&[ho, wo])
                .view([1, 2])
                .f_repeat([b, 1])?,
        );
        p.insert("batch_prob", Tensor::f_ones([b], (Kind::Float, device))?);
        p.insert("forward_input_shape", input_shape_tensor(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        self.resize(input, self.size_of(params)?)
    }

    /// `x' = (x + ½) w'/w - ½` on each axis (torchvision's scaling of continuous
    /// coordinates, in pixel-index space).
    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let (ho, wo) = self.size_of(params)?;
        let (sx, sy) = (wo as f64 / shape[3] as f64, ho as f64 / shape[2] as f64);
        Ok(super::same_affine(
            [sx, 0.0, 0.5 * sx - 0.5, 0.0, sy, 0.5 * sy - 0.5],
            shape[0],
            kind,
            device,
        ))
    }

    /// Warped back by the inverse scale (bilinear, border), as Kornia inverts a resize.
    fn inverse_transform(
        &self,
        output: &Tensor,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        let sampling = Sampling {
            resample: Resample::Bilinear,
            padding: Padding::Border,
            align_corners: false,
            fill: None,
        };
        crate::warp::warp_by(
            self,
            output,
            params,
            input_shape,
            &input_shape[2..],
            &sampling,
            true,
        )
    }

    /// Masks resized to the drawn size with the mask's resampling (nearest is PyTorch's
    /// `nearest-exact`, the crate's mask convention), without antialiasing.
    fn apply_mask(&self, mask: &Tensor, params: &Params, how: &MaskSampling) -> Result<Tensor> {
        let align = how.align_corners.unwrap_or(false);
        crate::warp::resize(
            self.op(),
            mask,
            self.size_of(params)?,
            how.resample,
            align,
            false,
        )
    }

    fn inverse_mask(
        &self,
        mask: &Tensor,
        _params: &Params,
        input_shape: &[i64],
        how: &MaskSampling,
    ) -> Result<Tensor> {
        let align = how.align_corners.unwrap_or(false);
        crate::warp::resize(
            self.op(),
            mask,
            (input_shape[2], input_shape[3]),
            how.resample,
            align,
            false,
        )
    }
}

crate::augmentation::impl_module!(RandomSize);

impl FromKornia for ScaleJitter {
    type Config = ScaleJitterConfig;
    const REFERENCE: Reference = Reference::Torchvision;
}

impl FromKornia for RandomShortestSize {
    type Config = RandomShortestSizeConfig;
    const REFERENCE: Reference = Reference::Torchvision;
}
