//! RandomCrop, CenterCrop and RandomResizedCrop.
//!
//! All crops run batched: `slice` mode gathers (RandomCrop) or resamples at the exact
//! source coordinates the slice-then-interpolate path would use (RandomResizedCrop), in one
//! `gather`/`grid_sampler` call for the whole batch; `resample` mode warps with the crop
//! matrix, as Kornia does.

use super::affine::input_shape_tensor;
use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::constant;
use crate::params::typed_params;
use crate::range::{gate, uniform};
use crate::warp::{self, Padding, Resample, Sampling};
use crate::{AugSpec, Augmentation, Error, Geometry, MaskSampling, Params, Result, Transform};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// How a crop is extracted (Kornia's `cropping_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CroppingMode {
    /// Index the pixels (then resize, for RandomResizedCrop). Kornia's default.
    #[default]
    Slice,
    /// Warp with the crop's matrix (`grid_sample`).
    Resample,
}

/// How RandomCrop pads before cropping (Kornia's `padding_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CropPadding {
    /// The constant `fill`.
    #[default]
    Constant,
    /// Reflection without repeating the edge.
    Reflect,
    /// Repeat the edge pixel.
    Replicate,
}

typed_params!(
    /// Parameters of [`RandomCrop`], [`CenterCrop`] and [`crate::RandomResizedCrop`], with Kornia's
    /// keys (RandomCrop adds `padding_size`, (B,4) int64 left, right, top, bottom).
    CropParams, "crop" {
        /// (B,4,2) crop corners (x, y) in the (padded) input: top-left, top-right,
        /// bottom-right, bottom-left; the far corner is `start + size - 1`.
        src,
        /// (B,4,2) the same corners in the output.
        dst,
        /// (B,2) int64 (height, width) of the (padded) input.
        input_size,
        /// (B,2) int64 (height, width) of the output.
        output_size,
    }
);

/// Kornia's crop boxes: (B,4,2) corners (x, y) top-left, top-right, bottom-right,
/// bottom-left, with the far corner at `start + size - 1`.
pub(super) fn boxes(x: &Tensor, y: &Tensor, w: &Tensor, h: &Tensor) -> Tensor {
    let x1 = x + w - 1.0;
    let y1 = y + h - 1.0;
    Tensor::stack(&[x, y, &x1, y, &x1, &y1, x, &y1], -1).view([-1, 4, 2])
}

/// Reads (x0, y0, w, h) back from a (B,4,2) `src` box, as (B,) tensors of `kind`.
pub(super) fn box_parts(src: &Tensor, kind: Kind) -> (Tensor, Tensor, Tensor, Tensor) {
    let src = src.to_kind(kind);
    let x0 = src.select(1, 0).select(1, 0);
    let y0 = src.select(1, 0).select(1, 1);
    let w = src.select(1, 1).select(1, 0) - &x0 + 1.0;
    let h = src.select(1, 2).select(1, 1) - &y0 + 1.0;
    (x0, y0, w, h)
}

/// Reads and checks the (B,4,2) `src` box of a params map.
pub(super) fn src_box(op: &'static str, params: &Params, b: i64) -> Result<Tensor> {
    Ok(params.shaped(op, "src", &[b, 4, 2])?.shallow_clone())
}

/// The (B,3,3) translation moving (x0, y0) to the origin, as a geometry.
fn to_origin(x0: &Tensor, y0: &Tensor) -> Geometry {
    Geometry::translation(crate::geometry::translation(&-Tensor::stack(&[x0, y0], 1)))
}

/// The crop's `(x0, y0)` (B,2) from its `src` box.
fn start_of(src: &Tensor, kind: Kind) -> Tensor {
    let (x0, y0, _, _) = box_parts(src, kind);
    Tensor::stack(&[x0, y0], 1)
}

/// Configuration of [`RandomCrop`]; `Default` is Kornia's, with `size = (1, 1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomCropConfig {
    /// Output (height, width).
    pub size: (i64, i64),
    /// Padding before the crop: one value for all sides, (left/right, top/bottom), or
    /// (left, top, right, bottom).
    pub padding: Option<Vec<i64>>,
    /// Pad the image when it is smaller than `size`.
    pub pad_if_needed: bool,
    /// Fill for constant padding: one value, or one per channel.
    pub fill: Vec<f64>,
    /// Padding mode.
    pub padding_mode: CropPadding,
    /// Interpolation in `resample` mode.
    pub resample: Resample,
    /// One offset shared by the whole batch.
    pub same_on_batch: bool,
    /// `align_corners` in `resample` mode (Kornia: true).
    pub align_corners: bool,
    /// Probability of cropping (Kornia uses it as `p_batch`). Must be 1: a crop that
    /// changes the size cannot let samples pass through.
    pub p: f64,
    /// Slice or resample.
    pub cropping_mode: CroppingMode,
}

