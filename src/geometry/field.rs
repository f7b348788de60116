//! Dense warps as a value: the input pixel every output pixel samples, its interpolation,
//! inversion (where points land), gating and composition with matrices.

use super::{promote, Transform};
use crate::{Error, Result};
use tch::{Device, Kind, Tensor};

/// A dense warp: for every output pixel, the input pixel it samples.
///
/// Elastic, fisheye and thin-plate-spline warps report one of these. `source` is
/// (B, H_out, W_out, 2) in input pixel coordinates `(x, y)`, independent of how the
/// warp normalised its grid.
#[derive(Debug)]
pub struct DenseField {
    source: Tensor,
    input_size: (i64, i64),
}

impl Clone for DenseField {
    fn clone(&self) -> Self {
        DenseField {
            source: self.source.shallow_clone(),
            input_size: self.input_size,
        }
    }
}

/// Coarse-search candidates for inverting a field: at most this many per sample.
const SEARCH_CANDIDATES: i64 = 4096;
/// At most this many (point, candidate) distances in one coarse search (64 MB in float32);
/// beyond, fewer candidates, and below 16 of them none: Newton starts from the point itself
/// (inverting a whole image's field, whose warps are near the identity).
const SEARCH_PAIRS: i64 = 1 << 24;
/// Newton iterations when inverting a field.
const NEWTON_STEPS: usize = 10;
/// The finite-difference step (pixels) of the Jacobian in those iterations: small, so that
/// it is the derivative of the bilinear cell the point is in.
const JACOBIAN_STEP: f64 = 1e-2;

impl DenseField {
    /// A field from a `grid_sample` grid (B,H,W,2) normalised to [-1, 1] with the given
    /// `align_corners`, sampling an input of `input_size` (H, W).
    pub fn from_grid(grid: &Tensor, align_corners: bool, input_size: (i64, i64)) -> DenseField {
        let (h, w) = input_size;
        let unnorm = |g: Tensor, n: i64| {
            if align_corners {
                if n == 1 {
                    g.zeros_like()
                } else {
                    (g + 1.0) * ((n - 1) as f64 / 2.0)
                }
            } else {
                ((g + 1.0) * n as f64 - 1.0) / 2.0
            }
        };
        let x = unnorm(grid.select(-1, 0), w);
        let y = unnorm(grid.select(-1, 1), h);
        DenseField {
            source: Tensor::stack(&[x, y], -1),
            input_size,
        }
    }

    /// A field from source coordinates (B, H_out, W_out, 2) in input pixels.
    ///
    /// # Errors
    /// [`Error::Geometry`] for another shape.
    pub fn f_new(source: Tensor, input_size: (i64, i64)) -> Result<DenseField> {
        let size = source.size();
        if size.len() != 4 || size[3] != 2 {
            return Err(Error::Geometry {
                what: "dense field",
                problem: format!("has shape {size:?}; expected (B, H, W, 2)"),
            });
        }
        Ok(DenseField { source, input_size })
    }

    /// The identity field of `batch` samples of `size` (H, W).
    pub fn identity(batch: i64, size: (i64, i64), kind: Kind, device: Device) -> DenseField {
        DenseField {
            source: pixel_grid(size, kind, device).expand([batch, size.0, size.1, 2], false),
            input_size: size,
        }
    }

    /// (B, H_out, W_out, 2): the input pixel `(x, y)` each output pixel samples.
    pub fn source(&self) -> &Tensor {
        &self.source
    }

    /// The input's (H, W).
    pub fn input_size(&self) -> (i64, i64) {
        self.input_size
    }

    /// The output's (H, W).
    pub fn output_size(&self) -> (i64, i64) {
        let s = self.source.size();
        (s[1], s[2])
    }

    /// The batch size.
    pub fn batch(&self) -> i64 {
        self.source.size()[0]
    }

