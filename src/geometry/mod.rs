//! Geometry as a value: batched matrices ([`Transform`]), dense displacement fields
//! ([`DenseField`]), and what an augmentation reports ([`Geometry`]).
//!
//! Coordinates are in pixels (voxels) with centres on integers, `(x, y)` for images and
//! `(x, y, z)` for volumes, and a transform maps input (source) points to output
//! (destination) points, as Kornia's matrices do. Everything stays on the device: no value
//! is read back to the host, so nothing here synchronises with a GPU, except
//! [`Transform::f_checked_inverse`], which says so.

mod field;

pub use field::DenseField;

use crate::{Error, Result};
use tch::{Device, Kind, Tensor};

/// What a [`Transform`] is known to be, from the most to the least special. Composition
/// keeps the more general class of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransformClass {
    /// The identity.
    Identity,
    /// A pure translation: its inverse is exact.
    Translation,
    /// An affine map (last row `[0, …, 0, 1]`).
    Affine,
    /// A projective map (homography): points are divided by their last coordinate.
    Projective,
}

/// A batch of matrices mapping input points to output points: (B,3,3) for images, (B,4,4)
/// for volumes, with their [`TransformClass`].
///
/// Composition ([`Transform::then`]), inversion ([`Transform::inverse`]), point and box
/// mapping and the `p` gate ([`Transform::gated`]) are batched tensor ops on the matrices'
/// device. A batch of one broadcasts against any batch.
///
/// # Example
/// ```
/// use tch::{Device, Kind, Tensor};
/// use tch_dda::{Transform, TransformClass};
/// let shift = Transform::translation(&Tensor::from_slice(&[2.0f32, -1.0]).view([1, 2]));
/// let scale = Transform::new(
///     Tensor::from_slice(&[2.0f32, 0., 0., 0., 2., 0., 0., 0., 1.]).view([1, 3, 3]),
///     TransformClass::Affine,
/// );
/// let both = shift.then(&scale); // scale ∘ shift
/// let p = both.map_points(&Tensor::from_slice(&[1.0f32, 1.0]).view([1, 1, 2]));
/// assert_eq!(Vec::<f32>::try_from(p.view([-1])).unwrap(), [6.0, 0.0]);
/// let back = both.inverse().map_points(&p);
/// assert_eq!(Vec::<f32>::try_from(back.view([-1])).unwrap(), [1.0, 1.0]);
/// ```
#[derive(Debug)]
pub struct Transform {
    matrix: Tensor,
    class: TransformClass,
}

impl Clone for Transform {
    fn clone(&self) -> Self {
        Transform {
            matrix: self.matrix.shallow_clone(),
            class: self.class,
        }
    }
}

/// Below this |w|, a projected point is not divided (Kornia's
/// `convert_points_from_homogeneous`).
const HOMOGENEOUS_EPS: f64 = 1e-8;

impl Transform {
    /// Wraps a (B,3,3) or (B,4,4) floating point matrix.
    ///
    /// # Errors
    /// [`Error::Geometry`] for another shape or an integer kind.
    pub fn f_new(matrix: Tensor, class: TransformClass) -> Result<Transform> {
        let size = matrix.size();
        let square = size.len() == 3 && size[1] == size[2] && (size[1] == 3 || size[1] == 4);
        if !square || size[0] < 1 {
            return Err(Error::Geometry {
                what: "transform matrix",
                problem: format!("has shape {size:?}; expected (B,3,3) or (B,4,4) with B >= 1"),
            });
        }
        crate::checks::float_kind("Transform", matrix.kind())?;
        Ok(Transform { matrix, class })
    }

    /// Panicking form of [`Transform::f_new`].
    pub fn new(matrix: Tensor, class: TransformClass) -> Transform {
        crate::error::or_panic(Transform::f_new(matrix, class))
    }

    /// Wraps a matrix the crate built itself (shape known to be right).
    pub(crate) fn from_parts(matrix: Tensor, class: TransformClass) -> Transform {
        Transform { matrix, class }
    }

