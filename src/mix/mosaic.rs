//! RandomMosaic (Kornia's): a grid of images of the batch composed into one canvas, and a
//! window of it cropped out.

use crate::annotations::{AnnotationOptions, BoxMode, BoxSource, Record, Visible};
use crate::augmentation::{impl_module, Regrouping, Role};
use crate::checks;
use crate::geometric::CroppingMode;
use crate::geometry::{box_corners, enclosure, Geometry, Transform};
use crate::kornia::kwargs::{set, FromKornia, Kwargs};
use crate::range::gate;
use crate::warp::{self, Padding, Resample, Sampling};
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

const MOSAIC: &str = "RandomMosaic";

/// Configuration of [`RandomMosaic`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MosaicConfig {
    /// The output's (height, width); `None`: the input's.
    pub output_size: Option<(i64, i64)>,
    /// Tiles along the width and along the height (Kornia's order), each at least 1.
    pub mosaic_grid: (i64, i64),
    /// Range of the window's top-left corner as a fraction of the image's width and height,
    /// `0 <= lo <= hi <= 10000` (a corner past the canvas gives zeros).
    pub start_ratio_range: (f64, f64),
    /// Kornia's smallest box area: a mosaicked sample's box whose part inside the window
    /// has a smaller area is marked invalid (Kornia zeroes it). The area is Kornia's, of
    /// the inclusive corners: `(x2 - x1) · (y2 - y1)`, one less per side than the pixels
    /// the box covers.
    pub min_bbox_size: f64,
    /// Probability of mosaicking each sample; the others are padded or cropped at the
    /// right and bottom to the output size.
    pub p: f64,
    /// What `Resample` cropping samples outside the canvas (Kornia's constant, replicate,
    /// reflect: `Zeros`, `Border`, `Reflection`).
    pub padding_mode: Padding,
    /// Interpolation of `Resample` cropping.
    pub resample: Resample,
    /// `grid_sample`'s flag for `Resample` cropping.
    pub align_corners: bool,
    /// Slice the window out (zeros past the canvas), or warp it out.
    pub cropping_mode: CroppingMode,
}

impl Default for MosaicConfig {
    fn default() -> Self {
        MosaicConfig {
            output_size: None,
            mosaic_grid: (2, 2),
            start_ratio_range: (0.3, 0.7),
            min_bbox_size: 0.0,
            p: 0.7,
            padding_mode: Padding::Zeros,
            resample: Resample::Bilinear,
            align_corners: true,
            cropping_mode: CroppingMode::Slice,
        }
    }
}

/// RandomMosaic (Kornia's): for each sample, the images its `permutation` row names (itself
/// first, then images drawn from the batch) tiled into a canvas of `mosaic_grid` (tile `(i,
/// j)`, `i` along the width, holds image `permutation[:, j_count·i + j]`), and the
/// output-size window at a drawn top-left corner cropped out of it, by slicing (zeros past
/// the canvas) or by a warp. Samples whose gate is off are padded or cropped at the right
/// and bottom to the output size.
///
/// As in Kornia, the mosaic is computed without a gradient (a gated-off sample keeps its
/// own); masks are mosaicked with the image; the step is not invertible; labels stay with
/// their samples (the first tile is the sample's own image).
///
/// Boxes (N per image) come out as N·G per image for a grid of G tiles, as Kornia's: row
/// `k·N + n` is box `n` of tile `k`'s image, moved with its tile. A gated-off sample keeps
/// its own N boxes in the first rows, the others marked invalid. Validity and class ids
/// follow their boxes. The boxes are then treated as after any crop: with
/// [`BoxMode::Kornia`] each corner is clamped to the window, as Kornia clamps it; otherwise
/// the pipeline's options clip, flag and drop them at its end (a tile's box outside the
/// window is outside the output), and the visible region is clipped to the window. Boxes
/// whose part inside the window is below `min_bbox_size` are marked invalid. Unlike Kornia,
/// which returns N rows when its gate selects no sample, the output always has N·G rows, so
/// that its shape does not depend on the draw (Kornia's keyed outputs zero invalid rows;
/// [`crate::Sequential::f_call`] does the same). Keypoints are refused, as in Kornia, and
/// so are instance masks with boxes.
///
/// Params (Kornia's): `permutation` (B, n) int64, `src` (B,4,2) the window's corners in the
/// canvas, `dst` (B,4,2), `batch_shapes` (B,3), `batch_prob` (B,), `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W); output (B,C,h,w) with `output_size`, else the input's.
#[derive(Debug)]
pub struct RandomMosaic {
    cfg: MosaicConfig,
}

