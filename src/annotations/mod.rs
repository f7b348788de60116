//! Annotations that travel with an image through a pipeline: masks, boxes, keypoints and
//! class labels ([`Batch`]), and how they are carried ([`AnnotationOptions`]).
//!
//! Geometric steps move masks, boxes and keypoints with the same random transform as the
//! image; intensity steps leave them alone (RandomErasing zeroes its rectangle in masks, as
//! Kornia); mixing steps mix the labels (and CutMix pastes the masks with its boxes).
//!
//! Conventions (Kornia's): pixel centres on integers, boxes inclusive (`[x1, y1, x2, y2]`
//! covers pixels x1..=x2), widths `x2 - x1 + 1`. Volumes add z (along D).

mod oriented;
mod record;
mod visible;

pub(crate) use oriented::pixel_corners;
pub(crate) use record::{
    check_box_mode, check_instance_masks, check_output_finite, from_record, to_record,
};
pub(crate) use record::{BoxSource, Record};
pub(crate) use visible::{densify, Visible};

use crate::labels::LambdaWeight;
use crate::warp::Resample;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// The layout of a box's numbers (axis-aligned images: 4 numbers; volumes: 6; oriented
/// boxes: 5 or 8).
///
/// The axis-aligned formats follow Kornia: pixel centres on integers, corners inclusive.
/// The oriented ones are torchvision's rotated formats (images only), in torchvision's
/// continuous coordinates: pixel `i` spans `[i, i + 1)`, the image `[0, W] × [0, H]`,
/// `w` and `h` are lengths and `r` is in degrees, counter-clockwise on the screen. The
/// corners of a box are `p1 = (x1, y1)`, `p2 = p1 + w (cos r, -sin r)`,
/// `p3 = p2 + h (sin r, cos r)`, `p4 = p1 + h (sin r, cos r)`; an oriented box with `r = 0`
/// and an [`BoxFormat::Xywh`] box of the same numbers cover the same pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BoxFormat {
    /// `[x1, y1, x2, y2]` (volumes `[x1, y1, z1, x2, y2, z2]`), corners inclusive.
    #[default]
    Xyxy,
    /// `[x, y, w, h]` (volumes `[x, y, z, w, h, d]`): `x2 = x + w - 1`, as Kornia's `bbox_xywh`.
    Xywh,
    /// `[cx, cy, w, h]` (volumes `[cx, cy, cz, w, h, d]`): the centre and the inclusive size,
    /// `x1 = cx - (w - 1)/2`, `x2 = cx + (w - 1)/2`.
    Cxcywh,
    /// Oriented: `[x1, y1, w, h, r]`, the first corner, the sides and the angle
    /// (torchvision's `XYWHR`).
    Xywhr,
    /// Oriented: `[cx, cy, w, h, r]`, the centre, the sides and the angle (torchvision's
    /// `CXCYWHR`).
    Cxcywhr,
    /// Oriented: `[x1, y1, x2, y2, x3, y3, x4, y4]`, the four corners in order
    /// (torchvision's `XYXYXYXY`).
    Xyxyxyxy,
}

impl BoxFormat {
    /// Whether boxes in this format are oriented (torchvision's rotated formats).
    pub fn is_oriented(self) -> bool {
        matches!(
            self,
            BoxFormat::Xywhr | BoxFormat::Cxcywhr | BoxFormat::Xyxyxyxy
        )
    }

    /// How many numbers a box has in this format with `dims` spatial dimensions (`None`:
    /// the format has no boxes of that many dimensions; oriented boxes are 2D).
    pub fn numbers(self, dims: usize) -> Option<i64> {
        match (self, dims) {
            (BoxFormat::Xywhr | BoxFormat::Cxcywhr, 2) => Some(5),
            (BoxFormat::Xyxyxyxy, 2) => Some(8),
            (BoxFormat::Xyxy | BoxFormat::Xywh | BoxFormat::Cxcywh, 2 | 3) => Some(2 * dims as i64),
            _ => None,
        }
    }

