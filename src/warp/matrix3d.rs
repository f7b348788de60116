//! 3D matrix builders (B,4,4) for volumes: axis-angle rotation, shear, the affine matrix
//! and the eight-point homography, in voxel coordinates `(x, y, z)` (x along W, y along H,
//! z along D) mapping input voxels to output voxels, as Kornia's.

use crate::geometry::translation;
use crate::ops::constant;
use tch::{Kind, Tensor};

/// Stacks twelve (B,) tensors (row-major 3×4) into (B,4,4) with last row `[0, 0, 0, 1]`.
pub(crate) fn affine_rows3d(e: &[Tensor; 12]) -> Tensor {
    let zero = e[0].zeros_like();
    let one = e[0].ones_like();
    let mut all: Vec<&Tensor> = e.iter().collect();
    all.extend([&zero, &zero, &zero, &one]);
    Tensor::stack(&all, -1).view([-1, 4, 4])
}

/// Rodrigues' rotation (B,3,3) of axis-angle vectors `aa` (B,3) in radians; below
/// |θ|² = 1e-6 the second-order Taylor form, as Kornia's `axis_angle_to_rotation_matrix`.
pub(crate) fn axis_angle_to_rotation(aa: &Tensor) -> Tensor {
    let theta2 = aa
        .square()
        .sum_dim_intlist([-1i64].as_slice(), false, aa.kind());
    let large = theta2.gt(1e-6);
    let safe = theta2.where_self(&large, &theta2.ones_like());
    let theta = safe.sqrt();
    let unit = aa / theta.unsqueeze(-1);
    let (wx, wy, wz) = (unit.select(-1, 0), unit.select(-1, 1), unit.select(-1, 2));
    let (cos, sin) = (theta.cos(), theta.sin());
    let omc = 1.0 - &cos;
    let exact = [
        &cos + &wx * &wx * &omc,
        &wx * &wy * &omc - &wz * &sin,
        &wy * &sin + &wx * &wz * &omc,
        &wz * &sin + &wx * &wy * &omc,
        &cos + &wy * &wy * &omc,
        -(&wx * &sin) + &wy * &wz * &omc,
        -(&wy * &sin) + &wx * &wz * &omc,
        &wx * &sin + &wy * &wz * &omc,
        &cos + &wz * &wz * &omc,
    ];
    let (rx, ry, rz) = (aa.select(-1, 0), aa.select(-1, 1), aa.select(-1, 2));
    let a = 1.0 - &theta2 / 6.0;
    let b = 0.5 - &theta2 / 24.0;
    let taylor = [
        1.0 - &b * (&ry * &ry + &rz * &rz),
        -(&a * &rz) + &b * &rx * &ry,
        &a * &ry + &b * &rx * &rz,
        &a * &rz + &b * &rx * &ry,
        1.0 - &b * (&rx * &rx + &rz * &rz),
        -(&a * &rx) + &b * &ry * &rz,
        -(&a * &ry) + &b * &rx * &rz,
        &a * &rx + &b * &ry * &rz,
        1.0 - &b * (&rx * &rx + &ry * &ry),
    ];
    let exact = Tensor::stack(&exact, -1).view([-1, 3, 3]);
    let taylor = Tensor::stack(&taylor, -1).view([-1, 3, 3]);
    exact.where_self(&large.view([-1, 1, 1]), &taylor)
}

/// Kornia's `get_projective_transform(center, angles, scales)` as (B,4,4):
/// `T(c) · [R(angles) · diag(scales)] · T(-c)`, with `angles` (B,3) an axis-angle vector in
/// degrees (Kornia calls its components yaw, pitch, roll).
pub(crate) fn projective_transform(
    center: &Tensor,
    angles_deg: &Tensor,
    scales: &Tensor,
) -> Tensor {
    let rot = axis_angle_to_rotation(&(angles_deg * (std::f64::consts::PI / 180.0)));
    let rs = rot * scales.unsqueeze(-2);
    let b = rs.size()[0];
    let linear = Tensor::cat(&[rs, center.zeros_like().unsqueeze(-1)], -1);
    let bottom = constant(&[0.0, 0.0, 0.0, 1.0], center.kind(), center.device())
        .view([1, 1, 4])
        .expand([b, 1, 4], false);
    let linear = Tensor::cat(&[linear, bottom], -2);
    translation(center)
        .matmul(&linear)
        .matmul(&translation(&-center))
}

