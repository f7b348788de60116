//! torchvision's RandomIoUCrop (SSD's crop): a window that overlaps the boxes enough, drawn
//! by rejection.
//!
//! torchvision draws a sampler option (a minimum IoU, or "leave the image as it is"), then
//! up to `trials` windows (a scale per side, the aspect ratio checked, a place), and keeps
//! the first window that holds the centre of some box and whose IoU with one of those boxes
//! reaches the option; failing that, it draws another option, without end. Here the draws
//! are the same, from torch's CPU generator in torchvision's order, but made ahead for
//! `rounds` options without looking at the boxes: the candidates (in the params) are then
//! tried against each sample's boxes in one batched pass on the input's device, and each
//! sample takes the first that passes (with no option met in `rounds`, the image is left
//! as it is). The chosen window is cut out and resized to the output size.

use crate::annotations::Record;
use crate::augmentation::{MaskDriven, Role};
use crate::geometry::{enclosure, Transform, TransformClass};
use crate::kornia::kwargs::{FromKornia, Reference};
use crate::warp::{self, Padding, Resample, Sampling};
use crate::{AugSpec, Augmentation, Error, Geometry, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

const OP: &str = "RandomIoUCrop";
/// The columns of a candidate: the option's minimum IoU, whether it leaves the image as it
/// is, and the window `[left, top, width, height]`.
const COLUMNS: i64 = 6;

/// Configuration of [`RandomIoUCrop`]; `Default` is torchvision's (`rounds` and `size` are
/// ours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomIoUCropConfig {
    /// The smallest side of a window, as a fraction of the image's (0 < min <= max <= 1).
    pub min_scale: f64,
    /// The largest side of a window, as a fraction of the image's.
    pub max_scale: f64,
    /// The narrowest window, width over height (> 0).
    pub min_aspect_ratio: f64,
    /// The widest window.
    pub max_aspect_ratio: f64,
    /// The minimum IoUs a window must reach with some box whose centre it holds, one drawn
    /// per round; a value of 1 or more leaves the image as it is.
    pub sampler_options: Vec<f64>,
    /// Windows drawn per option (1 to 1000).
    pub trials: i64,
    /// Options drawn per call at most (1 to 100); torchvision draws until a window passes.
    pub rounds: i64,
    /// The output's (height, width), the window resized to it; `None`: the input's.
    pub size: Option<(i64, i64)>,
    /// How the window is resized: bilinear or nearest, on the half-pixel grid.
    pub resample: Resample,
}

impl Default for RandomIoUCropConfig {
    fn default() -> Self {
        RandomIoUCropConfig {
            min_scale: 0.3,
            max_scale: 1.0,
            min_aspect_ratio: 0.5,
            max_aspect_ratio: 2.0,
            sampler_options: vec![0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0],
            trials: 40,
            rounds: 16,
            size: None,
            resample: Resample::Bilinear,
        }
    }
}

/// torchvision's `RandomIoUCrop` (SSD's random crop), batched: each sample takes the first
/// drawn window that holds the centre of one of its boxes and overlaps one of those boxes
/// by the drawn option's IoU, and the window is resized to the output size (torchvision
/// returns the window at its own size; with `size` set to it the two are equal: a window of
/// the output's size is cut out exactly). Boxes whose centre is outside the window are
/// marked invalid (torchvision zeroes them). A sample whose boxes are all invalid passes no
/// window and keeps the whole image, as torchvision's does; an image given without boxes
/// (torchvision refuses it) has nothing to satisfy and takes the first window drawn: a
/// random crop with SSD's scales and aspect ratios.
///
/// The IoUs and centres are those of the boxes in torchvision's continuous coordinates: an
/// inclusive box `[x1, x2]` spans `[x1, x2 + 1]`, an oriented box its enclosure.
///
/// Params: `candidates` (K,6) float64 on the CPU, the windows drawn in torchvision's order
/// (`[min IoU, leave, left, top, width, height]`, the last row leaving the image as it is);
/// `batch_prob`, `forward_input_shape`. The window a sample takes depends on its boxes, so
/// it is found again on each call (a replay with the same boxes takes the same one) and is
/// not in the params: the step has no inverse and no transform matrix of its own.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W); output (B,C,h,w), `size` or the input's.
#[derive(Debug)]
pub struct RandomIoUCrop {
    cfg: RandomIoUCropConfig,
}