    /// The numbers (…, k) to add to boxes in this format with `dims` = 2 to move them by
    /// `(dx, dy)`: the corners and centres move, sides and angles do not.
    pub fn translation(self, dx: f64, dy: f64) -> Vec<f64> {
        match self {
            BoxFormat::Xyxy => vec![dx, dy, dx, dy],
            BoxFormat::Xywh | BoxFormat::Cxcywh => vec![dx, dy, 0.0, 0.0],
            BoxFormat::Xywhr | BoxFormat::Cxcywhr => vec![dx, dy, 0.0, 0.0, 0.0],
            BoxFormat::Xyxyxyxy => vec![dx, dy, dx, dy, dx, dy, dx, dy],
        }
    }

    /// Converts boxes in this format to xyxy (…, 2d). An oriented box becomes the
    /// axis-aligned box around it, in the crate's inclusive convention (its continuous
    /// extent `[a, b]` is the pixels `a..=b - 1`).
    ///
    /// # Panics
    /// For oriented boxes whose last dimension is not [`BoxFormat::numbers`] (5 or 8).
    pub fn to_xyxy(self, boxes: &Tensor) -> Tensor {
        if self.is_oriented() {
            let around = crate::geometry::enclosure(&oriented::to_corners(self, boxes));
            let one = Tensor::from_slice(&[0.0, 0.0, 1.0, 1.0])
                .to_kind(around.kind())
                .to_device(around.device());
            return around - one;
        }
        let d = boxes.size().last().copied().unwrap_or(0) / 2;
        let a = boxes.narrow(-1, 0, d);
        let b = boxes.narrow(-1, d, d);
        match self {
            BoxFormat::Xywh => Tensor::cat(&[&a, &(&a + &b - 1.0)], -1),
            BoxFormat::Cxcywh => {
                let half = (&b - 1.0) / 2.0;
                Tensor::cat(&[&a - &half, &a + &half], -1)
            }
            _ => boxes.shallow_clone(),
        }
    }

    /// Converts (…, 2d) xyxy boxes to this format (an oriented one: the box with `r = 0`
    /// over the same pixels).
    pub fn from_xyxy(self, xyxy: &Tensor) -> Tensor {
        let d = xyxy.size().last().copied().unwrap_or(0) / 2;
        let lo = xyxy.narrow(-1, 0, d);
        let hi = xyxy.narrow(-1, d, d);
        match self {
            BoxFormat::Xyxy => xyxy.shallow_clone(),
            BoxFormat::Xywh => Tensor::cat(&[&lo, &(&hi - &lo + 1.0)], -1),
            BoxFormat::Cxcywh => Tensor::cat(&[(&lo + &hi) / 2.0, &hi - &lo + 1.0], -1),
            oriented => {
                let xywhr = Tensor::cat(
                    &[
                        lo.shallow_clone(),
                        &hi - &lo + 1.0,
                        lo.narrow(-1, 0, 1).zeros_like(),
                    ],
                    -1,
                );
                BoxFormat::Xywhr.convert(&xywhr, oriented)
            }
        }
    }

    /// Converts boxes from this format to `to` (both oriented, or both axis-aligned), as
    /// torchvision's `convert_bounding_box_format`; axis-aligned boxes to an oriented format
    /// as [`BoxFormat::from_xyxy`], oriented ones to an axis-aligned format as the
    /// axis-aligned box around them.
    ///
    /// # Panics
    /// As [`BoxFormat::to_xyxy`].
    pub fn convert(self, boxes: &Tensor, to: BoxFormat) -> Tensor {
        match (self.is_oriented(), to.is_oriented()) {
            (true, true) if self == to => boxes.shallow_clone(),
            (true, true) => oriented::from_corners(to, &oriented::to_corners(self, boxes)),
            _ => to.from_xyxy(&self.to_xyxy(boxes)),
        }
    }
}

