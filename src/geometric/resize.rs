//! Resize, LongestMaxSize, SmallestMaxSize and PadTo: deterministic size changes.

use super::affine::input_shape_tensor;
use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{set, FromKornia, Kwargs};
use crate::ops::constant;
use crate::warp::{resize, Padding, Resample, Sampling};
use crate::{AugSpec, Augmentation, GateParams, Geometry, MaskSampling, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Which side a single `size` refers to (Kornia's `side`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The shorter side becomes `size`.
    #[default]
    Short,
    /// The longer side becomes `size`.
    Long,
    /// The height becomes `size`.
    Vert,
    /// The width becomes `size`.
    Horz,
}

/// The target size of [`Resize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeTo {
    /// Exactly (height, width).
    Size(i64, i64),
    /// One side to this length, the other keeping the aspect ratio (truncated).
    Side(i64, Side),
}

/// Configuration of [`Resize`]; `Default` is Kornia's, with the required size 1×1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResizeConfig {
    /// The target size.
    pub size: ResizeTo,
    /// Interpolation (nearest is PyTorch's `nearest-exact`).
    pub resample: Resample,
    /// `align_corners` for bilinear and bicubic (Kornia: true).
    pub align_corners: bool,
    /// Blur with a Gaussian before downscaling (Kornia's `antialias`).
    pub antialias: bool,
    /// Must be 1: a resize changes the size.
    pub p: f64,
}

impl ResizeConfig {
    /// Kornia's `Resize(size=(h, w))`.
    pub fn new(size: (i64, i64)) -> ResizeConfig {
        ResizeConfig {
            size: ResizeTo::Size(size.0, size.1),
            ..Default::default()
        }
    }
}

impl Default for ResizeConfig {
    fn default() -> Self {
        ResizeConfig {
            size: ResizeTo::Size(1, 1),
            resample: Resample::Bilinear,
            align_corners: true,
            antialias: false,
            p: 1.0,
        }
    }
}

/// Resizes every image to one size (Kornia's `Resize`, and through [`ResizeTo::Side`]
/// its `LongestMaxSize` and `SmallestMaxSize`): `F.interpolate`, with Kornia's optional
/// Gaussian antialiasing.
///
/// Params: `src`, `dst` (B,4,2) corner boxes, `input_size`, `output_size` (B,2) int64.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output (B,C,h,w).
///
/// # Errors
/// `new` fails on a non-positive size or `p != 1`; `f_*` forms on a bad input, or a side
/// size that leaves the other side 0.
#[derive(Debug)]
pub struct Resize {
    cfg: ResizeConfig,
    /// The class it was built as: `Resize`, or Kornia's `LongestMaxSize` /
    /// `SmallestMaxSize` with their own config (its name and spec).
    class: Class,
}

/// What a [`Resize`] was built as.
#[derive(Debug, Clone)]
enum Class {
    Resize,
    Longest(MaxSizeConfig),
    Smallest(MaxSizeConfig),
}

/// Configuration of Kornia's `LongestMaxSize` and `SmallestMaxSize` ([`LongestMaxSize`],
/// [`SmallestMaxSize`]): `max_size` is required; the rest defaults to Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaxSizeConfig {
    /// The size the longer (`LongestMaxSize`) or shorter (`SmallestMaxSize`) side becomes;
    /// the other keeps the aspect ratio.
    pub max_size: i64,
    /// Interpolation.
    pub resample: Resample,
    /// `align_corners` for bilinear and bicubic (Kornia: true).
    pub align_corners: bool,
    /// Must be 1 (a resize changes the size).
    pub p: f64,
}

impl MaxSizeConfig {
    /// `max_size`, the rest at Kornia's defaults.
    pub fn new(max_size: i64) -> MaxSizeConfig {
        MaxSizeConfig {
            max_size,
            ..Default::default()
        }
    }

    fn resize(&self, side: Side) -> ResizeConfig {
        ResizeConfig {
            size: ResizeTo::Side(self.max_size, side),
            resample: self.resample,
            align_corners: self.align_corners,
            antialias: false,
            p: self.p,
        }
    }
}

impl Default for MaxSizeConfig {
    fn default() -> Self {
        MaxSizeConfig {
            max_size: 1,
            resample: Resample::Bilinear,
            align_corners: true,
            p: 1.0,
        }
    }
}