impl RandomCropConfig {
    /// Kornia's `RandomCrop(size=(h, w))`.
    pub fn new(size: (i64, i64)) -> RandomCropConfig {
        RandomCropConfig {
            size,
            ..Default::default()
        }
    }
}

impl Default for RandomCropConfig {
    fn default() -> Self {
        RandomCropConfig {
            size: (1, 1),
            padding: None,
            pad_if_needed: false,
            fill: vec![0.0],
            padding_mode: CropPadding::Constant,
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: true,
            p: 1.0,
            cropping_mode: CroppingMode::Slice,
        }
    }
}

/// Crops a random (h, w) window, after optional padding (Kornia's `RandomCrop`).
///
/// Params: `src`, `dst` (B,4,2) boxes in the padded image, `input_size`, `output_size`
/// (B,2) int64, `padding_size` (B,4) int64 (left, right, top, bottom), `batch_prob`,
/// `forward_input_shape` (the padded shape).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output (B,C,h,w).
///
/// # Errors
/// `new` fails on a non-positive size, a bad padding or `p != 1`; `f_*` forms on a bad
/// input and with [`Error::Size`] when the crop is larger than the padded image.
#[derive(Debug)]
pub struct RandomCrop {
    cfg: RandomCropConfig,
}

const CROP: &str = "RandomCrop";

pub(crate) fn check_crop_p(op: &'static str, p: f64) -> Result<()> {
    if p == 1.0 {
        Ok(())
    } else {
        Err(checks::config(
            op,
            "p",
            p,
            "1.0 (a crop changes the size, so samples cannot pass through)",
        ))
    }
}

