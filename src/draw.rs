//! Drawing a record to look at it: boxes with their class names, keypoints and masks onto
//! its images, a pipeline's Normalize undone, and rows of drawn batches written as one PNG.
//!
//! For inspection at the boundary of a training step, not inside one: the images and
//! annotations are copied to the CPU and drawn there as uint8 RGB (B,3,H,W), as
//! torchvision's `draw_bounding_boxes` and Kornia's drawing utilities do. Boxes follow the
//! crate's inclusive convention: `[x1, y1, x2, y2]` covers pixels x1..=x2, so a box's
//! outline lies on its own border pixels.
//!
//! # Example
//! ```no_run
//! use tch::{nn, Device, Kind, Tensor};
//! use tch_dda::draw::{self, DrawOptions};
//! use tch_dda::prelude::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let vs = nn::VarStore::new(Device::Cpu);
//! let aug = Sequential::new(vs.root() / "aug", SequentialConfig {
//!     annotations: AnnotationOptions::detection(),
//!     ..SequentialConfig::new(vec![
//!         AugSpec::RandomAffine(RandomAffineConfig::degrees(20.0).p(1.0)),
//!         AugSpec::Normalize(NormalizeConfig::imagenet()),
//!     ])
//! })?;
//! let boxes = Boxes::xyxy(Tensor::from_slice(&[4.0f32, 6., 30., 40.]).view([1, 1, 4]))
//!     .with_class_ids(Tensor::from_slice(&[1i64]).view([1, 1]));
//! let batch = Batch::new(Tensor::rand([1, 3, 64, 64], (Kind::Float, Device::Cpu))).with_boxes(boxes);
//! let (out, _) = aug.f_forward_batch(&batch)?;
//! let opts = DrawOptions { class_names: vec!["cat".into(), "dog".into()], ..DrawOptions::undoing(&aug) };
//! let drawn = draw::f_draw(&out, &opts)?; // (1, 3, 64, 64) uint8
//! draw::f_save_grid(&[draw::f_draw(&batch, &DrawOptions::default())?, drawn], "out/look.png")?;
//! # Ok(())
//! # }
//! ```

use crate::annotations::{Batch, Boxes, Keypoints};
use crate::container::Sequential;
use crate::{AugSpec, Error, Result};
use std::path::Path;
use tch::{Device, Kind, Tensor};

const OP: &str = "draw";

/// Ten distinct colours (matplotlib's tab10), by class id (or box index without ids).
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Keypoints are yellow; invalid ones (drawn with `invalid`) gray.
const KEYPOINT: [u8; 3] = [255, 221, 0];
const INVALID: [u8; 3] = [128, 128, 128];

/// How a record is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawOptions {
    /// Class names by class id; an id without a name is written as its number.
    pub class_names: Vec<String>,
    /// Write each box's class (name or id) above it (when the boxes have class ids).
    pub labels: bool,
    /// Box outline width in pixels (>= 1).
    pub line_width: i64,
    /// Keypoint disc radius in pixels (>= 0).
    pub keypoint_radius: i64,
    /// Mask overlay opacity in [0, 1].
    pub mask_alpha: f64,
    /// `(mean, std)` per channel, undone (`x * std + mean`) on float images before drawing:
    /// [`DrawOptions::undoing`] takes them from a pipeline's Normalize.
    pub denormalize: Option<(Vec<f64>, Vec<f64>)>,
    /// Draw invalid boxes and keypoints too (gray), instead of leaving them out.
    pub invalid: bool,
}

impl Default for DrawOptions {
    fn default() -> Self {
        DrawOptions {
            class_names: Vec::new(),
            labels: true,
            line_width: 2,
            keypoint_radius: 2,
            mask_alpha: 0.45,
            denormalize: None,
            invalid: false,
        }
    }
}