    /// Where output points (B,N,2) sample the input: the field interpolated bilinearly
    /// (beyond the border, the border's displacement continues). This is the exact
    /// backward map, used to carry points back through the warp.
    pub fn sample_points(&self, points: &Tensor) -> Tensor {
        let (ho, wo) = self.output_size();
        let kind = promote(points.kind(), self.source.kind());
        let pts = points.to_kind(kind);
        let field = self.source.to_kind(kind).permute([0, 3, 1, 2]);
        let lim = |n: i64| (n - 1).max(0) as f64;
        let cx = pts.select(-1, 0).clamp(0.0, lim(wo));
        let cy = pts.select(-1, 1).clamp(0.0, lim(ho));
        let norm = |v: &Tensor, n: i64| {
            if n == 1 {
                v.zeros_like()
            } else {
                v * (2.0 / (n - 1) as f64) - 1.0
            }
        };
        let grid = Tensor::stack(&[norm(&cx, wo), norm(&cy, ho)], -1).unsqueeze(1);
        let grid = if grid.size()[0] == 1 && self.batch() > 1 {
            grid.expand([self.batch(), -1, -1, -1], false)
        } else {
            grid
        };
        let field = if field.size()[0] == 1 && grid.size()[0] > 1 {
            field.expand([grid.size()[0], -1, -1, -1], false)
        } else {
            field
        };
        // (B,2,1,N) → (B,N,2), then the part beyond the border moves with the point.
        let at = field
            .grid_sampler(&grid, 0, 1, true)
            .squeeze_dim(2)
            .transpose(1, 2);
        let beyond = Tensor::stack(&[pts.select(-1, 0) - cx, pts.select(-1, 1) - cy], -1);
        (at + beyond).to_kind(points.kind())
    }

    /// Where input points (B,N,2) land in the output: the field inverted at each point,
    /// by a coarse search over the output pixels (at most 4,096 candidates, fewer for many
    /// points, none for a whole image's worth) and ten Newton steps on the bilinear field.
    /// A point no output pixel samples lands where the field comes closest to it.
    pub fn map_points(&self, points: &Tensor) -> Tensor {
        let (ho, wo) = self.output_size();
        let kind = promote(points.kind(), self.source.kind());
        let target = points.to_kind(kind);
        let b = target.size()[0].max(self.batch());
        let target = if target.size()[0] < b {
            target.expand([b, -1, -1], false)
        } else {
            target
        };
        let n = target.size()[1];
        if n == 0 {
            return points.shallow_clone();
        }
        // Coarse search on a strided grid of output pixels.
        let candidates = SEARCH_CANDIDATES.min(SEARCH_PAIRS / (b * n).max(1));
        let mut p = if candidates < 16 {
            let lim = |v: Tensor, len: i64| v.clamp(0.0, (len - 1) as f64);
            Tensor::stack(
                &[lim(target.select(-1, 0), wo), lim(target.select(-1, 1), ho)],
                -1,
            )
        } else {
            let stride = (((ho * wo) as f64 / candidates as f64).sqrt().ceil() as i64).max(1);
            let cand = self
                .source
                .to_kind(kind)
                .slice(1, 0, ho, stride)
                .slice(2, 0, wo, stride);
            let (hc, wc) = (cand.size()[1], cand.size()[2]);
            let cand = cand.reshape([cand.size()[0], hc * wc, 2]);
            let dist = (target.unsqueeze(2) - cand.unsqueeze(1))
                .square()
                .sum_dim_intlist([-1i64].as_slice(), false, kind);
            let idx = dist.argmin(-1, false);
            let iy = idx.divide_scalar_mode(wc, "floor") * stride;
            let ix = idx.remainder(wc) * stride;
            Tensor::stack(&[ix, iy], -1).to_kind(kind)
        };
        // Newton on f(p) = source(p) - target, with a central-difference Jacobian.
        let h = JACOBIAN_STEP;
        let dx = crate::ops::constant(&[h, 0.0], kind, target.device()).view([1, 1, 2]);
        let dy = crate::ops::constant(&[0.0, h], kind, target.device()).view([1, 1, 2]);
        for _ in 0..NEWTON_STEPS {
            let f = self.sample_points(&p) - &target;
            let jx =
                (self.sample_points(&(&p + &dx)) - self.sample_points(&(&p - &dx))) / (2.0 * h);
            let jy =
                (self.sample_points(&(&p + &dy)) - self.sample_points(&(&p - &dy))) / (2.0 * h);
            // Solve [jx jy] · step = f for each point (2×2, closed form).
            let (a, c) = (jx.select(-1, 0), jx.select(-1, 1));
            let (bb, d) = (jy.select(-1, 0), jy.select(-1, 1));
            let det = &a * &d - &bb * &c;
            let ok = det.abs().gt(1e-9);
            let safe = det.where_self(&ok, &det.ones_like());
            let (fx, fy) = (f.select(-1, 0), f.select(-1, 1));
            let sx = (&d * &fx - &bb * &fy) / &safe;
            let sy = (&a * &fy - &c * &fx) / &safe;
            let step = Tensor::stack(&[sx.where_self(&ok, &fx), sy.where_self(&ok, &fy)], -1);
            // Never jump further than the output is wide.
            let limit = (ho.max(wo)) as f64;
            p -= step.clamp(-limit, limit);
        }
        p.to_kind(points.kind())
    }