impl RandomMosaic {
    /// Builds the augmentation (it has no variables; `path` is taken for symmetry).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a grid or output size below 1, a start range outside
    /// [0, 10000] or reversed, a bad `p`, or bicubic sampling.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: MosaicConfig) -> Result<RandomMosaic> {
        let (gw, gh) = cfg.mosaic_grid;
        if gw < 1 || gh < 1 || gw.checked_mul(gh).is_none_or(|n| n > 1 << 16) {
            return Err(checks::config(
                MOSAIC,
                "mosaic_grid",
                format!("{:?}", cfg.mosaic_grid),
                "(tiles along the width, tiles along the height), each at least 1",
            ));
        }
        if let Some((h, w)) = cfg.output_size {
            checks::size(MOSAIC, "output_size", (h, w))?;
        }
        let (lo, hi) = cfg.start_ratio_range;
        // (A start past the canvas gives zeros; a bound keeps the corner finite in float32.)
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi <= 1e4) {
            return Err(checks::config(
                MOSAIC,
                "start_ratio_range",
                format!("{:?}", cfg.start_ratio_range),
                "(lo, hi) with 0 <= lo <= hi <= 10000",
            ));
        }
        checks::finite(MOSAIC, "min_bbox_size", &[cfg.min_bbox_size])?;
        checks::probability(MOSAIC, "p", cfg.p)?;
        if cfg.resample == Resample::Bicubic || cfg.padding_mode == Padding::Fill {
            return Err(checks::config(
                MOSAIC,
                "resample/padding_mode",
                format!("{:?}/{:?}", cfg.resample, cfg.padding_mode),
                "bilinear or nearest; zeros, border or reflection (Kornia's choices)",
            ));
        }
        Ok(RandomMosaic { cfg })
    }

    fn out_hw(&self, shape: &[i64]) -> (i64, i64) {
        self.cfg.output_size.unwrap_or((shape[2], shape[3]))
    }

    /// The checked `permutation` (B, n) on the input's device.
    fn permutation(&self, x: &Tensor, params: &Params) -> Result<Tensor> {
        let (gw, gh) = self.cfg.mosaic_grid;
        let b = x.size()[0];
        let perm = params
            .shaped(MOSAIC, "permutation", &[b, gw * gh])?
            .to_device(x.device())
            .to_kind(Kind::Int64);
        if x.device() == Device::Cpu && b > 0 {
            let (lo, hi) = (i64::try_from(perm.min())?, i64::try_from(perm.max())?);
            if lo < 0 || hi >= b {
                return Err(Error::Params {
                    op: MOSAIC,
                    key: "permutation".into(),
                    problem: format!("holds {lo}..={hi}; expected images 0..{b}"),
                });
            }
        }
        Ok(perm)
    }

    /// The canvas (B, C, gh·H, gw·W) of each sample's tiles.
    fn canvas(&self, x: &Tensor, params: &Params) -> Result<Tensor> {
        let (gw, gh) = self.cfg.mosaic_grid;
        let perm = self.permutation(x, params)?;
        let mut columns = Vec::with_capacity(gw as usize);
        for i in 0..gw {
            let column: Vec<Tensor> = (0..gh)
                .map(|j| x.f_index_select(0, &perm.select(1, gh * i + j)))
                .collect::<std::result::Result<_, _>>()?;
            columns.push(Tensor::f_cat(&column, 2)?);
        }
        Ok(Tensor::f_cat(&columns, 3)?)
    }

    /// Each sample's window corner (x0, y0) (B,) int64, from `src`.
    fn corner(&self, params: &Params, b: i64, device: Device) -> Result<(Tensor, Tensor)> {
        let src = params
            .shaped(MOSAIC, "src", &[b, 4, 2])?
            .to_device(device)
            .select(1, 0)
            .to_kind(Kind::Int64);
        Ok((src.select(1, 0), src.select(1, 1)))
    }

    /// The mosaic of every sample (gate ignored), without a gradient (as Kornia's).
    fn mosaic(&self, x: &Tensor, params: &Params) -> Result<Tensor> {
        let _no_grad = tch::no_grad_guard();
        let (b, c, h, w) = (x.size()[0], x.size()[1], x.size()[2], x.size()[3]);
        let (oh, ow) = self.out_hw(&x.size());
        let device = x.device();
        let (x0, y0) = self.corner(params, b, device)?;
        match self.cfg.cropping_mode {
            CroppingMode::Slice => {
                // Each output pixel read straight from its tile's image (the canvas is never
                // built): canvas row y0 + r is row (y0 + r) mod H of tile row (y0 + r) / H, and
                // likewise for columns; zeros past the canvas.
                let (gw, gh) = self.cfg.mosaic_grid;
                let perm = self.permutation(x, params)?;
                let at = |start: &Tensor, n: i64| -> Result<Tensor> {
                    Ok(start.f_view([b, 1])? + Tensor::f_arange(n, (Kind::Int64, device))?)
                };
                let (rows, cols) = (at(&y0, oh)?, at(&x0, ow)?);
                let inside = |v: &Tensor, end: i64| -> Result<Tensor> {
                    Ok(v.f_ge(0)?.f_logical_and(&v.f_lt(end)?)?)
                };
                let valid = inside(&rows, gh * h)?
                    .f_view([b, oh, 1])?
                    .f_logical_and(&inside(&cols, gw * w)?.f_view([b, 1, ow])?)?;
                let (rows, cols) = (rows.f_clamp(0, gh * h - 1)?, cols.f_clamp(0, gw * w - 1)?);
                let tile_row = rows.f_div_scalar_mode(h, "floor")?;
                let tile_col = cols.f_div_scalar_mode(w, "floor")?;
                let tile = (tile_col * gh).f_view([b, 1, ow])? + tile_row.f_view([b, oh, 1])?;
                let image = perm.f_gather(1, &tile.f_view([b, oh * ow])?, false)?;
                let pixel = rows.f_remainder(h)?.f_view([b, oh, 1])? * w
                    + cols.f_remainder(w)?.f_view([b, 1, ow])?;
                let flat = image * (h * w) + pixel.f_view([b, oh * ow])?;
                let src = x.f_permute([1, 0, 2, 3])?.f_reshape([c, b * h * w])?;
                let out = src
                    .f_index_select(1, &flat.f_view([-1])?)?
                    .f_view([c, b, oh, ow])?
                    .f_permute([1, 0, 2, 3])?;
                Ok(out.f_where_scalarother(&valid.f_unsqueeze(1)?, 0.0)?)
            }
            CroppingMode::Resample => {
                let canvas = self.canvas(x, params)?;
                let shift = Tensor::f_stack(&[x0, y0], 1)?.to_kind(x.kind()).f_neg()?;
                let t = Transform::translation(&shift);
                let s = Sampling {
                    resample: self.cfg.resample,
                    padding: self.cfg.padding_mode,
                    align_corners: self.cfg.align_corners,
                    fill: None,
                };
                warp::warp(&canvas, &t, &[oh, ow], &s)
            }
        }
    }

    /// The input at the output size: cropped or zero-padded at the right and bottom.
    fn resized(&self, x: &Tensor) -> Result<Tensor> {
        let (oh, ow) = self.out_hw(&x.size());
        let (h, w) = (x.size()[2], x.size()[3]);
        Ok(x.f_constant_pad_nd([0, ow - w, 0, oh - h])?)
    }
}