/// Boxes of a batch: padded (B,N,4) (volumes (B,N,6); oriented boxes (B,N,5) or (B,N,8),
/// see [`BoxFormat`]) with a validity mask, optional class ids per box, and (on a
/// pipeline's output) the box corners carried through it.
///
/// # Example
/// ```no_run
/// use tch::Tensor;
/// use tch_dda::{BoxFormat, Boxes};
/// // Two images, with 2 and 1 boxes.
/// let boxes = Boxes::from_list(
///     &[Tensor::from_slice(&[2.0f32, 3., 5., 7., 0., 0., 4., 4.]).view([2, 4]),
///       Tensor::from_slice(&[1.0f32, 1., 3., 3.]).view([1, 4])],
///     BoxFormat::Xyxy,
/// ).unwrap();
/// assert_eq!(boxes.data.size(), [2, 2, 4]);
/// ```
#[derive(Debug)]
pub struct Boxes {
    /// (B,N,k) in `format` (k = 4; volumes 6; oriented 5 or 8). Padding rows are ignored
    /// (see `valid`).
    pub data: Tensor,
    /// The layout of `data`.
    pub format: BoxFormat,
    /// (B,N) bool: which rows are boxes (`None`: all). On a pipeline's output, also false
    /// for boxes flagged or dropped by [`AnnotationOptions`].
    pub valid: Option<Tensor>,
    /// (B,N) integer class id of each box, carried unchanged.
    pub class_ids: Option<Tensor>,
    /// (B,N) float, on a pipeline's output: the fraction of each box's area inside the
    /// output image (area of the clipped box over area of the box).
    pub visibility: Option<Tensor>,
    /// (B,N,P,d), on a pipeline's output: each box's outline (its corners, and points along
    /// its edges after a dense warp) as carried through the pipeline, so that an inverse
    /// returns the original boxes rather than an enclosure of an enclosure. In pixel-index
    /// space, oriented boxes too (their continuous coordinates less half a pixel); the
    /// corners sit at 0, P/4, P/2 and 3P/4.
    pub corners: Option<Tensor>,
}

impl Clone for Boxes {
    fn clone(&self) -> Self {
        let sc = |t: &Option<Tensor>| t.as_ref().map(|t| t.shallow_clone());
        Boxes {
            data: self.data.shallow_clone(),
            format: self.format,
            valid: sc(&self.valid),
            class_ids: sc(&self.class_ids),
            visibility: sc(&self.visibility),
            corners: sc(&self.corners),
        }
    }
}

impl Boxes {
    /// Boxes (B,N,k) in `format` ((N,k) with an unbatched image; k as [`Boxes::data`]),
    /// all valid.
    pub fn new(data: Tensor, format: BoxFormat) -> Boxes {
        Boxes {
            data,
            format,
            valid: None,
            class_ids: None,
            visibility: None,
            corners: None,
        }
    }

    /// `[x1, y1, x2, y2]` boxes.
    pub fn xyxy(data: Tensor) -> Boxes {
        Boxes::new(data, BoxFormat::Xyxy)
    }

    /// With a (B,N) bool validity mask.
    pub fn with_valid(mut self, valid: Tensor) -> Boxes {
        self.valid = Some(valid);
        self
    }

    /// With (B,N) integer class ids.
    pub fn with_class_ids(mut self, ids: Tensor) -> Boxes {
        self.class_ids = Some(ids);
        self
    }

    /// Padded boxes from one (N_i, 4) tensor per image (N_i may be 0), with their validity.
    ///
    /// # Errors
    /// [`Error::Annotation`] for an empty list or tensors of different kinds, devices or
    /// widths.
    pub fn from_list(per_image: &[Tensor], format: BoxFormat) -> Result<Boxes> {
        let (data, valid) = pad_list("boxes", per_image)?;
        Ok(Boxes::new(data, format).with_valid(valid))
    }

    /// Padded class ids from one (N_i,) tensor per image, to go with [`Boxes::from_list`].
    ///
    /// # Errors
    /// As [`Boxes::from_list`].
    pub fn with_class_id_list(self, per_image: &[Tensor]) -> Result<Boxes> {
        let ids: Vec<Tensor> = per_image.iter().map(|t| t.unsqueeze(-1)).collect();
        let (ids, _) = pad_list("class_ids", &ids)?;
        Ok(self.with_class_ids(ids.squeeze_dim(-1)))
    }

    /// The valid boxes of each image, in `format` (a host read of the validity mask: call it
    /// at the boundary of a training step, not inside one). The boxes of an unbatched image
    /// come back as a list of one.
    pub fn to_list(&self) -> Vec<Tensor> {
        self.select_valid(&self.data)
    }

    /// The class ids of the valid boxes of each image (empty when there are none).
    pub fn class_id_list(&self) -> Vec<Tensor> {
        match &self.class_ids {
            Some(ids) => self.select_valid(ids),
            None => Vec::new(),
        }
    }

    fn select_valid(&self, t: &Tensor) -> Vec<Tensor> {
        select_valid(t, self.valid.as_ref(), self.data.dim() == 2)
    }