/// Kornia's `LongestMaxSize`: the longer side becomes `max_size`, the aspect ratio kept. A
/// [`Resize`] by another name ([`AugSpec::LongestMaxSize`] in JSON).
#[derive(Debug)]
pub struct LongestMaxSize;

impl LongestMaxSize {
    /// Builds it (it has no variables).
    ///
    /// # Errors
    /// As [`Resize::new`].
    // A `Resize` by another name: the registry builds every operator with `Type::new`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: MaxSizeConfig) -> Result<Resize> {
        Resize::named(cfg.resize(Side::Long), Class::Longest(cfg))
    }
}

/// Kornia's `SmallestMaxSize`: the shorter side becomes `max_size`, the aspect ratio kept. A
/// [`Resize`] by another name ([`AugSpec::SmallestMaxSize`] in JSON).
#[derive(Debug)]
pub struct SmallestMaxSize;

impl SmallestMaxSize {
    /// Builds it (it has no variables).
    ///
    /// # Errors
    /// As [`Resize::new`].
    // A `Resize` by another name: the registry builds every operator with `Type::new`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: MaxSizeConfig) -> Result<Resize> {
        Resize::named(cfg.resize(Side::Short), Class::Smallest(cfg))
    }
}

impl Resize {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a non-positive size or `p != 1`.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: ResizeConfig) -> Result<Resize> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: ResizeConfig) -> Result<Resize> {
        Resize::named(cfg, Class::Resize)
    }

    /// Kornia's `LongestMaxSize(max_size)`: the longer side becomes `max_size`
    /// ([`LongestMaxSize::new`]).
    ///
    /// # Errors
    /// As [`Resize::new`].
    pub fn longest_max_size(
        path: &nn::Path,
        max_size: i64,
        resample: Resample,
        align_corners: bool,
    ) -> Result<Resize> {
        let cfg = MaxSizeConfig {
            max_size,
            resample,
            align_corners,
            ..Default::default()
        };
        LongestMaxSize::new(path, cfg)
    }

    /// Kornia's `SmallestMaxSize(max_size)`: the shorter side becomes `max_size`
    /// ([`SmallestMaxSize::new`]).
    ///
    /// # Errors
    /// As [`Resize::new`].
    pub fn smallest_max_size(
        path: &nn::Path,
        max_size: i64,
        resample: Resample,
        align_corners: bool,
    ) -> Result<Resize> {
        let cfg = MaxSizeConfig {
            max_size,
            resample,
            align_corners,
            ..Default::default()
        };
        SmallestMaxSize::new(path, cfg)
    }

    fn op(&self) -> &'static str {
        match self.class {
            Class::Resize => "Resize",
            Class::Longest(_) => "LongestMaxSize",
            Class::Smallest(_) => "SmallestMaxSize",
        }
    }

    fn named(cfg: ResizeConfig, class: Class) -> Result<Resize> {
        let resize = Resize { cfg, class };
        let (op, cfg) = (resize.op(), &resize.cfg);
        let size_name = if matches!(resize.class, Class::Resize) {
            "size"
        } else {
            "max_size"
        };
        match cfg.size {
            ResizeTo::Size(h, w) => checks::size(op, size_name, (h, w))?,
            ResizeTo::Side(s, _) if s < 1 => {
                return Err(checks::config(op, size_name, s, "a side length >= 1"))
            }
            ResizeTo::Side(..) => {}
        }
        if cfg.p != 1.0 {
            return Err(checks::config(
                op,
                "p",
                cfg.p,
                "1.0 (a resize changes the size)",
            ));
        }
        Ok(resize)
    }

    /// Kornia's `_side_to_image_size`.
    fn target(&self, (h, w): (i64, i64)) -> (i64, i64) {
        match self.cfg.size {
            ResizeTo::Size(h, w) => (h, w),
            ResizeTo::Side(s, side) => {
                let ratio = w as f64 / h as f64;
                let sf = s as f64;
                match side {
                    Side::Vert => (s, (sf * ratio) as i64),
                    Side::Horz => ((sf / ratio) as i64, s),
                    side if (side == Side::Short) ^ (ratio < 1.0) => (s, (sf * ratio) as i64),
                    _ => ((sf / ratio) as i64, s),
                }
            }
        }
    }
}

