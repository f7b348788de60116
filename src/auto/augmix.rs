//! torchvision's AugMix: the image blended with several chains of operations applied to it.
//!
//! As torchvision 0.28's `v2.AugMix` on float images: per sample, two Dirichlet draws on the
//! input's device weigh the image against the chains and the chains against each other;
//! once per call, on torch's CPU generator in torchvision's order, each chain draws its
//! depth (1 to 3, or `chain_depth`) and, per step, an operation of torchvision's
//! augmentation space with its magnitude and sign. Every chain runs on the whole batch.
//! The operations are torchvision's own (its affine grid, its grayscale weights, its
//! equalisation through uint8), not Kornia's.

use crate::checks;
use crate::kornia::kwargs::{FromKornia, Reference};
use crate::warp::Resample;
use crate::{AugSpec, Augmentation, Error, Geometry, MaskSampling, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

const OP: &str = "AugMix";

/// torchvision's augmentation space, in its order; `all_ops: false` uses the first 9
/// (without brightness, colour, contrast and sharpness).
pub const AUGMIX_OPS: [&str; 13] = [
    "ShearX",
    "ShearY",
    "TranslateX",
    "TranslateY",
    "Rotate",
    "Posterize",
    "Solarize",
    "AutoContrast",
    "Equalize",
    "Brightness",
    "Color",
    "Contrast",
    "Sharpness",
];
const PARTIAL: i64 = 9;
/// torchvision's number of magnitude bins (`_PARAMETER_MAX`), the most `severity` can be.
const LEVELS: i64 = 10;
/// The most chains and steps per chain a config may ask (each runs on the whole batch).
const MOST: i64 = 32;

/// Configuration of [`AugMix`]; `Default` is torchvision's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugMixConfig {
    /// How many of the 10 magnitude bins a step draws from (1 to 10).
    pub severity: i64,
    /// The number of chains (1 to 32).
    pub mixture_width: i64,
    /// Steps per chain (1 to 32); 0 or negative: drawn per chain in 1..=3.
    pub chain_depth: i64,
    /// The Dirichlet concentration of both weightings (> 0, finite and normal in float32).
    pub alpha: f64,
    /// All 13 operations, or the first 9 (without brightness, colour, contrast, sharpness).
    pub all_ops: bool,
    /// Interpolation of the geometric operations: bilinear (torchvision's default for
    /// AugMix) or nearest.
    pub resample: Resample,
    /// What the geometric operations show outside the image: `None` (zeros, torchvision's
    /// default) or one value, or one per channel, blended in as torchvision's fill is.
    pub fill: Option<Vec<f64>>,
}

impl Default for AugMixConfig {
    fn default() -> Self {
        AugMixConfig {
            severity: 3,
            mixture_width: 3,
            chain_depth: -1,
            alpha: 1.0,
            all_ops: true,
            resample: Resample::Bilinear,
            fill: None,
        }
    }
}

/// torchvision's `AugMix` ("AugMix: A Simple Data Processing Method to Improve Robustness
/// and Uncertainty"): `m₀·x + Σᵢ m₁·wᵢ·chainᵢ(x)`, with `(m₀, m₁)` and `w` Dirichlet draws
/// per sample and each chain a few of torchvision's operations (shear, translate, rotate,
/// posterize, solarize, autocontrast, equalize; with `all_ops` brightness, colour, contrast,
/// sharpness), with magnitudes from `severity`.
///
/// Params: `beta` (B,2) and `chain_weights` (B,W) on the input's device; `ops` (W,D) int64
/// (indices into [`AUGMIX_OPS`], -1 past a chain's depth) and `magnitudes` (W,D) float64,
/// signed, on the CPU (they choose what runs, so reading them costs no device
/// synchronisation); `batch_prob`, `forward_input_shape`. D is 3, or `chain_depth`.
///
/// The output is differentiable with respect to the input through every operation but
/// posterize and equalize (piecewise constant, as in torchvision); torchvision's own
/// autocontrast cannot be differentiated (it updates in place what its backward needs),
/// ours can. Masks, boxes and keypoints are refused (torchvision refuses them too: the
/// chains move the image by different geometries); the step has no inverse.
///
/// Images are float, in [0, 1] (a uint8 batch goes through a [`crate::Sequential`], which
/// reads it as `x / 255`): torchvision's uint8 path, which rounds after every operation,
/// is not reproduced.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), C 1 or 3, float32 or float64; output the same.
#[derive(Debug)]
pub struct AugMix {
    cfg: AugMixConfig,
}