    /// The boxes as xyxy.
    pub fn to_xyxy(&self) -> Tensor {
        self.format.to_xyxy(&self.data)
    }

    /// torchvision's `ClampBoundingBoxes` on an image of `(height, width)`: every x corner
    /// clamped to `[0, width]`, every y corner to `[0, height]` (in xyxy, converted back to
    /// the boxes' format and kind, as torchvision does); validity, class ids and the rest kept.
    /// Oriented boxes are clamped as torchvision's default ("soft") clamps them: each
    /// becomes the smallest box of the same angle around its part inside the image; a box
    /// with nothing inside is left as it is (torchvision collapses it onto the border;
    /// [`Boxes::f_sanitize`] drops it).
    ///
    /// # Errors
    /// [`Error::Annotation`] for boxes that are not 2D (…, 4) (oriented: (…, 5) or (…, 8)),
    /// of a kind that is not a real number (bool, complex), or a negative size.
    pub fn f_clamp(&self, (height, width): (i64, i64)) -> Result<Boxes> {
        if self.format.is_oriented() {
            let data = self.checked_float("Boxes::f_clamp", (height, width))?;
            let clamped = oriented::clamp(self.format, &data, (height, width));
            return Ok(Boxes {
                data: clamped.f_to_kind(self.data.kind())?,
                ..self.clone()
            });
        }
        let xyxy = self.checked_xyxy("Boxes::f_clamp", (height, width))?;
        let (w, h) = (width as f64, height as f64);
        let hi = Tensor::f_from_slice(&[w, h, w, h])?.f_to_device(xyxy.device())?;
        let clamped = xyxy.f_clamp_min(0.0)?.f_minimum(&hi)?;
        Ok(Boxes {
            data: self
                .format
                .from_xyxy(&clamped)
                .f_to_kind(self.data.kind())?,
            ..self.clone()
        })
    }

    /// torchvision's `SanitizeBoundingBoxes(min_size, min_area)` on an image of
    /// `(height, width)`: a box stays valid when its width and height (`x2 - x1`,
    /// `y2 - y1`: torchvision's continuous sizes) are at least `min_size`, its area at least
    /// `min_area`, no corner is negative and none lies past the image; the others are marked
    /// invalid (already invalid boxes stay so). The boxes themselves, their class ids and
    /// the rest are kept: [`Boxes::to_list`] and [`Boxes::class_id_list`] then drop them
    /// together. torchvision's defaults are `min_size = 1`, `min_area = 1` (it refuses
    /// smaller ones; here 0 is allowed). Oriented boxes: their sides `w`, `h` and area
    /// `w * h`, and all four corners inside `[0, width] × [0, height]` (torchvision 0.28
    /// computes a rotated box's height from a mix of x and y differences; here it is the
    /// side p2 p3).
    ///
    /// # Errors
    /// As [`Boxes::f_clamp`], and [`Error::Config`] for a negative or non-finite `min_size`
    /// or `min_area`.
    pub fn f_sanitize(
        &self,
        (height, width): (i64, i64),
        min_size: f64,
        min_area: f64,
    ) -> Result<Boxes> {
        const OP: &str = "Boxes::f_sanitize";
        for (name, v) in [("min_size", min_size), ("min_area", min_area)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Config {
                    op: OP,
                    name,
                    value: v.to_string(),
                    allowed: "a finite value of 0 or more".into(),
                });
            }
        }
        let (w, h) = (width as f64, height as f64);
        let (b, size, limit) = if self.format.is_oriented() {
            let data = self.checked_float(OP, (height, width))?;
            let corners = oriented::to_corners(self.format, &data);
            let b = corners.f_flatten(-2, -1)?;
            let limit = Tensor::f_from_slice(&[w, h, w, h, w, h, w, h])?.f_to_device(b.device())?;
            (b, oriented::sides(&corners).f_unbind(-1)?, limit)
        } else {
            let b = self.checked_xyxy(OP, (height, width))?;
            let lo = b.f_narrow(-1, 0, 2)?;
            let size = (b.f_narrow(-1, 2, 2)? - &lo).f_unbind(-1)?; // [w, h]
            let limit = Tensor::f_from_slice(&[w, h, w, h])?.f_to_device(b.device())?;
            (b, size, limit)
        };
        let keep = size[0]
            .f_ge(min_size)?
            .f_logical_and(&size[1].f_ge(min_size)?)?
            .f_logical_and(&(&size[0] * &size[1]).f_ge(min_area)?)?
            .f_logical_and(&b.f_ge(0.0)?.f_all_dim(-1, false)?)?
            .f_logical_and(&b.f_le_tensor(&limit)?.f_all_dim(-1, false)?)?;
        let valid = match &self.valid {
            Some(v) => v.f_logical_and(&keep)?,
            None => keep,
        };
        Ok(Boxes {
            valid: Some(valid),
            ..self.clone()
        })
    }

    /// The boxes as float xyxy, checked for [`Boxes::f_clamp`] and [`Boxes::f_sanitize`].
    fn checked_xyxy(&self, op: &'static str, size: (i64, i64)) -> Result<Tensor> {
        Ok(self.format.to_xyxy(&self.checked_float(op, size)?))
    }

    /// The boxes as floats, checked for [`Boxes::f_clamp`] and [`Boxes::f_sanitize`]: 2D
    /// boxes of the format's width, real numbers, an image size of 0 or more.
    fn checked_float(&self, op: &'static str, (height, width): (i64, i64)) -> Result<Tensor> {
        let bad = |what, problem| Err(Error::Annotation { op, what, problem });
        let size = self.data.size();
        let k = self.format.numbers(2).unwrap_or(4);
        if size.last() != Some(&k) || size.len() < 2 {
            return bad(
                "boxes",
                format!(
                    "have shape {size:?}; expected (B,N,{k}) or (N,{k}) image boxes ({:?})",
                    self.format
                ),
            );
        }
        let kind = self.data.kind();
        if matches!(
            kind,
            Kind::Bool | Kind::ComplexHalf | Kind::ComplexFloat | Kind::ComplexDouble
        ) {
            return bad("boxes", format!("are {kind:?}; expected real numbers"));
        }
        if height < 0 || width < 0 {
            return bad(
                "image size",
                format!("is ({height}, {width}); sides are 0 or more"),
            );
        }
        if self.data.is_floating_point() {
            Ok(self.data.shallow_clone())
        } else {
            Ok(self.data.f_to_kind(Kind::Float)?)
        }
    }
}