impl RandomIoUCrop {
    /// Builds it (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] for scales outside `0 < min <= max <= 1`, aspect ratios outside
    /// `0 < min <= max`, no sampler option or a non-finite one, trials outside 1..=1000,
    /// rounds outside 1..=100, a size below 1, or bicubic resampling.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: RandomIoUCropConfig) -> Result<Self> {
        let bad = |name, value: String, allowed: &str| {
            Err(crate::checks::config(OP, name, value, allowed))
        };
        let (lo, hi) = (cfg.min_scale, cfg.max_scale);
        if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= hi && hi <= 1.0) {
            return bad(
                "min_scale/max_scale",
                format!("({lo}, {hi})"),
                "0 < min <= max <= 1",
            );
        }
        let (lo, hi) = (cfg.min_aspect_ratio, cfg.max_aspect_ratio);
        if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= hi) {
            return bad(
                "min_aspect_ratio/max_aspect_ratio",
                format!("({lo}, {hi})"),
                "finite ratios 0 < min <= max",
            );
        }
        let opts = &cfg.sampler_options;
        if opts.is_empty() || opts.iter().any(|v| !v.is_finite()) {
            return bad(
                "sampler_options",
                format!("{opts:?}"),
                "at least one finite minimum IoU (1 or more: leave the image as it is)",
            );
        }
        if !(1..=1000).contains(&cfg.trials) {
            return bad(
                "trials",
                cfg.trials.to_string(),
                "1 to 1000 windows per option",
            );
        }
        if !(1..=100).contains(&cfg.rounds) {
            return bad(
                "rounds",
                cfg.rounds.to_string(),
                "1 to 100 options per call",
            );
        }
        if let Some((h, w)) = cfg.size {
            crate::checks::size(OP, "size", (h, w))?;
        }
        if cfg.resample == Resample::Bicubic {
            return bad("resample", "bicubic".into(), "bilinear or nearest");
        }
        Ok(RandomIoUCrop { cfg })
    }

    fn out_hw(&self, shape: &[i64]) -> (i64, i64) {
        self.cfg.size.unwrap_or((shape[2], shape[3]))
    }

    /// The window of each sample, (B,4) `[left, top, width, height]` in the kind `kind`:
    /// the completed params' `window`, else (an image without boxes) the first candidate.
    fn window(&self, params: &Params, shape: &[i64], kind: Kind, device: Device) -> Result<Tensor> {
        let b = shape[0];
        if params.get("window").is_some() {
            return Ok(params
                .shaped(OP, "window", &[b, 4])?
                .f_to_device(device)?
                .f_to_kind(kind)?);
        }
        Ok(candidates(params)?
            .f_select(0, 0)?
            .f_narrow(0, 2, 4)?
            .f_to_device(device)?
            .f_to_kind(kind)?
            .f_view([1, 4])?
            .f_expand([b, 4], false)?)
    }

    /// The map from input to output pixels: the window moved to the origin and resized to
    /// the output on the half-pixel grid, `x' = (x − left + ½)·s − ½`.
    fn matrix(&self, shape: &[i64], params: &Params, kind: Kind, device: Device) -> Result<Tensor> {
        let win = self.window(params, shape, kind, device)?;
        let (oh, ow) = self.out_hw(shape);
        let part = |i: i64| win.f_select(1, i);
        let sx = part(2)?.f_reciprocal()? * ow as f64;
        let sy = part(3)?.f_reciprocal()? * oh as f64;
        let zero = sx.f_zeros_like()?;
        let tx = (part(0)?.f_neg()? + 0.5) * &sx - 0.5;
        let ty = (part(1)?.f_neg()? + 0.5) * &sy - 0.5;
        Ok(warp::affine_rows([&sx, &zero, &tx, &zero, &sy, &ty]))
    }

    /// The window of each sample resized to the output with `s`; a window of the output's
    /// size is cut out exactly (one gather) instead, as torchvision's crop.
    fn cut(&self, x: &Tensor, params: &Params, s: &Sampling) -> Result<Tensor> {
        let shape = x.size();
        let (kind, device) = (x.kind(), x.device());
        let m = self.matrix(&shape, params, kind, device)?;
        let (oh, ow) = self.out_hw(&shape);
        let t = Transform::from_parts(m, TransformClass::Affine);
        let warped = warp::warp(x, &t, &[oh, ow], s)?;
        let win = self.window(params, &shape, Kind::Double, device)?;
        let same = win
            .f_select(1, 2)?
            .f_eq(ow as f64)?
            .f_logical_and(&win.f_select(1, 3)?.f_eq(oh as f64)?)?;
        let exact = warp::crop_window(x, &win.f_narrow(1, 0, 2)?, &[oh, ow], true)?;
        Ok(exact.f_where_self(&same.f_view([shape[0], 1, 1, 1])?, &warped)?)
    }

    fn resampling(&self) -> Sampling {
        Sampling {
            resample: self.cfg.resample,
            padding: Padding::Zeros,
            align_corners: false,
            fill: None,
        }
    }
}

