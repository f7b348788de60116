//! CenterCrop3D and RandomCrop3D: a whole-voxel translation, gathered exactly (`Slice`) or
//! warped with the 3D affine warp as Kornia's `crop_by_transform_mat3d` (`Resample`).

use super::{check_resample, dhw};
use crate::augmentation::impl_module;
use crate::checks;
use crate::geometric::{CropPadding, CroppingMode};
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::constant;
use crate::range::gate_params;
use crate::warp::{self, Resample, Sampling};
use crate::{AugSpec, Augmentation, Error, Geometry, MaskSampling, Params, Result, Transform};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// The eight corners (x, y, z) of boxes starting at `start` (B,3) with sizes `size` (B,3)
/// (x, y, z order), Kornia's `bbox_generator3d` layout: front face (z = start) clockwise
/// from the top-left, then the back face.
fn corners(start: &Tensor, size: &Tensor) -> Tensor {
    let far = start + size - 1.0;
    let pick = |src: &Tensor, i: i64| src.select(-1, i);
    let (x0, y0, z0) = (pick(start, 0), pick(start, 1), pick(start, 2));
    let (x1, y1, z1) = (pick(&far, 0), pick(&far, 1), pick(&far, 2));
    let mut pts = Vec::with_capacity(8);
    for z in [&z0, &z1] {
        for (x, y) in [(&x0, &y0), (&x1, &y0), (&x1, &y1), (&x0, &y1)] {
            pts.push(Tensor::stack(&[x, y, z], -1));
        }
    }
    Tensor::stack(&pts, 1)
}

/// The crop's translation `dst[:, 0] - src[:, 0]` (B,3) from (B,8,3) corner params.
fn crop_shift(
    op: &'static str,
    params: &Params,
    b: i64,
    kind: Kind,
    device: Device,
) -> Result<Tensor> {
    let get = |k: &str| -> Result<Tensor> {
        Ok(params
            .shaped(op, k, &[b, 8, 3])?
            .to_device(device)
            .to_kind(kind)
            .select(1, 0))
    };
    Ok(get("dst")? - get("src")?)
}

fn check_fits(
    op: &'static str,
    size: [i64; 3],
    shape: &[i64],
    allowed: &'static str,
) -> Result<()> {
    let (d, h, w) = dhw(shape);
    if size[0] > d || size[1] > h || size[2] > w {
        return Err(Error::Size {
            op,
            what: "crop size",
            size: size.to_vec(),
            input: vec![d, h, w],
            allowed,
        });
    }
    Ok(())
}

/// Crops the window that `shift` (B,3) moves to the origin: gathered exactly, or warped.
fn crop3d(
    x: &Tensor,
    shift: &Tensor,
    size: [i64; 3],
    mode: CroppingMode,
    resample: Resample,
    align_corners: bool,
) -> Result<Tensor> {
    match mode {
        CroppingMode::Slice => warp::crop_window(x, &-shift, &size, true),
        CroppingMode::Resample => {
            let s = Sampling {
                resample,
                align_corners,
                ..Default::default()
            };
            warp::warp(x, &Transform::translation(shift), &size, &s)
        }
    }
}

fn check_size(op: &'static str, size: [i64; 3]) -> Result<()> {
    if size.iter().all(|&s| s > 0) {
        Ok(())
    } else {
        Err(checks::config(
            op,
            "size",
            format!("{size:?}"),
            "a size (D, H, W) with every entry >= 1",
        ))
    }
}

/// Configuration of [`CenterCrop3D`]; `Default` is Kornia's with `size = [1, 1, 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CenterCrop3DConfig {
    /// Output size (D, H, W).
    pub size: [i64; 3],
    /// `grid_sample`'s `align_corners` (Kornia: true).
    pub align_corners: bool,
    /// Interpolation of the `Resample` mode (bilinear or nearest); the crop is a whole-voxel
    /// shift either way.
    pub resample: Resample,
    /// `Slice` (default) gathers the window exactly; `Resample` warps it with
    /// `affine_grid_generator` + `grid_sampler` as Kornia does (equal up to float rounding).
    pub cropping_mode: CroppingMode,
    /// Must be 1, as for the 2D crops (Kornia's `p`; a crop changes the size).
    pub p: f64,
}

