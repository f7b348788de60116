//! Annotations that travel with an image through a pipeline: masks, boxes, keypoints and
//! class labels ([`Batch`]), and how they are carried ([`AnnotationOptions`]).
//!
//! Geometric steps move masks, boxes and keypoints with the same random transform as the
//! image; intensity steps leave them alone (RandomErasing zeroes its rectangle in masks, as
//! Kornia); mixing steps mix the labels (and CutMix pastes the masks with its boxes).
//!
//! Conventions (Kornia's): pixel centres on integers, boxes inclusive (`[x1, y1, x2, y2]`
//! covers pixels x1..=x2), widths `x2 - x1 + 1`. Volumes add z (along D).

use crate::geometry::{box_corners, enclosure};
use crate::mix::LambdaWeight;
use crate::warp::Resample;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// The layout of a box's numbers (images: 4 numbers; volumes: 6).
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
}

impl BoxFormat {
    /// Converts (…, 2d) boxes in this format to xyxy.
    pub fn to_xyxy(self, boxes: &Tensor) -> Tensor {
        let d = boxes.size().last().copied().unwrap_or(0) / 2;
        let a = boxes.narrow(-1, 0, d);
        let b = boxes.narrow(-1, d, d);
        match self {
            BoxFormat::Xyxy => boxes.shallow_clone(),
            BoxFormat::Xywh => Tensor::cat(&[&a, &(&a + &b - 1.0)], -1),
            BoxFormat::Cxcywh => {
                let half = (&b - 1.0) / 2.0;
                Tensor::cat(&[&a - &half, &a + &half], -1)
            }
        }
    }

    /// Converts (…, 2d) xyxy boxes to this format.
    pub fn from_xyxy(self, xyxy: &Tensor) -> Tensor {
        let d = xyxy.size().last().copied().unwrap_or(0) / 2;
        let lo = xyxy.narrow(-1, 0, d);
        let hi = xyxy.narrow(-1, d, d);
        match self {
            BoxFormat::Xyxy => xyxy.shallow_clone(),
            BoxFormat::Xywh => Tensor::cat(&[&lo, &(&hi - &lo + 1.0)], -1),
            BoxFormat::Cxcywh => Tensor::cat(&[(&lo + &hi) / 2.0, &hi - &lo + 1.0], -1),
        }
    }
}

/// Boxes of a batch: padded (B,N,4) (volumes (B,N,6)) with a validity mask, optional class
/// ids per box, and (on a pipeline's output) the box corners carried through it.
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
    /// (B,N,4) or (B,N,6) in `format`. Padding rows are ignored (see `valid`).
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
    /// returns the original boxes rather than an enclosure of an enclosure.
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
    /// Boxes (B,N,4) (or (B,N,6) for volumes; (N,4) with an unbatched image) in `format`,
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
    /// at the boundary of a training step, not inside one).
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
        let b = t.size()[0];
        (0..b)
            .map(|i| match &self.valid {
                Some(v) => t
                    .get(i)
                    .index_select(0, &v.get(i).to_device(t.device()).nonzero().squeeze_dim(-1)),
                None => t.get(i),
            })
            .collect()
    }

    /// The boxes as xyxy.
    pub fn to_xyxy(&self) -> Tensor {
        self.format.to_xyxy(&self.data)
    }
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
    let data = Tensor::zeros([b, n, k], (kind, device));
    let valid = Tensor::zeros([b, n], (Kind::Bool, device));
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
        crate::soft_targets(&self.labels, num_classes, self.weight)
    }

    /// The soft-target cross-entropy of `logits` (B,K), as [`crate::mix_cross_entropy`].
    ///
    /// # Errors
    /// As [`crate::mix_cross_entropy`].
    pub fn cross_entropy(&self, logits: &Tensor) -> Result<Tensor> {
        crate::mix_cross_entropy(logits, &self.labels, self.weight)
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

/// How a pipeline carries annotations: mask resampling, box mode, and what to do with boxes
/// and keypoints that leave the output. Defaults: nearest masks with each step's own
/// `align_corners`, carried box corners, nothing clipped, flagged or dropped (Kornia's
/// behaviour, but for the box mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnnotationOptions {
    /// Mask interpolation (nearest keeps labels; bilinear for soft masks).
    pub mask_resample: Resample,
    /// `align_corners` for masks; `None`: each step's own.
    pub mask_align_corners: Option<bool>,
    /// How boxes travel through several steps.
    pub box_mode: BoxMode,
    /// Clip output boxes to the output image, `[0, W-1] × [0, H-1]`.
    pub clip_boxes: bool,
    /// Mark (in `valid`) boxes entirely outside the output and keypoints outside it.
    pub flag_outside: bool,
    /// Drop (mark invalid) boxes whose visible fraction of area (clipped area over area)
    /// is below this, as Albumentations' `min_visibility`.
    pub min_visibility: f64,
    /// Drop boxes whose clipped area (in pixels, inclusive sizes) is below this, as
    /// Albumentations' `min_area`.
    pub min_area: f64,
}