impl AugMix {
    /// Builds it (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] for a severity outside 1..=10, a width outside 1..=32, a depth
    /// above 32, an alpha that is not positive and finite in float32, bicubic resampling, or a fill
    /// that is empty or not finite.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: AugMixConfig) -> Result<AugMix> {
        let bad =
            |name, value: String, allowed: &str| Err(checks::config(OP, name, value, allowed));
        if !(1..=LEVELS).contains(&cfg.severity) {
            return bad("severity", cfg.severity.to_string(), "1 to 10");
        }
        if !(1..=MOST).contains(&cfg.mixture_width) {
            return bad(
                "mixture_width",
                cfg.mixture_width.to_string(),
                "1 to 32 chains",
            );
        }
        if cfg.chain_depth > MOST {
            return bad(
                "chain_depth",
                cfg.chain_depth.to_string(),
                "1 to 32 steps, or 0 or less for a depth drawn in 1..=3",
            );
        }
        if !(checks::f32_finite(cfg.alpha) && checks::f32_positive(cfg.alpha)) {
            return bad(
                "alpha",
                cfg.alpha.to_string(),
                "a concentration > 0, finite and normal in float32",
            );
        }
        if cfg.resample == Resample::Bicubic {
            return bad(
                "resample",
                "bicubic".into(),
                "bilinear or nearest (torchvision's)",
            );
        }
        if let Some(fill) = &cfg.fill {
            if fill.is_empty() || fill.iter().any(|v| !v.is_finite()) {
                return bad(
                    "fill",
                    format!("{fill:?}"),
                    "None, one finite value, or one per channel",
                );
            }
        }
        Ok(AugMix { cfg })
    }

    /// The most steps a chain can have: the width of `ops` and `magnitudes`.
    fn depth_slots(&self) -> i64 {
        self.cfg.chain_depth.max(3)
    }

    /// The magnitude bins of operation `op` on an image of `h` × `w` (`None`: it has none),
    /// in float32 as torchvision makes them, and whether a drawn one takes a random sign.
    fn bins(op: i64, h: i64, w: i64) -> Result<(Option<Vec<f64>>, bool)> {
        let cpu = (Kind::Float, Device::Cpu);
        let linspace = |hi: f64| -> Result<Option<Vec<f64>>> {
            Ok(Some(Vec::<f64>::try_from(
                Tensor::f_linspace(0.0, hi, LEVELS, cpu)?.f_to_kind(Kind::Double)?,
            )?))
        };
        Ok(match AUGMIX_OPS[op as usize] {
            "ShearX" | "ShearY" => (linspace(0.3)?, true),
            "TranslateX" => (linspace(w as f64 / 3.0)?, true),
            "TranslateY" => (linspace(h as f64 / 3.0)?, true),
            "Rotate" => (linspace(30.0)?, true),
            // 4 − k / 2.25 in float32, rounded half to even: bits 4, 4, 3, 3, 2, 2, 1, 1, 0, 0.
            "Posterize" => {
                let k = Tensor::f_arange(LEVELS, (Kind::Int64, Device::Cpu))?;
                let bits = (k.f_div_scalar((LEVELS - 1) as f64 / 4.0)?.f_neg()? + 4.0).f_round()?;
                (
                    Some(Vec::<f64>::try_from(bits.f_to_kind(Kind::Double)?)?),
                    false,
                )
            }
            "Solarize" => (
                Some(Vec::<f64>::try_from(
                    Tensor::f_linspace(1.0, 0.0, LEVELS, cpu)?.f_to_kind(Kind::Double)?,
                )?),
                false,
            ),
            "AutoContrast" | "Equalize" => (None, false),
            _ => (linspace(0.9)?, true),
        })
    }

    /// `ops` and `magnitudes` read from `params` (on the CPU), checked: each chain's
    /// operations (index, magnitude), in order.
    fn chains(&self, params: &Params) -> Result<Vec<Vec<(usize, f64)>>> {
        let (w, d) = (self.cfg.mixture_width, self.depth_slots());
        let bad = |key: &str, problem: String| Error::Params {
            op: OP,
            key: key.into(),
            problem,
        };
        let ops = params.shaped(OP, "ops", &[w, d])?;
        let mags = params.shaped(OP, "magnitudes", &[w, d])?;
        if ops.is_floating_point() || ops.kind() == Kind::Bool {
            return Err(bad(
                "ops",
                format!("has kind {:?}; expected int64 indices", ops.kind()),
            ));
        }
        let ops = Vec::<i64>::try_from(ops.f_to_device(Device::Cpu)?.f_reshape([-1])?)?;
        let mags = Vec::<f64>::try_from(
            mags.f_to_device(Device::Cpu)?
                .f_to_kind(Kind::Double)?
                .f_reshape([-1])?,
        )?;
        let space = if self.cfg.all_ops { 13 } else { PARTIAL };
        let mut chains = Vec::with_capacity(w as usize);
        for i in 0..w as usize {
            let row = &ops[i * d as usize..(i + 1) * d as usize];
            let depth = row.iter().take_while(|&&o| o >= 0).count();
            if depth == 0
                || row[depth..].iter().any(|&o| o != -1)
                || row[..depth].iter().any(|&o| o >= space)
            {
                return Err(bad(
                    "ops",
                    format!(
                        "chain {i} is {row:?}; expected at least one index in 0..{space}, \
                         then -1 past its depth"
                    ),
                ));
            }
            let chain: Vec<(usize, f64)> = (0..depth)
                .map(|j| (row[j] as usize, mags[i * d as usize + j]))
                .collect();
            if chain.iter().any(|&(_, m)| !checks::f32_finite(m)) {
                return Err(bad(
                    "magnitudes",
                    format!("chain {i} is not finite in float32"),
                ));
            }
            chains.push(chain);
        }
        Ok(chains)
    }

    /// Operation `op` with magnitude `m` on the whole batch `x`, as torchvision's.
    fn operation(&self, x: &Tensor, op: usize, m: f64) -> Result<Tensor> {
        let s = x.size();
        let (c, h, w) = (s[1], s[2], s[3]);
        // torchvision's centre argument (0, 0) (the image's corner) in its centred frame.
        let corner = (-0.5 * w as f64, -0.5 * h as f64);
        let degrees = |t: f64| t.atan().to_degrees();
        Ok(match AUGMIX_OPS[op] {
            "ShearX" => self.affine(x, corner, 0.0, (0.0, 0.0), (degrees(m), 0.0))?,
            "ShearY" => self.affine(x, corner, 0.0, (0.0, 0.0), (0.0, degrees(m)))?,
            "TranslateX" => self.affine(x, (0.0, 0.0), 0.0, (m.trunc(), 0.0), (0.0, 0.0))?,
            "TranslateY" => self.affine(x, (0.0, 0.0), 0.0, (0.0, m.trunc()), (0.0, 0.0))?,
            "Rotate" => {
                let angle = m.rem_euclid(360.0);
                if angle == 0.0 {
                    x.shallow_clone()
                } else if angle == 180.0 {
                    x.f_rot90(2, [-2, -1])?
                } else if h == w && (angle == 90.0 || angle == 270.0) {
                    x.f_rot90(if angle == 90.0 { 1 } else { 3 }, [-2, -1])?
                } else {
                    // torchvision's rotate turns the other way round from its affine.
                    self.affine(x, (0.0, 0.0), -angle, (0.0, 0.0), (0.0, 0.0))?
                }
            }
            "Posterize" => {
                let levels = (1i64 << (m as i64).clamp(0, 8)) as f64;
                (x * levels)
                    .f_floor()?
                    .f_clamp(0.0, levels - 1.0)?
                    .f_mul_scalar(1.0 / levels)?
            }
            "Solarize" => (x.f_neg()? + 1.0).f_where_self(&x.f_ge(m)?, x)?,
            "AutoContrast" => {
                let lo = x.f_amin([-2, -1], true)?;
                let hi = x.f_amax([-2, -1], true)?;
                let flat = hi.f_eq_tensor(&lo)?;
                let scale = (&hi - &lo).f_where_scalarother(&flat.f_logical_not()?, 1.0)?;
                let lo = lo.f_where_scalarother(&flat.f_logical_not()?, 0.0)?;
                ((x - lo) / scale).f_clamp(0.0, 1.0)?
            }
            "Equalize" => equalize(x)?,
            "Brightness" => x.f_mul_scalar(1.0 + m)?.f_clamp(0.0, 1.0)?,
            "Color" if c == 1 => x.shallow_clone(),
            "Color" => blend(x, &gray(x)?, 1.0 + m)?,
            "Contrast" => {
                let g = if c == 3 { gray(x)? } else { x.shallow_clone() };
                blend(
                    x,
                    &g.f_mean_dim(Some([1i64, 2, 3].as_slice()), true, g.kind())?,
                    1.0 + m,
                )?
            }
            "Sharpness" if h <= 2 || w <= 2 => x.shallow_clone(),
            "Sharpness" => {
                let (a, b) = (1.0 / 13.0, 5.0 / 13.0);
                let kernel = Tensor::f_from_slice(&[a, a, a, a, b, a, a, a, a])?
                    .f_to_kind(x.kind())?
                    .f_to_device(x.device())?
                    .f_view([1, 1, 3, 3])?
                    .f_expand([c, 1, 3, 3], false)?;
                let blurred = x.f_conv2d(&kernel, None::<Tensor>, [1, 1], [0, 0], [1, 1], c)?;
                let inner = x.f_narrow(2, 1, h - 2)?.f_narrow(3, 1, w - 2)?;
                // The inner pixels moved towards the blur, the border kept.
                let delta = (blurred - &inner).f_mul_scalar(-m)?;
                (x + delta.f_constant_pad_nd([1, 1, 1, 1])?).f_clamp(0.0, 1.0)?
            }
            other => unreachable!("AUGMIX_OPS has no {other}"),
        })
    }

    /// torchvision's affine warp of `x`: its inverse matrix for the centre `center` (in
    /// its frame centred on the image), `angle` and `shear` in degrees and `translate` in
    /// pixels, sampled on its grid (`align_corners` false, zeros outside, or its fill).
    fn affine(
        &self,
        x: &Tensor,
        center: (f64, f64),
        angle: f64,
        translate: (f64, f64),
        shear: (f64, f64),
    ) -> Result<Tensor> {
        let s = x.size();
        let (b, c, h, w) = (s[0], s[1], s[2], s[3]);
        let (kind, device) = (x.kind(), x.device());
        let m = inverse_affine(center, angle, translate, shear);
        // The matrix in the input's kind, over half the size (the grid's normalisation).
        let theta = Tensor::f_from_slice(&m)?.f_to_kind(kind)?.f_view([2, 3])?
            / Tensor::f_from_slice(&[0.5 * w as f64, 0.5 * h as f64])?
                .f_to_kind(kind)?
                .f_view([2, 1])?;
        let theta = theta.f_to_device(device)?;
        let xs = (Tensor::f_arange(w, (kind, device))? - 0.5 * (w - 1) as f64).f_view([1, 1, w])?;
        let ys = (Tensor::f_arange(h, (kind, device))? - 0.5 * (h - 1) as f64).f_view([1, h, 1])?;
        let coord = |row: i64| -> Result<Tensor> {
            let t = theta.f_select(0, row)?;
            Ok(&xs * t.f_select(0, 0)? + &ys * t.f_select(0, 1)? + t.f_select(0, 2)?)
        };
        let grid = Tensor::f_stack(&[coord(0)?, coord(1)?], -1)?.f_expand([b, h, w, 2], false)?;
        let mode = match self.cfg.resample {
            Resample::Nearest => 1,
            _ => 0,
        };
        let Some(fill) = &self.cfg.fill else {
            return Ok(x.f_grid_sampler(&grid, mode, 0, false)?);
        };
        // torchvision's fill: a channel of ones sampled with the image says how much of
        // each output pixel came from inside.
        let ones = Tensor::f_ones([b, 1, h, w], (kind, device))?;
        let both =
            Tensor::f_cat(&[x.shallow_clone(), ones], 1)?.f_grid_sampler(&grid, mode, 0, false)?;
        let (img, inside) = (both.f_narrow(1, 0, c)?, both.f_narrow(1, c, 1)?);
        let fill = Tensor::f_from_slice(fill)?
            .f_to_kind(kind)?
            .f_to_device(device)?
            .f_view([1, -1, 1, 1])?;
        Ok(match self.cfg.resample {
            Resample::Nearest => fill
                .f_expand_as(&img)?
                .f_where_self(&inside.f_lt(0.5)?, &img)?,
            _ => (img - &fill) * inside + fill,
        })
    }
}

