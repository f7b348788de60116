//! The visible region of each 2D box: the part of the box still inside the frame, as a
//! convex polygon clipped against every step's output frame and mapped by the next step.
//!
//! A polygon is (B,N,V,2) with a fixed vertex count V: a region with fewer vertices repeats
//! its last one (a repeated vertex adds nothing to the region, its area or its enclosure),
//! and a box with nothing left is marked in `alive`. Clipping a convex polygon against one
//! half-plane adds at most one vertex, so a clip against a frame grows V by 4: the shapes
//! are known without reading anything back from the device.

use crate::geometry::Geometry;
use tch::{Kind, Tensor};

/// The visible region of each box (2D only).
#[derive(Debug)]
pub(crate) struct Visible {
    /// (B,N,V,2) polygon vertices in order.
    pub(crate) poly: Tensor,
    /// (B,N) bool: whether anything of the box is left.
    pub(crate) alive: Tensor,
}

/// Points sampled along each edge of a box outline or region before a dense warp (its
/// edges do not stay straight there).
const DENSE_EDGE_POINTS: i64 = 8;

impl Visible {
    /// The region of boxes given as outlines (B,N,P,2) (corners in order), clipped to the
    /// input frame `spatial` (H, W) widened by `margin` (see [`Visible::clip`]).
    pub(crate) fn start(outlines: &Tensor, spatial: &[i64], margin: f64) -> Visible {
        let alive = outlines
            .select(-1, 0)
            .select(-1, 0)
            .ones_like()
            .to_kind(Kind::Bool);
        Visible {
            poly: outlines.shallow_clone(),
            alive,
        }
        .clip(spatial, margin)
    }

    /// The region mapped by `g` (points along the edges after a dense warp).
    pub(crate) fn map(self, g: &Geometry) -> Visible {
        let poly = match g {
            Geometry::None => return self,
            // Densified once or twice; a region with many vertices keeps them.
            Geometry::Dense(_) if self.poly.size()[2] <= 16 => densify(&self.poly),
            Geometry::Dense(_) => self.poly,
            Geometry::Matrix(_) => self.poly,
        };
        let s = poly.size();
        let mapped = g
            .map_points(&poly.reshape([s[0], s[1] * s[2], 2]))
            .reshape(s.as_slice());
        Visible {
            poly: mapped,
            alive: self.alive,
        }
    }

    /// The region clipped to the frame `[-margin, W-1+margin] × [-margin, H-1+margin]` of
    /// `spatial` (…, H, W): the outer pixel centres (margin 0, the crate's inclusive boxes)
    /// or the image's edges (margin ½, oriented boxes in continuous coordinates).
    pub(crate) fn clip(self, spatial: &[i64], margin: f64) -> Visible {
        let n = spatial.len();
        let (h, w) = (spatial[n - 2], spatial[n - 1]);
        let mut v = self;
        for (axis, bound, keep_above) in [
            (0, -margin, true),
            (0, (w - 1) as f64 + margin, false),
            (1, -margin, true),
            (1, (h - 1) as f64 + margin, false),
        ] {
            v = v.clip_half(axis, bound, keep_above);
        }
        v
    }