/// The rows of (B,N,…) `t` that `valid` (B,N) marks, one tensor per image (`unbatched`: `t`
/// is (N,…) and `valid` (N,), for one image).
fn select_valid(t: &Tensor, valid: Option<&Tensor>, unbatched: bool) -> Vec<Tensor> {
    if unbatched {
        let v = valid.map(|v| v.unsqueeze(0));
        return select_valid(&t.unsqueeze(0), v.as_ref(), false);
    }
    let b = t.size()[0];
    (0..b)
        .map(|i| match valid {
            Some(v) => t
                .get(i)
                .index_select(0, &v.get(i).to_device(t.device()).nonzero().squeeze_dim(-1)),
            None => t.get(i),
        })
        .collect()
}

/// Pads (N_i, k) tensors to (B, max N_i, k) and returns the validity mask.
fn pad_list(what: &'static str, per_image: &[Tensor]) -> Result<(Tensor, Tensor)> {
    let Some(first) = per_image.first() else {
        return Err(Error::Annotation {
            op: "Boxes",
            what,
            problem: "list is empty; expected one tensor per image".into(),
        });
    };
    let k = first.size().last().copied().unwrap_or(0);
    let (kind, device) = (first.kind(), first.device());
    for t in per_image {
        let s = t.size();
        if s.len() != 2 || s[1] != k || t.kind() != kind || t.device() != device {
            return Err(Error::Annotation {
                op: "Boxes",
                what,
                problem: format!(
                    "list holds a tensor of shape {s:?} ({:?}); expected (N_i, {k}) tensors of one kind and device",
                    t.kind()
                ),
            });
        }
    }
    let n = per_image.iter().map(|t| t.size()[0]).max().unwrap_or(0);
    let b = per_image.len() as i64;
    let data = Tensor::f_zeros([b, n, k], (kind, device))?;
    let valid = Tensor::f_zeros([b, n], (Kind::Bool, device))?;
    for (i, t) in per_image.iter().enumerate() {
        let ni = t.size()[0];
        if ni > 0 {
            data.get(i as i64).narrow(0, 0, ni).copy_(t);
            let _ = valid.get(i as i64).narrow(0, 0, ni).fill_(1);
        }
    }
    Ok((data, valid))
}