/// torchvision's matrix from output to input pixels, in its frame centred on the image
/// (pixel centres at `i - (n - 1)/2`): the inverse of "move `center` to the origin, shear
/// along x then y, rotate by `angle`, move back, translate".
fn inverse_affine(
    center: (f64, f64),
    angle: f64,
    translate: (f64, f64),
    shear: (f64, f64),
) -> [f64; 6] {
    let (rot, sx, sy) = (
        angle.to_radians(),
        shear.0.to_radians(),
        shear.1.to_radians(),
    );
    // The forward rotation-shear block [[a, b], [c, d]] (determinant 1).
    let a = (rot - sy).cos() / sy.cos();
    let b = -(a * sx.tan() + rot.sin());
    let c = (rot - sy).sin() / sy.cos();
    let d = rot.cos() - c * sx.tan();
    let (px, py) = (center.0 + translate.0, center.1 + translate.1);
    let (m00, m01, m10, m11) = (d, -b, -c, a);
    [
        m00,
        m01,
        center.0 - m00 * px - m01 * py,
        m10,
        m11,
        center.1 - m10 * px - m11 * py,
    ]
}

/// torchvision's grayscale of RGB `x` (B,3,H,W): (B,1,H,W).
fn gray(x: &Tensor) -> Result<Tensor> {
    let ch = |i: i64| x.f_narrow(1, i, 1);
    Ok(ch(0)?.f_mul_scalar(0.2989)? + ch(1)?.f_mul_scalar(0.587)? + ch(2)?.f_mul_scalar(0.114)?)
}

