//! RandomLinearIllumination and RandomLinearCornerIllumination: a random light gradient
//! added to the image, from one edge or from one corner.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, uniform, uniform_between, Learnable, Range};
use crate::{AugSpec, Augmentation, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomLinearIllumination`] and [`RandomLinearCornerIllumination`];
/// `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IlluminationConfig {
    /// Range of the gradient's strength, within [0, 1].
    pub gain: (f64, f64),
    /// Range the sign is drawn from, within [-1, 1]: a sample brightens where its draw is
    /// at least 0 and darkens below (Kornia's `sign`; `(1, 1)` always brightens).
    pub sign: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of lighting each sample.
    pub p: f64,
    /// Which ranges are trainable variables (`gain`; see [`crate::Learnable`]).
    pub learnable: Learnable,
}

impl Default for IlluminationConfig {
    fn default() -> Self {
        IlluminationConfig {
            gain: (0.01, 0.2),
            sign: (-1.0, 1.0),
            same_on_batch: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Kornia's `normalize_min_max` to [0, 1] of each (B,1,N) plane:
/// `(x - min) / (max - min + 1e-6)`.
fn min_max(flat: &Tensor) -> Tensor {
    let lo = flat.amin([-1], true);
    let hi = flat.amax([-1], true);
    (flat - &lo) * 1.0 / ((hi - lo) + 1e-6)
}

/// The image clamped to [0, 1], plus the drawn field `gradient` (Kornia's params), clamped.
fn add_field(op: &'static str, input: &Tensor, params: &Params) -> Result<Tensor> {
    let field = params
        .shaped(op, "gradient", &input.size())?
        .to_device(input.device())
        .to_kind(input.kind());
    Ok((input.clamp(0.0, 1.0) + field).clamp(0.0, 1.0))
}

/// Which light gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Light {
    /// From one of the four edges (Kornia's `RandomLinearIllumination`).
    Edge,
    /// From one of the four corners (Kornia's `RandomLinearCornerIllumination`).
    Corner,
}

const LINEAR: &str = "RandomLinearIllumination";
const CORNER: &str = "RandomLinearCornerIllumination";

/// The names of the illumination ranges (see [`crate::Learnable`]).
const ILLUMINATION_RANGES: [&str; 1] = ["gain"];

/// The shared implementation of the two illumination operators.
#[derive(Debug)]
struct Illumination {
    cfg: IlluminationConfig,
    gain: Range,
    light: Light,
}

impl Illumination {
    fn new(path: &nn::Path, cfg: IlluminationConfig, light: Light) -> Result<Illumination> {
        let op = match light {
            Light::Edge => LINEAR,
            Light::Corner => CORNER,
        };
        cfg.learnable.check(op, &ILLUMINATION_RANGES)?;
        checks::range(op, "gain", cfg.gain, (0.0, 1.0))?;
        checks::range(op, "sign", cfg.sign, (-1.0, 1.0))?;
        checks::probability(op, "p", cfg.p)?;
        let gain = Range::new(path, "gain", cfg.gain, &cfg.learnable, (0.0, 1.0));
        Ok(Illumination { cfg, gain, light })
    }

    /// Kornia's draws, in its order: the gain, the sign, the direction (0..4, a float32
    /// U(0, 4) truncated), each (B,) in one call; then the gradient field (B,C,H,W) in
    /// float32, as Kornia's params hold it.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        let same = self.cfg.same_on_batch;
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let gain = self.gain.sample(b, same, device)?.view([b, 1, 1, 1]);
        let positive = uniform_between(b, same, device, self.cfg.sign)?.ge(0.0);
        let sign = positive.to_kind(Kind::Float) * 2.0 - 1.0;
        let direction = (uniform(b, same, device)? * 4.0).to_kind(Kind::Int64);
        let opts = (Kind::Float, device);
        let field = match self.light {
            Light::Edge => {
                // The ramp rising from the edge the direction names: 0 lower (rows 0 → 1),
                // 1 upper (rows 1 → 0), 2 left (columns 0 → 1), 3 right (columns 1 → 0).
                let up_h = Tensor::f_linspace(0.0, 1.0, h, opts)?.view([1, 1, h, 1]);
                let down_h = Tensor::f_linspace(1.0, 0.0, h, opts)?.view([1, 1, h, 1]);
                let up_w = Tensor::f_linspace(0.0, 1.0, w, opts)?.view([1, 1, 1, w]);
                let down_w = Tensor::f_linspace(1.0, 0.0, w, opts)?.view([1, 1, 1, w]);
                let is = |k: i64| direction.eq(k).to_kind(Kind::Float).view([b, 1, 1, 1]);
                let ramp = is(0) * up_h + is(1) * down_h + is(2) * up_w + is(3) * down_w;
                ramp.f_expand([b, c, h, w], false)?
            }
            Light::Corner => {
                // x + y from the direction's corner, then each plane min-max normalised.
                let y = Tensor::f_linspace(0.0, 1.0, h, opts)?
                    .view([h, 1])
                    .expand([h, w], false);
                let x = Tensor::f_linspace(0.0, 1.0, w, opts)?
                    .view([1, w])
                    .expand([h, w], false);
                let base = Tensor::stack(&[&x + &y, -&x + &y, &x - &y, 1f64 - (&x + &y)], 0);
                let ramp = base.index_select(0, &direction).view([b, 1, h, w]);
                min_max(&ramp.view([b, 1, h * w]))
                    .view([b, 1, h, w])
                    .f_expand([b, c, h, w], false)?
            }
        };
        p.insert("gradient", sign.view([b, 1, 1, 1]) * gain * field);
        Ok(p)
    }
}

macro_rules! illumination {
    ($(#[$meta:meta])* $ty:ident, $name:ident, $light:expr) => {
        $(#[$meta])*
        ///
        /// Params: `gradient` (B,C,H,W) float32, the field added to the image (Kornia's).
        ///
        /// # Shapes
        /// Input (B,C,H,W) or (C,H,W), float32 or float64 (clamped to [0, 1]); output the
        /// same.
        ///
        /// # Errors
        /// `new` fails on a `gain` outside [0, 1], a `sign` outside [-1, 1], a reversed
        /// range or a bad `p`; `f_*` forms on a bad input.
        #[derive(Debug)]
        pub struct $ty(Illumination);

        impl $ty {
            /// Builds the augmentation; its `gain` range lives under `path`.
            ///
            /// # Errors
            /// [`crate::Error::Config`] as described on the type.
            pub fn new<'p, P: Borrow<nn::Path<'p>>>(path: P, cfg: IlluminationConfig) -> Result<$ty> {
                Ok($ty(Illumination::new(path.borrow(), cfg, $light)?))
            }
        }

        impl Augmentation for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn spec(&self) -> AugSpec {
                AugSpec::$ty(self.0.cfg.clone())
            }

            fn range_names(&self) -> &'static [&'static str] {
                &ILLUMINATION_RANGES
            }

            fn ranges(&self) -> Vec<&Range> {
                vec![&self.0.gain]
            }

            fn probabilities(&self) -> (f64, f64) {
                (self.0.cfg.p, 1.0)
            }

            fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
                self.0.sample(shape, device)
            }

            fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
                add_field($name, input, params)
            }
        }

        impl_module!($ty);
    };
}