impl Augmentation for RandomMosaic {
    fn name(&self) -> &'static str {
        MOSAIC
    }

    fn role(&self) -> Role<'_> {
        Role::regrouping(self)
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomMosaic(self.cfg.clone())
    }

    /// The gate is applied by [`Augmentation::apply_transform`] itself (gated-off samples
    /// are resized, not returned as they are).
    fn probabilities(&self) -> (f64, f64) {
        (1.0, 1.0)
    }

    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        let (oh, ow) = self.out_hw(shape);
        vec![shape[0], shape[1], oh, ow]
    }

    /// Kornia's draws, in its order: the gate, one `randperm` of B·(n − 1) for the other
    /// tiles (modulo B), then the corners, uniform in `start_ratio_range` of the width and
    /// height (floored to whole pixels).
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, h, w) = (shape[0], shape[2], shape[3]);
        let (gw, gh) = self.cfg.mosaic_grid;
        let n = gw * gh;
        let (oh, ow) = self.out_hw(shape);
        let mut p = Params::new();
        p.insert("batch_prob", gate(b, self.cfg.p, 1.0, false, device)?);
        p.insert("forward_input_shape", Tensor::from_slice(shape));
        let others = crate::rng::randperm(b * (n - 1), (Kind::Int64, device))?.remainder(b);
        let ids = Tensor::f_cat(&[Tensor::f_arange(b, (Kind::Int64, device))?, others], 0)?
            .f_reshape([n, b])?
            .f_permute([1, 0])?
            .f_contiguous()?;
        // In float32, as torch's Uniform(lo, hi): lo + u·(hi − lo).
        let (lo, hi) = (
            self.cfg.start_ratio_range.0 as f32,
            self.cfg.start_ratio_range.1 as f32,
        );
        let u =
            crate::rng::rand(&[b, 2], (Kind::Float, device))? * f64::from(hi - lo) + f64::from(lo);
        let x0 = (u.select(1, 0) * w as f64).floor();
        let y0 = (u.select(1, 1) * h as f64).floor();
        let (fw, fh) = ((ow - 1) as f64, (oh - 1) as f64);
        let src = Tensor::f_stack(
            &[
                Tensor::f_stack(&[&x0, &y0], 1)?,
                Tensor::f_stack(&[&(&x0 + fw), &y0], 1)?,
                Tensor::f_stack(&[&(&x0 + fw), &(&y0 + fh)], 1)?,
                Tensor::f_stack(&[&x0, &(&y0 + fh)], 1)?,
            ],
            1,
        )?;
        let dst = Tensor::from_slice(&[
            0.0f32, 0.0, fw as f32, 0.0, fw as f32, fh as f32, 0.0, fh as f32,
        ])
        .to_device(device)
        .f_view([1, 4, 2])?
        .f_repeat([b, 1, 1])?;
        p.insert("permutation", ids);
        p.insert("src", src);
        p.insert("dst", dst);
        p.insert(
            "batch_shapes",
            Tensor::from_slice(&shape[1..])
                .to_device(device)
                .f_view([1, 3])?
                .f_repeat([b, 1])?,
        );
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = input.size()[0];
        let on = params
            .shaped(MOSAIC, "batch_prob", &[b])?
            .to_device(input.device())
            .f_gt(0.5)?
            .f_view([b, 1, 1, 1])?;
        let mosaic = self.mosaic(input, params)?;
        Ok(mosaic.where_self(&on, &self.resized(input)?))
    }

    /// Masks are mosaicked with the image.
    fn apply_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        _how: &crate::MaskSampling,
    ) -> Result<Tensor> {
        self.apply_transform(mask, params)
    }

    fn geometry_ungated(
        &self,
        _shape: &[i64],
        _params: &Params,
        _kind: Kind,
        _device: Device,
    ) -> Result<Geometry> {
        Err(Error::Annotation {
            op: MOSAIC,
            what: "boxes and keypoints",
            problem: "have no single geometry through a mosaic (each output holds parts of \
                      several images); boxes go through it regrouped, keypoints cannot"
                .into(),
        })
    }

    fn inverse_transform(
        &self,
        _output: &Tensor,
        _params: &Params,
        _shape: &[i64],
    ) -> Result<Tensor> {
        Err(Error::NotInvertible {
            op: MOSAIC,
            why: "a mosaic holds parts of several images (Kornia has no inverse either)".into(),
        })
    }
}