    /// The identity for `batch` samples with `dims` spatial dimensions (2 or 3).
    pub fn identity(batch: i64, dims: usize, kind: Kind, device: Device) -> Transform {
        let n = dims as i64 + 1;
        Transform {
            matrix: Tensor::eye(n, (kind, device)).expand([batch, n, n], false),
            class: TransformClass::Identity,
        }
    }

    /// The translation by `t` (B,2) (images) or (B,3) (volumes).
    pub fn translation(t: &Tensor) -> Transform {
        Transform {
            matrix: translation(t),
            class: TransformClass::Translation,
        }
    }

    /// The (B, n+1, n+1) matrices.
    pub fn matrix(&self) -> &Tensor {
        &self.matrix
    }

    /// What the transform is known to be.
    pub fn class(&self) -> TransformClass {
        self.class
    }

    /// The number of spatial dimensions: 2 or 3.
    pub fn dims(&self) -> usize {
        self.matrix.size()[1] as usize - 1
    }

    /// The batch size (1 broadcasts).
    pub fn batch(&self) -> i64 {
        self.matrix.size()[0]
    }

    /// `self`, then `next`: the matrix `next · self`.
    ///
    /// # Errors
    /// [`Error::Geometry`] when the dimensions differ, or the batch sizes differ and
    /// neither is 1.
    pub fn f_then(&self, next: &Transform) -> Result<Transform> {
        let (a, b) = (self.batch(), next.batch());
        if self.dims() != next.dims() || (a != b && a != 1 && b != 1) {
            return Err(Error::Geometry {
                what: "transforms to compose",
                problem: format!(
                    "have shapes {:?} and {:?}; expected the same dimension and batch sizes that are equal or 1",
                    self.matrix.size(),
                    next.matrix.size()
                ),
            });
        }
        Ok(self.then(next))
    }

    /// Panicking form of [`Transform::f_then`].
    pub fn then(&self, next: &Transform) -> Transform {
        let batch = self.batch().max(next.batch());
        let n = self.dims() as i64 + 1;
        if next.class == TransformClass::Identity && next.batch() <= self.batch() {
            return self.clone();
        }
        if self.class == TransformClass::Identity && self.batch() <= next.batch() {
            return next.clone();
        }
        let kind = promote(self.matrix.kind(), next.matrix.kind());
        let m = next
            .matrix
            .to_kind(kind)
            .matmul(&self.matrix.to_kind(kind).to_device(next.matrix.device()));
        Transform {
            matrix: m.expand([batch, n, n], false),
            class: self.class.max(next.class),
        }
    }

    /// The inverse, per sample, without any host synchronisation: exact for translations,
    /// the closed form (adjugate over determinant) for 3×3, batched LU for 4×4. A singular
    /// matrix gives non-finite entries; [`Transform::f_checked_inverse`] reports it.
    pub fn inverse(&self) -> Transform {
        let matrix = match self.class {
            TransformClass::Identity => self.matrix.shallow_clone(),
            TransformClass::Translation => {
                let d = self.dims() as i64;
                let t = self.matrix.narrow(-2, 0, d).select(-1, d);
                translation(&-t)
            }
            _ if self.dims() == 2 => inverse3x3(&self.matrix),
            _ => inverse_nxn(&self.matrix),
        };
        Transform {
            matrix,
            class: self.class,
        }
    }

    /// The inverse, after checking that every matrix is invertible (finite, with
    /// |det| > 1e-12 relative to its scale). This reads one value back to the host (a
    /// synchronisation on a GPU): use it to validate, not in a training step.
    ///
    /// # Errors
    /// [`Error::NotInvertible`] naming the first singular sample.
    pub fn f_checked_inverse(&self) -> Result<Transform> {
        let m = self.matrix.to_kind(Kind::Double);
        let det = Tensor::f_linalg_det(&m)?;
        let scale = m
            .abs()
            .amax([-2i64, -1].as_slice(), false)
            .pow_tensor_scalar(self.dims() as f64 + 1.0);
        let bad = det
            .abs()
            .le_tensor(&(scale * 1e-12))
            .logical_or(&det.isfinite().logical_not());
        let first = bad.to_kind(Kind::Int64).argmax(0, false);
        let any = bad.any().int64_value(&[]) != 0;
        if any {
            return Err(Error::NotInvertible {
                op: "Transform",
                why: format!(
                    "the matrix of sample {} is singular (or not finite)",
                    first.int64_value(&[])
                ),
            });
        }
        Ok(self.inverse())
    }