impl DrawOptions {
    /// The defaults, undoing the last Normalize step of `pipeline` (its top-level steps;
    /// none: nothing undone).
    pub fn undoing(pipeline: &Sequential) -> DrawOptions {
        let denormalize = pipeline.steps().iter().rev().find_map(|s| match s.spec() {
            AugSpec::Normalize(c) => Some((c.mean, c.std)),
            _ => None,
        });
        DrawOptions {
            denormalize,
            ..Default::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.line_width < 1 {
            return Err(crate::checks::config(
                OP,
                "line_width",
                self.line_width,
                "a width >= 1 (pixels)",
            ));
        }
        if self.keypoint_radius < 0 {
            return Err(crate::checks::config(
                OP,
                "keypoint_radius",
                self.keypoint_radius,
                "a radius >= 0 (pixels)",
            ));
        }
        if !(0.0..=1.0).contains(&self.mask_alpha) {
            return Err(crate::checks::config(
                OP,
                "mask_alpha",
                self.mask_alpha,
                "an opacity in [0, 1]",
            ));
        }
        if let Some((mean, std)) = &self.denormalize {
            let finite = mean.iter().chain(std).all(|v| v.is_finite());
            if mean.is_empty() || mean.len() != std.len() || !finite {
                return Err(crate::checks::config(
                    OP,
                    "denormalize",
                    format!("{mean:?}, {std:?}"),
                    "finite mean and std of the same non-zero length",
                ));
            }
        }
        Ok(())
    }
}

/// A batch of RGB uint8 images on the CPU, as a flat buffer, to draw on.
struct Canvas {
    px: Vec<u8>,
    b: i64,
    h: i64,
    w: i64,
}

impl Canvas {
    /// Images (B,C,H,W) or (C,H,W), float in [0, 1] (after `denormalize`) or uint8, with 1
    /// or 3 channels (more: the first 3).
    fn new(images: &Tensor, opts: &DrawOptions) -> Result<Canvas> {
        opts.validate()?;
        let s = images.size();
        let x = match s.len() {
            3 => images.unsqueeze(0),
            4 => images.shallow_clone(),
            _ => {
                return Err(Error::Rank {
                    op: OP,
                    expected: "3 (C,H,W) or 4 (B,C,H,W)",
                    shape: s,
                })
            }
        };
        let s = x.size();
        if s.contains(&0) {
            return Err(Error::Empty { op: OP, shape: s });
        }
        let (b, c, h, w) = (s[0], s[1], s[2], s[3]);
        crate::checks::fits(OP, "image", &[b, 3, h, w])?;
        let x = x.to_device(Device::Cpu);
        let x = if x.kind() == Kind::Uint8 {
            x
        } else if x.is_floating_point() {
            let x = x.to_kind(Kind::Double);
            let x = match &opts.denormalize {
                None => x,
                Some((mean, std)) => {
                    if mean.len() as i64 != c && mean.len() != 1 {
                        return Err(Error::Channels {
                            op: OP,
                            expected: format!("{} (the channels of `denormalize`)", mean.len()),
                            got: c,
                            shape: s,
                        });
                    }
                    let shape = [1, mean.len() as i64, 1, 1];
                    x * Tensor::from_slice(std).view(shape) + Tensor::from_slice(mean).view(shape)
                }
            };
            (x.clamp(0.0, 1.0) * 255.0).round().to_kind(Kind::Uint8)
        } else {
            return Err(Error::Dtype {
                op: OP,
                kind: x.kind(),
            });
        };
        let x = match c {
            1 => x.expand([b, 3, h, w], false),
            2 => {
                return Err(Error::Channels {
                    op: OP,
                    expected: "1 (gray) or at least 3 (RGB first)".into(),
                    got: c,
                    shape: s,
                })
            }
            _ => x.narrow(1, 0, 3),
        };
        let px = Vec::<u8>::try_from(x.contiguous().view([-1]))?;
        Ok(Canvas { px, b, h, w })
    }

    fn into_tensor(self) -> Tensor {
        Tensor::from_slice(&self.px).view([self.b, 3, self.h, self.w])
    }

    /// Blends `rgb` into pixel (x, y) of image `i` with opacity `a` (clipped to the image).
    fn blend(&mut self, i: i64, x: i64, y: i64, rgb: [u8; 3], a: f64) {
        if x < 0 || y < 0 || x >= self.w || y >= self.h {
            return;
        }
        let plane = self.h * self.w;
        for (ch, &v) in rgb.iter().enumerate() {
            let k = ((i * 3 + ch as i64) * plane + y * self.w + x) as usize;
            let old = self.px[k] as f64;
            self.px[k] = (old + (v as f64 - old) * a).round() as u8;
        }
    }

