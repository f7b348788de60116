//! The working form of a record inside a pipeline, and the boundary: checking a [`Batch`]
//! against the image and converting it in, giving it back in the caller's layout with the
//! box options applied.

use super::oriented::{self, Rect, HALF_PIXEL};
use super::visible::{polygon_area, Visible};
use super::{AnnotationOptions, Batch, BoxFormat, BoxMode, BoxSize, Boxes, Keypoints, MixedLabels};
use crate::geometry::{box_corners, enclosure, Geometry};
use crate::{Error, Result};
use tch::{Device, Kind, Tensor};

/// The form a record ([`crate::Batch`]) takes inside a pipeline, crate-internal. Masks are
/// float (B,K,…) in the image's kind; boxes are outlines (B,N,P,d).
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) image: Tensor,
    pub(crate) masks: Option<Tensor>,
    pub(crate) outlines: Option<Tensor>,
    pub(crate) keypoints: Option<Tensor>,
    pub(crate) labels: Option<Tensor>,
    pub(crate) mixed: Option<MixedLabels>,
    /// With [`AnnotationOptions::visible_region`]: each 2D box's visible region, and
    /// (B,N) whether each keypoint has stayed inside every frame so far.
    pub(crate) visible: Option<Visible>,
    pub(crate) keypoints_inside: Option<Tensor>,
    /// The boxes are oriented (torchvision's continuous coordinates): their visible region
    /// is clipped to the image's edges, half a pixel past the outer pixel centres.
    pub(crate) oriented: bool,
    /// Where each carried box came from and whether its row holds one: the caller's
    /// validity, then what the steps dropped (RandomIoUCrop) or regrouped (RandomMosaic:
    /// each output holds the boxes of several inputs); `None`: box `n` of image `b` is the
    /// input's, and every row holds one.
    pub(crate) box_source: Option<BoxSource>,
}

/// Where the carried boxes (B,N') came from: a row of the input's (B,N) boxes, or none.
#[derive(Debug)]
pub(crate) struct BoxSource {
    /// (B,N') int64: each carried box's row in the input's boxes, flattened (b·N + n).
    pub(crate) index: Tensor,
    /// (B,N') bool: whether the row holds a box (not padding, not dropped by a step).
    pub(crate) valid: Tensor,
}

impl BoxSource {
    /// Every box from its own row: box `n` of image `b` of (B,N) boxes.
    pub(crate) fn own(b: i64, n: i64, device: Device) -> Result<BoxSource> {
        let index = Tensor::f_arange(b * n, (Kind::Int64, device))?.f_view([b, n])?;
        let valid = index.f_ones_like()?.f_to_kind(Kind::Bool)?;
        Ok(BoxSource { index, valid })
    }

    /// The input's per-box values `t` (B,N) for the carried boxes (B,N'); rows that hold no
    /// box get `t`'s zero.
    fn gather(&self, t: &Tensor) -> Tensor {
        let t = t.to_device(self.index.device());
        t.reshape([-1])
            .index_select(0, &self.index.reshape([-1]))
            .view(self.index.size().as_slice())
            .where_scalarother(&self.valid, 0)
    }
}

impl Record {
    pub(crate) fn image_only(image: Tensor) -> Record {
        Record {
            image,
            masks: None,
            outlines: None,
            keypoints: None,
            labels: None,
            mixed: None,
            visible: None,
            keypoints_inside: None,
            oriented: false,
            box_source: None,
        }
    }

    /// With [`AnnotationOptions::visible_region`], starts following what is visible: each
    /// 2D box's region clipped to the input frame, and which keypoints lie inside it.
    pub(crate) fn start_visible(&mut self, opts: &AnnotationOptions) {
        if !opts.visible_region {
            return;
        }
        let spatial = self.image.size()[2..].to_vec();
        if let Some(o) = &self.outlines {
            if o.size()[3] == 2 {
                self.visible = Some(Visible::start(o, &spatial, self.frame_margin()));
            }
        }
        self.keypoints_inside = self.keypoints.as_ref().map(|k| inside(k, &spatial));
    }