    /// Maps points (B, …, d) (d = 2: (x, y); d = 3: (x, y, z)) through each sample's
    /// matrix; projective transforms divide by the last coordinate (not where |w| ≤ 1e-8,
    /// as Kornia). Points keep their kind, computed in the promoted kind of both.
    ///
    /// # Errors
    /// [`Error::Geometry`] when the last dimension is not the transform's dimension, or the
    /// batch sizes differ (and the transform's is not 1).
    pub fn f_map_points(&self, points: &Tensor) -> Result<Tensor> {
        let size = points.size();
        let d = self.dims() as i64;
        if size.len() < 2 || *size.last().expect("len >= 2") != d {
            return Err(Error::Geometry {
                what: "points",
                problem: format!("have shape {size:?}; expected (B, ..., {d})"),
            });
        }
        if size[0] != self.batch() && self.batch() != 1 {
            return Err(Error::Geometry {
                what: "points",
                problem: format!(
                    "have batch {} but the transform has {}",
                    size[0],
                    self.batch()
                ),
            });
        }
        Ok(self.map_points(points))
    }

    /// Panicking form of [`Transform::f_map_points`].
    pub fn map_points(&self, points: &Tensor) -> Tensor {
        let size = points.size();
        let d = self.dims() as i64;
        let b = size[0];
        let kind = promote(points.kind(), self.matrix.kind());
        let m = self.matrix.to_kind(kind).to_device(points.device());
        let flat = points.to_kind(kind).reshape([b, -1, d]);
        let out = match self.class {
            TransformClass::Identity => flat,
            TransformClass::Translation => {
                let t = m.narrow(-2, 0, d).select(-1, d).unsqueeze(1);
                flat + t
            }
            _ => {
                let lin = m.narrow(-2, 0, d).narrow(-1, 0, d);
                let t = m.narrow(-2, 0, d).select(-1, d).unsqueeze(1);
                let out = flat.matmul(&lin.transpose(-2, -1)) + t;
                if self.class == TransformClass::Projective {
                    let row = m.select(-2, d);
                    let w = flat.matmul(&row.narrow(-1, 0, d).unsqueeze(-1))
                        + row.narrow(-1, d, 1).unsqueeze(1);
                    let ok = w.abs().gt(HOMOGENEOUS_EPS);
                    let scale = w
                        .where_self(&ok, &w.ones_like())
                        .reciprocal()
                        .where_self(&ok, &w.ones_like());
                    out * scale
                } else {
                    out
                }
            }
        };
        out.reshape(size.as_slice()).to_kind(points.kind())
    }

    /// Maps boxes (B,N,4) `[x1, y1, x2, y2]` (volumes: (B,N,6) `[x1, y1, z1, x2, y2, z2]`),
    /// inclusive, and returns the axis-aligned enclosure of their mapped corners, as Kornia
    /// returns a box tensor.
    ///
    /// # Errors
    /// [`Error::Geometry`] for another last dimension or batch size.
    pub fn f_map_boxes(&self, boxes: &Tensor) -> Result<Tensor> {
        let d = self.dims() as i64;
        let size = boxes.size();
        if size.len() < 2 || *size.last().expect("len >= 2") != 2 * d {
            return Err(Error::Geometry {
                what: "boxes",
                problem: format!(
                    "have shape {size:?}; expected (B, N, {}) in xyxy form",
                    2 * d
                ),
            });
        }
        let corners = box_corners(boxes);
        Ok(enclosure(&self.f_map_points(&corners)?))
    }