    /// Fills the inclusive rectangle [x1, x2] × [y1, y2] of image `i`.
    fn fill(&mut self, i: i64, (x1, y1, x2, y2): (i64, i64, i64, i64), rgb: [u8; 3]) {
        for y in y1.max(0)..=y2.min(self.h - 1) {
            for x in x1.max(0)..=x2.min(self.w - 1) {
                self.blend(i, x, y, rgb, 1.0);
            }
        }
    }

    /// Writes `text` (ASCII; other characters as '?') with its top-left at (x, y), on a
    /// filled background.
    /// The closed polygon through the points `xy` (x, y pairs, pixel-index space), with
    /// lines `lw` pixels wide.
    fn polygon(&mut self, i: i64, xy: &[f64], lw: i64, rgb: [u8; 3]) {
        let n = xy.len() / 2;
        let lo = (lw - 1) / 2;
        for e in 0..n {
            let (ax, ay) = (xy[2 * e], xy[2 * e + 1]);
            let (bx, by) = (xy[(2 * e + 2) % (2 * n)], xy[(2 * e + 3) % (2 * n)]);
            let len = (bx - ax).hypot(by - ay);
            if !len.is_finite() {
                continue;
            }
            // Every pixel the edge passes: a step of at most half a pixel, at most as many
            // steps as the image has pixels along its diagonal (an edge far outside).
            let limit = 2.0 * ((self.w * self.w + self.h * self.h) as f64).sqrt();
            let steps = (2.0 * len).ceil().clamp(1.0, limit) as i64;
            for s in 0..=steps {
                let t = s as f64 / steps as f64;
                let x = (ax + (bx - ax) * t).round().clamp(-1e9, 1e9) as i64;
                let y = (ay + (by - ay) * t).round().clamp(-1e9, 1e9) as i64;
                self.fill(i, (x - lo, y - lo, x - lo + lw - 1, y - lo + lw - 1), rgb);
            }
        }
    }

    fn text(&mut self, i: i64, x: i64, y: i64, text: &str, fg: [u8; 3], bg: [u8; 3]) {
        let n = text.chars().count() as i64;
        self.fill(i, (x, y, x + 8 * n + 1, y + 9), bg);
        for (k, ch) in text.chars().enumerate() {
            let code = if ch.is_ascii() {
                ch as usize
            } else {
                b'?' as usize
            };
            let glyph = font8x8::legacy::BASIC_LEGACY[code];
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let px = x + 1 + 8 * k as i64 + col;
                        self.blend(i, px, y + 1 + row as i64, fg, 1.0);
                    }
                }
            }
        }
    }
}

/// Floats of a tensor, on the host.
fn host(t: &Tensor) -> Result<Vec<f64>> {
    Ok(Vec::<f64>::try_from(
        t.to_device(Device::Cpu).to_kind(Kind::Double).reshape([-1]),
    )?)
}

/// Which of (B,N) rows to draw: valid ones (all with `invalid`), and whether each is valid.
fn validity(valid: Option<&Tensor>, b: i64, n: i64) -> Result<Vec<bool>> {
    match valid {
        None => Ok(vec![true; (b * n) as usize]),
        Some(v) => {
            if v.numel() as i64 != b * n {
                return Err(Error::Annotation {
                    op: OP,
                    what: "valid",
                    problem: format!("has shape {:?}; expected ({b}, {n})", v.size()),
                });
            }
            Ok(host(v)?.into_iter().map(|v| v != 0.0).collect())
        }
    }
}

/// A (B,N,k) annotation of an unbatched (N,k) one, checked against the batch `b`.
fn batched(what: &'static str, t: &Tensor, b: i64, k: i64) -> Result<Tensor> {
    let t = if t.dim() == 2 {
        t.unsqueeze(0)
    } else {
        t.shallow_clone()
    };
    let s = t.size();
    if s.len() != 3 || s[0] != b || s[2] != k {
        return Err(Error::Annotation {
            op: OP,
            what,
            problem: format!(
                "have shape {s:?}; expected (B, N, {k}) with B = {b} (2D images only)"
            ),
        });
    }
    Ok(t)
}