illumination!(
    /// Adds a linear light gradient rising from one edge of each sample, drawn at random,
    /// with a random strength and sign (Kornia's `RandomLinearIllumination`): `clamp(x +
    /// sign · gain · ramp)`.
    RandomLinearIllumination,
    LINEAR,
    Light::Edge
);

illumination!(
    /// Adds a linear light gradient rising from one corner of each sample, drawn at random,
    /// with a random strength and sign (Kornia's `RandomLinearCornerIllumination`): the
    /// ramp `x + y` from that corner, min-max normalised per plane.
    RandomLinearCornerIllumination,
    CORNER,
    Light::Corner
);

/// Configuration of [`RandomGaussianIllumination`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianIlluminationConfig {
    /// Range of the light's strength, within [0, 1].
    pub gain: (f64, f64),
    /// Range of the light's centre, as a fraction of the width (x) and of the height (y),
    /// each drawn on its own, within [0, 1].
    pub center: (f64, f64),
    /// Range of the light's standard deviation, as a fraction of the width (x) and of the
    /// height (y), each drawn on its own, within [0, 1].
    pub sigma: (f64, f64),
    /// Range the sign is drawn from, within [-1, 1]: a sample brightens where its draw is
    /// at least 0 and darkens below.
    pub sign: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of lighting each sample.
    pub p: f64,
    /// Which ranges are trainable variables (`gain`, `center`, `sigma`; see
    /// [`crate::Learnable`]).
    pub learnable: Learnable,
}