/// Keypoints of a batch: (B,N,2) `(x, y)` (volumes (B,N,3) `(x, y, z)`; (N,d) with an
/// unbatched image), with an optional (B,N) validity mask.
#[derive(Debug)]
pub struct Keypoints {
    /// (B,N,d) pixel coordinates.
    pub points: Tensor,
    /// (B,N) bool: which points exist (`None`: all). On a pipeline's output with
    /// [`AnnotationOptions::flag_outside`], also false for points outside the output.
    pub valid: Option<Tensor>,
}

impl Clone for Keypoints {
    fn clone(&self) -> Self {
        Keypoints {
            points: self.points.shallow_clone(),
            valid: self.valid.as_ref().map(|t| t.shallow_clone()),
        }
    }
}

impl Keypoints {
    /// Keypoints, all valid.
    pub fn new(points: Tensor) -> Keypoints {
        Keypoints {
            points,
            valid: None,
        }
    }

    /// With a (B,N) bool validity mask.
    pub fn with_valid(mut self, valid: Tensor) -> Keypoints {
        self.valid = Some(valid);
        self
    }

    /// The valid keypoints of each image, (N_i, d) each: those flagged outside removed (a
    /// host read of the validity mask: call it at the boundary of a training step). The
    /// keypoints of an unbatched image come back as a list of one.
    pub fn to_list(&self) -> Vec<Tensor> {
        select_valid(&self.points, self.valid.as_ref(), self.points.dim() == 2)
    }
}

/// Labels mixed by RandomMixUp or RandomCutMix inside a pipeline: Kornia's tensor (MixUp
/// (B,3) rows `[y, y_perm, λ]`, CutMix (num_mix,B,3)) and which label `λ` weighs.
#[derive(Debug)]
pub struct MixedLabels {
    /// The mixed label tensor, in the image's float kind.
    pub labels: Tensor,
    /// Which label `λ` weighs.
    pub weight: LambdaWeight,
}

impl Clone for MixedLabels {
    fn clone(&self) -> Self {
        MixedLabels {
            labels: self.labels.shallow_clone(),
            weight: self.weight,
        }
    }
}

impl MixedLabels {
    /// Soft targets (B, num_classes), as [`crate::soft_targets`].
    ///
    /// # Errors
    /// As [`crate::soft_targets`].
    pub fn soft_targets(&self, num_classes: i64) -> Result<Tensor> {
        crate::labels::soft_targets(&self.labels, num_classes, self.weight)
    }

    /// The soft-target cross-entropy of `logits` (B,K), as [`crate::mix_cross_entropy`].
    ///
    /// # Errors
    /// As [`crate::mix_cross_entropy`].
    pub fn cross_entropy(&self, logits: &Tensor) -> Result<Tensor> {
        crate::labels::mix_cross_entropy(logits, &self.labels, self.weight)
    }
}

/// A batch record: an image (or volume) batch and what goes with it. What goes in comes out,
/// transformed with the image.
///
/// # Shapes
/// - `image`: (B,C,H,W) or (C,H,W); volumes (B,C,D,H,W) or (C,D,H,W).
/// - `masks`: (B,K,H,W) or (B,H,W) (volumes (B,K,D,H,W) or (B,D,H,W)); without a batch
///   dimension when the image has none. Any kind: integer and bool masks are resampled as
///   floats and cast back (truncation), float masks in the image's kind.
/// - `boxes`: see [`Boxes`]; `keypoints`: see [`Keypoints`].
/// - `labels`: (B,) integer class ids, for MixUp and CutMix (their mixed labels come back in
///   `mixed`); unchanged otherwise.
///
/// # Example
/// ```no_run
/// use tch::{nn, Device, Kind, Tensor};
/// use tch_dda::*;
/// let vs = nn::VarStore::new(Device::Cpu);
/// let aug = Sequential::new(&(vs.root() / "aug"), &[
///     AugSpec::RandomHorizontalFlip(FlipConfig { p: 1.0, ..Default::default() }),
///     AugSpec::RandomAffine(RandomAffineConfig { degrees: (-30.0, 30.0), p: 1.0, ..Default::default() }),
/// ]).unwrap();
/// let images = Tensor::rand([2, 3, 32, 32], (Kind::Float, Device::Cpu));
/// let batch = Batch::new(images.shallow_clone())
///     .with_masks(Tensor::zeros([2, 32, 32], (Kind::Int64, Device::Cpu)))
///     .with_boxes(Boxes::xyxy(Tensor::from_slice(&[4.0f32, 4., 20., 12.]).view([1, 1, 4]).repeat([2, 1, 1])))
///     .with_keypoints(Keypoints::new(Tensor::from_slice(&[8.0f32, 8.]).view([1, 1, 2]).repeat([2, 1, 1])));
/// let (out, params) = aug.f_forward_batch(&batch).unwrap();
/// let back = aug.f_inverse_batch(&out, &params, &images.size()).unwrap();
/// ```
#[derive(Debug)]
pub struct Batch {
    /// The images or volumes.
    pub image: Tensor,
    /// Masks, resampled with the image (nearest by default).
    pub masks: Option<Tensor>,
    /// Boxes.
    pub boxes: Option<Boxes>,
    /// Keypoints.
    pub keypoints: Option<Keypoints>,
    /// Class ids (B,).
    pub labels: Option<Tensor>,
    /// On a pipeline's output: the labels a mixing step made.
    pub mixed: Option<MixedLabels>,
}