impl_module!(RandomMosaic);

/// Rows of `t` (B,N,…) for a mosaic of `perm` (B,G): each sample's tiles' rows, tile
/// after tile, (B,G·N,…).
fn tile_rows(t: &Tensor, perm: &Tensor) -> Result<Tensor> {
    let mut rows = t.size();
    rows[1] *= perm.size()[1];
    Ok(t.f_index_select(0, &perm.f_reshape([-1])?)?
        .f_reshape(&rows)?)
}

/// `t` (B,N,…) followed by (G − 1)·N rows of `pad`: a gated-off sample's rows.
fn own_rows(t: &Tensor, g: i64, pad: f64) -> Result<Tensor> {
    let mut tail = t.size();
    tail[1] *= g - 1;
    let padding = t.f_new_full(&tail, pad, (t.kind(), t.device()))?;
    Ok(Tensor::f_cat(&[t.shallow_clone(), padding], 1)?)
}

/// `a` (B,…) where `on` (B,) is set, else `b`.
fn per_sample(on: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let mut shape = vec![on.size()[0]];
    shape.resize(a.dim(), 1);
    Ok(a.f_where_self(&on.f_view(shape.as_slice())?, b)?)
}

impl Regrouping for RandomMosaic {
    /// Each sample's tiles' boxes, moved with their tiles by (W·i − x0, H·j − y0) (tile
    /// `(i, j)`, window corner `(x0, y0)`); see [`RandomMosaic`].
    fn regroup(&self, w: &mut Record, params: &Params, opts: &AnnotationOptions) -> Result<()> {
        let err = |what, problem: &str| Error::Annotation {
            op: MOSAIC,
            what,
            problem: problem.into(),
        };
        if w.keypoints.is_some() {
            return Err(err(
                "keypoints",
                "cannot go through a mosaic (Kornia refuses them too): a tile's keypoints \
                 would need their own validity; give boxes or masks",
            ));
        }
        if opts.instance_masks && w.masks.is_some() {
            return Err(err(
                "masks",
                "are instance masks (one channel per box), and a mosaic gathers the boxes \
                 of several images while it mosaics the masks channel by channel; turn off \
                 instance_masks",
            ));
        }
        let Some(outlines) = &w.outlines else {
            return Ok(());
        };
        let x = &w.image;
        let shape = x.size();
        let (b, h, wd) = (shape[0], shape[2], shape[3]);
        let (oh, ow) = self.out_hw(&shape);
        let (gw, gh) = self.cfg.mosaic_grid;
        let (g, n) = (gw * gh, outlines.size()[1]);
        let device = x.device();
        let kind = outlines.kind();
        let perm = self.permutation(x, params)?;
        let on = params
            .shaped(MOSAIC, "batch_prob", &[b])?
            .to_device(device)
            .f_gt(0.5)?;
        let (x0, y0) = self.corner(params, b, device)?;
        // Tile k = gh·i + j starts at (W·i, H·j) of the canvas; (B,G,2) the moves.
        let k = Tensor::f_arange(g, (Kind::Int64, device))?;
        let tile_x = k.f_div_scalar_mode(gh, "floor")? * wd;
        let tile_y = k.f_remainder(gh)? * h;
        let shift = Tensor::f_stack(
            &[
                tile_x.f_view([1, g])? - x0.f_view([b, 1])?,
                tile_y.f_view([1, g])? - y0.f_view([b, 1])?,
            ],
            -1,
        )?
        .f_to_kind(kind)?;
        // Points (B,N,P,2) as a mosaic's: each tile's moved with it; a gated-off sample's
        // its own, then zero rows.
        let regrouped = |t: &Tensor| -> Result<Tensor> {
            let tiles = tile_rows(t, &perm)?;
            let s = tiles.size();
            let moved = tiles.f_view([b, g, n, s[2], 2])? + shift.f_view([b, g, 1, 1, 2])?;
            per_sample(&on, &moved.f_view(s.as_slice())?, &own_rows(t, g, 0.0)?)
        };
        let rows = |t: &Tensor| -> Result<Tensor> {
            per_sample(&on, &tile_rows(t, &perm)?, &own_rows(t, g, 0.0)?)
        };
        let source = match &w.box_source {
            Some(s) => BoxSource {
                index: s.index.shallow_clone(),
                valid: s.valid.shallow_clone(),
            },
            None => BoxSource::own(b, n, device)?,
        };
        let index = rows(&source.index)?;
        let mut valid = rows(&source.valid)?;
        let mut out = regrouped(outlines)?;
        // The part inside the window, as Kornia clamps it: each corner of the box around
        // the outline clamped to [0, W_out − 1] × [0, H_out − 1].
        let around = enclosure(&out);
        let limits = crate::ops::constant(&[(ow - 1) as f64, (oh - 1) as f64], kind, device);
        let lo = around
            .f_narrow(-1, 0, 2)?
            .f_clamp_min(0.0)?
            .f_minimum(&limits)?;
        let hi = around
            .f_narrow(-1, 2, 2)?
            .f_clamp_min(0.0)?
            .f_minimum(&limits)?;
        let area = (&hi - &lo).f_prod_dim_int(-1, false, kind)?;
        let small = area
            .f_lt(self.cfg.min_bbox_size)?
            .f_logical_and(&on.f_view([b, 1])?)?;
        valid = valid.f_logical_and(&small.f_logical_not()?)?;
        if opts.box_mode == BoxMode::Kornia {
            let clamped = box_corners(&Tensor::f_cat(&[lo, hi], -1)?);
            out = per_sample(&on, &clamped, &out)?;
        }
        // Rows that hold no box are zero, as Kornia's.
        out = out.f_where_scalarother(&valid.f_view([b, g * n, 1, 1])?, 0.0)?;
        let visible = match &w.visible {
            Some(v) => Some(Visible {
                poly: regrouped(&v.poly)?,
                alive: rows(&v.alive)?.f_logical_and(&valid)?,
            }),
            None => None,
        };
        w.outlines = Some(out);
        w.visible = visible;
        w.box_source = Some(BoxSource { index, valid });
        // What the window leaves visible (its frame: the output's).
        w.clip_visible(&[oh, ow]);
        Ok(())
    }
}

