//! RandomClahe: contrast-limited adaptive histogram equalisation (Kornia's
//! `equalize_clahe`).

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, uniform_between};
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomClahe`]; `Default` is Kornia's (`clip_limit = (40, 40)`,
/// `grid_size = (8, 8)`, `p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaheConfig {
    /// Range of the clip limit, `0 <= lo <= hi`: a tile's histogram bins are capped at
    /// `max(floor(limit · pixels / 256), 1)` counts and the excess spread over the bins (as
    /// OpenCV); a limit of 0 turns the capping off (plain adaptive equalisation).
    pub clip_limit: (f64, f64),
    /// Number of tiles (rows, columns); each image side must be larger than its count.
    pub grid_size: (i64, i64),
    /// Kernel-density histograms (bandwidth 0.001) and unrounded lookup tables, so that the
    /// output has a gradient with respect to the input (through the tables); much slower
    /// and memory-hungry (tiles × pixels × 256). Off, the output has no gradient, as
    /// Kornia's.
    pub slow_and_differentiable: bool,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of equalising each sample.
    pub p: f64,
}

impl Default for ClaheConfig {
    fn default() -> Self {
        ClaheConfig {
            clip_limit: (40.0, 40.0),
            grid_size: (8, 8),
            slow_and_differentiable: false,
            same_on_batch: false,
            p: 0.5,
        }
    }
}

const CLAHE: &str = "RandomClahe";

/// The number of histogram bins (8-bit levels).
const BINS: i64 = 256;

/// Contrast-limited adaptive histogram equalisation (Kornia's `RandomClahe`): the image is
/// cut into `grid_size` tiles of `ceil(H / rows)` by `ceil(W / columns)` pixels (padded at
/// its end by reflection where the grid does not divide it); each tile and channel gets the
/// lookup table of its clipped 256-bin histogram (OpenCV's clipping and redistribution),
/// and each pixel blends the tables of the four tiles around it bilinearly, weights
/// anchored at the tiles' centres and border tables held. A pixel's level is
/// `floor(255·x)`. Values are clamped to [0, 1] first.
///
/// Params: `clip_limit_factor` (B,), `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64, with `H > rows` and `W > columns`;
/// output the same.
///
/// # Errors
/// `new` fails on a negative, reversed or NaN clip range, a grid count below 1, or a bad
/// `p`; `f_*` forms on a bad input or an image too small for the grid.
#[derive(Debug)]
pub struct RandomClahe {
    cfg: ClaheConfig,
}

impl RandomClahe {
    /// Builds the augmentation (it has no variables; `path` is taken for symmetry).
    ///
    /// # Errors
    /// [`Error::Config`] for a negative, reversed or NaN clip range, a grid count below 1,
    /// or a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: ClaheConfig) -> Result<RandomClahe> {
        checks::range(
            CLAHE,
            "clip_limit",
            cfg.clip_limit,
            (0.0, checks::MAGNITUDE),
        )?;
        let (gh, gw) = cfg.grid_size;
        if gh < 1 || gw < 1 || gh > 1 << 16 || gw > 1 << 16 {
            return Err(Error::Config {
                op: CLAHE,
                name: "grid_size",
                value: format!("{:?}", cfg.grid_size),
                allowed: "1 to 65536 tiles per axis".into(),
            });
        }
        checks::probability(CLAHE, "p", cfg.p)?;
        Ok(RandomClahe { cfg })
    }

    /// The tile size (rows, columns) and the padding to whole tiles (rows, columns) for an
    /// (h, w) image.
    fn tiles(&self, h: i64, w: i64) -> ((i64, i64), (i64, i64)) {
        let (gh, gw) = self.cfg.grid_size;
        let (th, tw) = ((h + gh - 1) / gh, (w + gw - 1) / gw);
        ((th, tw), (th * gh - h, tw * gw - w))
    }
}

impl Augmentation for RandomClahe {
    fn name(&self) -> &'static str {
        CLAHE
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomClahe(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let (h, w) = (shape[2], shape[3]);
        let (gh, gw) = self.cfg.grid_size;
        // Then the padding to whole tiles (below one tile per axis) is smaller than the
        // image, as its reflection needs.
        if h <= gh || w <= gw {
            return Err(Error::Size {
                op: CLAHE,
                what: "tile grid (rows, columns)",
                size: vec![gh, gw],
                input: vec![h, w],
                allowed: "sides larger than the grid",
            });
        }
        Ok(())
    }

