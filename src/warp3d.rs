//! 4×4 matrices and warps for volumes (B,C,D,H,W), shared by the 3D
//! augmentations.
//!
//! Matrices are (B,4,4) in voxel coordinates `(x, y, z)` (x along W, y along H, z along D),
//! voxel centres on integers, mapping input voxels to output voxels, as in Kornia. Kornia's
//! 3D warps normalise voxel coordinates with the corner-aligned convention whatever
//! `align_corners` says (the flag only reaches `affine_grid`/`grid_sample`); we keep that
//! convention so that outputs equal Kornia's.

use crate::ops::constant;
use crate::warp::Resample;
use crate::{Error, Result};
use tch::{Device, Kind, Tensor};

/// Kornia's `normal_transform_pixel3d`: voxel coordinates to [-1, 1] with corners aligned,
/// as (1,4,4).
pub(crate) fn normal_transform_pixel3d(
    (d, h, w): (i64, i64, i64),
    kind: Kind,
    device: Device,
) -> Tensor {
    let scale = |n: i64| if n == 1 { 1.0 } else { 2.0 / (n as f64 - 1.0) };
    let shift = |n: i64| if n == 1 { 0.0 } else { -1.0 };
    #[rustfmt::skip]
    let m = [
        scale(w), 0.0, 0.0, shift(w),
        0.0, scale(h), 0.0, shift(h),
        0.0, 0.0, scale(d), shift(d),
        0.0, 0.0, 0.0, 1.0,
    ];
    constant(&m, kind, device).view([1, 4, 4])
}

/// Inverse of a batch of 4×4 matrices by LU (`linalg_inv_ex`: no singularity check, so no
/// host synchronisation; a singular matrix gives non-finite entries).
pub(crate) fn inverse4x4(m: &Tensor) -> Tensor {
    Tensor::linalg_inv_ex(m, false).0
}

/// Stacks twelve (B,) tensors (row-major 3×4) into (B,4,4) with last row `[0, 0, 0, 1]`.
pub(crate) fn affine_rows3d(e: &[Tensor; 12]) -> Tensor {
    let zero = e[0].zeros_like();
    let one = e[0].ones_like();
    let mut all: Vec<&Tensor> = e.iter().collect();
    all.extend([&zero, &zero, &zero, &one]);
    Tensor::stack(&all, -1).view([-1, 4, 4])
}

/// The (B,4,4) translation by `t` (B,3).
pub(crate) fn translation(t: &Tensor) -> Tensor {
    let c = |i: i64| t.select(-1, i);
    let (o, z) = (c(0).ones_like(), c(0).zeros_like());
    affine_rows3d(&[
        o.shallow_clone(),
        z.shallow_clone(),
        z.shallow_clone(),
        c(0),
        z.shallow_clone(),
        o.shallow_clone(),
        z.shallow_clone(),
        c(1),
        z.shallow_clone(),
        z.shallow_clone(),
        o,
        c(2),
    ])
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

/// The normalised matrix `src_norm <- dst_norm` (B,4,4) for `m` (voxels, src → dst).
fn normalized_inverse(m: &Tensor, src: (i64, i64, i64), dst: (i64, i64, i64)) -> Tensor {
    let (kind, device) = (m.kind(), m.device());
    let n_src = normal_transform_pixel3d(src, kind, device);
    let n_dst = normal_transform_pixel3d(dst, kind, device);
    let dst_norm_src_norm = n_dst.matmul(&m.matmul(&inverse4x4(&n_src)));
    inverse4x4(&dst_norm_src_norm)
}

fn grid_mode(resample: Resample, op: &'static str) -> Result<i64> {
    match resample {
        Resample::Bilinear => Ok(0),
        Resample::Nearest => Ok(1),
        Resample::Bicubic => Err(Error::Config {
            op,
            name: "resample",
            value: "bicubic".into(),
            allowed: "bilinear or nearest (grid_sample has no bicubic mode for volumes)".into(),
        }),
    }
}

/// Warps `src` (B,C,D,H,W) by the affine `m` (B,4,4 or 1,4,4; source voxels to destination
/// voxels) into an output of size `(d, h, w)`, zeros outside, as Kornia's `warp_affine3d`:
/// `affine_grid_generator` + `grid_sampler`.
pub(crate) fn warp_affine3d(
    src: &Tensor,
    m: &Tensor,
    (d, h, w): (i64, i64, i64),
    resample: Resample,
    align_corners: bool,
    op: &'static str,
) -> Result<Tensor> {
    let size = src.size();
    let (b, c) = (size[0], size[1]);
    let (kind, device) = (src.kind(), src.device());
    let m = m.to_kind(kind).to_device(device);
    let a = normalized_inverse(&m, (size[2], size[3], size[4]), (d, h, w));
    let a = if a.size()[0] == 1 && b > 1 {
        a.expand([b, 4, 4], false)
    } else {
        a
    };
    let theta = a.narrow(-2, 0, 3);
    let grid = Tensor::f_affine_grid_generator(&theta, [b, c, d, h, w], align_corners)?;
    Ok(src.f_grid_sampler(&grid, grid_mode(resample, op)?, 0, align_corners)?)
}

/// Warps `src` (B,C,D,H,W) by the homography `m` (B,4,4) into `(d, h, w)`, zeros outside,
/// as Kornia's `warp_perspective3d`: the corner-aligned normalised grid of the output is
/// mapped by the normalised inverse and divided by its fourth coordinate (left undivided
/// where |w| ≤ 1e-8).
pub(crate) fn warp_perspective3d(
    src: &Tensor,
    m: &Tensor,
    (d, h, w): (i64, i64, i64),
    resample: Resample,
    align_corners: bool,
    op: &'static str,
) -> Result<Tensor> {
    let size = src.size();
    let b = size[0];
    let (kind, device) = (src.kind(), src.device());
    let m = m.to_kind(kind).to_device(device);
    let a = normalized_inverse(&m, (size[2], size[3], size[4]), (d, h, w));
    let lin = |n: i64| crate::warp::base_coords(n, true, kind, device);
    let zs = lin(d).view([d, 1, 1]).expand([d, h, w], false);
    let ys = lin(h).view([1, h, 1]).expand([d, h, w], false);
    let xs = lin(w).view([1, 1, w]).expand([d, h, w], false);
    let base = Tensor::stack(&[xs, ys, zs, Tensor::ones([d, h, w], (kind, device))], -1).view([
        1,
        d * h * w,
        4,
    ]);
    let warped = base.matmul(&a.transpose(-2, -1));
    let last = warped.narrow(-1, 3, 1);
    let ok = last.abs().gt(1e-8);
    let scale = last
        .where_self(&ok, &last.ones_like())
        .reciprocal()
        .where_self(&ok, &last.ones_like());
    let grid = (warped.narrow(-1, 0, 3) * scale).view([-1, d, h, w, 3]);
    let grid = if grid.size()[0] == 1 && b > 1 {
        grid.expand([b, d, h, w, 3], false)
    } else {
        grid
    };
    Ok(src.f_grid_sampler(&grid, grid_mode(resample, op)?, 0, align_corners)?)
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
