//! Oriented boxes (torchvision's rotated formats): conversions between their layouts and
//! four corners, and what a pipeline's output makes of carried corners.
//!
//! Oriented boxes use torchvision's continuous coordinates: pixel `i` spans `[i, i + 1)`,
//! the image spans `[0, W] × [0, H]`, and `w`, `h` are lengths. Inside a pipeline their
//! corners travel in the crate's pixel-index space (`x - 0.5`), where Kornia's operators
//! (and the crate's) map points, so that a flip maps `x` to `W - x` as torchvision does.
//!
//! The four corners of a box are `p1 = (x1, y1)`, `p2 = p1 + w (cos r, -sin r)`,
//! `p3 = p2 + h (sin r, cos r)`, `p4 = p1 + h (sin r, cos r)` (`r` in degrees,
//! counter-clockwise on the screen): for `r = 0` top-left, top-right, bottom-right,
//! bottom-left, the order of the axis-aligned corners.

use super::visible::{signed_area, Visible};
use super::BoxFormat;
use tch::Tensor;

/// Half a pixel: pixel-index coordinates are continuous ones minus this.
pub(crate) const HALF_PIXEL: f64 = 0.5;

/// The four corners (…, 4, 2) of oriented boxes (…, 5) or (…, 8) in `format` (continuous
/// coordinates). Axis-aligned formats are not oriented: the caller checks.
pub(crate) fn to_corners(format: BoxFormat, data: &Tensor) -> Tensor {
    match format {
        BoxFormat::Xyxyxyxy => {
            let mut shape = data.size();
            shape.pop();
            shape.extend([4, 2]);
            data.reshape(shape.as_slice())
        }
        _ => Rect::from_format(format, data).corners(),
    }
}

/// The corners (…, 4, 2) of oriented boxes in pixel-index space, where the steps map
/// points and the image is drawn: their continuous coordinates less half a pixel.
pub(crate) fn pixel_corners(format: BoxFormat, data: &Tensor) -> Tensor {
    to_corners(format, data) - HALF_PIXEL
}

/// (…) the length of vectors (…, 2).
fn length(d: Tensor) -> Tensor {
    d.square().sum_dim_intlist(-1, false, None).sqrt()
}

/// Oriented boxes in `format` from their four corners (…, 4, 2) (continuous coordinates),
/// read as torchvision reads them: `r` from the edge p1 → p2, `w = |p2 - p1|`,
/// `h = |p3 - p2|`.
pub(crate) fn from_corners(format: BoxFormat, corners: &Tensor) -> Tensor {
    if format == BoxFormat::Xyxyxyxy {
        let mut lead = corners.size();
        lead.truncate(lead.len() - 2);
        lead.push(8);
        return corners.reshape(lead.as_slice());
    }
    let p = |i: i64| corners.select(-2, i);
    let (p1, p2, p3) = (p(0), p(1), p(2));
    let x = |t: &Tensor| t.select(-1, 0);
    let y = |t: &Tensor| t.select(-1, 1);
    let r = (y(&p1) - y(&p2)).atan2(&(x(&p2) - x(&p1)));
    let w = length(&p2 - &p1);
    let h = length(&p3 - &p2);
    let (x1, y1) = (x(&p1), y(&p1));
    let (a, b) = match format {
        BoxFormat::Xywhr => (x1, y1),
        _ => {
            let (c, s) = (r.cos(), r.sin());
            let (hw, hh) = (&w / 2.0, &h / 2.0);
            (x1 + &hw * &c + &hh * &s, y1 - &hw * &s + &hh * &c)
        }
    };
    Tensor::stack(&[a, b, w, h, r.rad2deg()], -1)
}

/// Corners (…, 4, 2) in the box order: a map that mirrors (a flip) reverses the order of
/// the corners around the box, which is put right by swapping p1 with p2 and p3 with p4,
/// as torchvision's flips do. The order is right when the corners turn clockwise on the
/// screen (y down), as those of an axis-aligned box from its top-left corner do.
pub(crate) fn in_box_order(corners: &Tensor) -> Tensor {
    let signed = signed_area(corners);
    let swapped = corners.index_select(
        -2,
        &Tensor::from_slice(&[1i64, 0, 3, 2]).to_device(corners.device()),
    );
    swapped.where_self(&signed.lt(0.0).unsqueeze(-1).unsqueeze(-1), corners)
}