fn draw_boxes(c: &mut Canvas, boxes: &Boxes, opts: &DrawOptions) -> Result<()> {
    let format = boxes.format;
    let raw = batched("boxes", &boxes.data, c.b, format.numbers(2).unwrap_or(4))?;
    let raw = raw.f_to_kind(Kind::Double)?;
    let data = format.to_xyxy(&raw);
    // Oriented boxes: their corners in pixel-index space (torchvision's continuous
    // coordinates less half a pixel), drawn as a polygon.
    let corners = if format.is_oriented() {
        Some(host(&crate::annotations::pixel_corners(format, &raw))?)
    } else {
        None
    };
    let n = data.size()[1];
    let xyxy = host(&data)?;
    let valid = validity(boxes.valid.as_ref(), c.b, n)?;
    let ids = match &boxes.class_ids {
        Some(ids) if ids.numel() as i64 == c.b * n => Some(host(ids)?),
        Some(ids) => {
            return Err(Error::Annotation {
                op: OP,
                what: "class_ids",
                problem: format!("have shape {:?}; expected ({}, {n})", ids.size(), c.b),
            })
        }
        None => None,
    };
    let lw = opts.line_width;
    for k in 0..(c.b * n) as usize {
        if !valid[k] && !opts.invalid {
            continue;
        }
        let i = k as i64 / n;
        let r = &xyxy[4 * k..4 * k + 4];
        if r.iter().any(|v| !v.is_finite()) {
            continue;
        }
        let [x1, y1, x2, y2] = [r[0], r[1], r[2], r[3]].map(|v| v.round().clamp(-1e9, 1e9) as i64);
        let id = ids.as_ref().map(|ids| ids[k] as i64);
        let colour = if !valid[k] {
            INVALID
        } else {
            let slot = id.unwrap_or(k as i64 % n);
            PALETTE[slot.rem_euclid(PALETTE.len() as i64) as usize]
        };
        match &corners {
            Some(p) => c.polygon(i, &p[8 * k..8 * k + 8], lw, colour),
            None => {
                // The outline on the box's own border pixels, inwards.
                c.fill(i, (x1, y1, x2, (y1 + lw - 1).min(y2)), colour);
                c.fill(i, (x1, (y2 - lw + 1).max(y1), x2, y2), colour);
                c.fill(i, (x1, y1, (x1 + lw - 1).min(x2), y2), colour);
                c.fill(i, ((x2 - lw + 1).max(x1), y1, x2, y2), colour);
            }
        }
        if let (true, Some(id)) = (opts.labels, id) {
            let name = usize::try_from(id)
                .ok()
                .and_then(|j| opts.class_names.get(j))
                .cloned()
                .unwrap_or_else(|| id.to_string());
            // Above the box, or inside it at the top of the image.
            let y = if y1 >= 10 { y1 - 10 } else { y1.max(0) + lw };
            c.text(i, x1.max(0), y, &name, [255, 255, 255], colour);
        }
    }
    Ok(())
}

fn draw_keypoints(c: &mut Canvas, kps: &Keypoints, opts: &DrawOptions) -> Result<()> {
    let pts = batched("keypoints", &kps.points, c.b, 2)?;
    let n = pts.size()[1];
    let xy = host(&pts)?;
    let valid = validity(kps.valid.as_ref(), c.b, n)?;
    let r = opts.keypoint_radius;
    for k in 0..(c.b * n) as usize {
        if !valid[k] && !opts.invalid {
            continue;
        }
        let (x, y) = (xy[2 * k], xy[2 * k + 1]);
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let (x, y) = (
            x.round().clamp(-1e9, 1e9) as i64,
            y.round().clamp(-1e9, 1e9) as i64,
        );
        let colour = if valid[k] { KEYPOINT } else { INVALID };
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r {
                    c.blend(k as i64 / n, x + dx, y + dy, colour, 1.0);
                }
            }
        }
    }
    Ok(())
}