impl CenterCrop3DConfig {
    /// Kornia's `CenterCrop3D(size=(d, h, w))`.
    pub fn new(size: [i64; 3]) -> CenterCrop3DConfig {
        CenterCrop3DConfig {
            size,
            ..Default::default()
        }
    }
}

impl Default for CenterCrop3DConfig {
    fn default() -> Self {
        CenterCrop3DConfig {
            size: [1, 1, 1],
            align_corners: true,
            resample: Resample::Bilinear,
            cropping_mode: CroppingMode::Slice,
            p: 1.0,
        }
    }
}

/// Crops the centre `size` (D, H, W) of every volume (Kornia's `CenterCrop3D`); the start
/// is `trunc(side / 2 - size / 2)` per axis.
///
/// Params: `src`, `dst` (B,8,3) int64 corners, `output_size` (B,3) int64; `batch_prob`,
/// `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,D,H,W) or (C,D,H,W), float32 or float64; output (B,C,*size).
///
/// # Errors
/// `new` fails on a size entry < 1 or a bicubic `resample`; `f_*` forms on a bad input or
/// a crop larger than the volume.
#[derive(Debug)]
pub struct CenterCrop3D {
    cfg: CenterCrop3DConfig,
}

const CENTER3D: &str = "CenterCrop3D";

impl CenterCrop3D {
    /// Builds the crop (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: CenterCrop3DConfig,
    ) -> Result<CenterCrop3D> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: CenterCrop3DConfig) -> Result<CenterCrop3D> {
        check_size(CENTER3D, cfg.size)?;
        check_resample(CENTER3D, cfg.resample)?;
        crate::geometric::check_crop_p(CENTER3D, cfg.p)?;
        Ok(CenterCrop3D { cfg })
    }

    fn crop(&self, x: &Tensor, params: &Params, resample: Resample, align: bool) -> Result<Tensor> {
        let shift = crop_shift(CENTER3D, params, x.size()[0], x.kind(), x.device())?;
        crop3d(
            x,
            &shift,
            self.cfg.size,
            self.cfg.cropping_mode,
            resample,
            align,
        )
    }
}

impl Augmentation for CenterCrop3D {
    fn name(&self) -> &'static str {
        CENTER3D
    }

    fn spatial_dims(&self) -> usize {
        3
    }

    fn spec(&self) -> AugSpec {
        AugSpec::CenterCrop3D(self.cfg.clone())
    }

    fn is_random(&self) -> bool {
        false
    }

    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        [&shape[..2], &self.cfg.size[..]].concat()
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        check_fits(CENTER3D, self.cfg.size, shape, "at most the input size")
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        self.check_shape(shape)?;
        let b = shape[0];
        let mut p = gate_params(shape, 1.0, false, device)?;
        let (d, h, w) = dhw(shape);
        let [sd, sh, sw] = self.cfg.size;
        let start = |src: i64, dst: i64| (src as f64 / 2.0 - dst as f64 / 2.0).trunc();
        let src_start = [start(w, sw), start(h, sh), start(d, sd)];
        let opts = (Kind::Float, device);
        let size = constant(&[sw as f64, sh as f64, sd as f64], Kind::Float, device).view([1, 3]);
        let src = corners(
            &constant(&src_start, Kind::Float, device).view([1, 3]),
            &size,
        );
        let dst = corners(&Tensor::f_zeros([1, 3], opts)?, &size);
        let long = |t: Tensor| t.to_kind(Kind::Int64).expand([b, 8, 3], false);
        p.insert("src", long(src));
        p.insert("dst", long(dst));
        p.insert(
            "output_size",
            constant(&self.cfg.size, Kind::Int64, device)
                .view([1, 3])
                .expand([b, 3], false),
        );
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let (resample, align) = (self.cfg.resample, self.cfg.align_corners);
        self.crop(input, params, resample, align)
    }

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let shift = crop_shift(CENTER3D, params, shape[0], kind, device)?;
        Ok(Geometry::translation(crate::geometry::translation(&shift)))
    }

    fn sampling(&self) -> Option<Sampling> {
        Some(Sampling::new(self.cfg.resample, self.cfg.align_corners))
    }

    fn apply_mask(&self, mask: &Tensor, params: &Params, how: &MaskSampling) -> Result<Tensor> {
        let align = how.align_corners.unwrap_or(self.cfg.align_corners);
        self.crop(mask, params, how.resample, align)
    }
}

