//! The warp, the sampler and the crop window, one N-d path for images (B,C,H,W) and
//! volumes (B,C,D,H,W): the two differ only in the number of spatial dimensions, read off
//! the tensor's rank. The matrix builders live in [`matrix2d`] and [`matrix3d`].
//!
//! Matrices are (B, n+1, n+1) in pixel (voxel) coordinates with centres on integers,
//! mapping input (source) pixels to output (destination) pixels, as in Kornia. A warp
//! samples the source at `M⁻¹ p` with one `grid_sampler` call; an affine grid is a
//! broadcast sum in `grid_sampler`'s layout (one pass; no `affine_grid_generator`), a
//! projective one a batched matmul.

pub(crate) mod matrix2d;
pub(crate) mod matrix3d;

pub(crate) use matrix2d::{
    affine_matrix, affine_rows, perspective_transform, rotation_matrix, shear_matrix,
};

use crate::filter::{filter2d_separable, gaussian_kernel1d, Border};
use crate::geometry::{inverse3x3, inverse_nxn, Transform, TransformClass};
use crate::ops::constant;
use crate::{Augmentation, Error, Geometry, Params, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// Interpolation used when resampling (Kornia's `resample`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Resample {
    /// Bilinear (trilinear for volumes) interpolation (Kornia's default).
    #[default]
    Bilinear,
    /// Nearest neighbour.
    Nearest,
    /// Bicubic interpolation (images only).
    Bicubic,
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
    /// A constant per channel (`fill`).
    Fill,
}

/// How a warp resamples: the interpolation, what lies outside the source, and
/// `grid_sample`'s `align_corners`.
///
/// An augmentation whose image output is a warp by its matrix reports its sampling
/// ([`Augmentation::sampling`]); pipelines use it to resample masks the same way and to fuse
/// consecutive warps into one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sampling {
    /// Interpolation.
    pub resample: Resample,
    /// What is sampled outside the source.
    pub padding: Padding,
    /// `grid_sample`'s `align_corners` (for volumes only the sampler's flag: Kornia's 3D
    /// warps normalise voxel coordinates with corners aligned either way).
    pub align_corners: bool,
    /// Per-channel (or single) value for [`Padding::Fill`] (zeros when `None`).
    pub fill: Option<Vec<f64>>,
}

impl Sampling {
    /// `resample`, zeros outside, with the given `align_corners`.
    pub fn new(resample: Resample, align_corners: bool) -> Sampling {
        Sampling {
            resample,
            align_corners,
            ..Default::default()
        }
    }

    /// Bilinear, zeros outside, with the given `align_corners`.
    pub fn bilinear(align_corners: bool) -> Sampling {
        Sampling::new(Resample::Bilinear, align_corners)
    }

    fn grid_mode(&self, dims: usize) -> Result<i64> {
        match (self.resample, dims) {
            (Resample::Bilinear, _) => Ok(0),
            (Resample::Nearest, _) => Ok(1),
            (Resample::Bicubic, 2) => Ok(2),
            (Resample::Bicubic, _) => Err(crate::checks::config(
                "grid_sample",
                "resample",
                "bicubic",
                "bilinear or nearest (grid_sample has no bicubic mode for volumes)",
            )),
        }
    }
}

/// Kornia's `normal_transform_pixel` (2D) and `normal_transform_pixel3d` (3D): pixel
/// coordinates to [-1, 1] for spatial `sizes` ((H, W) or (D, H, W)), as (1, n+1, n+1).
/// `aligned`: corners at ±1 (a one-pixel axis maps to 0); otherwise pixel edges at ±1.
pub(crate) fn normal_transform_pixel(
    sizes: &[i64],
    aligned: bool,
    kind: Kind,
    device: Device,
) -> Tensor {
    let n = sizes.len();
    let mut m = vec![0.0f64; (n + 1) * (n + 1)];
    // Axis i of the coordinate vector is x, y, (z): sizes in reverse order.
    for (i, &size) in sizes.iter().rev().enumerate() {
        let (s, t) = if aligned {
            if size == 1 {
                (1.0, 0.0)
            } else {
                (2.0 / (size as f64 - 1.0), -1.0)
            }
        } else {
            let f = size as f64;
            (2.0 / f, (1.0 - f) / f)
        };
        m[i * (n + 1) + i] = s;
        m[i * (n + 1) + n] = t;
    }
    m[(n + 1) * (n + 1) - 1] = 1.0;
    let k = n as i64 + 1;
    constant(&m, kind, device).view([1, k, k])
}