/// The params' `candidates`, checked: (K,6) rows `[min IoU, leave, left, top, width,
/// height]`, K >= 1.
fn candidates(params: &Params) -> Result<&Tensor> {
    let cand = params.require(OP, "candidates")?;
    if cand.dim() != 2 || cand.size()[1] != COLUMNS || cand.size()[0] < 1 {
        return Err(Error::Params {
            op: OP,
            key: "candidates".into(),
            problem: format!(
                "has shape {:?}; expected (K, {COLUMNS}) rows [min IoU, leave, left, top, \
                 width, height], K >= 1",
                cand.size()
            ),
        });
    }
    // Reading them on the CPU costs no device synchronisation.
    if cand.device() == Device::Cpu {
        let sides = cand.f_narrow(1, 4, 2)?;
        if bool::try_from(sides.f_lt(1.0)?.f_any()?)? {
            return Err(Error::Params {
                op: OP,
                key: "candidates".into(),
                problem: "has a window narrower or lower than one pixel".into(),
            });
        }
    }
    Ok(cand)
}

impl Augmentation for RandomIoUCrop {
    fn name(&self) -> &'static str {
        OP
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomIoUCrop(self.cfg.clone())
    }

    fn role(&self) -> Role<'_> {
        Role::mask_driven(self)
    }

    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        let (oh, ow) = self.out_hw(shape);
        vec![shape[0], shape[1], oh, ow]
    }

    /// torchvision's draws in its order and arithmetic, for `rounds` options: the option,
    /// and unless it leaves the image, per trial the two scales (float32), the aspect
    /// check, the place (float32), the empty-window check.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, h, w) = (shape[0], shape[2], shape[3]);
        let cpu = (Kind::Float, Device::Cpu);
        let c = &self.cfg;
        let (lo, hi) = (c.min_scale, c.max_scale);
        let pair = |t: Tensor| -> Result<(f64, f64)> {
            Ok((f64::try_from(t.f_get(0)?)?, f64::try_from(t.f_get(1)?)?))
        };
        let mut rows: Vec<f64> = Vec::new();
        let leave = |rows: &mut Vec<f64>| rows.extend([1.0, 1.0, 0.0, 0.0, w as f64, h as f64]);
        let mut left_as_is = false;
        'rounds: for _ in 0..c.rounds {
            let n = c.sampler_options.len() as i64;
            let idx = i64::try_from(
                crate::rng::randint(0, n, &[1], (Kind::Int64, Device::Cpu))?.f_get(0)?,
            )?;
            let min_iou = c.sampler_options[idx as usize];
            if min_iou >= 1.0 {
                leave(&mut rows);
                left_as_is = true;
                break 'rounds;
            }
            for _ in 0..c.trials {
                let r = crate::rng::rand(&[2], cpu)?
                    .f_mul_scalar(hi - lo)?
                    .f_add_scalar(lo)?;
                let (rw, rh) = pair(r)?;
                // torchvision: int(orig · r) with r a float32 element.
                let new_w = ((w as f32) * (rw as f32)).trunc() as i64;
                let new_h = ((h as f32) * (rh as f32)).trunc() as i64;
                if new_h == 0 {
                    // torchvision divides by zero here; no window.
                    continue;
                }
                let aspect = new_w as f64 / new_h as f64;
                if !(c.min_aspect_ratio <= aspect && aspect <= c.max_aspect_ratio) {
                    continue;
                }
                let (pl, pt) = pair(crate::rng::rand(&[2], cpu)?)?;
                let left = (((w - new_w) as f32) * (pl as f32)).trunc() as i64;
                let top = (((h - new_h) as f32) * (pt as f32)).trunc() as i64;
                if new_w == 0 {
                    continue;
                }
                rows.extend([
                    min_iou,
                    0.0,
                    left as f64,
                    top as f64,
                    new_w as f64,
                    new_h as f64,
                ]);
            }
        }
        if !left_as_is {
            leave(&mut rows);
        }
        let k = rows.len() as i64 / COLUMNS;
        let mut p = Params::new();
        p.insert(
            "candidates",
            Tensor::f_from_slice(&rows)?.f_view([k, COLUMNS])?,
        );
        p.insert("batch_prob", Tensor::f_ones([b], (Kind::Float, device))?);
        p.insert("forward_input_shape", Tensor::from_slice(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        self.cut(input, params, &self.resampling())
    }

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        if params.get("window").is_none() {
            return Err(Error::Params {
                op: OP,
                key: "window".into(),
                problem: "is chosen from the boxes on each call and is not in the params: \
                          RandomIoUCrop has no inverse or transform matrix of its own"
                    .into(),
            });
        }
        Ok(Geometry::affine(self.matrix(shape, params, kind, device)?))
    }

    fn apply_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        how: &crate::MaskSampling,
    ) -> Result<Tensor> {
        let s = crate::augmentation::mask_sampling(Some(self.resampling()), how);
        self.cut(mask, params, &s)
    }

    fn inverse_transform(
        &self,
        _output: &Tensor,
        _params: &Params,
        _input_shape: &[i64],
    ) -> Result<Tensor> {
        Err(Error::NotInvertible {
            op: OP,
            why: "its window is chosen from the boxes of each call, not kept in the params".into(),
        })
    }
}