    /// Maps what is visible through a step's geometry `g` (before its clip).
    pub(crate) fn map_visible(&mut self, g: &Geometry) {
        self.visible = self.visible.take().map(|v| v.map(g));
    }

    /// Clips what is visible to a step's output frame `spatial` (…, H, W) (its keypoints
    /// are already mapped).
    pub(crate) fn clip_visible(&mut self, spatial: &[i64]) {
        let d = self.image.dim() - 2;
        let spatial = &spatial[spatial.len() - d..];
        let margin = self.frame_margin();
        self.visible = self.visible.take().map(|v| v.clip(spatial, margin));
        if let (Some(ok), Some(k)) = (&self.keypoints_inside, &self.keypoints) {
            self.keypoints_inside = Some(ok.logical_and(&inside(k, spatial)));
        }
    }

    /// How far past the outer pixel centres the frame of the boxes' visible region reaches.
    fn frame_margin(&self) -> f64 {
        if self.oriented {
            HALF_PIXEL
        } else {
            0.0
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
pub(crate) fn to_record(
    op: &'static str,
    batch: &Batch,
    dims: usize,
    outlines_given: bool,
) -> Result<(Record, Layout)> {
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
            if with_channel && ms[1] == 0 {
                return Err(err(
                    "mask",
                    format!(
                        "has shape {ms:?}: no channels (K = 0); give at least one, or no masks"
                    ),
                ));
            }
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
            let Some(w) = bx.format.numbers(dims) else {
                return Err(err(
                    "boxes",
                    format!(
                        "are {:?}, an oriented format: oriented boxes are 2D, this is a \
                         {dims}D augmentation; give Xyxy, Xywh or Cxcywh boxes",
                        bx.format
                    ),
                ));
            };
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
            let data = data.to_kind(point_kind(kind, data.kind()));
            let valid = bx.valid.as_ref().map(add);
            let check = data.device() == Device::Cpu && n > 0;
            let own = if bx.format.is_oriented() {
                if check {
                    check_oriented_values(op, &data, valid.as_ref(), bx.format)?;
                }
                oriented::pixel_corners(bx.format, &data)
            } else {
                let xyxy = bx.format.to_xyxy(&data);
                if check {
                    check_box_values(op, &xyxy, valid.as_ref(), bx.format)?;
                }
                box_corners(&xyxy)
            };
            let corners = match (&bx.corners, outlines_given) {
                (Some(c), true) => {
                    let c = add(c);
                    let cs = c.size();
                    // Oriented boxes' corners sit at 0, P/4, P/2, 3P/4 of their outline.
                    let points_ok =
                        |p: i64| p >= 1 && (!bx.format.is_oriented() || (p >= 4 && p % 4 == 0));
                    if cs.len() != 4
                        || cs[0] != bsz
                        || cs[1] != n
                        || cs[3] != dims as i64
                        || !points_ok(cs[2])
                    {
                        return Err(err(
                            "boxes.corners",
                            format!(
                                "have shape {cs:?}; expected (B, N, P, {dims}) with B, N = {bsz}, {n} \
                                 and P >= 1 (oriented boxes: a multiple of 4), as a pipeline's \
                                 output carries them"
                            ),
                        ));
                    }
                    c.to_kind(point_kind(kind, c.kind()))
                }
                _ => own,
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
    let working = Record {
        image,
        masks,
        outlines,
        keypoints,
        labels: batch.labels.as_ref().map(|l| l.to_device(device)),
        mixed: None,
        visible: None,
        keypoints_inside: None,
        oriented: batch.boxes.as_ref().is_some_and(|b| b.format.is_oriented()),
        box_source: None,
    };
    // The caller's validity, for the steps that read which rows hold boxes (padding rows
    // of `Boxes::from_list` do not).
    let working = match (
        &working.outlines,
        batch.boxes.as_ref().and_then(|b| b.valid.as_ref()),
    ) {
        (Some(o), Some(v)) => {
            let own = BoxSource::own(o.size()[0], o.size()[1], device)?;
            Record {
                box_source: Some(BoxSource {
                    valid: add(v).to_device(device).to_kind(Kind::Bool),
                    index: own.index,
                }),
                ..working
            }
        }
        _ => working,
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

/// With [`AnnotationOptions::instance_masks`], the masks must have one channel per box.
pub(crate) fn check_instance_masks(
    op: &'static str,
    w: &Record,
    opts: &AnnotationOptions,
) -> Result<()> {
    if !opts.instance_masks {
        return Ok(());
    }
    let (Some(m), Some(o)) = (&w.masks, &w.outlines) else {
        return Ok(());
    };
    let (k, n) = (m.size()[1], o.size()[1]);
    if k != n {
        return Err(Error::Annotation {
            op,
            what: "mask",
            problem: format!(
                "has {k} channels, {n} boxes; instance_masks expects one channel per box \
                 (B, N, H, W)"
            ),
        });
    }
    Ok(())
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

/// Every (valid) oriented box must have finite numbers and sides of 0 or more. Reads the
/// boxes (CPU only).
fn check_oriented_values(
    op: &'static str,
    data: &Tensor,
    valid: Option<&Tensor>,
    format: BoxFormat,
) -> Result<()> {
    let bad = data.isfinite().logical_not().any_dim(-1, false);
    let bad = if format == BoxFormat::Xyxyxyxy {
        bad
    } else {
        bad.logical_or(&data.narrow(-1, 2, 2).lt(0.0).any_dim(-1, false))
    };
    let rule = match format {
        BoxFormat::Xyxyxyxy => "8 finite numbers",
        _ => "finite numbers with w >= 0 and h >= 0",
    };
    refuse_first_bad(op, &bad, valid, data, &format!("{format:?}"), rule)
}

/// The first valid box that `bad` (B,N) marks, as an error showing its row of `rows`
/// (B,N,k) (`shown`: in which form) and what was `expected`.
fn refuse_first_bad(
    op: &'static str,
    bad: &Tensor,
    valid: Option<&Tensor>,
    rows: &Tensor,
    shown: &str,
    expected: &str,
) -> Result<()> {
    let bad = match valid {
        Some(v) => bad.logical_and(&v.to_device(bad.device()).to_kind(Kind::Bool)),
        None => bad.shallow_clone(),
    };
    let idx = bad.reshape([-1]).nonzero();
    if idx.size()[0] > 0 {
        let i = idx.int64_value(&[0, 0]);
        let n = rows.size()[1];
        let (s, j) = (i / n, i % n);
        let row =
            Vec::<f64>::try_from(rows.get(s).get(j).to_kind(Kind::Double)).unwrap_or_default();
        return Err(Error::Annotation {
            op,
            what: "boxes",
            problem: format!("box {j} of sample {s} is {row:?} ({shown}); expected {expected}"),
        });
    }
    Ok(())
}

/// Oriented boxes travel as their corners: Kornia's box mode, which replaces every box by
/// the axis-aligned box around it after each step, would lose their angle.
pub(crate) fn check_box_mode(op: &'static str, w: &Record, opts: &AnnotationOptions) -> Result<()> {
    if w.oriented && opts.box_mode == BoxMode::Kornia {
        return Err(Error::Annotation {
            op,
            what: "boxes",
            problem: "are oriented, and the pipeline's box mode is Kornia's, which turns \
                      every box into the axis-aligned box around it after each step (Kornia \
                      has no oriented boxes); use BoxMode::Corners (the default) for \
                      oriented boxes"
                .into(),
        });
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
    let rule = match format {
        BoxFormat::Xyxy => "finite [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1",
        _ => "finite boxes with sizes > 0",
    };
    refuse_first_bad(op, &bad, valid, xyxy, "as xyxy", rule)
}

/// Gives the working form back in the caller's layout, applying `opts` to boxes and
/// keypoints (`finish`: clip, flag and drop, on forward outputs only).
pub(crate) fn from_record(
    w: Record,
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
    // The validity and class ids of the carried boxes: the source's validity already holds
    // the caller's (see `to_record`) and what the steps dropped; class ids are gathered from
    // the boxes' input rows.
    let lift = |t: &Tensor| {
        if layout.unbatched {
            t.unsqueeze(0)
        } else {
            t.shallow_clone()
        }
    };
    let (given_valid, class_ids) = match (&w.box_source, &layout.boxes) {
        (Some(s), Some(orig)) => {
            let ids = orig.class_ids.as_ref().map(|c| drop(s.gather(&lift(c))));
            (Some(drop(s.valid.shallow_clone())), ids)
        }
        (_, Some(orig)) => (
            orig.valid.as_ref().map(|v| v.shallow_clone()),
            orig.class_ids.as_ref().map(|c| c.shallow_clone()),
        ),
        (_, None) => (None, None),
    };
    let boxes = match (w.outlines, &layout.boxes) {
        (Some(outlines), Some(orig)) if orig.format.is_oriented() => {
            let f = finish_oriented(
                &outlines,
                orig.format,
                w.visible.as_ref(),
                &spatial,
                opts,
                finish,
            );
            let valid = kept(given_valid.as_ref(), f.keep.map(drop));
            Some(Boxes {
                data: drop(f.boxes.to_kind(box_kind(&orig.data))),
                format: orig.format,
                valid,
                class_ids,
                visibility: f.visibility.map(drop),
                corners: Some(drop(outlines)),
            })
        }
        (Some(outlines), Some(orig)) => {
            let xyxy = enclosure(&outlines);
            let (xyxy, valid, visibility) = if finish {
                let seen = w.visible.as_ref().map(|v| (v, polygon_area(&outlines)));
                let f = finish_boxes(&xyxy, &spatial, opts, seen);
                let valid = kept(given_valid.as_ref(), f.keep.map(drop));
                (f.boxes, valid, Some(f.visibility))
            } else {
                (xyxy, given_valid, None)
            };
            let data = orig.format.from_xyxy(&xyxy).to_kind(box_kind(&orig.data));
            Some(Boxes {
                data: drop(data),
                format: orig.format,
                valid,
                class_ids,
                visibility: visibility.map(drop),
                corners: Some(drop(outlines)),
            })
        }
        _ => None,
    };
    // Instance masks follow their boxes: a box marked invalid takes its channel with it.
    let instance_keep = match (&boxes, opts.instance_masks && finish) {
        (Some(Boxes { valid: Some(v), .. }), true) => Some(v.shallow_clone()),
        _ => None,
    };
    let masks = w.masks.map(|m| {
        let m = match &instance_keep {
            Some(v) if m.size()[1] == v.size()[v.dim() - 1] => {
                let v = if layout.unbatched {
                    v.unsqueeze(0)
                } else {
                    v.shallow_clone()
                };
                let shape: Vec<i64> = v
                    .size()
                    .into_iter()
                    .chain(std::iter::repeat_n(1, m.dim() - 2))
                    .collect();
                &m * v
                    .to_device(m.device())
                    .to_kind(m.kind())
                    .view(shape.as_slice())
            }
            _ => m,
        };
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
    let keypoints = match (w.keypoints, &layout.keypoints) {
        (Some(p), Some(orig)) => {
            let valid = if finish && opts.flag_outside {
                // Inside the output, and (following the visible region) inside every frame.
                let inside = match &w.keypoints_inside {
                    Some(ok) => ok.logical_and(&inside(&p, &spatial)),
                    None => inside(&p, &spatial),
                };
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

/// The output validity: the caller's (`valid`) and what the options kept (`keep`, in the
/// caller's layout), either, or none.
fn kept(valid: Option<&Tensor>, keep: Option<Tensor>) -> Option<Tensor> {
    match (valid, keep) {
        (Some(v), Some(k)) => Some(v.to_device(k.device()).logical_and(&k)),
        (Some(v), None) => Some(v.shallow_clone()),
        (None, keep) => keep,
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

/// Whether points (B,N,d) lie in the frame `[0, size-1]` on every axis of `spatial`.
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

/// Which boxes `opts` keep (`None`: it asks nothing): those with something `present`
/// (B,N), a `visibility` (B,N), an `area` (B,N) of their part inside and `sides` (B,N,d)
/// at least what it asks; the area and sides are computed only where asked.
fn kept_by(
    opts: &AnnotationOptions,
    present: &Tensor,
    visibility: &Tensor,
    area: impl FnOnce() -> Tensor,
    sides: impl FnOnce() -> Tensor,
) -> Option<Tensor> {
    let mut keep: Option<Tensor> = None;
    let mut and = |t: Tensor| {
        keep = Some(match keep.take() {
            None => t,
            Some(k) => k.logical_and(&t),
        })
    };
    if opts.flag_outside {
        and(present.shallow_clone());
    }
    if opts.min_visibility > 0.0 {
        and(visibility.ge(opts.min_visibility - 1e-7));
    }
    if opts.min_area > 0.0 {
        and(area().ge(opts.min_area));
    }
    if opts.min_size > 0.0 {
        let small = sides().lt(opts.min_size).any_dim(-1, false);
        and(small.logical_not().logical_and(present));
    }
    keep
}

/// Output boxes with their sanitising: what [`finish_boxes`] gives back.
struct Finished {
    /// (B,N,2d) xyxy.
    boxes: Tensor,
    /// (B,N) which boxes pass `opts` (`None`: nothing asked).
    keep: Option<Tensor>,
    /// (B,N) the visible fraction of each box.
    visibility: Tensor,
}

/// Clips, flags and drops boxes (B,N,2d) xyxy per `opts`. With `seen` (the visible region
/// and the whole box's area), a box is the enclosure of its region and its visibility the
/// region's share of the area; without, a box is clipped to the output frame.
fn finish_boxes(
    xyxy: &Tensor,
    spatial: &[i64],
    opts: &AnnotationOptions,
    seen: Option<(&Visible, Tensor)>,
) -> Finished {
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
    let extra = match opts.size {
        BoxSize::Inclusive => 1.0,
        BoxSize::Continuous => 0.0,
    };
    let sizes = |a: &Tensor, b: &Tensor| (b - a + extra).clamp_min(0.0);
    let area = |a: &Tensor, b: &Tensor| sizes(a, b).prod_dim_int(-1, false, kind);
    let following = seen.is_some();
    let (clipped, gone, visibility) = match seen {
        None => {
            // A clipped box is empty when it lies outside on some axis.
            let outside = hi
                .lt_tensor(&zero)
                .logical_or(&lo.gt_tensor(&limits))
                .any_dim(-1, false);
            let whole = area(&lo, &hi);
            let part = area(&clo, &chi).where_scalarother(&outside.logical_not(), 0.0);
            let visibility = (&part / whole.clamp_min(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
            (Tensor::cat(&[clo, chi], -1), outside, visibility)
        }
        Some((region, whole)) => {
            let alive = &region.alive;
            let fallback = Tensor::cat(&[clo, chi], -1);
            let boxes = region
                .enclosure()
                .to_kind(kind)
                .where_self(&alive.unsqueeze(-1), &fallback);
            (boxes, alive.logical_not(), region.share(&whole, kind))
        }
    };
    let (clo, chi) = (clipped.narrow(-1, 0, d), clipped.narrow(-1, d, d));
    let there = gone.logical_not();
    let keep = kept_by(
        opts,
        &there,
        &visibility,
        || area(&clo, &chi).where_scalarother(&there, 0.0),
        || sizes(&clo, &chi),
    );
    let boxes = if opts.clip_boxes || following {
        clipped
    } else {
        xyxy.shallow_clone()
    };
    Finished {
        boxes,
        keep,
        visibility,
    }
}

/// Oriented output boxes with their sanitising: what [`finish_oriented`] gives back.
struct FinishedOriented {
    /// (B,N,5) or (B,N,8) in the boxes' format.
    boxes: Tensor,
    /// (B,N) which boxes pass `opts` (`None`: nothing asked, or not `finish`).
    keep: Option<Tensor>,
    /// (B,N) the visible fraction of each box (`None`: not `finish`).
    visibility: Option<Tensor>,
}

/// Oriented boxes from their carried outlines (B,N,P,2) (pixel-index space; the corners
/// at 0, P/4, P/2, 3P/4): the corners put back in box order and made a rectangle (what
/// torchvision makes of a parallelogram). With `finish`, the part of each box inside the
/// output (`visible`, the region followed step by step, else that rectangle clipped to the
/// output) gives its visibility and, with `clip_boxes` or the visible region, the box: the
/// smallest one of the same angle around that part (torchvision's soft clamping).
fn finish_oriented(
    outlines: &Tensor,
    format: BoxFormat,
    visible: Option<&Visible>,
    spatial: &[i64],
    opts: &AnnotationOptions,
    finish: bool,
) -> FinishedOriented {
    let p = outlines.size()[2];
    let at = Tensor::from_slice(&[0, p / 4, p / 2, 3 * p / 4]).to_device(outlines.device());
    let corners = oriented::in_box_order(&(outlines.index_select(2, &at) + HALF_PIXEL));
    let rect = Rect::from_parallelogram(&corners);
    if !finish {
        return FinishedOriented {
            boxes: rect.to_format(format),
            keep: None,
            visibility: None,
        };
    }
    // The part inside: the region followed step by step, else the box (the rectangle, as
    // torchvision clamps it) clipped to the output.
    let clipped;
    let (region, whole) = match visible {
        Some(v) => (v, polygon_area(outlines)),
        None => {
            let own = rect.corners() - HALF_PIXEL;
            clipped = Visible::start(&own, spatial, HALF_PIXEL);
            (&clipped, polygon_area(&own))
        }
    };
    let kind = outlines.kind();
    let alive = &region.alive;
    let inside = region.area().to_kind(kind);
    let visibility = region.share(&whole, kind);
    let rect = if opts.clip_boxes || visible.is_some() {
        rect.around(&(&region.poly + HALF_PIXEL)).or(alive, rect)
    } else {
        rect
    };
    let keep = kept_by(opts, alive, &visibility, || inside, || rect.sides());
    FinishedOriented {
        boxes: rect.to_format(format),
        keep,
        visibility: Some(visibility),
    }
}

/// On the CPU, refuses an output whose valid boxes or keypoints are not finite although the
/// input's were: coordinates that overflow float32 through the steps' transforms (a box at
/// 3e38 through a rotation) are an error, not NaN. Nothing is read back from a GPU.
pub(crate) fn check_output_finite(op: &'static str, input: &Batch, output: &Batch) -> Result<()> {
    let finite = |t: &Tensor, valid: Option<&Tensor>| -> bool {
        if t.device() != Device::Cpu || t.numel() == 0 {
            return true;
        }
        let ok = t.isfinite().all_dim(-1, false);
        let ok = match valid {
            Some(v) if v.size() == ok.size() => ok.logical_or(&v.to_kind(Kind::Bool).logical_not()),
            _ => ok,
        };
        bool::try_from(ok.all()).unwrap_or(false)
    };
    let pairs = [
        (
            "boxes",
            input.boxes.as_ref().map(|b| (&b.data, b.valid.as_ref())),
            output.boxes.as_ref().map(|b| (&b.data, b.valid.as_ref())),
        ),
        (
            "keypoints",
            input
                .keypoints
                .as_ref()
                .map(|k| (&k.points, k.valid.as_ref())),
            output
                .keypoints
                .as_ref()
                .map(|k| (&k.points, k.valid.as_ref())),
        ),
    ];
    for (what, before, after) in pairs {
        if let (Some((a, va)), Some((b, vb))) = (before, after) {
            if finite(a, va) && !finite(b, vb) {
                return Err(Error::Annotation {
                    op,
                    what,
                    problem: "overflow float32 through the transforms: the output has \
                              non-finite coordinates for finite input ones; give coordinates \
                              of image magnitude"
                        .into(),
                });
            }
        }
    }
    Ok(())
}
