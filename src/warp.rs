//! Matrix builders and the affine warp shared by every geometric augmentation.
//!
//! Matrices are (B,3,3) in pixel coordinates with pixel centres on integers, mapping
//! input (source) pixels to output (destination) pixels, as in Kornia. The warp samples
//! the source at `M⁻¹ p` with one `grid_sampler` call; its grid is a broadcast sum
//! (one pass), not `affine_grid_generator`.

use crate::ops::constant;
use crate::{Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// Interpolation used when resampling (Kornia's `resample`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Resample {
    /// Bilinear interpolation (Kornia's default).
    #[default]
    Bilinear,
    /// Nearest neighbour.
    Nearest,
    /// Bicubic interpolation.
    Bicubic,
}

impl Resample {
    fn grid_mode(self) -> i64 {
        match self {
            Resample::Bilinear => 0,
            Resample::Nearest => 1,
            Resample::Bicubic => 2,
        }
    }
}

/// What is sampled outside the source image (Kornia's `padding_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// Zeros (Kornia's default).
    #[default]
    Zeros,
    /// The nearest border pixel.
    Border,
    /// Reflection about the border.
    Reflection,
    /// A constant per channel (`fill_value`).
    Fill,
}

/// Options of one warp.
#[derive(Debug, Default)]
pub(crate) struct WarpOptions {
    pub resample: Resample,
    pub padding: Padding,
    pub align_corners: bool,
    /// Per-channel fill for [`Padding::Fill`] (zeros when `None`).
    pub fill: Option<Vec<f64>>,
    /// Divide the grid by its third coordinate (homographies); affine warps skip it.
    pub projective: bool,
}

/// Kornia's `normal_transform_pixel`: pixel coordinates to [-1, 1], as (1,3,3).
pub(crate) fn normal_transform_pixel(
    h: i64,
    w: i64,
    align_corners: bool,
    kind: Kind,
    device: Device,
) -> Tensor {
    let (sx, sy, tx, ty) = if align_corners {
        let sx = if w == 1 { 1.0 } else { 2.0 / (w as f64 - 1.0) };
        let sy = if h == 1 { 1.0 } else { 2.0 / (h as f64 - 1.0) };
        let tx = if w == 1 { 0.0 } else { -1.0 };
        let ty = if h == 1 { 0.0 } else { -1.0 };
        (sx, sy, tx, ty)
    } else {
        let (wf, hf) = (w as f64, h as f64);
        (2.0 / wf, 2.0 / hf, (1.0 - wf) / wf, (1.0 - hf) / hf)
    };
    constant(&[sx, 0.0, tx, 0.0, sy, ty, 0.0, 0.0, 1.0], kind, device).view([1, 3, 3])
}

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