impl FromKornia for RandomMosaic {
    type Config = MosaicConfig;

    fn from_kornia(kw: &Kwargs) -> Result<MosaicConfig> {
        let mut c = MosaicConfig::default();
        if let Some(size) = kw.size("output_size")? {
            c.output_size = Some(size);
        }
        set!(c.mosaic_grid = kw.size("mosaic_grid")?);
        set!(c.start_ratio_range = kw.pair("start_ratio_range")?);
        set!(c.min_bbox_size = kw.num("min_bbox_size")?);
        set!(c.p = kw.num("p")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.resample = kw.enm("resample")?);
        set!(c.cropping_mode = kw.enm("cropping_mode")?);
        if let Some(v) = kw.get("padding_mode") {
            c.padding_mode = match v.as_str() {
                Some("constant") => Padding::Zeros,
                Some("replicate") => Padding::Border,
                Some("reflect") => Padding::Reflection,
                _ => {
                    return Err(kw.err("padding_mode", "\"constant\", \"replicate\" or \"reflect\""))
                }
            };
        }
        let _ = kw.get("data_keys");
        let _ = kw.flag("keepdim")?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AugmentationExt, Batch, BoxFormat, Boxes, Keypoints};

    fn mosaic(cfg: MosaicConfig) -> RandomMosaic {
        RandomMosaic::new(nn::VarStore::new(Device::Cpu).root(), cfg).unwrap()
    }