/// `x·ratio + other·(1 − ratio)`, clamped to [0, 1] (torchvision's blend).
fn blend(x: &Tensor, other: &Tensor, ratio: f64) -> Result<Tensor> {
    Ok((x.f_mul_scalar(ratio)? + other.f_mul_scalar(1.0 - ratio)?).f_clamp(0.0, 1.0)?)
}

/// torchvision's equalisation of a float image: quantised to uint8 (`x·255.999`,
/// truncated), each channel mapped through PIL's lookup table of its histogram (a channel
/// whose pixels all but fill one bin is left as it is), and back as `q / 255`.
fn equalize(x: &Tensor) -> Result<Tensor> {
    let s = x.size();
    let (b, c, h, w) = (s[0], s[1], s[2], s[3]);
    let q = x
        .f_detach()?
        .f_mul_scalar(255.0 + 1.0 - 1e-3)?
        .f_clamp(0.0, 255.0)?
        .f_to_kind(Kind::Uint8)?
        .f_to_kind(Kind::Int64)?
        .f_reshape([b * c, h * w])?;
    let device = x.device();
    let hist = Tensor::f_zeros([b * c, 256], (Kind::Int64, device))?.f_scatter_add(
        1,
        &q,
        &q.f_ones_like()?,
    )?;
    let cum = hist.f_cumsum(1, Kind::Int64)?;
    // The last bin in use: the first where the cumulative count is the pixel count.
    let last = cum.f_argmax(1, true)?;
    let step =
        (hist.f_gather(1, &last, false)?.f_neg()? + h * w).f_div_scalar_mode(255, "floor")?;
    let lut = (cum.f_narrow(1, 0, 255)? + step.f_div_scalar_mode(2, "floor")?)
        .f_div_tensor_mode(&step.f_clamp_min(1)?, "floor")?
        .f_clamp(0, 255)?;
    let lut = Tensor::f_cat(&[lut.f_zeros_like()?.f_narrow(1, 0, 1)?, lut], 1)?;
    let mapped = lut.f_gather(1, &q, false)?;
    let out = mapped.f_where_self(&step.f_ne(0)?, &q)?;
    Ok(out
        .f_view([b, c, h, w])?
        .f_to_kind(x.kind())?
        .f_mul_scalar(1.0 / 255.0)?)
}