    /// The identity where `batch_prob` (B,) is 0 (≤ 0.5), `self` where it is 1.
    pub fn gated(&self, batch_prob: &Tensor) -> Transform {
        if self.class == TransformClass::Identity {
            return self.clone();
        }
        let n = self.dims() as i64 + 1;
        let on = batch_prob
            .to_device(self.matrix.device())
            .gt(0.5)
            .view([-1, 1, 1]);
        let eye = Tensor::eye(n, (self.matrix.kind(), self.matrix.device()));
        Transform {
            matrix: self.matrix.where_self(&on, &eye),
            class: self.class,
        }
    }

    /// The same transform in `kind`.
    pub fn to_kind(&self, kind: Kind) -> Transform {
        Transform {
            matrix: self.matrix.to_kind(kind),
            class: self.class,
        }
    }
}

/// The floating kind both operands can be computed in (float64 wins).
fn promote(a: Kind, b: Kind) -> Kind {
    if a == Kind::Double || b == Kind::Double {
        Kind::Double
    } else {
        Kind::Float
    }
}

/// Closed-form inverse of a batch of 3×3 matrices (no pivoting, no error check, so no
/// host synchronisation): on the CPU without a graph, one kernel call
/// ([`crate::kernels::inverse3x3`], the same values). Panics with the kernel's error where
/// the kernel raises one (an allocation that failed), as a libtorch op would.
pub(crate) fn inverse3x3(m: &Tensor) -> Tensor {
    match crate::kernels::inverse3x3(m) {
        Ok(Some(inverse)) => inverse,
        Ok(None) => inverse3x3_composed(m),
        Err(e) => panic!("{e}"),
    }
}

/// [`inverse3x3`] as a composition of libtorch ops (any device, differentiable).
pub(crate) fn inverse3x3_composed(m: &Tensor) -> Tensor {
    let g = |i: i64, j: i64| m.select(-2, i).select(-1, j);
    let (a, b, c) = (g(0, 0), g(0, 1), g(0, 2));
    let (d, e, f) = (g(1, 0), g(1, 1), g(1, 2));
    let (gg, h, i) = (g(2, 0), g(2, 1), g(2, 2));
    let c00 = &e * &i - &f * &h;
    let c01 = &c * &h - &b * &i;
    let c02 = &b * &f - &c * &e;
    let c10 = &f * &gg - &d * &i;
    let c11 = &a * &i - &c * &gg;
    let c12 = &c * &d - &a * &f;
    let c20 = &d * &h - &e * &gg;
    let c21 = &b * &gg - &a * &h;
    let c22 = &a * &e - &b * &d;
    let det = (&a * &c00 + &b * &c10 + &c * &c20)
        .unsqueeze(-1)
        .unsqueeze(-1);
    let adj = Tensor::stack(&[c00, c01, c02, c10, c11, c12, c20, c21, c22], -1)
        .view_(m.size().as_slice());
    adj / det
}

/// Inverse of a batch of square matrices by LU (`linalg_inv_ex`: no singularity check, so
/// no host synchronisation; a singular matrix gives non-finite entries).
pub(crate) fn inverse_nxn(m: &Tensor) -> Tensor {
    Tensor::linalg_inv_ex(m, false).0
}

/// The corners (…, 2^d, d) of inclusive boxes (…, 2d) `[min…, max…]`: for images
/// top-left, top-right, bottom-right, bottom-left (Kornia's vertex order); for volumes the
/// front face (z = z1) in that order, then the back face.
pub fn box_corners(boxes: &Tensor) -> Tensor {
    let d = boxes.size().last().copied().unwrap_or(0) / 2;
    let lo = boxes.narrow(-1, 0, d);
    let hi = boxes.narrow(-1, d, d);
    let pick = |t: &Tensor, i: i64| t.select(-1, i);
    let (x0, y0, x1, y1) = (pick(&lo, 0), pick(&lo, 1), pick(&hi, 0), pick(&hi, 1));
    let face = [(&x0, &y0), (&x1, &y0), (&x1, &y1), (&x0, &y1)];
    let mut pts = Vec::with_capacity(8);
    if d == 3 {
        let (z0, z1) = (pick(&lo, 2), pick(&hi, 2));
        for z in [&z0, &z1] {
            for (x, y) in face {
                pts.push(Tensor::stack(&[x, y, z], -1));
            }
        }
    } else {
        for (x, y) in face {
            pts.push(Tensor::stack(&[x, y], -1));
        }
    }
    Tensor::stack(&pts, -2)
}