impl RandomCrop {
    /// Builds the crop (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] for a non-positive size, a padding of other than 1, 2 or 4
    /// non-negative values, a fill of non-finite values, or `p != 1`.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: RandomCropConfig) -> Result<RandomCrop> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: RandomCropConfig) -> Result<RandomCrop> {
        checks::size(CROP, "size", cfg.size)?;
        if let Some(p) = &cfg.padding {
            if ![1, 2, 4].contains(&p.len()) || p.iter().any(|&v| v < 0) {
                return Err(checks::config(
                    CROP,
                    "padding",
                    format!("{p:?}"),
                    "1, 2 or 4 values >= 0",
                ));
            }
        }
        if cfg.fill.is_empty() {
            return Err(checks::config(
                CROP,
                "fill",
                "[]",
                "one value, or one per channel",
            ));
        }
        checks::finite(CROP, "fill", &cfg.fill)?;
        check_crop_p(CROP, cfg.p)?;
        Ok(RandomCrop { cfg })
    }

    /// Padding (left, right, top, bottom) for an input of (H, W).
    fn padding(&self, (h, w): (i64, i64)) -> [i64; 4] {
        let mut pad = match self.cfg.padding.as_deref() {
            None => [0; 4],
            Some(&[a]) => [a; 4],
            Some(&[a, b]) => [a, a, b, b],
            Some(&[l, t, r, b]) => [l, r, t, b],
            Some(_) => unreachable!("validated in new"),
        };
        if self.cfg.pad_if_needed {
            let (nh, nw) = (self.cfg.size.0 - h, self.cfg.size.1 - w);
            if nw > 0 {
                pad[0] = pad[0].max(nw);
                pad[1] = pad[1].max(nw);
            }
            if nh > 0 {
                pad[2] = pad[2].max(nh);
                pad[3] = pad[3].max(nh);
            }
        }
        pad
    }

    fn pad(&self, x: &Tensor, pad: [i64; 4], fill: &[f64]) -> Result<Tensor> {
        if pad == [0; 4] {
            return Ok(x.shallow_clone());
        }
        match self.cfg.padding_mode {
            CropPadding::Reflect => Ok(x.f_pad(pad, "reflect", None)?),
            CropPadding::Replicate => Ok(x.f_pad(pad, "replicate", None)?),
            CropPadding::Constant if fill.len() == 1 => {
                Ok(x.f_pad(pad, "constant", Some(fill[0]))?)
            }
            CropPadding::Constant => {
                let size = x.size();
                let c = size[1];
                if fill.len() as i64 != c {
                    return Err(Error::Channels {
                        op: CROP,
                        expected: format!("{} channels, one per fill value", fill.len()),
                        got: c,
                        shape: size,
                    });
                }
                let padded = x.f_pad(pad, "constant", Some(0.0))?;
                let inside = Tensor::f_ones([1, 1, size[2], size[3]], (x.kind(), x.device()))?
                    .f_pad(pad, "constant", Some(0.0))?;
                let fill = constant(fill, x.kind(), x.device());
                Ok(padded + (1.0 - inside) * fill.view([1, c, 1, 1]))
            }
        }
    }

    /// Pads with `fill` and crops (slice: exactly; resample: a warp with `resample`).
    fn crop(
        &self,
        input: &Tensor,
        params: &Params,
        fill: &[f64],
        resample: Resample,
        align_corners: bool,
    ) -> Result<Tensor> {
        let size = input.size();
        let (_, _, pad) = self.padded_size(&size);
        let padded = self.pad(input, pad, fill)?;
        let src = src_box(CROP, params, size[0])?.to_device(input.device());
        let start = start_of(&src, input.kind());
        let (h, w) = self.cfg.size;
        match self.cfg.cropping_mode {
            CroppingMode::Slice => warp::crop_window(&padded, &start, &[h, w], false),
            CroppingMode::Resample => {
                let opts = Sampling {
                    resample,
                    padding: match self.cfg.padding_mode {
                        CropPadding::Constant => Padding::Zeros,
                        CropPadding::Replicate => Padding::Border,
                        CropPadding::Reflect => Padding::Reflection,
                    },
                    align_corners,
                    ..Default::default()
                };
                let t = Transform::translation(&-start);
                warp::warp(&padded, &t, &[h, w], &opts)
            }
        }
    }

    fn padded_size(&self, shape: &[i64]) -> (i64, i64, [i64; 4]) {
        let pad = self.padding((shape[2], shape[3]));
        (shape[2] + pad[2] + pad[3], shape[3] + pad[0] + pad[1], pad)
    }
}

impl Augmentation for RandomCrop {
    fn name(&self) -> &'static str {
        CROP
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomCrop(self.cfg.clone())
    }

    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        vec![shape[0], shape[1], self.cfg.size.0, self.cfg.size.1]
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let (hp, wp, _) = self.padded_size(shape);
        let (h, w) = self.cfg.size;
        if h > hp || w > wp {
            return Err(Error::Size {
                op: CROP,
                what: "crop size",
                size: vec![h, w],
                input: vec![hp, wp],
                allowed: "at most the (padded) input size; set pad_if_needed or padding",
            });
        }
        if self.cfg.padding_mode == CropPadding::Reflect {
            let pad = self.padding((shape[2], shape[3]));
            if pad[0].max(pad[1]) >= shape[3] || pad[2].max(pad[3]) >= shape[2] {
                return Err(Error::Size {
                    op: CROP,
                    what: "reflect padding",
                    size: vec![pad[2].max(pad[3]), pad[0].max(pad[1])],
                    input: vec![shape[2], shape[3]],
                    allowed: "reflect padding smaller than the input on each axis",
                });
            }
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        self.check_shape(shape)?;
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let (hp, wp, pad) = self.padded_size(shape);
        let (h, w) = self.cfg.size;
        let opts = (Kind::Float, device);
        // Kornia's p is a batch gate; p = 1 here, so nothing is drawn for it.
        let batch_prob = gate(b, 1.0, self.cfg.p, same, device)?;
        let x0 = (uniform(b, same, device)? * (wp - w + 1) as f64).floor();
        let y0 = (uniform(b, same, device)? * (hp - h + 1) as f64).floor();
        let wt = Tensor::f_full([b], w as f64, opts)?;
        let ht = Tensor::f_full([b], h as f64, opts)?;
        let zero = Tensor::f_zeros([b], opts)?;
        let mut p = Params::new();
        p.insert("src", boxes(&x0, &y0, &wt, &ht));
        p.insert("dst", boxes(&zero, &zero, &wt, &ht));
        p.insert(
            "input_size",
            constant(&[hp, wp], Kind::Int64, device)
                .view([1, 2])
                .f_repeat([b, 1])?,
        );
        p.insert(
            "output_size",
            constant(&[h, w], Kind::Int64, device)
                .view([1, 2])
                .f_repeat([b, 1])?,
        );
        p.insert(
            "padding_size",
            Tensor::from_slice(&pad).view([1, 4]).f_repeat([b, 1])?,
        );
        p.insert("batch_prob", batch_prob);
        p.insert(
            "forward_input_shape",
            input_shape_tensor(&[shape[0], shape[1], hp, wp]),
        );
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let (resample, align) = (self.cfg.resample, self.cfg.align_corners);
        self.crop(input, params, &self.cfg.fill, resample, align)
    }

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let src = src_box(CROP, params, shape[0])?.to_device(device);
        let (x0, y0, _, _) = box_parts(&src, kind);
        let pad = self.padding((shape[2], shape[3]));
        Ok(to_origin(&(x0 - pad[0] as f64), &(y0 - pad[2] as f64)))
    }

    fn sampling(&self) -> Option<Sampling> {
        Some(Sampling::new(self.cfg.resample, self.cfg.align_corners))
    }

    /// Masks are padded as the image (a per-channel fill pads them with 0, a single fill
    /// with that value, as Kornia) and cropped at the same place.
    fn apply_mask(&self, mask: &Tensor, params: &Params, how: &MaskSampling) -> Result<Tensor> {
        let fill = if self.cfg.fill.len() == 1 {
            self.cfg.fill.clone()
        } else {
            vec![0.0]
        };
        let align = how.align_corners.unwrap_or(self.cfg.align_corners);
        self.crop(mask, params, &fill, how.resample, align)
    }
}