/// What refuses annotations: the chains move the image by different geometries.
fn refused(what: &'static str) -> Error {
    Error::Annotation {
        op: OP,
        what,
        problem: "cannot go through AugMix: it blends the image moved by several geometries \
                  (torchvision refuses them too)"
            .into(),
    }
}

impl Augmentation for AugMix {
    fn name(&self) -> &'static str {
        OP
    }

    fn spec(&self) -> AugSpec {
        AugSpec::AugMix(self.cfg.clone())
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let c = shape[1];
        if c != 1 && c != 3 {
            return Err(Error::Channels {
                op: OP,
                expected: "1 or 3 (torchvision's AugMix)".into(),
                got: c,
                shape: shape.to_vec(),
            });
        }
        if let Some(fill) = &self.cfg.fill {
            if fill.len() != 1 && fill.len() as i64 != c {
                return Err(Error::Channels {
                    op: OP,
                    expected: format!(
                        "{}, one per fill value (or a single fill value)",
                        fill.len()
                    ),
                    got: c,
                    shape: shape.to_vec(),
                });
            }
        }
        Ok(())
    }

    /// torchvision's draws, in its order: the two Dirichlet weightings on `device`, then on
    /// the CPU generator, chain by chain, the depth (unless fixed) and per step the
    /// operation, the magnitude bin and (for a signed one) the sign.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, h, w) = (shape[0], shape[2], shape[3]);
        let (width, slots) = (self.cfg.mixture_width, self.depth_slots());
        let alpha = |n: i64| Tensor::f_full([b, n], self.cfg.alpha, (Kind::Float, device));
        let beta = crate::rng::sample_dirichlet(&alpha(2)?)?;
        let chain_weights = crate::rng::sample_dirichlet(&alpha(width)?)?;
        let cpu = Device::Cpu;
        let int = |low: i64, high: i64| -> Result<i64> {
            Ok(i64::try_from(crate::rng::randint(
                low,
                high,
                &[],
                (Kind::Int64, cpu),
            )?)?)
        };
        let space = if self.cfg.all_ops { 13 } else { PARTIAL };
        let mut ops = vec![-1i64; (width * slots) as usize];
        let mut mags = vec![0f64; (width * slots) as usize];
        for i in 0..width {
            let depth = if self.cfg.chain_depth > 0 {
                self.cfg.chain_depth
            } else {
                i64::try_from(crate::rng::randint(1, 4, &[1], (Kind::Int64, cpu))?.f_get(0)?)?
            };
            for j in 0..depth {
                let op = int(0, space)?;
                let at = (i * slots + j) as usize;
                ops[at] = op;
                let (bins, signed) = Self::bins(op, h, w)?;
                if let Some(bins) = bins {
                    let mut m = bins[int(0, self.cfg.severity)? as usize];
                    if signed && f64::try_from(crate::rng::rand(&[], (Kind::Float, cpu))?)? <= 0.5 {
                        m = -m;
                    }
                    mags[at] = m;
                }
            }
        }
        let mut p = Params::new();
        p.insert("beta", beta);
        p.insert("chain_weights", chain_weights);
        p.insert("ops", Tensor::f_from_slice(&ops)?.f_view([width, slots])?);
        p.insert(
            "magnitudes",
            Tensor::f_from_slice(&mags)?.f_view([width, slots])?,
        );
        p.insert("batch_prob", Tensor::f_ones([b], (Kind::Float, device))?);
        p.insert("forward_input_shape", Tensor::from_slice(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = input.size()[0];
        let device = input.device();
        let chains = self.chains(params)?;
        let beta = params.shaped(OP, "beta", &[b, 2])?.to_device(device);
        let weights = params
            .shaped(OP, "chain_weights", &[b, self.cfg.mixture_width])?
            .to_device(device);
        let weights = weights * beta.f_select(1, 1)?.f_view([b, 1])?;
        let column = |t: &Tensor, i: i64| t.f_select(1, i)?.f_view([b, 1, 1, 1]);
        let mut mix = column(&beta, 0)? * input;
        for (i, chain) in chains.iter().enumerate() {
            let mut aug = input.shallow_clone();
            for &(op, m) in chain {
                aug = self.operation(&aug, op, m)?;
            }
            mix = mix.f_add(&(column(&weights, i as i64)? * aug))?;
        }
        Ok(mix)
    }

    fn geometry_ungated(
        &self,
        _shape: &[i64],
        _params: &Params,
        _kind: Kind,
        _device: Device,
    ) -> Result<Geometry> {
        Err(refused("boxes and keypoints"))
    }

    fn apply_mask(&self, _mask: &Tensor, _params: &Params, _how: &MaskSampling) -> Result<Tensor> {
        Err(refused("masks"))
    }

    fn inverse_transform(
        &self,
        _output: &Tensor,
        _params: &Params,
        _input_shape: &[i64],
    ) -> Result<Tensor> {
        Err(Error::NotInvertible {
            op: OP,
            why: "it blends the image with several chains of operations".into(),
        })
    }
}