fn draw_masks(c: &mut Canvas, masks: &Tensor, opts: &DrawOptions) -> Result<()> {
    let m = match masks.dim() {
        2 => masks.unsqueeze(0),
        _ if masks.dim() == 3
            && c.b == 1
            && masks.size()[1..] == [c.h, c.w]
            && masks.size()[0] != 1 =>
        {
            // (K,H,W) of one unbatched image.
            masks.unsqueeze(0)
        }
        _ => masks.shallow_clone(),
    };
    let s = m.size();
    let ok = match s.len() {
        3 => s == [c.b, c.h, c.w],
        4 => s[0] == c.b && s[2..] == [c.h, c.w],
        _ => false,
    };
    if !ok {
        return Err(Error::Annotation {
            op: OP,
            what: "mask",
            problem: format!(
                "has shape {s:?}; expected (B,H,W) labels or (B,K,H,W) channels with B, H, W = {}, {}, {}",
                c.b, c.h, c.w
            ),
        });
    }
    // One label per pixel: a label map as it is (floats rounded), channels as the first
    // channel above 0.5, plus one (0: background).
    let labels = if s.len() == 3 {
        m.to_device(Device::Cpu)
            .to_kind(Kind::Double)
            .round()
            .to_kind(Kind::Int64)
    } else {
        let on = m.to_device(Device::Cpu).to_kind(Kind::Double).gt(0.5);
        let first = on.to_kind(Kind::Int64).argmax(1, false) + 1;
        first.where_scalarother(&on.any_dim(1, false), 0)
    };
    let labels = Vec::<i64>::try_from(labels.contiguous().view([-1]))?;
    let plane = (c.h * c.w) as usize;
    for (k, &l) in labels.iter().enumerate() {
        if l > 0 {
            let i = (k / plane) as i64;
            let (y, x) = (((k % plane) as i64) / c.w, ((k % plane) as i64) % c.w);
            let colour = PALETTE[((l - 1) as usize) % PALETTE.len()];
            c.blend(i, x, y, colour, opts.mask_alpha);
        }
    }
    Ok(())
}

/// Draws a whole record: its masks as a tinted overlay, then its boxes (class names above
/// them, coloured by class), then its keypoints. Invalid boxes and keypoints (flagged or
/// dropped by the pipeline) are left out unless `opts.invalid`. Returns (B,3,H,W) uint8 on
/// the CPU (an unbatched record gives B = 1).
///
/// # Errors
/// [`Error::Rank`], [`Error::Empty`], [`Error::Dtype`] or [`Error::Channels`] for an image
/// that is not a (B,C,H,W) float or uint8 batch of 1 or ≥ 3 channels (or does not match
/// `denormalize`); [`Error::Annotation`] for annotations of the wrong shape; [`Error::Config`]
/// for options out of range.
pub fn f_draw(batch: &Batch, opts: &DrawOptions) -> Result<Tensor> {
    let mut c = Canvas::new(&batch.image, opts)?;
    if let Some(m) = &batch.masks {
        draw_masks(&mut c, m, opts)?;
    }
    if let Some(b) = &batch.boxes {
        draw_boxes(&mut c, b, opts)?;
    }
    if let Some(k) = &batch.keypoints {
        draw_keypoints(&mut c, k, opts)?;
    }
    Ok(c.into_tensor())
}

/// Draws `boxes` onto `images` (as [`f_draw`]).
///
/// # Errors
/// As [`f_draw`].
pub fn f_draw_boxes(images: &Tensor, boxes: &Boxes, opts: &DrawOptions) -> Result<Tensor> {
    let mut c = Canvas::new(images, opts)?;
    draw_boxes(&mut c, boxes, opts)?;
    Ok(c.into_tensor())
}

/// Draws `keypoints` onto `images` (as [`f_draw`]).
///
/// # Errors
/// As [`f_draw`].
pub fn f_draw_keypoints(
    images: &Tensor,
    keypoints: &Keypoints,
    opts: &DrawOptions,
) -> Result<Tensor> {
    let mut c = Canvas::new(images, opts)?;
    draw_keypoints(&mut c, keypoints, opts)?;
    Ok(c.into_tensor())
}