/// (…, 2) the sides `[w, h]` of boxes given by their corners (…, 4, 2): `|p2 - p1|`,
/// `|p3 - p2|`.
pub(crate) fn sides(corners: &Tensor) -> Tensor {
    let p = |i: i64| corners.select(-2, i);
    Tensor::stack(&[length(p(1) - p(0)), length(p(2) - p(1))], -1)
}

/// Oriented boxes (…, k) in `format` clamped to an image of `(height, width)` as
/// torchvision's soft clamping does: the smallest box of the same angle around the part of
/// each box inside `[0, width] × [0, height]`; a box with nothing inside stays as it is.
pub(crate) fn clamp(format: BoxFormat, data: &Tensor, (height, width): (i64, i64)) -> Tensor {
    let corners = in_box_order(&to_corners(format, data));
    let s = corners.size();
    let flat = corners.reshape([1, -1, 4, 2]);
    let region = Visible::start(&(&flat - HALF_PIXEL), &[height, width], HALF_PIXEL);
    let rect = Rect::from_parallelogram(&flat);
    let clamped = rect
        .around(&(&region.poly + HALF_PIXEL))
        .or(&region.alive, rect);
    let out = clamped.to_format(format);
    let mut shape = s[..s.len() - 2].to_vec();
    shape.push(out.size()[2]);
    out.reshape(shape.as_slice())
}

/// An oriented rectangle (…) as its centre, its sides and its angle (radians).
pub(crate) struct Rect {
    cx: Tensor,
    cy: Tensor,
    w: Tensor,
    h: Tensor,
    r: Tensor,
}

impl Rect {
    /// Oriented boxes (…, 5) in `format` (`Xywhr` or `Cxcywhr`) as rectangles: the centre
    /// of an `Xywhr` box is its first corner plus half of each side, as torchvision
    /// converts it.
    fn from_format(format: BoxFormat, data: &Tensor) -> Rect {
        let v = |i: i64| data.select(-1, i);
        let (w, h, r) = (v(2), v(3), v(4).deg2rad());
        let (cx, cy) = if format == BoxFormat::Xywhr {
            let (c, s) = (r.cos(), r.sin());
            let (hw, hh) = (&w / 2.0, &h / 2.0);
            (v(0) + &hw * &c + &hh * &s, v(1) - &hw * &s + &hh * &c)
        } else {
            (v(0), v(1))
        };
        Rect { cx, cy, w, h, r }
    }

    /// The rectangle torchvision makes of a parallelogram (…, 4, 2) (what a shear or a
    /// resize that changes the aspect ratio leaves of an oriented box): the corners of its
    /// longer diagonal stay; the longer of the sides p1 p2 and p1 p4 keeps its direction.
    /// A rectangle is left as it is (up to rounding).
    pub(crate) fn from_parallelogram(corners: &Tensor) -> Rect {
        let p = |i: i64| corners.select(-2, i);
        let (p1, p2, p3, p4) = (p(0), p(1), p(2), p(3));
        let x = |t: &Tensor| t.select(-1, 0);
        let y = |t: &Tensor| t.select(-1, 1);
        let cx = (x(&p1) + x(&p3)) / 2.0;
        let cy = (y(&p1) + y(&p3)) / 2.0;
        let wp = length(&p2 - &p1);
        let hp = length(&p4 - &p1);
        let r12 = (y(&p1) - y(&p2)).atan2(&(x(&p2) - x(&p1)));
        let r14 = (y(&p1) - y(&p4)).atan2(&(x(&p4) - x(&p1)));
        // The angle between the sides: π/2 for a rectangle.
        let between = &r12 - &r14;
        let sign = between
            .gt(std::f64::consts::FRAC_PI_2)
            .to_kind(between.kind())
            * -2.0
            + 1.0;
        let (c, s) = (between.cos(), between.sin());
        let w = (&wp * &s).where_self(&wp.lt_tensor(&hp), &(&wp + &hp * &c * &sign));
        let h = (&hp * &s).where_self(&wp.gt_tensor(&hp), &(&hp + &wp * &c * &sign));
        let r = (&r14 + std::f64::consts::FRAC_PI_2).where_self(&hp.gt_tensor(&wp), &r12);
        Rect { cx, cy, w, h, r }
    }