impl Default for AnnotationOptions {
    fn default() -> Self {
        AnnotationOptions {
            mask_resample: Resample::Nearest,
            mask_align_corners: None,
            box_mode: BoxMode::Corners,
            clip_boxes: false,
            flag_outside: false,
            min_visibility: 0.0,
            min_area: 0.0,
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

/// The working form of a batch inside a pipeline (crate-internal; the hooks that take it are
/// hidden). Masks are float (B,K,…) in the image's kind; boxes are outlines (B,N,P,d).
#[doc(hidden)]
#[derive(Debug)]
pub struct Working {
    pub(crate) image: Tensor,
    pub(crate) masks: Option<Tensor>,
    pub(crate) outlines: Option<Tensor>,
    pub(crate) keypoints: Option<Tensor>,
    pub(crate) labels: Option<Tensor>,
    pub(crate) mixed: Option<MixedLabels>,
}

impl Working {
    pub(crate) fn image_only(image: Tensor) -> Working {
        Working {
            image,
            masks: None,
            outlines: None,
            keypoints: None,
            labels: None,
            mixed: None,
        }
    }

    /// Whether anything but the image is carried.
    pub(crate) fn has_points(&self) -> bool {
        self.outlines.is_some() || self.keypoints.is_some()
    }

    /// The kind points are computed in: float64 if the image or any point set is float64.
    pub(crate) fn point_kind(&self) -> Kind {
        let double = [
            Some(&self.image),
            self.outlines.as_ref(),
            self.keypoints.as_ref(),
        ]
        .iter()
        .flatten()
        .any(|t| t.kind() == Kind::Double);
        if double {
            Kind::Double
        } else {
            Kind::Float
        }
    }
}

/// What the boundary remembers to give annotations back in the caller's layout.
pub(crate) struct Layout {
    unbatched: bool,
    mask_kind: Option<Kind>,
    mask_had_channel: bool,
    boxes: Option<Boxes>,
    keypoints: Option<Keypoints>,
    labels: Option<Tensor>,
}

/// Checks `batch` against an augmentation of `dims` spatial dimensions and returns its
/// working form. Shapes are always checked; values (box order, finiteness) where the
/// tensors are on the CPU, since reading them elsewhere would synchronise the device.
pub(crate) fn to_working(
    op: &'static str,
    batch: &Batch,
    dims: usize,
    outlines_given: bool,
) -> Result<(Working, Layout)> {
    let b = crate::checks::input(op, &batch.image, dims)?;
    let image = b.x;
    let shape = image.size();
    let bsz = shape[0];
    let spatial = &shape[2..];
    let kind = image.kind();
    let device = image.device();
    let add = |t: &Tensor| {
        if b.unbatched {
            t.unsqueeze(0)
        } else {
            t.shallow_clone()
        }
    };
    let err = |what: &'static str, problem: String| Error::Annotation { op, what, problem };

    // Masks.
    let (masks, mask_kind, mask_had_channel) = match &batch.masks {
        None => (None, None, false),
        Some(m) => {
            let m = add(m);
            let ms = m.size();
            let with_channel = ms.len() == dims + 2;
            let without = ms.len() == dims + 1;
            let ok_rank = with_channel || without;
            let m_spatial = if with_channel {
                &ms[2..]
            } else if without {
                &ms[1..]
            } else {
                &ms[..0]
            };
            if !ok_rank || ms[0] != bsz || m_spatial != spatial {
                let expected = if dims == 3 {
                    format!("(B,K,D,H,W) or (B,D,H,W) with B, D, H, W = {bsz}, {spatial:?}")
                } else {
                    format!("(B,K,H,W) or (B,H,W) with B, H, W = {bsz}, {spatial:?}")
                };
                return Err(err(
                    "mask",
                    format!(
                        "has shape {:?}; expected {expected} (the image is {:?})",
                        m.size(),
                        batch.image.size()
                    ),
                ));
            }
            let mk = m.kind();
            let m = if with_channel { m } else { m.unsqueeze(1) };
            (
                Some(m.to_device(device).to_kind(kind)),
                Some(mk),
                with_channel,
            )
        }
    };

    // Boxes.
    let outlines = match &batch.boxes {
        None => None,
        Some(bx) => {
            let data = add(&bx.data);
            let ds = data.size();
            let w = 2 * dims as i64;
            if ds.len() != 3 || ds[2] != w || ds[0] != bsz {
                return Err(err(
                    "boxes",
                    format!(
                        "have shape {:?}; expected (B, N, {w}) with B = {bsz} (or (N, {w}) for an unbatched image)",
                        bx.data.size()
                    ),
                ));
            }
            let n = ds[1];
            check_mask_like(op, "boxes.valid", bx.valid.as_ref().map(add), bsz, n)?;
            check_mask_like(
                op,
                "boxes.class_ids",
                bx.class_ids.as_ref().map(add),
                bsz,
                n,
            )?;
            if let Some(ids) = &bx.class_ids {
                if ids.is_floating_point() || ids.kind() == Kind::Bool {
                    return Err(err(
                        "class_ids",
                        format!("have kind {:?}; expected integer ids", ids.kind()),
                    ));
                }
            }
            let xyxy = bx
                .format
                .to_xyxy(&data.to_kind(point_kind(kind, data.kind())));
            if data.device() == Device::Cpu && n > 0 {
                check_box_values(op, &xyxy, bx.valid.as_ref().map(add).as_ref(), bx.format)?;
            }
            let corners = match (&bx.corners, outlines_given) {
                (Some(c), true) => {
                    let c = add(c);
                    let cs = c.size();
                    if cs.len() != 4 || cs[0] != bsz || cs[1] != n || cs[3] != dims as i64 {
                        return Err(err(
                            "boxes.corners",
                            format!(
                                "have shape {cs:?}; expected (B, N, P, {dims}) with B, N = {bsz}, {n}"
                            ),
                        ));
                    }
                    c.to_kind(point_kind(kind, c.kind()))
                }
                _ => box_corners(&xyxy),
            };
            Some(corners.to_device(device))
        }
    };

    // Keypoints.
    let keypoints = match &batch.keypoints {
        None => None,
        Some(kp) => {
            let p = add(&kp.points);
            let ps = p.size();
            if ps.len() != 3 || ps[0] != bsz || ps[2] != dims as i64 {
                return Err(err(
                    "keypoints",
                    format!(
                        "have shape {:?}; expected (B, N, {dims}) with B = {bsz} (or (N, {dims}) for an unbatched image)",
                        kp.points.size()
                    ),
                ));
            }
            check_mask_like(
                op,
                "keypoints.valid",
                kp.valid.as_ref().map(add),
                bsz,
                ps[1],
            )?;
            Some(p.to_device(device).to_kind(point_kind(kind, p.kind())))
        }
    };

    // Labels.
    if let Some(l) = &batch.labels {
        let ls = l.size();
        if ls != [bsz] || l.is_floating_point() || l.kind() == Kind::Bool {
            return Err(err(
                "labels",
                format!(
                    "have shape {ls:?} and kind {:?}; expected ({bsz},) integer class ids",
                    l.kind()
                ),
            ));
        }
    }
    let working = Working {
        image,
        masks,
        outlines,
        keypoints,
        labels: batch.labels.as_ref().map(|l| l.to_device(device)),
        mixed: None,
    };
    let layout = Layout {
        unbatched: b.unbatched,
        mask_kind,
        mask_had_channel,
        boxes: batch.boxes.clone(),
        keypoints: batch.keypoints.clone(),
        labels: batch.labels.as_ref().map(|l| l.shallow_clone()),
    };
    Ok((working, layout))
}

/// Points are computed in float64 when the image or the points are float64, else float32.
fn point_kind(image: Kind, points: Kind) -> Kind {
    if image == Kind::Double || points == Kind::Double {
        Kind::Double
    } else {
        Kind::Float
    }
}

fn check_mask_like(
    op: &'static str,
    what: &'static str,
    t: Option<Tensor>,
    b: i64,
    n: i64,
) -> Result<()> {
    if let Some(t) = t {
        if t.size() != [b, n] {
            return Err(Error::Annotation {
                op,
                what,
                problem: format!("has shape {:?}; expected ({b}, {n})", t.size()),
            });
        }
    }
    Ok(())
}

/// Every (valid) box must have finite numbers and non-negative extents (xyxy: x2 ≥ x1;
/// sizes: > 0), as Kornia requires. Reads the boxes (CPU only).
fn check_box_values(
    op: &'static str,
    xyxy: &Tensor,
    valid: Option<&Tensor>,
    format: BoxFormat,
) -> Result<()> {
    let d = xyxy.size()[2] / 2;
    let ext = xyxy.narrow(-1, d, d) - xyxy.narrow(-1, 0, d);
    let bad_order = match format {
        BoxFormat::Xyxy => ext.lt(0.0),
        // Sizes must be > 0: the inclusive extent w - 1 must be > -1.
        _ => ext.le(-1.0),
    }
    .any_dim(-1, false);
    let bad_value = xyxy.isfinite().logical_not().any_dim(-1, false);
    let bad = bad_order.logical_or(&bad_value);
    let bad = match valid {
        Some(v) => bad.logical_and(&v.to_device(bad.device()).to_kind(Kind::Bool)),
        None => bad,
    };
    let flat = bad.reshape([-1]);
    let idx = flat.nonzero();
    if idx.size()[0] > 0 {
        let i = idx.int64_value(&[0, 0]);
        let n = xyxy.size()[1];
        let (s, j) = (i / n, i % n);
        let row =
            Vec::<f64>::try_from(xyxy.get(s).get(j).to_kind(Kind::Double)).unwrap_or_default();
        let rule = match format {
            BoxFormat::Xyxy => "finite [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1",
            _ => "finite boxes with sizes > 0",
        };
        return Err(Error::Annotation {
            op,
            what: "boxes",
            problem: format!("box {j} of sample {s} is {row:?} (as xyxy); expected {rule}"),
        });
    }
    Ok(())
}

/// Gives the working form back in the caller's layout, applying `opts` to boxes and
/// keypoints (`finish`: clip, flag and drop, on forward outputs only).
pub(crate) fn from_working(
    w: Working,
    layout: &Layout,
    opts: &AnnotationOptions,
    finish: bool,
) -> Batch {
    let drop = |t: Tensor| {
        if layout.unbatched {
            t.squeeze_dim(0)
        } else {
            t
        }
    };
    let shape = w.image.size();
    let spatial: Vec<i64> = shape[2..].to_vec();
    let masks = w.masks.map(|m| {
        let m = if layout.mask_had_channel {
            m
        } else {
            m.squeeze_dim(1)
        };
        let m = match layout.mask_kind {
            Some(k) if k != m.kind() => m.to_kind(k),
            _ => m,
        };
        drop(m)
    });
    let boxes = match (w.outlines, &layout.boxes) {
        (Some(outlines), Some(orig)) => {
            let xyxy = enclosure(&outlines);
            let (xyxy, valid, visibility) = if finish {
                finish_boxes(&xyxy, orig.valid.as_ref(), &spatial, opts, layout.unbatched)
            } else {
                (xyxy, orig.valid.as_ref().map(|v| v.shallow_clone()), None)
            };
            let data = orig.format.from_xyxy(&xyxy).to_kind(box_kind(&orig.data));
            Some(Boxes {
                data: drop(data),
                format: orig.format,
                valid,
                class_ids: orig.class_ids.as_ref().map(|t| t.shallow_clone()),
                visibility: visibility.map(drop),
                corners: Some(drop(outlines)),
            })
        }
        _ => None,
    };
    let keypoints = match (w.keypoints, &layout.keypoints) {
        (Some(p), Some(orig)) => {
            let valid = if finish && opts.flag_outside {
                let inside = inside(&p, &spatial);
                let inside = drop(inside);
                Some(match &orig.valid {
                    Some(v) => v.to_device(inside.device()).logical_and(&inside),
                    None => inside,
                })
            } else {
                orig.valid.as_ref().map(|v| v.shallow_clone())
            };
            Some(Keypoints {
                points: drop(p.to_kind(box_kind(&orig.points))),
                valid,
            })
        }
        _ => None,
    };
    Batch {
        image: drop(w.image),
        masks,
        boxes,
        keypoints,
        labels: layout.labels.as_ref().map(|l| l.shallow_clone()),
        mixed: w.mixed,
    }
}

/// Boxes and keypoints come back in their own float kind; integer ones as float32, as
/// Kornia returns them.
fn box_kind(t: &Tensor) -> Kind {
    if t.is_floating_point() {
        t.kind()
    } else {
        Kind::Float
    }
}

/// Whether points (B,N,d) lie in the output `[0, size-1]` on every axis.
fn inside(points: &Tensor, spatial: &[i64]) -> Tensor {
    let d = spatial.len();
    let mut ok: Option<Tensor> = None;
    for i in 0..d {
        let size = spatial[d - 1 - i];
        let c = points.select(-1, i as i64);
        let o = c.ge(0.0).logical_and(&c.le((size - 1) as f64));
        ok = Some(match ok {
            None => o,
            Some(a) => a.logical_and(&o),
        });
    }
    ok.expect("d >= 1")
}

/// Clips, flags and drops boxes (B,N,2d) xyxy per `opts`; returns (boxes, valid,
/// visibility). `valid` is `None` when nothing was given or flagged.
fn finish_boxes(
    xyxy: &Tensor,
    valid: Option<&Tensor>,
    spatial: &[i64],
    opts: &AnnotationOptions,
    unbatched: bool,
) -> (Tensor, Option<Tensor>, Option<Tensor>) {
    let d = spatial.len() as i64;
    let lo = xyxy.narrow(-1, 0, d);
    let hi = xyxy.narrow(-1, d, d);
    let kind = xyxy.kind();
    let device = xyxy.device();
    // Upper limits x: W-1, y: H-1, (z: D-1).
    let limits: Vec<f64> = spatial.iter().rev().map(|&s| (s - 1) as f64).collect();
    let limits = crate::ops::constant(&limits, kind, device);
    let zero = limits.zeros_like();
    let clo = lo.maximum(&zero).minimum(&limits);
    let chi = hi.maximum(&zero).minimum(&limits);
    let size = |a: &Tensor, b: &Tensor| (b - a + 1.0).clamp_min(0.0).prod_dim_int(-1, false, kind);
    let area = size(&lo, &hi);
    // A clipped box is empty when it lies outside on some axis.
    let outside = hi
        .lt_tensor(&zero)
        .logical_or(&lo.gt_tensor(&limits))
        .any_dim(-1, false);
    let clipped_area = size(&clo, &chi).where_scalarother(&outside.logical_not(), 0.0);
    let visibility = (&clipped_area / area.clamp_min(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
    let mut keep: Option<Tensor> = None;
    let mut and = |t: Tensor| {
        keep = Some(match keep.take() {
            None => t,
            Some(k) => k.logical_and(&t),
        })
    };
    if opts.flag_outside {
        and(outside.logical_not());
    }
    if opts.min_visibility > 0.0 {
        and(visibility.ge(opts.min_visibility - 1e-7));
    }
    if opts.min_area > 0.0 {
        and(clipped_area.ge(opts.min_area));
    }
    let drop = |t: Tensor| if unbatched { t.squeeze_dim(0) } else { t };
    let valid = match (valid, keep) {
        (Some(v), Some(k)) => Some(v.to_device(device).logical_and(&drop(k))),
        (Some(v), None) => Some(v.shallow_clone()),
        (None, Some(k)) => Some(drop(k)),
        (None, None) => None,
    };
    let out = if opts.clip_boxes {
        Tensor::cat(&[clo, chi], -1)
    } else {
        xyxy.shallow_clone()
    };
    (out, valid, Some(visibility))
}
