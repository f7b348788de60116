//! 2D matrix builders (B,3,3): rotation, shear, affine and the four-point homography,
//! in pixel coordinates mapping input pixels to output pixels, as Kornia's.

use crate::geometry::inverse3x3;
use tch::Tensor;

/// Stacks six (B,) tensors `[a, b, c, d, e, f]` into (B,3,3) `[[a,b,c],[d,e,f],[0,0,1]]`.
pub(crate) fn affine_rows(e: [&Tensor; 6]) -> Tensor {
    let zero = e[0].zeros_like();
    let one = e[0].ones_like();
    Tensor::stack(
        &[e[0], e[1], e[2], e[3], e[4], e[5], &zero, &zero, &one],
        -1,
    )
    .view([-1, 3, 3])
}

/// Kornia's `get_rotation_matrix2d(center, angle, scale)`: rotation by `angle` degrees
/// (R = [[cos, sin], [-sin, cos]]) and scaling about `center`. Shapes (B,2), (B,), (B,2).
pub(crate) fn rotation_matrix(center: &Tensor, angle_deg: &Tensor, scale: &Tensor) -> Tensor {
    let [a, b, tx, d, e, ty] = rotation_entries(center, angle_deg, scale);
    affine_rows([&a, &b, &tx, &d, &e, &ty])
}

/// The six entries of `T(c) · R(angle) · S · T(-c)`.
fn rotation_entries(center: &Tensor, angle_deg: &Tensor, scale: &Tensor) -> [Tensor; 6] {
    let rad = angle_deg * (std::f64::consts::PI / 180.0);
    let (cos, sin) = (rad.cos(), rad.sin());
    let (sx, sy) = (scale.select(-1, 0), scale.select(-1, 1));
    let (cx, cy) = (center.select(-1, 0), center.select(-1, 1));
    let a = &cos * &sx;
    let b = &sin * &sy;
    let d = -&sin * &sx;
    let e = &cos * &sy;
    let tx = &cx - (&a * &cx + &b * &cy);
    let ty = &cy - (&d * &cx + &e * &cy);
    [a, b, tx, d, e, ty]
}

/// Kornia's `get_shear_matrix2d(center, sx, sy)` with shears in radians: x-shear about
/// `cy` then y-shear about `cx`, each with a negative tangent.
pub(crate) fn shear_matrix(center: &Tensor, sx: &Tensor, sy: &Tensor) -> Tensor {
    let (x, y) = (center.select(-1, 0), center.select(-1, 1));
    let (tx, ty) = (sx.tan(), sy.tan());
    let one = tx.ones_like();
    let a01 = -&tx;
    let a02 = &tx * &y;
    let a10 = -&ty;
    let a11 = &one + &tx * &ty;
    let a12 = &ty * (&x - &tx * &y);
    affine_rows([&one, &a01, &a02, &a10, &a11, &a12])
}

/// Kornia's `get_affine_matrix2d`: `[T(c) R(-angle) S T(-c) + translation] · Shear_c`.
/// Angles and shears in degrees.
pub(crate) fn affine_matrix(
    translations: &Tensor,
    center: &Tensor,
    scale: &Tensor,
    angle_deg: &Tensor,
    shear_x_deg: &Tensor,
    shear_y_deg: &Tensor,
) -> Tensor {
    let [a, b, tx, d, e, ty] = rotation_entries(center, &(-angle_deg), scale);
    let tx = tx + translations.select(-1, 0);
    let ty = ty + translations.select(-1, 1);
    let rot = affine_rows([&a, &b, &tx, &d, &e, &ty]);
    let deg = std::f64::consts::PI / 180.0;
    rot.matmul(&shear_matrix(
        center,
        &(shear_x_deg * deg),
        &(shear_y_deg * deg),
    ))
}

/// The homography (B,3,3) mapping four source corners (B,4,2) onto four destination
/// corners, normalised so its last entry is 1: Kornia's closed form (unit square to each
/// quad, then compose), no linear solve and no host synchronisation.
pub(crate) fn perspective_transform(src: &Tensor, dst: &Tensor) -> Tensor {
    let h_s = unit_square_to_quad(src);
    let h_d = unit_square_to_quad(dst);
    let m = h_d.matmul(&inverse3x3(&h_s));
    let last = m.narrow(-2, 2, 1).narrow(-1, 2, 1);
    m / last
}

/// Heckbert's projective map from the unit square's corners (0,0), (1,0), (1,1), (0,1)
/// onto the quad `p` (B,4,2).
fn unit_square_to_quad(p: &Tensor) -> Tensor {
    let c = |i: i64, j: i64| p.select(-2, i).select(-1, j);
    let (x0, y0, x1, y1) = (c(0, 0), c(0, 1), c(1, 0), c(1, 1));
    let (x2, y2, x3, y3) = (c(2, 0), c(2, 1), c(3, 0), c(3, 1));
    let (dx1, dx2) = (&x1 - &x2, &x3 - &x2);
    let (dy1, dy2) = (&y1 - &y2, &y3 - &y2);
    let sx = &x0 - &x1 + &x2 - &x3;
    let sy = &y0 - &y1 + &y2 - &y3;
    let denom = &dx1 * &dy2 - &dy1 * &dx2;
    let a31 = (&sx * &dy2 - &sy * &dx2) / &denom;
    let a32 = (&dx1 * &sy - &dy1 * &sx) / &denom;
    let a11 = &x1 - &x0 + &a31 * &x1;
    let a12 = &x3 - &x0 + &a32 * &x3;
    let a21 = &y1 - &y0 + &a31 * &y1;
    let a22 = &y3 - &y0 + &a32 * &y3;
    let one = x0.ones_like();
    Tensor::stack(&[&a11, &a12, &x0, &a21, &a22, &y0, &a31, &a32, &one], -1).view([-1, 3, 3])
}