impl Clone for Batch {
    fn clone(&self) -> Self {
        let sc = |t: &Option<Tensor>| t.as_ref().map(|t| t.shallow_clone());
        Batch {
            image: self.image.shallow_clone(),
            masks: sc(&self.masks),
            boxes: self.boxes.clone(),
            keypoints: self.keypoints.clone(),
            labels: sc(&self.labels),
            mixed: self.mixed.clone(),
        }
    }
}

impl Batch {
    /// A record with only the image.
    pub fn new(image: Tensor) -> Batch {
        Batch {
            image,
            masks: None,
            boxes: None,
            keypoints: None,
            labels: None,
            mixed: None,
        }
    }

    /// With masks.
    pub fn with_masks(mut self, masks: Tensor) -> Batch {
        self.masks = Some(masks);
        self
    }

    /// With boxes.
    pub fn with_boxes(mut self, boxes: Boxes) -> Batch {
        self.boxes = Some(boxes);
        self
    }

    /// With keypoints.
    pub fn with_keypoints(mut self, keypoints: Keypoints) -> Batch {
        self.keypoints = Some(keypoints);
        self
    }

    /// With class labels (B,).
    pub fn with_labels(mut self, labels: Tensor) -> Batch {
        self.labels = Some(labels);
        self
    }
}

/// How boxes travel through several steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BoxMode {
    /// Each box's corners are carried through every step; the output is the enclosure of
    /// the carried corners, and the inverse maps the carried corners back, so a round trip
    /// returns the original box (up to float rounding).
    #[default]
    Corners,
    /// Kornia's behaviour: after every step a box becomes the enclosure of its warped
    /// corners, and the inverse encloses the enclosure (rotations grow boxes).
    Kornia,
}

/// How a box's width, height and area are counted by [`AnnotationOptions::min_area`],
/// [`AnnotationOptions::min_size`] and (without the visible region) the visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BoxSize {
    /// In pixels, both corners included: a box from `x1` to `x2` is `x2 - x1 + 1` wide
    /// (Kornia's convention, the crate's box convention).
    #[default]
    Inclusive,
    /// Corner to corner: `x2 - x1` wide (Albumentations' and torchvision's `w * h`).
    Continuous,
}