/// Normalised pixel-centre coordinates along an axis of `n` pixels: `linspace(-1, 1)` with
/// corners aligned (0 for one pixel), else `linspace(-1 + 1/n, 1 - 1/n)`, as
/// `affine_grid` and Kornia's `create_meshgrid` lay them out.
pub(crate) fn base_coords(
    n: i64,
    align_corners: bool,
    kind: Kind,
    device: Device,
) -> Result<Tensor> {
    Ok(if align_corners {
        if n == 1 {
            Tensor::f_zeros([1], (kind, device))?
        } else {
            Tensor::f_linspace(-1.0, 1.0, n, (kind, device))?
        }
    } else {
        let nf = n as f64;
        Tensor::f_linspace(-1.0 + 1.0 / nf, 1.0 - 1.0 / nf, n, (kind, device))?
    })
}

/// The spatial sizes of a batched (B,C,…) shape.
pub(crate) fn spatial(shape: &[i64]) -> &[i64] {
    &shape[2..]
}

/// Warps `src` (B,C,H,W) or (B,C,D,H,W) by `t` (input pixels to output pixels; a batch of
/// 1 broadcasts) into an output of spatial size `out`, as Kornia's `warp_affine` /
/// `warp_perspective` (and their 3D versions, which normalise with corners aligned).
pub(crate) fn warp(src: &Tensor, t: &Transform, out: &[i64], s: &Sampling) -> Result<Tensor> {
    let size = src.size();
    let dims = size.len() - 2;
    let b = size[0];
    let (kind, device) = (src.kind(), src.device());
    let m = t.matrix().to_kind(kind).to_device(device);
    let aligned_norm = dims == 3 || s.align_corners;
    let n_src = normal_transform_pixel(spatial(&size), aligned_norm, kind, device);
    let n_dst = normal_transform_pixel(out, aligned_norm, kind, device);
    let inv = |x: &Tensor| {
        if dims == 2 {
            inverse3x3(x)
        } else {
            inverse_nxn(x)
        }
    };
    // dst_norm <- src_norm, then its inverse: src_norm <- dst_norm.
    let a = inv(&n_dst.matmul(&m.matmul(&inv(&n_src))));
    let projective = t.class() == TransformClass::Projective;
    // Kornia's 3D perspective warp lays its grid out with corners aligned whatever the flag.
    let base_aligned = if projective && dims == 3 {
        true
    } else {
        s.align_corners
    };
    let grid = normalized_grid(&a, out, base_aligned, projective, kind, device)?;
    let grid = if grid.size()[0] == 1 && b > 1 {
        let mut shape = grid.size();
        shape[0] = b;
        grid.expand(shape.as_slice(), false)
    } else {
        grid
    };
    sample(src, &grid, s)
}

/// The sampling grid (B, *out, n) of `a` (B, n+1, n+1: normalised dst → normalised src),
/// from two parts: the terms of every output axis but the last (per row of pixels) and the
/// last axis's term (per pixel), joined in one output-sized pass. Affine: the broadcast sum
/// `a[:, :n, n] + Σ_axis a[:, :n, axis]·coord_axis`. Projective: the same sum over all n+1
/// rows (`[p, 1] · Aᵀ` for every output pixel `p`), its first n coordinates times the
/// reciprocal of the last (1 where |w| ≤ 1e-8, as Kornia). On the CPU without a graph the
/// fused kernel makes the joining pass; elsewhere (a graph to record, CUDA, the composed
/// path) libtorch ops make it, with the same float operations in the same order, so a
/// learnable warp gives the same values with and without a graph.
fn normalized_grid(
    a: &Tensor,
    out: &[i64],
    aligned: bool,
    projective: bool,
    kind: Kind,
    device: Device,
) -> Result<Tensor> {
    // Output-sized tensors are made with `f_` ops: a size a user asks for that does not fit
    // in memory is an `Err`, not a panic.
    let n = out.len();
    let b = a.size()[0];
    let mut shape = vec![b];
    shape.extend_from_slice(out);
    shape.push(n as i64);
    // Rows of A the grid needs: n, and the last too when projective.
    let m = if projective { n + 1 } else { n } as i64;
    // (B, 1, …, 1, m) views of A's columns: the translation, then one per axis.
    let mut col_view = vec![b];
    col_view.extend(std::iter::repeat_n(1i64, n));
    col_view.push(m);
    let rows = a.narrow(-2, 0, m);
    let column = |j: usize| rows.select(-1, j as i64).view(col_view.as_slice());
    let term = |k: usize| -> Result<Tensor> {
        let mut view = vec![1i64; n + 2];
        view[k + 1] = out[k];
        let coords = base_coords(out[k], aligned, kind, device)?.view(view.as_slice());
        Ok(coords.f_mul(&column(n - 1 - k))?)
    };
    // Axis k of the output (0 = depth or height) carries coordinate n-1-k; the widest axis
    // last, so that only the last addition is output-sized. (B, …, 1, m): every term but
    // the last axis's.
    let mut partial = column(n);
    for k in 0..n - 1 {
        partial = partial.f_add(&term(k)?)?;
    }
    let last = term(n - 1)?;
    let width = out[n - 1];
    let mut row_shape = shape.clone();
    row_shape[n] = 1;
    row_shape[n + 1] = m;
    let flat_rows = partial
        .f_expand(row_shape.as_slice(), false)?
        .f_reshape([-1, m])?;
    // (A broadcast `add` walks its inner axis of n coordinates at a time; the kernel gives
    // the same values.)
    let fused = crate::kernels::grid(&flat_rows, &last.f_reshape([b, width, m])?, projective)?;
    if let Some(grid) = fused {
        return Ok(grid.view(shape.as_slice()));
    }
    let sum = partial.f_add(&last)?;
    if !projective {
        return Ok(sum);
    }
    let w = sum.narrow(-1, n as i64, 1);
    let ok = w.f_abs()?.f_gt(1e-8)?;
    let ones = w.f_ones_like()?;
    let scale = w
        .f_where_self(&ok, &ones)?
        .f_reciprocal()?
        .f_where_self(&ok, &ones)?;
    Ok(sum.narrow(-1, 0, n as i64).f_mul(&scale)?)
}