impl Default for GaussianIlluminationConfig {
    fn default() -> Self {
        GaussianIlluminationConfig {
            gain: (0.01, 0.15),
            center: (0.1, 0.9),
            sigma: (0.2, 1.0),
            sign: (-1.0, 1.0),
            same_on_batch: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

const GAUSSIAN: &str = "RandomGaussianIllumination";

/// The names of [`RandomGaussianIllumination`]'s ranges (see [`crate::Learnable`]).
const GAUSSIAN_RANGES: [&str; 3] = ["gain", "center", "sigma"];

/// Adds a Gaussian spot of light (or shadow) at a random place of each sample, with a
/// random size, strength and sign (Kornia's `RandomGaussianIllumination`): the outer
/// product of two sampled Gaussians (Kornia's `gaussian`, centred at `center · W` and
/// `center · H`, less ½ on an odd axis), min-max normalised, times `sign · gain`, added and
/// clamped.
///
/// Params: `gradient` (B,C,H,W) float32, the field added to the image (Kornia's).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64 (clamped to [0, 1]); output the same.
///
/// # Errors
/// `new` fails on a range outside its domain or reversed, or a bad `p`; `f_*` forms on a
/// bad input.
#[derive(Debug)]
pub struct RandomGaussianIllumination {
    cfg: GaussianIlluminationConfig,
    gain: Range,
    center: Range,
    sigma: Range,
}

impl RandomGaussianIllumination {
    /// Builds the augmentation; its ranges live under `path`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: GaussianIlluminationConfig,
    ) -> Result<RandomGaussianIllumination> {
        let path = path.borrow();
        cfg.learnable.check(GAUSSIAN, &GAUSSIAN_RANGES)?;
        checks::range(GAUSSIAN, "gain", cfg.gain, (0.0, 1.0))?;
        checks::range(GAUSSIAN, "center", cfg.center, (0.0, 1.0))?;
        checks::range(GAUSSIAN, "sigma", cfg.sigma, (0.0, 1.0))?;
        checks::range(GAUSSIAN, "sign", cfg.sign, (-1.0, 1.0))?;
        checks::probability(GAUSSIAN, "p", cfg.p)?;
        let range = |name: &str, v| Range::new(path, name, v, &cfg.learnable, (0.0, 1.0));
        Ok(RandomGaussianIllumination {
            gain: range("gain", cfg.gain),
            center: range("center", cfg.center),
            sigma: range("sigma", cfg.sigma),
            cfg,
        })
    }
}

/// Kornia's `gaussian(n, sigma, mean=mean)` for (B,1) `sigma` and `mean`: the samples
/// `exp(-d / (2σ²))` of the squared distance `d` from the mean, less its minimum (the
/// nearest sample weighs 1), normalised to sum 1; σ = 0 is the unit impulse on the nearest
/// sample. An even `n` is centred half a sample lower, as Kornia's.
fn gaussian_at(n: i64, sigma: &Tensor, mean: &Tensor) -> Result<Tensor> {
    let x = Tensor::f_arange(n, (sigma.kind(), sigma.device()))? - mean;
    let x = if n % 2 == 0 { x + 0.5 } else { x };
    let dist = x.square();
    let dist = &dist - dist.amin([-1], true);
    let denominator = sigma.square() * 2.0;
    let impulse = denominator.eq(0.0);
    let safe = denominator.where_scalarother(&impulse.logical_not(), 1.0);
    let gauss = (-&dist / safe).exp();
    let gauss = dist
        .eq(0.0)
        .to_kind(dist.kind())
        .where_self(&impulse, &gauss);
    Ok(&gauss / gauss.sum_dim_intlist([-1i64].as_slice(), true, gauss.kind()))
}

impl Augmentation for RandomGaussianIllumination {
    fn name(&self) -> &'static str {
        GAUSSIAN
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomGaussianIllumination(self.cfg.clone())
    }

    fn range_names(&self) -> &'static [&'static str] {
        &GAUSSIAN_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.gain, &self.center, &self.sigma]
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    /// Kornia's draws, in its order: the gain, then σ and the centre along x, then along y,
    /// then the sign; each (B,) in one call.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        let same = self.cfg.same_on_batch;
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let gain = self.gain.sample(b, same, device)?.view([b, 1, 1, 1]);
        let odd = |n: i64| if n % 2 == 1 { 0.5 } else { 0.0 };
        let sigma_x = self.sigma.sample(b, same, device)?.view([b, 1]) * w as f64;
        let center_x = self.center.sample(b, same, device)?.view([b, 1]) * w as f64 - odd(w);
        let sigma_y = self.sigma.sample(b, same, device)?.view([b, 1]) * h as f64;
        let center_y = self.center.sample(b, same, device)?.view([b, 1]) * h as f64 - odd(h);
        let positive = uniform_between(b, same, device, self.cfg.sign)?.ge(0.0);
        let sign = (positive.to_kind(gain.kind()) * 2.0 - 1.0).view([b, 1, 1, 1]);
        let gx = gaussian_at(w, &sigma_x, &center_x)?.view([b, 1, w]);
        let gy = gaussian_at(h, &sigma_y, &center_y)?.view([b, h, 1]);
        let spot = gy.matmul(&gx).view([b, 1, h * w]);
        let field = min_max(&spot)
            .view([b, 1, h, w])
            .f_expand([b, c, h, w], false)?;
        p.insert("gradient", sign * gain * field);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        add_field(GAUSSIAN, input, params)
    }
}