/// Configuration of [`CenterCrop`]; `Default` is Kornia's, with `size = (1, 1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CenterCropConfig {
    /// Output (height, width).
    pub size: (i64, i64),
    /// `align_corners` in `resample` mode (Kornia: true).
    pub align_corners: bool,
    /// Interpolation in `resample` mode.
    pub resample: Resample,
    /// Must be 1 (see [`RandomCropConfig::p`]).
    pub p: f64,
    /// Slice or resample.
    pub cropping_mode: CroppingMode,
}

impl CenterCropConfig {
    /// Kornia's `CenterCrop(size=(h, w))` (its int `s` is `(s, s)`).
    pub fn new(size: (i64, i64)) -> CenterCropConfig {
        CenterCropConfig {
            size,
            ..Default::default()
        }
    }
}

impl Default for CenterCropConfig {
    fn default() -> Self {
        CenterCropConfig {
            size: (1, 1),
            align_corners: true,
            resample: Resample::Bilinear,
            p: 1.0,
            cropping_mode: CroppingMode::Slice,
        }
    }
}

/// Crops the centre (h, w) window (Kornia's `CenterCrop`); deterministic.
///
/// The window starts at `trunc(W/2 - w/2)`, `trunc(H/2 - h/2)`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output (B,C,h,w).
///
/// # Errors
/// `new` fails on a non-positive size or `p != 1`; `f_*` forms on a bad input and with
/// [`Error::Size`] when the crop is larger than the input.
#[derive(Debug)]
pub struct CenterCrop {
    cfg: CenterCropConfig,
}

const CENTER: &str = "CenterCrop";

impl CenterCrop {
    /// Builds the crop (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] for a non-positive size or `p != 1`.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: CenterCropConfig) -> Result<CenterCrop> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: CenterCropConfig) -> Result<CenterCrop> {
        checks::size(CENTER, "size", cfg.size)?;
        check_crop_p(CENTER, cfg.p)?;
        Ok(CenterCrop { cfg })
    }

    /// The window (deterministic: it comes from the shape, so no value is read back):
    /// sliced exactly, or warped with `resample`.
    fn crop(
        &self,
        input: &Tensor,
        params: &Params,
        resample: Resample,
        align_corners: bool,
    ) -> Result<Tensor> {
        let size = input.size();
        let (x, y) = self.start(&size);
        let (h, w) = self.cfg.size;
        match self.cfg.cropping_mode {
            CroppingMode::Slice => Ok(input.f_narrow(2, y, h)?.f_narrow(3, x, w)?),
            CroppingMode::Resample => {
                let opts = Sampling {
                    resample,
                    align_corners,
                    ..Default::default()
                };
                warp::warp_by(self, input, params, &size, &[h, w], &opts, false)
            }
        }
    }

    fn start(&self, shape: &[i64]) -> (i64, i64) {
        let (h, w) = self.cfg.size;
        let x = (shape[3] as f64 / 2.0 - w as f64 / 2.0) as i64;
        let y = (shape[2] as f64 / 2.0 - h as f64 / 2.0) as i64;
        (x, y)
    }
}