/// The axis-aligned enclosure (…, 2d) `[min…, max…]` of point sets (…, P, d).
pub fn enclosure(points: &Tensor) -> Tensor {
    let lo = points.amin([-2i64].as_slice(), false);
    let hi = points.amax([-2i64].as_slice(), false);
    Tensor::cat(&[lo, hi], -1)
}

/// The (B, n+1, n+1) translation by `t` (B, n), n = 2 or 3.
pub(crate) fn translation(t: &Tensor) -> Tensor {
    let size = t.size();
    let (b, n) = (size[0], size[1]);
    let eye = Tensor::eye(n + 1, (t.kind(), t.device())).expand([b, n + 1, n + 1], false);
    let col = Tensor::cat(&[t.shallow_clone(), t.zeros_like().narrow(1, 0, 1)], 1);
    let mask = Tensor::zeros([1, n + 1, n + 1], (t.kind(), t.device()));
    let _ = mask.narrow(2, n, 1).narrow(1, 0, n).fill_(1.0);
    eye + mask * col.unsqueeze(-1)
}

/// What an augmentation does to coordinates.
#[derive(Debug, Clone)]
pub enum Geometry {
    /// Coordinates are unchanged (intensity augmentations).
    None,
    /// A matrix per sample.
    Matrix(Transform),
    /// A dense displacement field (elastic, fisheye, thin-plate spline).
    Dense(DenseField),
}

impl Geometry {
    /// An affine matrix geometry (crate-built matrices).
    pub(crate) fn affine(m: Tensor) -> Geometry {
        Geometry::Matrix(Transform::from_parts(m, TransformClass::Affine))
    }

    /// A projective matrix geometry.
    pub(crate) fn projective(m: Tensor) -> Geometry {
        Geometry::Matrix(Transform::from_parts(m, TransformClass::Projective))
    }

    /// A translation geometry (the matrix of [`Transform::translation`]).
    pub(crate) fn translation(m: Tensor) -> Geometry {
        Geometry::Matrix(Transform::from_parts(m, TransformClass::Translation))
    }

    /// Maps input points (B,N,d) to the output.
    pub fn map_points(&self, points: &Tensor) -> Tensor {
        match self {
            Geometry::None => points.shallow_clone(),
            Geometry::Matrix(t) => t.map_points(points),
            Geometry::Dense(f) => f.map_points(points),
        }
    }

    /// Maps output points (B,N,d) back to the input.
    pub fn unmap_points(&self, points: &Tensor) -> Tensor {
        match self {
            Geometry::None => points.shallow_clone(),
            Geometry::Matrix(t) => t.inverse().map_points(points),
            Geometry::Dense(f) => f.sample_points(points),
        }
    }

    /// The gated geometry: unchanged coordinates where `batch_prob` is 0.
    pub fn gated(&self, batch_prob: &Tensor) -> Geometry {
        match self {
            Geometry::None => Geometry::None,
            Geometry::Matrix(t) => Geometry::Matrix(t.gated(batch_prob)),
            Geometry::Dense(f) => Geometry::Dense(f.gated(batch_prob)),
        }
    }

    /// `self`, then `next`: `input` is the (H, W) entering `self`, `out` the (H, W) leaving
    /// `next` (matrices need no sizes; fields do).
    pub(crate) fn then(&self, next: &Geometry, input: (i64, i64), out: (i64, i64)) -> Geometry {
        match (self, next) {
            (Geometry::None, g) | (g, Geometry::None) => g.clone(),
            (Geometry::Matrix(a), Geometry::Matrix(b)) => Geometry::Matrix(a.then(b)),
            (Geometry::Matrix(a), Geometry::Dense(f)) => Geometry::Dense(f.after_matrix(a, input)),
            (Geometry::Dense(f), Geometry::Matrix(b)) => Geometry::Dense(f.before_matrix(b, out)),
            (Geometry::Dense(f), Geometry::Dense(g)) => Geometry::Dense(f.before_field(g)),
        }
    }
}