    /// The smallest rectangle of the same angle around polygons (…, V, 2) (the visible part
    /// of each box): torchvision's "soft" clamping of an oriented box to the image.
    pub(crate) fn around(&self, poly: &Tensor) -> Rect {
        let (c, s) = (self.r.cos().unsqueeze(-1), self.r.sin().unsqueeze(-1));
        let dx = poly.select(-1, 0) - self.cx.unsqueeze(-1);
        let dy = poly.select(-1, 1) - self.cy.unsqueeze(-1);
        // Along the box's x axis (cos r, -sin r) and its y axis (sin r, cos r).
        let a = &dx * &c - &dy * &s;
        let b = &dx * &s + &dy * &c;
        let lo_hi = |t: &Tensor| {
            (
                t.amin([-1i64].as_slice(), false),
                t.amax([-1i64].as_slice(), false),
            )
        };
        let (a0, a1) = lo_hi(&a);
        let (b0, b1) = lo_hi(&b);
        let (am, bm) = ((&a0 + &a1) / 2.0, (&b0 + &b1) / 2.0);
        let (c, s) = (c.squeeze_dim(-1), s.squeeze_dim(-1));
        Rect {
            cx: &self.cx + &am * &c + &bm * &s,
            cy: &self.cy - &am * &s + &bm * &c,
            w: a1 - a0,
            h: b1 - b0,
            r: self.r.shallow_clone(),
        }
    }

    /// `self` where `keep` (…) is true, `other` elsewhere.
    pub(crate) fn or(self, keep: &Tensor, other: Rect) -> Rect {
        let pick = |a: Tensor, b: Tensor| a.where_self(keep, &b);
        Rect {
            cx: pick(self.cx, other.cx),
            cy: pick(self.cy, other.cy),
            w: pick(self.w, other.w),
            h: pick(self.h, other.h),
            r: pick(self.r, other.r),
        }
    }

    /// (…, 2) the sides `[w, h]`.
    pub(crate) fn sides(&self) -> Tensor {
        Tensor::stack(&[&self.w, &self.h], -1)
    }

    /// The rectangle's four corners (…, 4, 2), p1 first.
    pub(crate) fn corners(&self) -> Tensor {
        let (c, s) = (self.r.cos(), self.r.sin());
        let (hw, hh) = (&self.w / 2.0, &self.h / 2.0);
        let (ax, ay) = (&hw * &c, -(&hw * &s));
        let (bx, by) = (&hh * &s, &hh * &c);
        let pt = |sa: f64, sb: f64| {
            Tensor::stack(
                &[
                    &self.cx + &ax * sa + &bx * sb,
                    &self.cy + &ay * sa + &by * sb,
                ],
                -1,
            )
        };
        Tensor::stack(
            &[pt(-1.0, -1.0), pt(1.0, -1.0), pt(1.0, 1.0), pt(-1.0, 1.0)],
            -2,
        )
    }

    /// The rectangle in `format` (an oriented one).
    pub(crate) fn to_format(&self, format: BoxFormat) -> Tensor {
        let deg = self.r.rad2deg();
        match format {
            BoxFormat::Cxcywhr => Tensor::stack(&[&self.cx, &self.cy, &self.w, &self.h, &deg], -1),
            BoxFormat::Xywhr => {
                let p1 = self.corners().select(-2, 0);
                Tensor::stack(
                    &[
                        p1.select(-1, 0),
                        p1.select(-1, 1),
                        self.w.shallow_clone(),
                        self.h.shallow_clone(),
                        deg,
                    ],
                    -1,
                )
            }
            _ => from_corners(BoxFormat::Xyxyxyxy, &self.corners()),
        }
    }
}