impl Augmentation for Resize {
    fn name(&self) -> &'static str {
        self.op()
    }

    fn spec(&self) -> AugSpec {
        match &self.class {
            Class::Resize => AugSpec::Resize(self.cfg.clone()),
            Class::Longest(c) => AugSpec::LongestMaxSize(c.clone()),
            Class::Smallest(c) => AugSpec::SmallestMaxSize(c.clone()),
        }
    }

    fn is_random(&self) -> bool {
        false
    }

    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        let (h, w) = self.target((shape[2], shape[3]));
        vec![shape[0], shape[1], h, w]
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let (h, w) = self.target((shape[2], shape[3]));
        if h < 1 || w < 1 {
            return Err(crate::Error::Size {
                op: self.op(),
                what: "output size",
                size: vec![h, w],
                input: vec![shape[2], shape[3]],
                allowed: "a side size that keeps both sides >= 1 at this aspect ratio",
            });
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        self.check_shape(shape)?;
        let b = shape[0];
        let (hi, wi) = (shape[2], shape[3]);
        let (ho, wo) = self.target((hi, wi));
        let bx = |w: i64, h: i64| -> Result<Tensor> {
            let (w, h) = ((w - 1) as f32, (h - 1) as f32);
            Ok(
                constant(&[0.0, 0.0, w, 0.0, w, h, 0.0, h], Kind::Float, device)
                    .view([1, 4, 2])
                    .f_repeat([b, 1, 1])?,
            )
        };
        let pair = |a: i64, c: i64| -> Result<Tensor> {
            Ok(constant(&[a, c], Kind::Int64, device)
                .view([1, 2])
                .f_repeat([b, 1])?)
        };
        let mut p: Params = GateParams {
            batch_prob: Tensor::f_ones([b], (Kind::Float, device))?,
        }
        .into();
        p.insert("src", bx(wi, hi)?);
        p.insert("dst", bx(wo, ho)?);
        p.insert("input_size", pair(hi, wi)?);
        p.insert("output_size", pair(ho, wo)?);
        p.insert("forward_input_shape", input_shape_tensor(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
        let size = input.size();
        let (hi, wi) = (size[2], size[3]);
        let (ho, wo) = self.target((hi, wi));
        resize(
            self.op(),
            input,
            (ho, wo),
            self.cfg.resample,
            self.cfg.align_corners,
            self.cfg.antialias,
        )
    }

    /// Kornia's inverse: nearest resizes back (`nearest-exact`); bilinear and bicubic warp
    /// the output by the forward matrix's inverse (`crop_by_transform_mat`, zeros outside),
    /// which with `align_corners=False` is not a resize back: Kornia's warp normalises
    /// pixels with corners aligned while sampling on the half-pixel grid.
    fn inverse_transform(
        &self,
        output: &Tensor,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        if self.cfg.resample == Resample::Nearest {
            return resize(
                self.op(),
                output,
                (input_shape[2], input_shape[3]),
                self.cfg.resample,
                self.cfg.align_corners,
                false,
            );
        }
        let sampling = Sampling {
            resample: self.cfg.resample,
            padding: Padding::Zeros,
            align_corners: self.cfg.align_corners,
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

    /// Kornia's matrix: with corners aligned (bilinear or bicubic with `align_corners`)
    /// `x' = x (W'-1)/(W-1)`, otherwise `x' = (x + ½) W'/W - ½`.
    fn geometry_ungated(
        &self,
        shape: &[i64],
        _params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let (hi, wi) = (shape[2], shape[3]);
        let (ho, wo) = self.target((hi, wi));
        let aligned = self.cfg.align_corners && self.cfg.resample != Resample::Nearest;
        let axis = |i: i64, o: i64| -> (f64, f64) {
            if aligned {
                // A one-pixel axis, in or out, keeps scale 1 (the first pixel maps onto the
                // first pixel, as Kornia's corner-aligned crop-resize matrix has it): the
                // matrix stays invertible.
                if i > 1 && o > 1 {
                    ((o - 1) as f64 / (i - 1) as f64, 0.0)
                } else {
                    (1.0, 0.0)
                }
            } else {
                let s = o as f64 / i as f64;
                (s, 0.5 * s - 0.5)
            }
        };
        let (sx, tx) = axis(wi, wo);
        let (sy, ty) = axis(hi, ho);
        Ok(super::same_affine(
            [sx, 0.0, tx, 0.0, sy, ty],
            shape[0],
            kind,
            device,
        ))
    }

    fn sampling(&self) -> Option<Sampling> {
        Some(Sampling {
            resample: self.cfg.resample,
            padding: Padding::Border,
            align_corners: self.cfg.align_corners,
            fill: None,
        })
    }

    /// Masks are resized to the same size with the mask's resampling (nearest is PyTorch's
    /// `nearest-exact`, as Kornia), without antialiasing.
    fn apply_mask(&self, mask: &Tensor, _params: &Params, how: &MaskSampling) -> Result<Tensor> {
        let size = mask.size();
        let target = self.target((size[2], size[3]));
        let align = how.align_corners.unwrap_or(self.cfg.align_corners);
        resize(self.op(), mask, target, how.resample, align, false)
    }

    fn inverse_mask(
        &self,
        mask: &Tensor,
        _params: &Params,
        input_shape: &[i64],
        how: &MaskSampling,
    ) -> Result<Tensor> {
        let align = how.align_corners.unwrap_or(self.cfg.align_corners);
        resize(
            self.op(),
            mask,
            (input_shape[2], input_shape[3]),
            how.resample,
            align,
            false,
        )
    }
}

/// How [`PadTo`] pads (Kornia's `pad_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    /// The constant `pad_value`.
    #[default]
    Constant,
    /// Mirror without repeating the edge.
    Reflect,
    /// Repeat the edge.
    Replicate,
}

/// Configuration of [`PadTo`]; `Default` is Kornia's, with the required size 1×1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PadToConfig {
    /// Output (height, width).
    pub size: (i64, i64),
    /// Padding mode.
    pub pad_mode: PadMode,
    /// Value for constant padding.
    pub pad_value: f64,
    /// Crop (from the bottom/right) an image larger than `size`; if false, leave that axis.
    pub crop_if_exceeds: bool,
}

impl PadToConfig {
    /// Kornia's `PadTo(size=(h, w))`.
    pub fn new(size: (i64, i64)) -> PadToConfig {
        PadToConfig {
            size,
            ..Default::default()
        }
    }
}

impl Default for PadToConfig {
    fn default() -> Self {
        PadToConfig {
            size: (1, 1),
            pad_mode: PadMode::Constant,
            pad_value: 0.0,
            crop_if_exceeds: true,
        }
    }
}

/// Pads at the bottom and right to `size` (Kornia's `PadTo`); deterministic.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output (B,C,h,w) (or the input's size on
/// an axis it exceeds, without `crop_if_exceeds`).
///
/// # Errors
/// `new` fails on a non-positive size or a non-finite value; `f_*` forms on a bad input,
/// or reflect padding of at least the input size.
#[derive(Debug)]
pub struct PadTo {
    cfg: PadToConfig,
}

const PAD: &str = "PadTo";

impl PadTo {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a non-positive size or a non-finite `pad_value`.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: PadToConfig) -> Result<PadTo> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: PadToConfig) -> Result<PadTo> {
        checks::size(PAD, "size", cfg.size)?;
        checks::finite(PAD, "pad_value", &[cfg.pad_value])?;
        Ok(PadTo { cfg })
    }

    fn pads(&self, shape: &[i64]) -> (i64, i64) {
        let (h, w) = (self.cfg.size.0 - shape[2], self.cfg.size.1 - shape[3]);
        if self.cfg.crop_if_exceeds {
            (h, w)
        } else {
            (h.max(0), w.max(0))
        }
    }
}