impl MaskDriven for RandomIoUCrop {
    /// Each sample's window: the first candidate that its boxes pass (some box's centre
    /// strictly inside the window, and among those the largest IoU at least the
    /// candidate's minimum), or the first that leaves the image as it is. Adds `window`
    /// (B,4) and `kept` (B,N), the boxes whose centre the window holds.
    fn complete_params(&self, w: &Record, params: &Params) -> Result<Params> {
        let shape = w.image.size();
        let b = shape[0];
        let device = w.image.device();
        let cand = candidates(params)?;
        let Some(outlines) = &w.outlines else {
            // An image without boxes: no box to satisfy, the first window drawn.
            return Ok(params.clone());
        };
        let kind = outlines.kind();
        let cand = cand.f_to_device(device)?.f_to_kind(kind)?;
        let col = |i: i64| -> Result<Tensor> { Ok(cand.f_select(1, i)?.f_view([1, -1, 1])?) };
        let (min_iou, leave) = (col(0)?, col(1)?.f_gt(0.5)?);
        let (l, t) = (col(2)?, col(3)?);
        let (r, btm) = (&l + col(4)?, &t + col(5)?);
        // Boxes in torchvision's continuous coordinates, (B,1,N) each.
        let around = enclosure(outlines);
        let widen = if w.oriented { 0.5 } else { 0.0 };
        let edge = |i: i64, extra: f64| -> Result<Tensor> {
            Ok(around.f_select(-1, i)?.f_unsqueeze(1)? + extra)
        };
        let (x1, y1) = (edge(0, widen)?, edge(1, widen)?);
        let (x2, y2) = (edge(2, 1.0 - widen)?, edge(3, 1.0 - widen)?);
        let (cx, cy) = ((&x1 + &x2) * 0.5, (&y1 + &y2) * 0.5);
        let valid = match &w.box_source {
            Some(s) => s.valid.f_unsqueeze(1)?,
            None => outlines
                .f_select(-1, 0)?
                .f_select(-1, 0)?
                .f_ones_like()?
                .f_to_kind(Kind::Bool)?
                .f_unsqueeze(1)?,
        };
        let within = valid
            .f_logical_and(&cx.f_gt_tensor(&l)?)?
            .f_logical_and(&cx.f_lt_tensor(&r)?)?
            .f_logical_and(&cy.f_gt_tensor(&t)?)?
            .f_logical_and(&cy.f_lt_tensor(&btm)?)?; // (B,K,N)
        let iw = (x2.f_minimum(&r)? - x1.f_maximum(&l)?).f_clamp_min(0.0)?;
        let ih = (y2.f_minimum(&btm)? - y1.f_maximum(&t)?).f_clamp_min(0.0)?;
        let inter = iw * ih;
        let union = (&x2 - &x1) * (&y2 - &y1) + (&r - &l) * (&btm - &t) - &inter;
        let iou = (inter / union).f_where_scalarother(&within, -1.0)?;
        // The best IoU per candidate (B,K), -1 where no box (also with none at all).
        let none = iou.f_narrow(-1, 0, 0)?.f_constant_pad_nd([0, 1])? - 1.0;
        let best = Tensor::f_cat(&[iou, none], -1)?.f_amax([-1i64].as_slice(), false)?;
        let pass = within
            .f_any_dim(-1, false)?
            .f_logical_and(&best.f_ge_tensor(&min_iou.f_squeeze_dim(-1)?)?)?
            .f_logical_or(&leave.f_squeeze_dim(-1)?)?;
        // The first candidate that passes (the last one always leaves).
        let first = pass.f_to_kind(Kind::Uint8)?.f_argmax(1, true)?; // (B,1)
        let window = cand
            .f_narrow(1, 2, 4)?
            .f_index_select(0, &first.f_view([b])?)?;
        let chosen_leave = leave.f_view([-1])?.f_index_select(0, &first.f_view([b])?)?;
        let n = within.size()[2];
        let kept = within
            .f_gather(
                1,
                &first.f_view([b, 1, 1])?.f_expand([b, 1, n], false)?,
                false,
            )?
            .f_view([b, n])?
            .f_logical_or(&chosen_leave.f_view([b, 1])?)?;
        let mut p = params.clone();
        p.insert("window", window);
        p.insert("kept", kept);
        Ok(p)
    }

    fn kept_boxes(&self, params: &Params) -> Option<Tensor> {
        params.get("kept").map(|k| k.shallow_clone())
    }
}

crate::augmentation::impl_module!(RandomIoUCrop);

impl FromKornia for RandomIoUCrop {
    type Config = RandomIoUCropConfig;
    const REFERENCE: Reference = Reference::Torchvision;
}