/// Closed-form inverse of a batch of 3×3 matrices (no pivoting, no error check, so no
/// host synchronisation).
pub(crate) fn inverse3x3(m: &Tensor) -> Tensor {
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

/// Warps `src` (B,C,H,W) by `m` (B,3,3 or 1,3,3; source pixels to destination pixels)
/// into an output of size `(h, w)`, as Kornia's `warp_affine` (or `warp_perspective`
/// with `opts.projective`).
pub(crate) fn warp_affine(
    src: &Tensor,
    m: &Tensor,
    (h, w): (i64, i64),
    opts: &WarpOptions,
) -> Result<Tensor> {
    let size = src.size();
    let (b, hs, ws) = (size[0], size[2], size[3]);
    let (kind, device) = (src.kind(), src.device());
    let m = m.to_kind(kind).to_device(device);
    let n_src = normal_transform_pixel(hs, ws, opts.align_corners, kind, device);
    let n_dst = normal_transform_pixel(h, w, opts.align_corners, kind, device);
    // dst_norm <- src_norm, then its inverse: src_norm <- dst_norm.
    let dst_norm_src_norm = n_dst.matmul(&m.matmul(&inverse3x3(&n_src)));
    let a = inverse3x3(&dst_norm_src_norm);
    let grid = normalized_grid(&a, h, w, opts, kind, device);
    let grid = if grid.size()[0] == 1 && b > 1 {
        grid.expand([b, h, w, 2], false)
    } else {
        grid
    };
    sample(src, &grid, opts)
}

/// The sampling grid (B,h,w,2) of `a` (B,3,3, normalised dst → normalised src).
fn normalized_grid(
    a: &Tensor,
    h: i64,
    w: i64,
    opts: &WarpOptions,
    kind: Kind,
    device: Device,
) -> Tensor {
    let align = opts.align_corners;
    let lin = |n: i64| base_coords(n, align, kind, device);
    if opts.projective {
        let xs = lin(w).view([1, 1, w]);
        let ys = lin(h).view([1, h, 1]);
        let e = |i: i64, j: i64| a.select(-2, i).select(-1, j).view([-1, 1, 1]);
        let gx = e(0, 0) * &xs + e(0, 1) * &ys + e(0, 2);
        let gy = e(1, 0) * &xs + e(1, 1) * &ys + e(1, 2);
        let gz = e(2, 0) * &xs + e(2, 1) * &ys + e(2, 2);
        return Tensor::stack(&[gx / &gz, gy / &gz], -1);
    }
    // Affine: the grid is [x, y, 1] · Aᵀ for every output pixel, one batched matmul that
    // writes (B, h·w, 2) directly in grid_sampler's layout.
    let xs = lin(w).view([1, w]).expand([h, w], false);
    let ys = lin(h).view([h, 1]).expand([h, w], false);
    let base =
        Tensor::stack(&[xs, ys, Tensor::ones([h, w], (kind, device))], -1).view([1, h * w, 3]);
    let b = a.size()[0];
    base.matmul(&a.narrow(-2, 0, 2).transpose(-2, -1))
        .view([b, h, w, 2])
}

/// `grid_sampler` with Kornia's padding modes (`Fill` warps a ones mask as well).
pub(crate) fn sample(src: &Tensor, grid: &Tensor, opts: &WarpOptions) -> Result<Tensor> {
    let mode = opts.resample.grid_mode();
    match opts.padding {
        Padding::Fill => {
            let size = src.size();
            let out = src.f_grid_sampler(grid, mode, 0, opts.align_corners)?;
            let ones = Tensor::ones([size[0], 1, size[2], size[3]], (src.kind(), src.device()));
            let mask = ones.f_grid_sampler(grid, mode, 0, opts.align_corners)?;
            let c = size[1];
            let fill = opts.fill.clone().unwrap_or_else(|| vec![0.0; c as usize]);
            let fill = if fill.len() == 1 {
                vec![fill[0]; c as usize]
            } else {
                fill
            };
            let fill = constant(&fill, src.kind(), src.device()).view([1, -1, 1, 1]);
            Ok(out + (1.0 - mask) * fill)
        }
        p => {
            let pad = match p {
                Padding::Zeros => 0,
                Padding::Border => 1,
                _ => 2,
            };
            Ok(src.f_grid_sampler(grid, mode, pad, opts.align_corners)?)
        }
    }
}

/// Warps `input` by `aug`'s matrix for an input of shape `shape` (by its inverse when
/// `inverse`) into an output of `size`.
pub(crate) fn warp_by<A: Augmentation + ?Sized>(
    aug: &A,
    input: &Tensor,
    params: &Params,
    shape: &[i64],
    size: (i64, i64),
    opts: &WarpOptions,
    inverse: bool,
) -> Result<Tensor> {
    let m = aug
        .transform_matrix_ungated(shape, params, input.kind(), input.device())?
        .ok_or(Error::NotInvertible { op: aug.name() })?;
    let m = if inverse { inverse3x3(&m) } else { m };
    warp_affine(input, &m, size, opts)
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

/// Normalised pixel-centre coordinates along an axis of `n` pixels: `linspace(-1, 1)` with
/// corners aligned (0 for one pixel), else `linspace(-1 + 1/n, 1 - 1/n)`, as
/// `affine_grid` and Kornia's `create_meshgrid` lay them out.
pub(crate) fn base_coords(n: i64, align_corners: bool, kind: Kind, device: Device) -> Tensor {
    if align_corners {
        if n == 1 {
            Tensor::zeros([1], (kind, device))
        } else {
            Tensor::linspace(-1.0, 1.0, n, (kind, device))
        }
    } else {
        let nf = n as f64;
        Tensor::linspace(-1.0 + 1.0 / nf, 1.0 - 1.0 / nf, n, (kind, device))
    }
}