    /// Kornia's draws: the gate, then one clip limit per sample.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        p.insert(
            "clip_limit_factor",
            uniform_between(b, same, device, self.cfg.clip_limit)?,
        );
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let size = input.size();
        let (b, c, h, w) = (size[0], size[1], size[2], size[3]);
        let clip = params.shaped(CLAHE, "clip_limit_factor", &[b])?;
        if b == 0 {
            return Ok(input.shallow_clone());
        }
        let x = input.clamp(0.0, 1.0);
        let (gh, gw) = self.cfg.grid_size;
        let ((th, tw), (ph, pw)) = self.tiles(h, w);
        let x = if ph > 0 || pw > 0 {
            x.f_pad([0, pw, 0, ph], "reflect", None)?
        } else {
            x
        };
        // (B, C, GH·TH, GW·TW) -> one row of pixels per (image, tile row, tile column,
        // channel), Kornia's order.
        let pixels = th * tw;
        let tiles = x
            .f_reshape([b, c, gh, th, gw, tw])?
            .permute([0, 2, 4, 1, 3, 5])
            .f_reshape([-1, pixels])?;
        let diff = self.cfg.slow_and_differentiable;
        let hist = if diff {
            soft_histogram(&tiles)? * pixels as f64
        } else {
            counts(&tiles)?
        };
        let hist = clip_histograms(&hist, clip, (b, gh * gw * c), pixels, diff)?;
        let luts = (hist.f_cumsum(1, None::<Kind>)? * ((BINS - 1) as f64 / pixels as f64))
            .clamp(0.0, (BINS - 1) as f64);
        let luts = if diff { luts } else { luts.round().detach() };
        let luts = luts.view([b, gh, gw, c, BINS]);
        let out = blend(&x, &luts, (th, tw))?;
        // The fast tables carry no gradient: Kornia returns an output outside the graph;
        // here it stays in it with a zero gradient, so that a pipeline's backward still runs.
        let out = if !diff && x.requires_grad() {
            out + &x * 0.0
        } else {
            out
        };
        Ok(out.narrow(2, 0, h).narrow(3, 0, w))
    }
}

impl_module!(RandomClahe);

/// Each row's 256-bin histogram of levels `floor(255·x)` (T, 256), in the rows' kind.
fn counts(tiles: &Tensor) -> Result<Tensor> {
    let idx = (tiles * (BINS - 1) as f64)
        .to_kind(Kind::Int64)
        .clamp(0, BINS - 1);
    let zeros = Tensor::f_zeros([tiles.size()[0], BINS], (tiles.kind(), tiles.device()))?;
    Ok(zeros.f_scatter_add(1, &idx, &tiles.ones_like())?)
}

/// Kornia's kernel-density histogram (bandwidth 0.001 at the 256 levels `k/255`,
/// normalised to 1 per row), differentiable in the rows.
fn soft_histogram(tiles: &Tensor) -> Result<Tensor> {
    let device = tiles.device();
    // Kornia's float32 levels and bandwidth (promoted for float64 tiles).
    let levels = Tensor::f_linspace(0.0, 1.0, BINS, (Kind::Float, device))?;
    let sigma = Tensor::from(0.001f32).to_device(device);
    let residuals = tiles.unsqueeze(2) - levels.view([1, 1, BINS]);
    let kernel = ((residuals / sigma).pow_tensor_scalar(2) * -0.5).exp();
    let pdf = kernel.f_mean_dim(Some([1i64].as_slice()), false, None::<Kind>)?;
    let norm = pdf.f_sum_dim_intlist(Some([1i64].as_slice()), true, None::<Kind>)? + 1e-10;
    Ok(pdf / norm)
}