    /// Every output pixel is the canvas pixel under the window, computed here on the host
    /// from the params: tile (i, j) at x = W·i, y = H·j holds image `permutation[gh·i + j]`,
    /// zeros past the canvas; gated-off samples are padded or cropped at the right and
    /// bottom. Masks move with the image; the step has no inverse.
    #[test]
    fn windows_of_the_canvas() {
        for (grid, out, p) in [
            ((2, 2), None, 1.0),
            ((3, 2), Some((7, 13)), 0.5),
            ((1, 1), Some((4, 4)), 1.0),
        ] {
            let aug = mosaic(MosaicConfig {
                mosaic_grid: grid,
                output_size: out,
                start_ratio_range: (0.0, 0.9),
                p,
                ..Default::default()
            });
            tch::manual_seed(3);
            let (b, c, h, w) = (5i64, 2i64, 4i64, 6i64);
            let x = Tensor::rand([b, c, h, w], (Kind::Float, Device::Cpu)) + 0.5;
            let (y, params) = aug.f_forward_with_params(&x).unwrap();
            let (oh, ow) = out.unwrap_or((h, w));
            assert_eq!(y.size(), [b, c, oh, ow]);
            let perm: Vec<i64> =
                Vec::try_from(params.get("permutation").unwrap().reshape([-1])).unwrap();
            let src: Vec<f32> = Vec::try_from(params.get("src").unwrap().reshape([-1])).unwrap();
            let on: Vec<f32> = Vec::try_from(params.get("batch_prob").unwrap()).unwrap();
            let (gw, gh) = grid;
            let px = |t: &Tensor, i: i64, ch: i64, r: i64, col: i64| {
                f32::try_from(t.get(i).get(ch).get(r).get(col)).unwrap()
            };
            for s in 0..b {
                let (x0, y0) = (
                    src[(s * 8) as usize] as i64,
                    src[(s * 8 + 1) as usize] as i64,
                );
                for ch in 0..c {
                    for r in 0..oh {
                        for col in 0..ow {
                            let expected = if on[s as usize] > 0.5 {
                                let (yy, xx) = (y0 + r, x0 + col);
                                if yy < gh * h && xx < gw * w {
                                    let img = perm[(s * gw * gh + gh * (xx / w) + yy / h) as usize];
                                    px(&x, img, ch, yy % h, xx % w)
                                } else {
                                    0.0
                                }
                            } else if r < h && col < w {
                                px(&x, s, ch, r, col)
                            } else {
                                0.0
                            };
                            assert_eq!(
                                px(&y, s, ch, r, col),
                                expected,
                                "{grid:?} sample {s} ({r}, {col})"
                            );
                        }
                    }
                }
            }
            let batch = Batch {
                masks: Some(x.shallow_clone()),
                ..Batch::new(x.shallow_clone())
            };
            let out = aug.f_apply_batch(&batch, &params).unwrap();
            assert!(out.masks.unwrap().equal(&out.image));
        }
        let aug = mosaic(MosaicConfig {
            p: 1.0,
            ..Default::default()
        });
        let x = Tensor::rand([2, 1, 4, 4], (Kind::Float, Device::Cpu));
        // Boxes come out N·G per image (the regrouping is checked against masks in
        // tests/visible_region.rs); keypoints are refused, as Kornia refuses them.
        let boxes = Boxes::new(
            Tensor::from_slice(&[0.0f32, 0.0, 1.0, 1.0])
                .view([1, 1, 4])
                .repeat([2, 1, 1]),
            BoxFormat::Xyxy,
        );
        let (out, _) = aug
            .f_forward_batch(&Batch {
                boxes: Some(boxes),
                ..Batch::new(x.shallow_clone())
            })
            .unwrap();
        assert_eq!(out.boxes.unwrap().data.size(), [2, 4, 4]);
        let e = aug
            .f_forward_batch(
                &Batch::new(x.shallow_clone()).with_keypoints(Keypoints::new(Tensor::zeros(
                    [2, 1, 2],
                    (Kind::Float, Device::Cpu),
                ))),
            )
            .unwrap_err();
        assert!(matches!(e, Error::Annotation { .. }), "{e}");
        let (y, params) = aug.f_forward_with_params(&x).unwrap();
        assert!(matches!(
            aug.f_inverse(&y, &params, &x.size()),
            Err(Error::NotInvertible { .. })
        ));
        for bad in [
            MosaicConfig {
                mosaic_grid: (0, 2),
                ..Default::default()
            },
            MosaicConfig {
                output_size: Some((0, 3)),
                ..Default::default()
            },
            MosaicConfig {
                start_ratio_range: (0.5, 0.2),
                ..Default::default()
            },
            // A corner past float32 (found by the fuzzer: the replay refused its own src).
            MosaicConfig {
                start_ratio_range: (0.3, 3.4e38),
                ..Default::default()
            },
            MosaicConfig {
                resample: Resample::Bicubic,
                ..Default::default()
            },
        ] {
            assert!(RandomMosaic::new(nn::VarStore::new(Device::Cpu).root(), bad).is_err());
        }
    }
}