/// How a pipeline carries annotations: mask resampling, box mode, and what to do with boxes
/// and keypoints that leave the output. Defaults: nearest masks with each step's own
/// `align_corners`, carried box corners, nothing clipped, flagged or dropped (Kornia's
/// behaviour, but for the box mode). Detection pipelines want
/// [`AnnotationOptions::detection`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnnotationOptions {
    /// Mask interpolation (nearest keeps labels; bilinear for soft masks).
    pub mask_resample: Resample,
    /// `align_corners` for masks; `None`: each step's own.
    pub mask_align_corners: Option<bool>,
    /// How boxes travel through several steps.
    pub box_mode: BoxMode,
    /// Follow each 2D box's visible region step by step: the part of the box inside the
    /// frame, clipped against every step's output frame (a convex polygon) and mapped by the
    /// next step. The output box is the enclosure of that region, so a box that left the
    /// frame at some step never comes back and a box a step cut stays tight; its visibility
    /// is the region's area over the whole box's area (both mapped to the output, corner to
    /// corner). Keypoints that leave the frame at any step stay outside (see
    /// `flag_outside`). The exact corners still travel for the inverse. A fused run of
    /// warps ([`SequentialConfig::fuse_geometry`](crate::SequentialConfig)) is one warp, so
    /// it clips once, at its end, as its image shows. Volumes clip at the end only.
    pub visible_region: bool,
    /// Clip output boxes to the output image, `[0, W-1] × [0, H-1]`.
    pub clip_boxes: bool,
    /// Mark (in `valid`) boxes entirely outside the output and keypoints outside it (with
    /// `visible_region`: outside at any step).
    pub flag_outside: bool,
    /// Drop (mark invalid) boxes whose visible fraction of area is below this, as
    /// Albumentations' `min_visibility`.
    pub min_visibility: f64,
    /// Drop boxes whose clipped area (in pixels, counted as `size` says) is below this, as
    /// Albumentations' `min_area`. With the default inclusive sizes a box from `x1` to `x2`
    /// is `x2 - x1 + 1` wide; Albumentations and torchvision count `x2 - x1`
    /// ([`BoxSize::Continuous`]).
    pub min_area: f64,
    /// Drop boxes whose clipped width or height (counted as `size` says) is below this, as
    /// torchvision's `SanitizeBoundingBoxes(min_size)`.
    pub min_size: f64,
    /// How widths, heights and areas are counted.
    pub size: BoxSize,
    /// The masks are instance masks, channel k belonging to box k ((B,N,H,W) with the
    /// boxes' N): the channel of a box marked invalid on the output is zeroed with it, so
    /// masks, boxes and class ids stay aligned.
    pub instance_masks: bool,
}

impl Default for AnnotationOptions {
    fn default() -> Self {
        AnnotationOptions {
            mask_resample: Resample::Nearest,
            mask_align_corners: None,
            box_mode: BoxMode::Corners,
            visible_region: false,
            clip_boxes: false,
            flag_outside: false,
            min_visibility: 0.0,
            min_area: 0.0,
            min_size: 0.0,
            size: BoxSize::Inclusive,
            instance_masks: false,
        }
    }
}

impl AnnotationOptions {
    /// Kornia's behaviour, for parity: boxes enclosed after every step.
    pub fn kornia() -> AnnotationOptions {
        AnnotationOptions {
            box_mode: BoxMode::Kornia,
            ..Default::default()
        }
    }

    /// For detection: each box's visible region followed step by step (a box that left the
    /// frame never comes back, a cut box stays tight), output boxes clipped, boxes with
    /// nothing visible and keypoints that left the frame marked invalid. Thresholds
    /// (`min_visibility`, `min_area`, `min_size`) stay 0: set them on the result.
    pub fn detection() -> AnnotationOptions {
        AnnotationOptions {
            visible_region: true,
            clip_boxes: true,
            flag_outside: true,
            ..Default::default()
        }
    }

    /// How masks are resampled: `mask_resample` and `mask_align_corners`.
    pub fn mask_sampling(&self) -> MaskSampling {
        MaskSampling {
            resample: self.mask_resample,
            align_corners: self.mask_align_corners,
        }
    }

    pub(crate) fn validate(&self, op: &'static str) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_visibility) {
            return Err(crate::checks::config(
                op,
                "min_visibility",
                self.min_visibility,
                "a fraction in [0, 1]",
            ));
        }
        if !(self.min_area >= 0.0 && self.min_area.is_finite()) {
            return Err(crate::checks::config(
                op,
                "min_area",
                self.min_area,
                "a finite area >= 0 (pixels)",
            ));
        }
        if !(self.min_size >= 0.0 && self.min_size.is_finite()) {
            return Err(crate::checks::config(
                op,
                "min_size",
                self.min_size,
                "a finite size >= 0 (pixels)",
            ));
        }
        if self.mask_resample == Resample::Bicubic {
            return Err(crate::checks::config(
                op,
                "mask_resample",
                "bicubic",
                "nearest or bilinear",
            ));
        }
        Ok(())
    }
}

/// How masks are resampled by one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskSampling {
    /// Interpolation.
    pub resample: Resample,
    /// `align_corners`; `None`: the step's own.
    pub align_corners: Option<bool>,
}