/// OpenCV's contrast limiting, per row: bins capped at `max(floor(limit·pixels/256), 1)`,
/// the clipped mass spread evenly in whole shares and the rest one count to every
/// `floor(256/rest)`-th bin; rows of a zero limit unchanged. `clip` (B,) is one limit per
/// image, each repeated over its `per_image` rows.
fn clip_histograms(
    hist: &Tensor,
    clip: &Tensor,
    (b, per_image): (i64, i64),
    pixels: i64,
    diff: bool,
) -> Result<Tensor> {
    let (kind, device) = (hist.kind(), hist.device());
    let clip = clip.to_device(device);
    let limits = clip.to_kind(Kind::Double);
    let max = (limits * pixels as f64)
        .f_div_scalar_mode(BINS as f64, "floor")?
        .clamp_min(1.0)
        .to_kind(kind)
        .view([b, 1])
        .expand([b, per_image], false)
        .reshape([-1, 1]);
    let limited = hist.f_clamp_max_tensor(&max)?;
    let clipped = if diff {
        (hist - &max)
            .relu()
            .sum_dim_intlist(Some([1i64].as_slice()), false, None::<Kind>)
    } else {
        limited
            .sum_dim_intlist(Some([1i64].as_slice()), false, None::<Kind>)
            .neg()
            + pixels as f64
    };
    let rest = clipped.f_remainder(BINS as f64)?;
    let limited = limited + ((&clipped - &rest) / BINS as f64).unsqueeze(1);
    let limited = limited + spread(&rest)?;
    let enabled = clip
        .gt(0.0)
        .view([b, 1])
        .expand([b, per_image], false)
        .reshape([-1, 1]);
    Ok(limited.where_self(&enabled, hist))
}

/// One count to every `step`-th bin from bin 0, `step = max(floor(256/rest), 1)`, until
/// the rest (below 256) is spent: (T, 256) of zeros and ones.
fn spread(rest: &Tensor) -> Result<Tensor> {
    let bins = Tensor::f_arange(BINS, (Kind::Int64, rest.device()))?;
    // Kornia divides the integer 256 by the float rest (floor division).
    let step = Tensor::f_full_like(rest, BINS as f64)?
        .f_div_tensor_mode(&rest.clamp_min(1.0), "floor")?
        .clamp_min(1.0)
        .unsqueeze(1);
    let hit = bins.f_remainder_tensor(&step)?.eq(0.0).logical_and(
        &bins
            .f_div_tensor_mode(&step, "floor")?
            .lt_tensor(&rest.unsqueeze(1)),
    );
    Ok(hit.to_kind(rest.kind()))
}