crate::augmentation::impl_module!(AugMix);

impl FromKornia for AugMix {
    type Config = AugMixConfig;
    const REFERENCE: Reference = Reference::Torchvision;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inverse matrix undoes simple forward maps written out independently: a rotation
    /// by `angle` about the centre (`x' = cos·x − sin·y`, `y' = sin·x + cos·y`: clockwise
    /// on the screen, y pointing down), an x-shear `x − tan(sx)·y` about the centre, and a
    /// translation.
    #[test]
    fn the_inverse_matrix_undoes_rotation_shear_and_translation() {
        let center = (-8.0, -5.0);
        let points = [(0.0, 0.0), (3.5, -7.0), (-11.0, 2.25)];
        let back = |m: [f64; 6], q: (f64, f64)| {
            (
                m[0] * q.0 + m[1] * q.1 + m[2],
                m[3] * q.0 + m[4] * q.1 + m[5],
            )
        };
        let close =
            |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9;
        for p in points {
            let (x, y) = (p.0 - center.0, p.1 - center.1);
            let r = 23f64.to_radians();
            let turned = (
                center.0 + r.cos() * x - r.sin() * y,
                center.1 + r.sin() * x + r.cos() * y,
            );
            let m = inverse_affine(center, 23.0, (0.0, 0.0), (0.0, 0.0));
            assert!(
                close(back(m, turned), p),
                "rotation: {:?} vs {p:?}",
                back(m, turned)
            );
            let t = 12f64.to_radians().tan();
            let sheared = (center.0 + x - t * y, center.1 + y);
            let m = inverse_affine(center, 0.0, (0.0, 0.0), (12.0, 0.0));
            assert!(
                close(back(m, sheared), p),
                "shear: {:?} vs {p:?}",
                back(m, sheared)
            );
            let m = inverse_affine(center, 0.0, (3.0, -4.0), (0.0, 0.0));
            assert!(close(back(m, (p.0 + 3.0, p.1 - 4.0)), p), "translation");
        }
    }
}