/// Kornia's `get_shear_matrix3d(center, sxy, sxz, syx, syz, szx, szy)` (shears in radians,
/// each (B,)) as (B,4,4): the shear's translation column is built from the positive
/// tangents, its linear part from the negated ones, as Kornia does.
pub(crate) fn shear_matrix3d(center: &Tensor, shears: [&Tensor; 6]) -> Tensor {
    let tans: Vec<Tensor> = shears.iter().map(|s| s.tan()).collect();
    let (x, y, z) = (
        center.select(-1, 0),
        center.select(-1, 1),
        center.select(-1, 2),
    );
    let pos = shear_linear(&tans);
    let neg = shear_linear(&tans.iter().map(|t| -t).collect::<Vec<_>>());
    // pos/neg: [m00, m10, m20, m01, m11, m21, m02, m12, m22].
    let m03 = &pos[3] * &y + &pos[6] * &z;
    let m13 = &pos[1] * &x + &pos[4] * &y + &pos[7] * &z - &y;
    let m23 = &pos[2] * &x + &pos[5] * &y + &pos[8] * &z - &z;
    let [m00, m10, m20, m01, m11, m21, m02, m12, m22] = neg;
    affine_rows3d(&[m00, m01, m02, m03, m10, m11, m12, m13, m20, m21, m22, m23])
}

/// The linear part of Kornia's 3D shear from the six tangents
/// `[sxy, sxz, syx, syz, szx, szy]`, as `[m00, m10, m20, m01, m11, m21, m02, m12, m22]`.
fn shear_linear(t: &[Tensor]) -> [Tensor; 9] {
    let (sxy, sxz, syx, syz, szx, szy) = (&t[0], &t[1], &t[2], &t[3], &t[4], &t[5]);
    let one = sxy.ones_like();
    let m11 = sxy * syx + &one;
    let m21 = sxz * syx + syz;
    let m02 = syx * szy + szx;
    let m12 = sxy * szx + szy * &m11;
    let m22 = sxz * szx + szy * &m21 + &one;
    [
        one,
        sxy.shallow_clone(),
        sxz.shallow_clone(),
        syx.shallow_clone(),
        m11,
        m21,
        m02,
        m12,
        m22,
    ]
}

/// Kornia's `get_affine_matrix3d`: `[T(c) R(-angles) S T(-c) + translation] · Shear_c`, with
/// angles and shears in degrees; `shears` are `[sxy, sxz, syx, syz, szx, szy]`, each (B,).
pub(crate) fn affine_matrix3d(
    translations: &Tensor,
    center: &Tensor,
    scale: &Tensor,
    angles_deg: &Tensor,
    shears_deg: [&Tensor; 6],
) -> Tensor {
    let m = projective_transform(center, &-angles_deg, scale);
    let shift = Tensor::cat(
        &[
            translations.unsqueeze(-1),
            translations.zeros_like().narrow(-1, 0, 1).unsqueeze(-1),
        ],
        -2,
    );
    let zeros = m.narrow(-1, 0, 3).zeros_like();
    let m = m + Tensor::cat(&[zeros, shift], -1);
    let deg = std::f64::consts::PI / 180.0;
    let rad: Vec<Tensor> = shears_deg.iter().map(|s| *s * deg).collect();
    m.matmul(&shear_matrix3d(
        center,
        [&rad[0], &rad[1], &rad[2], &rad[3], &rad[4], &rad[5]],
    ))
}

/// The homography (B,4,4) mapping the eight corners `src` (B,8,3) onto `dst`, as Kornia's
/// `get_perspective_transform3d`: the 15×15 system of corners 0, 1, 2, 5 and 7 solved in
/// float64 by LU (`linalg_solve_ex`: no host synchronisation).
pub(crate) fn perspective_transform3d(src: &Tensor, dst: &Tensor) -> Tensor {
    let kind = src.kind();
    let (src, dst) = (src.to_kind(Kind::Double), dst.to_kind(Kind::Double));
    let zero = src.select(1, 0).select(-1, 0).zeros_like();
    let one = zero.ones_like();
    let mut rows = Vec::with_capacity(15);
    let mut rhs = Vec::with_capacity(15);
    for i in [0i64, 1, 2, 5, 7] {
        let p = src.select(1, i);
        let q = dst.select(1, i);
        let (px, py, pz) = (p.select(-1, 0), p.select(-1, 1), p.select(-1, 2));
        for axis in 0..3i64 {
            let qa = q.select(-1, axis);
            let mut row: Vec<Tensor> = (0..12).map(|_| zero.shallow_clone()).collect();
            let o = (axis * 4) as usize;
            row[o] = px.shallow_clone();
            row[o + 1] = py.shallow_clone();
            row[o + 2] = pz.shallow_clone();
            row[o + 3] = one.shallow_clone();
            row.push(-&px * &qa);
            row.push(-&py * &qa);
            row.push(-&pz * &qa);
            rows.push(Tensor::stack(&row, -1));
            rhs.push(qa);
        }
    }
    let a = Tensor::stack(&rows, 1);
    let b = Tensor::stack(&rhs, 1).unsqueeze(-1);
    let (x, _info) = Tensor::linalg_solve_ex(&a, &b, true, false);
    let x = x.squeeze_dim(-1).to_kind(kind);
    Tensor::cat(&[x, one.to_kind(kind).unsqueeze(-1)], -1).view([-1, 4, 4])
}