/// Each pixel of the padded (B,C,H,W) image through the tables of the four tiles around
/// it, blended bilinearly (weights anchored at the tiles' centres; beyond the outer
/// centres, the border tables), in 0..1.
fn blend(x: &Tensor, luts: &Tensor, (th, tw): (i64, i64)) -> Result<Tensor> {
    let size = x.size();
    let (b, c, h, w) = (size[0], size[1], size[2], size[3]);
    let lsize = luts.size();
    let (gh, gw) = (lsize[1], lsize[2]);
    let (kind, device) = (x.kind(), x.device());
    // Positions in tile units, in float64 for float64 images and float32 otherwise.
    let coords = |n: i64, t: i64, g: i64| -> Result<(Tensor, Tensor, Tensor)> {
        let ck = if kind == Kind::Double {
            Kind::Double
        } else {
            Kind::Float
        };
        let p = (Tensor::f_arange(n, (ck, device))? - (t - 1) as f64 / 2.0) / t as f64;
        let fl = p.floor();
        let i0 = fl.to_kind(Kind::Int64);
        let i1 = (&i0 + 1).clamp(0, g - 1);
        let i0 = i0.clamp(0, g - 1);
        let wgt = (&p - &fl).clamp(0.0, 1.0);
        let outside = p.lt(0.0).logical_or(&p.gt((g - 1) as f64));
        let wgt = wgt.zeros_like().where_self(&outside, &wgt).to_kind(kind);
        Ok((i0, i1, wgt))
    };
    let (y0, y1, wy) = coords(h, th, gh)?;
    let (x0, x1, wx) = coords(w, tw, gw)?;
    // Flat offsets into the tables, (b, tile row, tile column, channel, level) row-major:
    // four `take`s of one index each, rather than five-index gathers.
    let luts = luts.to_kind(kind).reshape([-1]);
    let per_tile = c * BINS;
    // Clamped so that no value (NaN included, whose level is undefined) reads outside its
    // table: on a GPU that would be a device-side assert, not an error.
    let level = (x * (BINS - 1) as f64)
        .to_kind(Kind::Int64)
        .clamp(0, BINS - 1);
    let bi = Tensor::f_arange(b, (Kind::Int64, device))?.view([b, 1, 1, 1]) * (gh * gw * per_tile);
    let ci = Tensor::f_arange(c, (Kind::Int64, device))?.view([1, c, 1, 1]) * BINS;
    let base = level + bi + ci;
    let (r0, r1) = (
        (y0 * (gw * per_tile)).view([1, 1, h, 1]),
        (y1 * (gw * per_tile)).view([1, 1, h, 1]),
    );
    let (c0, c1) = (
        (x0 * per_tile).view([1, 1, 1, w]),
        (x1 * per_tile).view([1, 1, 1, w]),
    );
    let at = |r: &Tensor, col: &Tensor| -> Result<Tensor> { Ok(luts.f_take(&(&base + r + col))?) };
    let (tl, tr) = (at(&r0, &c0)?, at(&r0, &c1)?);
    let (bl, br) = (at(&r1, &c0)?, at(&r1, &c1)?);
    let wy = wy.view([1, 1, h, 1]);
    let ux = (wx.ones_like() - wx).view([1, 1, 1, w]);
    let top = &tr + (&tl - &tr) * &ux;
    let bottom = &br + (&bl - &br) * &ux;
    Ok((&top + (&bottom - &top) * wy) / 255.0)
}

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomClahe {
    type Config = ClaheConfig;

    fn from_kornia(kw: &Kwargs) -> Result<ClaheConfig> {
        let mut c = ClaheConfig::default();
        set!(c.clip_limit = kw.pair("clip_limit")?);
        set!(c.grid_size = kw.size("grid_size")?);
        set!(c.slow_and_differentiable = kw.flag("slow_and_differentiable")?);
        common!(kw, c);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tile and no clipping: plain histogram equalisation, by hand. Levels 0, 10, 10,
    /// 200 have the cumulative counts 1, 3, 3, 4 of 4 pixels, so the table maps them to
    /// round(255·1/4) = 64, round(255·3/4) = 191 and 255.
    #[test]
    fn one_unclipped_tile_is_histogram_equalisation() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = ClaheConfig {
            clip_limit: (0.0, 0.0),
            grid_size: (1, 1),
            p: 1.0,
            ..Default::default()
        };
        let op = RandomClahe::new(vs.root(), cfg).unwrap();
        let levels = [0.5f32, 10.5, 10.5, 200.5].map(|v| v / 255.0);
        let x = Tensor::from_slice(&levels).view([1, 1, 2, 2]);
        let params = op.sample(&[1, 1, 2, 2], Device::Cpu).unwrap();
        let y: Vec<f32> =
            Vec::try_from(op.apply_transform(&x, &params).unwrap().view([-1])).unwrap();
        let expect = [64.0f32, 191.0, 191.0, 255.0].map(|v| v / 255.0);
        assert_eq!(y, expect);
    }

    #[test]
    fn bad_configs_and_inputs_are_typed_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let err = |cfg: ClaheConfig| RandomClahe::new(vs.root(), cfg).unwrap_err().to_string();
        let grid = |g| ClaheConfig {
            grid_size: g,
            ..Default::default()
        };
        assert_eq!(
            err(grid((0, 2))),
            "RandomClahe: grid_size = (0, 2) is invalid; allowed: 1 to 65536 tiles per axis"
        );
        assert!(err(ClaheConfig {
            clip_limit: (-1.0, 2.0),
            ..Default::default()
        })
        .contains("clip_limit = (-1, 2)"));
        let op = RandomClahe::new(vs.root(), ClaheConfig::default()).unwrap();
        // An 8x8 grid needs sides above 8.
        let e = op.check_shape(&[1, 3, 8, 20]).unwrap_err().to_string();
        assert!(
            e.starts_with("RandomClahe: tile grid (rows, columns) [8, 8] does not fit"),
            "{e}"
        );
        assert!(op.check_shape(&[1, 3, 9, 20]).is_ok());
        // A 5x5 grid on 6 rows: tiles of 2 rows, 4 rows of reflected padding.
        let op = RandomClahe::new(vs.root(), grid((5, 5))).unwrap();
        assert!(op.check_shape(&[1, 1, 5, 10]).is_err());
        let x = Tensor::f_rand([1, 1, 6, 10], (Kind::Float, Device::Cpu)).unwrap();
        let params = op.sample(&[1, 1, 6, 10], Device::Cpu).unwrap();
        assert_eq!(
            op.apply_transform(&x, &params).unwrap().size(),
            [1, 1, 6, 10]
        );
    }
}