/// Configuration of [`RandomCrop3D`]; `Default` is Kornia's with `size = [1, 1, 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomCrop3DConfig {
    /// Output size (D, H, W).
    pub size: [i64; 3],
    /// Padding before cropping: (left, right, top, bottom, front, back) along W, H, D
    /// (Kornia's 6-tuple; its int `n` is `[n; 6]`, its `(a, b, c)` is `[a, a, b, b, c, c]`).
    pub padding: Option<[i64; 6]>,
    /// Pad each side by the missing amount when the volume is smaller than `size`.
    pub pad_if_needed: bool,
    /// The constant of `padding_mode = Constant`.
    pub fill: f64,
    /// How padding is filled.
    pub padding_mode: CropPadding,
    /// Interpolation of the `Resample` mode (bilinear or nearest); the crop is a whole-voxel
    /// shift either way.
    pub resample: Resample,
    /// `Slice` (default) gathers the window exactly; `Resample` warps it with
    /// `affine_grid_generator` + `grid_sampler` as Kornia does (equal up to float rounding).
    pub cropping_mode: CroppingMode,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// `grid_sample`'s `align_corners` (Kornia: true).
    pub align_corners: bool,
    /// Must be 1, as for the 2D crops (Kornia's `p`; a crop changes the size).
    pub p: f64,
}

impl RandomCrop3DConfig {
    /// Kornia's `RandomCrop3D(size=(d, h, w))`.
    pub fn new(size: [i64; 3]) -> RandomCrop3DConfig {
        RandomCrop3DConfig {
            size,
            ..Default::default()
        }
    }
}

impl Default for RandomCrop3DConfig {
    fn default() -> Self {
        RandomCrop3DConfig {
            size: [1, 1, 1],
            padding: None,
            pad_if_needed: false,
            fill: 0.0,
            padding_mode: CropPadding::Constant,
            resample: Resample::Bilinear,
            cropping_mode: CroppingMode::Slice,
            same_on_batch: false,
            align_corners: true,
            p: 1.0,
        }
    }
}

/// Crops a random `size` (D, H, W) window of every volume (Kornia's `RandomCrop3D`), after
/// optional padding; the start along each axis is `floor(u · (side - size + 1))`.
///
/// Params: `src`, `dst` (B,8,3) float32 corners in the padded volume, `output_size` (B,3)
/// int64; `batch_prob`, `forward_input_shape`. The matrix maps input voxels (before
/// padding) to output voxels.
///
/// # Shapes
/// Input (B,C,D,H,W) or (C,D,H,W), float32 or float64; output (B,C,*size).
///
/// # Errors
/// `new` fails on a size entry < 1, negative padding, a non-finite fill or a bicubic
/// `resample`; `f_*` forms on a bad input or a crop larger than the padded volume.
#[derive(Debug)]
pub struct RandomCrop3D {
    cfg: RandomCrop3DConfig,
}

const CROP3D: &str = "RandomCrop3D";