/// Overlays `masks` onto `images`: (B,H,W) label maps (0 is background) or (B,K,H,W)
/// channels (a pixel takes the first channel above 0.5), coloured by label.
///
/// # Errors
/// As [`f_draw`].
pub fn f_draw_masks(images: &Tensor, masks: &Tensor, opts: &DrawOptions) -> Result<Tensor> {
    let mut c = Canvas::new(images, opts)?;
    draw_masks(&mut c, masks, opts)?;
    Ok(c.into_tensor())
}

/// Lays out rows of image batches (each (B,3,H,W) or (B,1,H,W), uint8 or float in [0, 1])
/// as one (3,H',W') uint8 image on white, a row per batch, `gap` pixels apart; images of
/// different sizes sit top-left in cells of the largest size.
///
/// # Errors
/// [`Error::Annotation`] (`what`: "rows") for no rows or a row that is not such a batch.
pub fn f_grid(rows: &[Tensor], gap: i64) -> Result<Tensor> {
    let bad = |problem: String| Error::Annotation {
        op: OP,
        what: "rows",
        problem,
    };
    if rows.is_empty() {
        return Err(bad(
            "are empty; expected at least one (B,3,H,W) batch".into()
        ));
    }
    let mut canvases = Vec::with_capacity(rows.len());
    for r in rows {
        let s = r.size();
        if s.len() != 4 || !(s[1] == 1 || s[1] == 3) || s.contains(&0) {
            return Err(bad(format!(
                "hold a tensor of shape {s:?}; expected (B,3,H,W) or (B,1,H,W) batches"
            )));
        }
        canvases.push(Canvas::new(r, &DrawOptions::default())?);
    }
    let gap = gap.max(0);
    let cols = canvases.iter().map(|c| c.b).max().unwrap_or(1);
    let ch = canvases.iter().map(|c| c.h).max().unwrap_or(1);
    let cw = canvases.iter().map(|c| c.w).max().unwrap_or(1);
    let (gh, gw) = (
        rows.len() as i64 * (ch + gap) + gap,
        cols * (cw + gap) + gap,
    );
    crate::checks::fits(OP, "grid", &[3, gh, gw])?;
    let mut px = vec![255u8; (3 * gh * gw) as usize];
    for (r, c) in canvases.iter().enumerate() {
        for i in 0..c.b {
            let (y0, x0) = (gap + r as i64 * (ch + gap), gap + i * (cw + gap));
            for ch_ in 0..3 {
                for y in 0..c.h {
                    let src = (((i * 3 + ch_) * c.h + y) * c.w) as usize;
                    let dst = ((ch_ * gh + y0 + y) * gw + x0) as usize;
                    px[dst..dst + c.w as usize].copy_from_slice(&c.px[src..src + c.w as usize]);
                }
            }
        }
    }
    Ok(Tensor::from_slice(&px).view([3, gh, gw]))
}

/// Writes a (3,H,W) or (1,3,H,W) image (uint8, or float in [0, 1]) as a PNG (or JPEG, by
/// the extension), creating the folder.
///
/// # Errors
/// [`Error::Annotation`] for another shape, [`Error::Io`] or [`Error::Torch`] if it cannot
/// be written.
pub fn f_save_png(image: &Tensor, path: impl AsRef<Path>) -> Result<()> {
    let s = image.size();
    let x = match s.as_slice() {
        [3, _, _] => image.unsqueeze(0),
        [1, 3, _, _] => image.shallow_clone(),
        _ => {
            return Err(Error::Annotation {
                op: OP,
                what: "image",
                problem: format!("has shape {s:?}; expected (3,H,W) or (1,3,H,W)"),
            })
        }
    };
    let x = Canvas::new(&x, &DrawOptions::default())?.into_tensor();
    if let Some(dir) = path.as_ref().parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    tch::vision::image::save(&x.get(0), path.as_ref())?;
    Ok(())
}

/// [`f_grid`] of `rows` (4 pixels apart), written by [`f_save_png`].
///
/// # Errors
/// As [`f_grid`] and [`f_save_png`].
pub fn f_save_grid(rows: &[Tensor], path: impl AsRef<Path>) -> Result<()> {
    f_save_png(&f_grid(rows, 4)?, path)
}