/// `grid_sampler` with Kornia's padding modes (`Fill` warps a ones mask as well).
pub(crate) fn sample(src: &Tensor, grid: &Tensor, s: &Sampling) -> Result<Tensor> {
    let dims = src.dim() - 2;
    let mode = s.grid_mode(dims)?;
    match s.padding {
        Padding::Fill => {
            let size = src.size();
            let out = src.f_grid_sampler(grid, mode, 0, s.align_corners)?;
            let mut ones_shape = size.clone();
            ones_shape[1] = 1;
            let ones = Tensor::f_ones(ones_shape.as_slice(), (src.kind(), src.device()))?;
            let mask = ones.f_grid_sampler(grid, mode, 0, s.align_corners)?;
            let c = size[1];
            let fill = s.fill.clone().unwrap_or_else(|| vec![0.0; c as usize]);
            let fill = if fill.len() == 1 {
                vec![fill[0]; c as usize]
            } else {
                fill
            };
            let mut view = vec![1i64; size.len()];
            view[1] = -1;
            let fill = constant(&fill, src.kind(), src.device()).view(view.as_slice());
            Ok(out.f_add(&mask.f_neg()?.f_add_scalar(1.0)?.f_mul(&fill)?)?)
        }
        p => {
            let pad = match p {
                Padding::Zeros => 0,
                Padding::Border => 1,
                _ => 2,
            };
            Ok(src.f_grid_sampler(grid, mode, pad, s.align_corners)?)
        }
    }
}

/// The matrix geometry of `aug` for an input of shape `shape`.
pub(crate) fn matrix_of<A: Augmentation + ?Sized>(
    aug: &A,
    shape: &[i64],
    params: &Params,
    kind: Kind,
    device: Device,
) -> Result<Transform> {
    match aug.geometry_ungated(shape, params, kind, device)? {
        Geometry::Matrix(t) => Ok(t),
        _ => Err(Error::NotInvertible {
            op: aug.name(),
            why: "it has no matrix".into(),
        }),
    }
}

/// Warps `input` by `aug`'s matrix for an input of shape `shape` (by its inverse when
/// `inverse`) into an output of spatial size `out`.
pub(crate) fn warp_by<A: Augmentation + ?Sized>(
    aug: &A,
    input: &Tensor,
    params: &Params,
    shape: &[i64],
    out: &[i64],
    s: &Sampling,
    inverse: bool,
) -> Result<Tensor> {
    let t = matrix_of(aug, shape, params, input.kind(), input.device())?;
    let t = if inverse { t.inverse() } else { t };
    warp(input, &t, out, s)
}