impl RandomCrop3D {
    /// Builds the crop (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: RandomCrop3DConfig,
    ) -> Result<RandomCrop3D> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: RandomCrop3DConfig) -> Result<RandomCrop3D> {
        check_size(CROP3D, cfg.size)?;
        crate::geometric::check_crop_p(CROP3D, cfg.p)?;
        if let Some(p) = cfg.padding {
            if p.iter().any(|&v| v < 0) {
                return Err(checks::config(
                    CROP3D,
                    "padding",
                    format!("{p:?}"),
                    "six non-negative amounts (left, right, top, bottom, front, back)",
                ));
            }
        }
        checks::finite(CROP3D, "fill", &[cfg.fill])?;
        check_resample(CROP3D, cfg.resample)?;
        Ok(RandomCrop3D { cfg })
    }

    /// Kornia's padding steps for an input of shape `shape`, each (left, right, top,
    /// bottom, front, back).
    fn padding_steps(&self, shape: &[i64]) -> Vec<[i64; 6]> {
        let (mut d, mut h, mut w) = dhw(shape);
        let mut steps = Vec::new();
        if let Some(p) = self.cfg.padding {
            steps.push(p);
            w += p[0] + p[1];
            h += p[2] + p[3];
            d += p[4] + p[5];
        }
        let [sd, sh, sw] = self.cfg.size;
        if self.cfg.pad_if_needed {
            if d < sd {
                steps.push([0, 0, 0, 0, sd - d, sd - d]);
            }
            if h < sh {
                steps.push([0, 0, sh - h, sh - h, 0, 0]);
            }
            if w < sw {
                steps.push([sw - w, sw - w, 0, 0, 0, 0]);
            }
        }
        steps
    }

    fn padded_shape(&self, shape: &[i64]) -> Vec<i64> {
        let mut s = shape.to_vec();
        for p in self.padding_steps(shape) {
            s[4] += p[0] + p[1];
            s[3] += p[2] + p[3];
            s[2] += p[4] + p[5];
        }
        s
    }

    fn crop(
        &self,
        x: &Tensor,
        params: &Params,
        fill: f64,
        resample: Resample,
        align: bool,
    ) -> Result<Tensor> {
        let shift = crop_shift(CROP3D, params, x.size()[0], x.kind(), x.device())?;
        let padded = self.pad(x, fill)?;
        crop3d(
            &padded,
            &shift,
            self.cfg.size,
            self.cfg.cropping_mode,
            resample,
            align,
        )
    }

    fn pad(&self, x: &Tensor, fill: f64) -> Result<Tensor> {
        let mut x = x.shallow_clone();
        for p in self.padding_steps(&x.size()) {
            x = match self.cfg.padding_mode {
                CropPadding::Constant => x.f_pad(p, "constant", Some(fill))?,
                CropPadding::Reflect => x.f_pad(p, "reflect", None)?,
                CropPadding::Replicate => x.f_pad(p, "replicate", None)?,
            };
        }
        Ok(x)
    }
}