impl_module!(RandomGaussianIllumination);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomGaussianIllumination {
    type Config = GaussianIlluminationConfig;

    fn from_kornia(kw: &Kwargs) -> Result<GaussianIlluminationConfig> {
        let mut c = GaussianIlluminationConfig::default();
        set!(c.gain = kw.pair("gain")?);
        set!(c.center = kw.pair("center")?);
        set!(c.sigma = kw.pair("sigma")?);
        set!(c.sign = kw.pair("sign")?);
        common!(kw, c);
        Ok(c)
    }
}

/// Kornia's RandomLinearIllumination and RandomLinearCornerIllumination arguments (a
/// number is a point range here: Kornia's constructor makes it (n, n)).
fn illumination_from_kornia(kw: &Kwargs) -> Result<IlluminationConfig> {
    let mut c = IlluminationConfig::default();
    set!(c.gain = kw.pair("gain")?);
    set!(c.sign = kw.pair("sign")?);
    common!(kw, c);
    Ok(c)
}

impl FromKornia for RandomLinearIllumination {
    type Config = IlluminationConfig;

    fn from_kornia(kw: &Kwargs) -> Result<IlluminationConfig> {
        illumination_from_kornia(kw)
    }
}

impl FromKornia for RandomLinearCornerIllumination {
    type Config = IlluminationConfig;

    fn from_kornia(kw: &Kwargs) -> Result<IlluminationConfig> {
        illumination_from_kornia(kw)
    }
}