/// Extracts the window of spatial size `size` ((h, w) or (d, h, w)) starting at the
/// whole-pixel offsets `start` (B, n) in `(x, y[, z])` order from every sample of `x`, with
/// one `gather`. Exact. With `zeros_outside`, pixels outside the input are zeros (what a warp
/// gives them; one more pass over the output); without, the window must lie inside (an
/// index outside is libtorch's error).
pub(crate) fn crop_window(
    x: &Tensor,
    start: &Tensor,
    size: &[i64],
    zeros_outside: bool,
) -> Result<Tensor> {
    let shape = x.size();
    let (b, c) = (shape[0], shape[1]);
    let src = spatial(&shape);
    let n = size.len();
    let device = x.device();
    let start = start.to_device(device).round().to_kind(Kind::Int64);
    let mut flat: Option<Tensor> = None;
    let mut ok: Option<Tensor> = None;
    // Axis k of the tensor (0 = depth or height) takes coordinate n-1-k of `start`.
    for (k, (&len, &limit)) in size.iter().zip(src).enumerate() {
        let mut view = vec![b];
        view.extend(std::iter::repeat_n(1i64, n));
        view[k + 1] = len;
        let idx = start.select(1, (n - 1 - k) as i64).view([b, 1])
            + Tensor::f_arange(len, (Kind::Int64, device))?;
        let idx = if zeros_outside {
            let inside = idx.ge(0).logical_and(&idx.lt(limit)).view(view.as_slice());
            ok = Some(match ok {
                None => inside,
                Some(o) => o.f_logical_and(&inside)?,
            });
            idx.clamp(0, limit - 1)
        } else {
            idx
        }
        .view(view.as_slice());
        flat = Some(match flat {
            None => idx,
            Some(f) => f.f_mul_scalar(limit)?.f_add(&idx)?,
        });
    }
    let flat = flat.expect("n >= 1");
    let count: i64 = size.iter().product();
    let index = flat.reshape([b, 1, count]).expand([b, c, count], false);
    let mut out_shape = vec![b, c];
    out_shape.extend_from_slice(size);
    let out = x
        .f_reshape([b, c, src.iter().product::<i64>()])?
        .f_gather(2, &index, false)?
        .view(out_shape.as_slice());
    Ok(match ok {
        Some(ok) => out.f_where_scalarother(&ok.unsqueeze(1), 0.0)?,
        None => out,
    })
}

/// Resampling by a transform: the sampling layer's side of [`Transform`].
impl Transform {
    /// Warps `image` (B,C,H,W) (volumes (B,C,D,H,W)) by this transform into an output of
    /// spatial size `out` ((H, W) or (D, H, W)) with `sampling`: one `grid_sampler` call,
    /// differentiable with respect to the image and the matrix. Pixels are sampled at
    /// `M⁻¹ p`, as every geometric augmentation of the crate warps.
    ///
    /// # Errors
    /// [`Error::Geometry`] when the image's rank or batch does not fit the transform;
    /// [`Error::Config`] for bicubic sampling of a volume; libtorch errors.
    pub fn f_warp(&self, image: &Tensor, out: &[i64], sampling: &Sampling) -> Result<Tensor> {
        let size = image.size();
        let d = self.dims();
        if size.len() != d + 2 || out.len() != d || (self.batch() != 1 && self.batch() != size[0]) {
            return Err(Error::Geometry {
                what: "image to warp",
                problem: format!(
                    "has shape {size:?} (output size {out:?}); expected (B, C, {}) with B = {} and an output size of {d} numbers",
                    if d == 3 { "D, H, W" } else { "H, W" },
                    self.batch()
                ),
            });
        }
        crate::checks::float_kind("Transform", image.kind())?;
        warp(image, self, out, sampling)
    }
}

/// `F.interpolate` to `(h, w)` with Kornia's antialiasing (a Gaussian blur, reflect
/// border, sigma `(factor - 1)/2`, before downscaling).
pub(crate) fn resize(
    op: &'static str,
    x: &Tensor,
    (h, w): (i64, i64),
    resample: Resample,
    align: bool,
    antialias: bool,
) -> Result<Tensor> {
    let size = x.size();
    let (hi, wi) = (size[2], size[3]);
    let (fy, fx) = (hi as f64 / h as f64, wi as f64 / w as f64);
    let x = if antialias && fy.max(fx) > 1.0 {
        let (sy, sx) = (((fy - 1.0) / 2.0).max(0.001), ((fx - 1.0) / 2.0).max(0.001));
        let odd = |k: i64| if k % 2 == 1 { k } else { k + 1 };
        let ky = if hi == 1 {
            1
        } else {
            odd((4.0 * sy).max(3.0) as i64)
        };
        let kx = if wi == 1 {
            1
        } else {
            odd((4.0 * sx).max(3.0) as i64)
        };
        let opts = (x.kind(), x.device());
        let kernel_x = gaussian_kernel1d(kx, &Tensor::f_full([1, 1], sx, opts)?)?;
        let kernel_y = gaussian_kernel1d(ky, &Tensor::f_full([1, 1], sy, opts)?)?;
        filter2d_separable(op, x, &kernel_x, &kernel_y, Border::Reflect)?
    } else {
        x.shallow_clone()
    };
    Ok(match resample {
        Resample::Bilinear => x.f_upsample_bilinear2d([h, w], align, None, None)?,
        Resample::Bicubic => x.f_upsample_bicubic2d([h, w], align, None, None)?,
        Resample::Nearest => x.f_internal_upsample_nearest_exact2d([h, w], None, None)?,
    })
}