    /// One Sutherland–Hodgman pass against the half-plane `x[axis] >= bound` (or `<=`),
    /// batched: each edge (p, q) gives up to two vertices, the kept ones are moved to the
    /// front in order and the rest repeat the last kept one.
    fn clip_half(self, axis: i64, bound: f64, keep_above: bool) -> Visible {
        let p = self.poly;
        let s = p.size();
        let (b, n, v) = (s[0], s[1], s[2]);
        let x = p.select(-1, axis);
        let d = if keep_above {
            &x - bound
        } else {
            -(&x - bound)
        };
        let q = p.roll([-1], [2]);
        let dq = d.roll([-1], [2]);
        let p_in = d.ge(0.0);
        let q_in = dq.ge(0.0);
        let crosses = p_in.logical_xor(&q_in);
        // Where the edge crosses the line (d and dq of opposite signs, so d - dq is not 0).
        let denom = (&d - &dq).where_scalarother(&crosses, 1.0);
        let t = (&d / denom).clamp(0.0, 1.0).unsqueeze(-1);
        let cut = &p + (&q - &p) * t;
        // On the line exactly, whatever the rounding.
        let on_line = cut.select(-1, axis).full_like(bound);
        let cut = if axis == 0 {
            Tensor::stack(&[on_line, cut.select(-1, 1)], -1)
        } else {
            Tensor::stack(&[cut.select(-1, 0), on_line], -1)
        };
        // First vertex of the edge: q when both ends are in, the crossing when one is.
        let first = q.where_self(&p_in.logical_and(&q_in).unsqueeze(-1), &cut);
        let first_kept = p_in.logical_or(&q_in);
        // Second: q after the crossing when the edge comes back in.
        let second_kept = p_in.logical_not().logical_and(&q_in);
        let cand = Tensor::stack(&[first, q], 3).reshape([b, n, 2 * v, 2]);
        let kept = Tensor::stack(&[first_kept, second_kept], 3).reshape([b, n, 2 * v]);
        // Kept candidates first, in order; a convex region keeps at most v + 1.
        let idx = Tensor::arange(2 * v, (Kind::Int64, p.device()));
        let key = kept.logical_not().to_kind(Kind::Int64) * (2 * v) + &idx;
        let order = key.argsort(-1, false).narrow(-1, 0, v + 1);
        let count = kept.sum_dim_intlist(-1, true, Kind::Int64);
        let slot = idx.narrow(0, 0, v + 1).minimum(&(&count - 1).clamp_min(0));
        let pick = order.gather(-1, &slot, false);
        let poly = cand.gather(
            2,
            &pick.unsqueeze(-1).expand([b, n, v + 1, 2], false),
            false,
        );
        let alive = self.alive.logical_and(&count.squeeze_dim(-1).gt(0));
        Visible { poly, alive }
    }

    /// (B,N,4) xyxy enclosure of each region (of whatever the vertices hold where nothing
    /// is left: see `alive`).
    pub(crate) fn enclosure(&self) -> Tensor {
        crate::geometry::enclosure(&self.poly)
    }

    /// (B,N) area of each region (0 where nothing is left).
    pub(crate) fn area(&self) -> Tensor {
        polygon_area(&self.poly).where_scalarother(&self.alive, 0.0)
    }

    /// (B,N) the share of each box that is visible: the region's area over `whole` (B,N),
    /// the whole box's, in `kind`; a box of no area (a line or a point) is all visible
    /// while anything of it is left.
    pub(crate) fn share(&self, whole: &Tensor, kind: Kind) -> Tensor {
        let whole = whole.to_kind(kind);
        (self.area().to_kind(kind) / whole.clamp_min(f64::MIN_POSITIVE))
            .where_self(&whole.gt(0.0), &self.alive.to_kind(kind))
            .clamp(0.0, 1.0)
    }
}

/// (…) area of polygons (…,V,2) with vertices in order (the shoelace formula).
pub(crate) fn polygon_area(poly: &Tensor) -> Tensor {
    signed_area(poly).abs()
}

/// (…) signed area of polygons (…,V,2): positive when the vertices turn clockwise on the
/// screen (y down), as an axis-aligned box's corners from its top-left one do.
pub(crate) fn signed_area(poly: &Tensor) -> Tensor {
    let x = poly.select(-1, 0);
    let y = poly.select(-1, 1);
    let cross = &x * y.roll([-1], [-1]) - x.roll([-1], [-1]) * &y;
    cross.sum_dim_intlist(-1, false, None) / 2.0
}

/// Polygons (B,N,V,2) (box outlines, regions) as points along their edges (B,N,V·k,2).
pub(crate) fn densify(p: &Tensor) -> Tensor {
    let k = DENSE_EDGE_POINTS;
    let s = p.size();
    let t = (Tensor::arange(k, (p.kind(), p.device())) / k as f64).view([1, 1, 1, k, 1]);
    let next = p.roll([-1], [2]);
    let pts = p.unsqueeze(3) + (next - p).unsqueeze(3) * t;
    pts.reshape([s[0], s[1], s[2] * k, 2])
}