    /// The field applied only where `batch_prob` (B,) is 1; elsewhere the identity (the
    /// output must then have the input's size).
    pub fn gated(&self, batch_prob: &Tensor) -> DenseField {
        let (h, w) = self.output_size();
        let id = pixel_grid((h, w), self.source.kind(), self.source.device());
        let on = batch_prob
            .to_device(self.source.device())
            .gt(0.5)
            .view([-1, 1, 1, 1]);
        DenseField {
            source: self.source.where_self(&on, &id),
            input_size: self.input_size,
        }
    }

    /// The inverse field (same sizes): each input pixel mapped forward, by
    /// [`DenseField::map_points`]. Approximate where the warp folds or leaves the frame.
    pub fn inverse(&self) -> DenseField {
        let (h, w) = self.input_size;
        let (kind, device) = (self.source.kind(), self.source.device());
        let grid = pixel_grid((h, w), kind, device)
            .reshape([1, h * w, 2])
            .expand([self.batch(), h * w, 2], false);
        let fwd = self.map_points(&grid).reshape([self.batch(), h, w, 2]);
        DenseField {
            source: fwd,
            input_size: self.output_size(),
        }
    }

    /// The `grid_sample` grid (B,H_out,W_out,2) of this field for `align_corners`.
    pub(crate) fn to_grid(&self, align_corners: bool) -> Tensor {
        let (h, w) = self.input_size;
        let norm = |v: Tensor, n: i64| {
            if align_corners {
                if n == 1 {
                    v.zeros_like()
                } else {
                    v * (2.0 / (n - 1) as f64) - 1.0
                }
            } else {
                (v * 2.0 + 1.0) / n as f64 - 1.0
            }
        };
        Tensor::stack(
            &[
                norm(self.source.select(-1, 0), w),
                norm(self.source.select(-1, 1), h),
            ],
            -1,
        )
    }

    /// Composition with a matrix applied before the field: `self ∘ m` samples the input of
    /// `m` at `m⁻¹(source)`.
    pub(crate) fn after_matrix(&self, m: &Transform, input_size: (i64, i64)) -> DenseField {
        DenseField {
            source: m.inverse().map_points(&self.source),
            input_size,
        }
    }

    /// Composition with a matrix applied after the field, into an output of `size`.
    pub(crate) fn before_matrix(&self, m: &Transform, size: (i64, i64)) -> DenseField {
        let b = self.batch().max(m.batch());
        let (kind, device) = (self.source.kind(), self.source.device());
        let grid = pixel_grid(size, kind, device)
            .reshape([1, size.0 * size.1, 2])
            .expand([b, size.0 * size.1, 2], false);
        let back = m.inverse().map_points(&grid);
        DenseField {
            source: self.sample_points(&back).reshape([b, size.0, size.1, 2]),
            input_size: self.input_size,
        }
    }

    /// Composition with another field applied after this one.
    pub(crate) fn before_field(&self, next: &DenseField) -> DenseField {
        let s = next.source.size();
        let pts = next.source.reshape([s[0], s[1] * s[2], 2]);
        DenseField {
            source: self.sample_points(&pts).reshape([-1, s[1], s[2], 2]),
            input_size: self.input_size,
        }
    }
}

/// (H, W, 2) pixel coordinates `(x, y)` of every pixel.
pub(crate) fn pixel_grid((h, w): (i64, i64), kind: Kind, device: Device) -> Tensor {
    let xs = Tensor::arange(w, (kind, device))
        .view([1, w])
        .expand([h, w], false);
    let ys = Tensor::arange(h, (kind, device))
        .view([h, 1])
        .expand([h, w], false);
    Tensor::stack(&[xs, ys], -1)
}