impl Augmentation for RandomCrop3D {
    fn name(&self) -> &'static str {
        CROP3D
    }

    fn spatial_dims(&self) -> usize {
        3
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomCrop3D(self.cfg.clone())
    }

    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        [&shape[..2], &self.cfg.size[..]].concat()
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        check_fits(
            CROP3D,
            self.cfg.size,
            &self.padded_shape(shape),
            "at most the (padded) input size; set pad_if_needed or padding",
        )?;
        if self.cfg.padding_mode == CropPadding::Reflect {
            // Each reflection (padding, then pad_if_needed) must be shorter than the axis
            // it reflects, as it is then.
            let mut s = shape.to_vec();
            for p in self.padding_steps(shape) {
                let (pw, ph, pd) = (p[0].max(p[1]), p[2].max(p[3]), p[4].max(p[5]));
                if pd >= s[2] || ph >= s[3] || pw >= s[4] {
                    return Err(Error::Size {
                        op: CROP3D,
                        what: "reflect padding",
                        size: vec![pd, ph, pw],
                        input: s[2..].to_vec(),
                        allowed: "reflect padding smaller than the input on each axis",
                    });
                }
                s[4] += p[0] + p[1];
                s[3] += p[2] + p[3];
                s[2] += p[4] + p[5];
            }
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        self.check_shape(shape)?;
        let padded = self.padded_shape(shape);
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(&padded, 1.0, same, device)?;
        let (d, h, w) = dhw(&padded);
        let [sd, sh, sw] = self.cfg.size;
        let start = |extent: i64| -> Result<Tensor> {
            Ok((crate::range::uniform(b, same, device)? * extent as f64).floor())
        };
        let x = start(w - sw + 1)?;
        let y = start(h - sh + 1)?;
        let z = start(d - sd + 1)?;
        let size = constant(&[sw as f64, sh as f64, sd as f64], Kind::Float, device)
            .view([1, 3])
            .expand([b, 3], false);
        let src = corners(&Tensor::stack(&[x, y, z], 1), &size);
        let dst = corners(&size.zeros_like(), &size);
        p.insert("src", src);
        p.insert("dst", dst);
        p.insert(
            "output_size",
            constant(&self.cfg.size, Kind::Int64, device)
                .view([1, 3])
                .f_repeat([b, 1])?,
        );
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let (resample, align) = (self.cfg.resample, self.cfg.align_corners);
        self.crop(input, params, self.cfg.fill, resample, align)
    }

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let mut shift = crop_shift(CROP3D, params, shape[0], kind, device)?;
        for p in self.padding_steps(shape) {
            shift += constant(&[p[0] as f64, p[2] as f64, p[4] as f64], kind, device);
        }
        Ok(Geometry::translation(crate::geometry::translation(&shift)))
    }

    fn sampling(&self) -> Option<Sampling> {
        Some(Sampling::new(self.cfg.resample, self.cfg.align_corners))
    }

    /// Masks are padded as the volume (constant padding with `fill`) and cropped alike.
    fn apply_mask(&self, mask: &Tensor, params: &Params, how: &MaskSampling) -> Result<Tensor> {
        let align = how.align_corners.unwrap_or(self.cfg.align_corners);
        self.crop(mask, params, self.cfg.fill, how.resample, align)
    }
}

impl_module!(CenterCrop3D, RandomCrop3D);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

/// Kornia's 3D crop `size`: a side, or (depth, height, width).
fn size_from_kornia(kw: &Kwargs) -> Result<[i64; 3]> {
    Ok(match kw.nums("size")?.as_deref() {
        None => [1, 1, 1],
        Some([s]) => [*s as i64; 3],
        Some([d, h, w]) => [*d as i64, *h as i64, *w as i64],
        Some(_) => return Err(kw.err("size", "a side or (depth, height, width)")),
    })
}

impl FromKornia for CenterCrop3D {
    type Config = CenterCrop3DConfig;

    fn from_kornia(kw: &Kwargs) -> Result<CenterCrop3DConfig> {
        let mut c = CenterCrop3DConfig {
            size: size_from_kornia(kw)?,
            ..Default::default()
        };
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.resample = kw.enm("resample")?);
        set!(c.p = kw.num("p")?);
        let _ = kw.flag("keepdim")?;
        Ok(c)
    }
}

impl FromKornia for RandomCrop3D {
    type Config = RandomCrop3DConfig;

    fn from_kornia(kw: &Kwargs) -> Result<RandomCrop3DConfig> {
        let mut c = RandomCrop3DConfig {
            size: size_from_kornia(kw)?,
            ..Default::default()
        };
        c.padding = match kw.nums("padding")?.as_deref() {
            None => None,
            Some([n]) => Some([*n as i64; 6]),
            Some([a, b, d]) => {
                let (a, b, d) = (*a as i64, *b as i64, *d as i64);
                Some([a, a, b, b, d, d])
            }
            Some(v) if v.len() == 6 => {
                let mut p = [0i64; 6];
                for (o, x) in p.iter_mut().zip(v) {
                    *o = *x as i64;
                }
                Some(p)
            }
            Some(_) => return Err(kw.err("padding", "1, 3 or 6 amounts")),
        };
        set!(c.pad_if_needed = kw.flag("pad_if_needed")?);
        set!(c.fill = kw.num("fill")?);
        set!(c.padding_mode = kw.enm::<CropPadding>("padding_mode")?);
        set!(c.resample = kw.enm("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        common!(kw, c);
        Ok(c)
    }
}