impl Augmentation for CenterCrop {
    fn name(&self) -> &'static str {
        CENTER
    }

    fn spec(&self) -> AugSpec {
        AugSpec::CenterCrop(self.cfg.clone())
    }

    fn is_random(&self) -> bool {
        false
    }

    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        vec![shape[0], shape[1], self.cfg.size.0, self.cfg.size.1]
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let (h, w) = self.cfg.size;
        if h > shape[2] || w > shape[3] {
            return Err(Error::Size {
                op: CENTER,
                what: "crop size",
                size: vec![h, w],
                input: vec![shape[2], shape[3]],
                allowed: "at most the input size",
            });
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        self.check_shape(shape)?;
        let b = shape[0];
        let (h, w) = self.cfg.size;
        let (x, y) = self.start(shape);
        let (x1, y1) = (x + w - 1, y + h - 1);
        let rep = |v: &[i64], rows: i64, cols: i64| -> Result<Tensor> {
            Ok(constant(v, Kind::Int64, device)
                .view([1, rows, cols])
                .f_repeat([b, 1, 1])?)
        };
        let mut p = Params::new();
        p.insert("src", rep(&[x, y, x1, y, x1, y1, x, y1], 4, 2)?);
        p.insert("dst", rep(&[0, 0, w - 1, 0, w - 1, h - 1, 0, h - 1], 4, 2)?);
        p.insert(
            "input_size",
            rep(&[shape[2], shape[3]], 1, 2)?.squeeze_dim(1),
        );
        p.insert("output_size", rep(&[h, w], 1, 2)?.squeeze_dim(1));
        p.insert("batch_prob", Tensor::f_ones([b], (Kind::Float, device))?);
        p.insert("forward_input_shape", input_shape_tensor(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        self.crop(input, params, self.cfg.resample, self.cfg.align_corners)
    }

    fn geometry_ungated(
        &self,
        shape: &[i64],
        _params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let (x, y) = self.start(shape);
        let x0 = Tensor::f_full([shape[0]], x as f64, (kind, device))?;
        let y0 = Tensor::f_full([shape[0]], y as f64, (kind, device))?;
        Ok(to_origin(&x0, &y0))
    }

    fn sampling(&self) -> Option<Sampling> {
        Some(Sampling::new(self.cfg.resample, self.cfg.align_corners))
    }

    fn apply_mask(&self, mask: &Tensor, params: &Params, how: &MaskSampling) -> Result<Tensor> {
        let align = how.align_corners.unwrap_or(self.cfg.align_corners);
        self.crop(mask, params, how.resample, align)
    }
}

impl_module!(RandomCrop, CenterCrop);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomCrop {
    type Config = RandomCropConfig;

    fn from_kornia(kw: &Kwargs) -> Result<RandomCropConfig> {
        let mut c = RandomCropConfig::default();
        set!(c.size = kw.size("size")?);
        c.padding = kw
            .nums("padding")?
            .map(|v| v.iter().map(|&x| x as i64).collect());
        set!(c.pad_if_needed = kw.flag("pad_if_needed")?);
        set!(c.fill = kw.nums("fill")?);
        set!(c.padding_mode = kw.enm::<CropPadding>("padding_mode")?);
        set!(c.resample = kw.enm("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.cropping_mode = kw.enm::<CroppingMode>("cropping_mode")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for CenterCrop {
    type Config = CenterCropConfig;

    fn from_kornia(kw: &Kwargs) -> Result<CenterCropConfig> {
        let mut c = CenterCropConfig::default();
        set!(c.size = kw.size("size")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.resample = kw.enm("resample")?);
        set!(c.cropping_mode = kw.enm("cropping_mode")?);
        set!(c.p = kw.num("p")?);
        let _ = kw.flag("keepdim")?;
        Ok(c)
    }
}