impl Augmentation for PadTo {
    fn name(&self) -> &'static str {
        PAD
    }

    fn spec(&self) -> AugSpec {
        AugSpec::PadTo(self.cfg.clone())
    }

    fn is_random(&self) -> bool {
        false
    }

    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        let (ph, pw) = self.pads(shape);
        vec![shape[0], shape[1], shape[2] + ph, shape[3] + pw]
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let (ph, pw) = self.pads(shape);
        if self.cfg.pad_mode == PadMode::Reflect && (ph >= shape[2] || pw >= shape[3]) {
            return Err(crate::Error::Size {
                op: PAD,
                what: "reflect padding",
                size: vec![ph, pw],
                input: vec![shape[2], shape[3]],
                allowed: "reflect padding smaller than the input on each axis",
            });
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let mut p: Params = GateParams {
            batch_prob: Tensor::f_ones([shape[0]], (Kind::Float, device))?,
        }
        .into();
        p.insert("forward_input_shape", input_shape_tensor(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
        let (ph, pw) = self.pads(&input.size());
        let pad = [0, pw, 0, ph];
        Ok(match self.cfg.pad_mode {
            PadMode::Constant => input.f_pad(pad, "constant", Some(self.cfg.pad_value))?,
            PadMode::Reflect => input.f_pad(pad, "reflect", None)?,
            PadMode::Replicate => input.f_pad(pad, "replicate", None)?,
        })
    }

    fn inverse_transform(
        &self,
        output: &Tensor,
        _params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        unpad(output, input_shape)
    }

    /// Padding at the bottom and right moves no pixel: the identity matrix, as Kornia's.
    fn geometry_ungated(
        &self,
        shape: &[i64],
        _params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let zero = Tensor::f_zeros([shape[0], 2], (kind, device))?;
        Ok(Geometry::translation(crate::geometry::translation(&zero)))
    }

    /// Masks are padded as the image (the same mode and value, as Kornia).
    fn apply_mask(&self, mask: &Tensor, params: &Params, _how: &MaskSampling) -> Result<Tensor> {
        self.apply_transform(mask, params)
    }

    fn inverse_mask(
        &self,
        mask: &Tensor,
        _params: &Params,
        input_shape: &[i64],
        _how: &MaskSampling,
    ) -> Result<Tensor> {
        unpad(mask, input_shape)
    }
}

/// Slices padding off at the bottom and right (what PadTo added); an axis PadTo cropped
/// stays as it is.
fn unpad(x: &Tensor, input_shape: &[i64]) -> Result<Tensor> {
    let size = x.size();
    Ok(x.f_narrow(2, 0, input_shape[2].min(size[2]))?.f_narrow(
        3,
        0,
        input_shape[3].min(size[3]),
    )?)
}

impl_module!(Resize, PadTo);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for Resize {
    type Config = ResizeConfig;

    fn from_kornia(kw: &Kwargs) -> Result<ResizeConfig> {
        let mut c = ResizeConfig::default();
        let side = kw.enm::<Side>("side")?;
        c.size = match (kw.nums("size")?.as_deref(), side) {
            (Some([s]), side) => ResizeTo::Side(*s as i64, side.unwrap_or_default()),
            (Some([h, w]), _) => ResizeTo::Size(*h as i64, *w as i64),
            _ => return Err(kw.err("size", "a side length or a (height, width)")),
        };
        set!(c.resample = kw.enm("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.antialias = kw.flag("antialias")?);
        set!(c.p = kw.num("p")?);
        let _ = kw.flag("keepdim")?;
        Ok(c)
    }
}

impl FromKornia for PadTo {
    type Config = PadToConfig;

    fn from_kornia(kw: &Kwargs) -> Result<PadToConfig> {
        let mut c = PadToConfig::default();
        set!(c.size = kw.size("size")?);
        set!(c.pad_mode = kw.enm::<PadMode>("pad_mode")?);
        set!(c.pad_value = kw.num("pad_value")?);
        set!(c.crop_if_exceeds = kw.flag("crop_if_exceeds")?);
        let _ = kw.flag("keepdim")?;
        Ok(c)
    }
}

/// Kornia's LongestMaxSize and SmallestMaxSize arguments.
fn max_size_from_kornia(kw: &Kwargs) -> Result<MaxSizeConfig> {
    let mut c = MaxSizeConfig::new(match kw.nums("max_size")?.as_deref() {
        Some([s]) => *s as i64,
        _ => return Err(kw.err("max_size", "one side length (an int)")),
    });
    set!(c.resample = kw.enm("resample")?);
    set!(c.align_corners = kw.flag("align_corners")?);
    set!(c.p = kw.num("p")?);
    Ok(c)
}

impl FromKornia for LongestMaxSize {
    type Config = MaxSizeConfig;

    fn from_kornia(kw: &Kwargs) -> Result<MaxSizeConfig> {
        max_size_from_kornia(kw)
    }
}

impl FromKornia for SmallestMaxSize {
    type Config = MaxSizeConfig;

    fn from_kornia(kw: &Kwargs) -> Result<MaxSizeConfig> {
        max_size_from_kornia(kw)
    }
}
