//! RandomPlasmaBrightness, RandomPlasmaContrast and RandomPlasmaShadow: brightness,
//! contrast and shadow maps from a plasma fractal (Kornia's diamond-square variant, from
//! TorMentor).

use crate::augmentation::impl_module;
use crate::checks;
use crate::filter::{filter2d, Border};
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, uniform_between};
use crate::{AugSpec, Augmentation, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// `t[.., start:end:step]` along `dim` (a negative `end` counts from the end).
fn s(t: &Tensor, dim: i64, start: i64, end: Option<i64>, step: i64) -> Tensor {
    t.slice(dim, start, end, step)
}

/// Kornia's `_diamond_square_seed`: (n,1,width,height) maps of which one side is 3, their
/// cell corners drawn in one call, every other node the mean of its neighbours.
fn seed(n: i64, width: i64, height: i64, device: Device) -> Result<Tensor> {
    let transpose = height == 3;
    let (width, height) = if transpose {
        (height, width)
    } else {
        (width, height)
    };
    let res = Tensor::f_zeros([n, 1, width, height], (Kind::Float, device))?;
    let corners = crate::rng::rand(&[n, 1, 2, (height + 1) / 2], (Kind::Float, device))?;
    s(&s(&res, 2, 0, None, 2), 3, 0, None, 2).copy_(&corners);
    let row = |r: i64| res.select(2, r);
    let set = |r: i64, start: i64, end: Option<i64>, v: &Tensor| {
        s(&row(r), 2, start, end, 2).copy_(v);
    };
    let even = |r: i64| s(&row(r), 2, 0, Some(-2), 2);
    let next = |r: i64| s(&row(r), 2, 2, None, 2);
    let odd = |r: i64| s(&row(r), 2, 1, None, 2);
    set(1, 1, None, &((even(0) + next(0) + even(2) + next(2)) / 4.0));
    set(0, 1, None, &((even(0) + next(0) + odd(1)) / 3.0));
    set(2, 1, None, &((even(2) + next(2) + odd(1)) / 3.0));
    let at = |r: i64, c: i64| res.select(2, r).select(2, c);
    at(1, 0).copy_(&((at(0, 0) + at(2, 0) + at(1, 1)) / 3.0));
    at(1, -1).copy_(&((at(0, -1) + at(2, -1) + at(1, -2)) / 3.0));
    if height > 3 {
        let inner = |r: i64| s(&row(r), 2, 2, Some(-1), 2);
        let v =
            (inner(0) + inner(2) + s(&row(1), 2, 1, Some(-2), 2) + s(&row(1), 2, 3, None, 2)) / 4.0;
        set(1, 2, Some(-1), &v);
    }
    Ok(if transpose { res.transpose(2, 3) } else { res })
}

/// Kornia's `_one_diamond_one_square`: doubles the resolution of (n,1,h,w) maps; each new
/// node mixes the mean of its neighbours with a uniform draw by the weight `scale` (n,1,1,1).
fn diamond_square_step(img: &Tensor, scale: &Tensor) -> Result<Tensor> {
    let size = img.size();
    let (n, h, w) = (size[0], size[2], size[3]);
    let (h2, w2) = (2 * (h - 1) + 1, 2 * (w - 1) + 1);
    let opts = (img.kind(), img.device());
    let new = Tensor::f_zeros([n, 1, h2, w2], opts)?;
    s(&s(&new, 2, 0, None, 2), 3, 0, None, 2).copy_(img);
    // The square step's border nodes average three neighbours, not four.
    let compensate = Tensor::f_ones([n, 1, h2, w2], opts)?;
    let factor = 1.0 / 0.75;
    let _ = compensate.select(3, 0).fill_(factor);
    let _ = compensate.select(3, -1).fill_(factor);
    let _ = compensate.select(2, 0).fill_(factor);
    let _ = compensate.select(2, -1).fill_(factor);
    let random = crate::rng::rand(&[n, 1, h2, w2], opts)? * scale;
    let rows = Tensor::f_arange(h2, (Kind::Int64, img.device()))?
        .remainder(2)
        .view([-1, 1]);
    let cols = Tensor::f_arange(w2, (Kind::Int64, img.device()))?
        .remainder(2)
        .view([1, -1]);
    let diamond = rows.eq(1).logical_and(&cols.eq(1)).to_kind(img.kind());
    let square = (&rows + &cols).eq(1).to_kind(img.kind());
    let kernel = |k: [f64; 9]| crate::ops::constant(&k, img.kind(), img.device()).view([1, 3, 3]);
    let diamond_kernel = kernel([0.25, 0.0, 0.25, 0.0, 0.0, 0.0, 0.25, 0.0, 0.25]);
    let square_kernel = kernel([0.0, 0.25, 0.0, 0.25, 0.0, 0.25, 0.0, 0.25, 0.0]);
    let keep = 1.0 - scale;
    let regions = filter2d(PLASMA, &new, &diamond_kernel, Border::Reflect)?;
    let new = new + &keep * regions * &diamond + &diamond * &random;
    let regions = filter2d(PLASMA, &new, &square_kernel, Border::Constant)? * compensate;
    Ok(new + &square * &random + keep * &square * regions)
}

/// Kornia's `diamond_square` for (b, c, h, w) maps with a roughness per sample (b,): the
/// plasma grown from its seed level by level (the weight multiplied by the roughness at
/// each), cropped to (h, w).
fn diamond_square(b: i64, c: i64, h: i64, w: i64, roughness: &Tensor) -> Result<Tensor> {
    let device = roughness.device();
    let n = b * c;
    let roughness = roughness
        .view([-1, 1, 1, 1])
        .f_expand([b, c, 1, 1], false)?
        .reshape([-1, 1, 1, 1]);
    // The smallest 2^k + 1 >= max(side, 3).
    let levels = |side: i64| {
        let mut k = 0u32;
        while (1i64 << k) < side.max(3) - 1 {
            k += 1;
        }
        k
    };
    let (kh, kw) = (levels(h), levels(w));
    let depth = kh.min(kw) - 1;
    let seed_h = (1i64 << (kh - depth)) + 1;
    let seed_w = (1i64 << (kw - depth)) + 1;
    let mut img = seed(n, seed_h, seed_w, device)?;
    let mut scale = Tensor::f_ones([n, 1, 1, 1], (Kind::Float, device))?;
    for _ in 0..depth {
        let next = &scale * &roughness;
        scale = next;
        img = diamond_square_step(&img, &scale)?;
    }
    Ok(img.narrow(2, 0, h).narrow(3, 0, w).reshape([b, c, h, w]))
}

const PLASMA: &str = "RandomPlasma";

/// Which map a plasma operator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Map {
    Brightness,
    Contrast,
    Shadow,
}

/// Configuration of [`RandomPlasmaBrightness`], [`RandomPlasmaContrast`] and
/// [`RandomPlasmaShadow`]; `Default` is Kornia's. The fields an operator does not use
/// (`intensity` for all but the brightness, the `shade_*` ones for all but the shadow) must
/// stay at their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlasmaConfig {
    /// Range of the fractal's roughness, within [0, 1]: the weight of the random draw at
    /// each level is multiplied by it.
    pub roughness: (f64, f64),
    /// RandomPlasmaBrightness: range of the map's strength, within [0, 1].
    pub intensity: (f64, f64),
    /// RandomPlasmaShadow: range of the shade added, within [-1, 0].
    pub shade_intensity: (f64, f64),
    /// RandomPlasmaShadow: range of the share of the map shaded, within [0, 1].
    pub shade_quantity: (f64, f64),
    /// One draw (and one map) shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of transforming each sample.
    pub p: f64,
}

impl Default for PlasmaConfig {
    fn default() -> Self {
        PlasmaConfig {
            roughness: (0.1, 0.7),
            intensity: (0.0, 1.0),
            shade_intensity: (-1.0, 0.0),
            shade_quantity: (0.0, 1.0),
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// The shared implementation of the plasma operators.
#[derive(Debug)]
struct Plasma {
    cfg: PlasmaConfig,
    map: Map,
}

impl Plasma {
    fn new(cfg: PlasmaConfig, map: Map) -> Result<Plasma> {
        let op = name(map);
        checks::range(op, "roughness", cfg.roughness, (0.0, 1.0))?;
        checks::range(op, "intensity", cfg.intensity, (0.0, 1.0))?;
        checks::range(op, "shade_intensity", cfg.shade_intensity, (-1.0, 0.0))?;
        checks::range(op, "shade_quantity", cfg.shade_quantity, (0.0, 1.0))?;
        checks::probability(op, "p", cfg.p)?;
        let d = PlasmaConfig::default();
        let unused = match map {
            Map::Brightness => vec![
                ("shade_intensity", cfg.shade_intensity != d.shade_intensity),
                ("shade_quantity", cfg.shade_quantity != d.shade_quantity),
            ],
            Map::Contrast => vec![
                ("intensity", cfg.intensity != d.intensity),
                ("shade_intensity", cfg.shade_intensity != d.shade_intensity),
                ("shade_quantity", cfg.shade_quantity != d.shade_quantity),
            ],
            Map::Shadow => vec![("intensity", cfg.intensity != d.intensity)],
        };
        if let Some((field, _)) = unused.into_iter().find(|(_, set)| *set) {
            return Err(checks::config(
                op,
                field,
                "a value other than the default",
                format!("the default: {op} does not use `{field}`"),
            ));
        }
        Ok(Plasma { cfg, map })
    }

    /// Kornia's draws, in its order: the roughness, then the map's own factors (the
    /// brightness's intensity; the shadow's intensity and quantity), each (B,); then the
    /// plasma (B, C, H, W) (one channel for the shadow; one map for the batch with
    /// `same_on_batch`).
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        let same = self.cfg.same_on_batch;
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let roughness = uniform_between(b, same, device, self.cfg.roughness)?;
        match self.map {
            Map::Brightness => {
                p.insert(
                    "intensity",
                    uniform_between(b, same, device, self.cfg.intensity)?,
                );
            }
            Map::Contrast => {}
            Map::Shadow => {
                let i = uniform_between(b, same, device, self.cfg.shade_intensity)?;
                let q = uniform_between(b, same, device, self.cfg.shade_quantity)?;
                p.insert("shade_intensity", i);
                p.insert("shade_quantity", q);
            }
        }
        let channels = if self.map == Map::Shadow { 1 } else { c };
        let plasma = if same && b > 1 {
            diamond_square(1, channels, h, w, &roughness.narrow(0, 0, 1))?
                .f_expand([b, channels, h, w], false)?
        } else {
            diamond_square(b, channels, h, w, &roughness)?
        };
        p.insert("roughness", roughness);
        p.insert("plasma", plasma);
        Ok(p)
    }

    fn apply(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let op = name(self.map);
        let size = input.size();
        let channels = if self.map == Map::Shadow { 1 } else { size[1] };
        let plasma = params
            .shaped(op, "plasma", &[size[0], channels, size[2], size[3]])?
            .to_device(input.device())
            .to_kind(input.kind());
        let x = input.clamp(0.0, 1.0);
        Ok(match self.map {
            Map::Brightness => {
                let intensity = params.factor(op, "intensity", input)?;
                (x + (plasma * 2.0 - 1.0) * intensity).clamp(0.0, 1.0)
            }
            Map::Contrast => ((x - 0.5) * (plasma * 4.0) + 0.5).clamp(0.0, 1.0),
            Map::Shadow => {
                let intensity = params.factor(op, "shade_intensity", input)?;
                let quantity = params.factor(op, "shade_quantity", input)?;
                let shade = plasma.lt_tensor(&quantity).to_kind(input.kind()) * intensity;
                (x + shade).clamp(0.0, 1.0)
            }
        })
    }
}

fn name(map: Map) -> &'static str {
    match map {
        Map::Brightness => "RandomPlasmaBrightness",
        Map::Contrast => "RandomPlasmaContrast",
        Map::Shadow => "RandomPlasmaShadow",
    }
}

macro_rules! plasma {
    ($(#[$meta:meta])* $ty:ident, $map:expr) => {
        $(#[$meta])*
        ///
        /// # Shapes
        /// Input (B,C,H,W) or (C,H,W), float32 or float64 (clamped to [0, 1]); output the
        /// same.
        ///
        /// # Errors
        /// `new` fails on a range outside its domain or reversed, a field the operator does
        /// not use set, or a bad `p`; `f_*` forms on a bad input.
        #[derive(Debug)]
        pub struct $ty(Plasma);

        impl $ty {
            /// Builds the augmentation (it has no variables).
            ///
            /// # Errors
            /// [`crate::Error::Config`] as described on the type.
            pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: PlasmaConfig) -> Result<$ty> {
                Ok($ty(Plasma::new(cfg, $map)?))
            }
        }

        impl Augmentation for $ty {
            fn name(&self) -> &'static str {
                name($map)
            }

            fn spec(&self) -> AugSpec {
                AugSpec::$ty(self.0.cfg.clone())
            }

            fn probabilities(&self) -> (f64, f64) {
                (self.0.cfg.p, 1.0)
            }

            fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
                self.0.sample(shape, device)
            }

            fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
                self.0.apply(input, params)
            }
        }

        impl_module!($ty);
    };
}

plasma!(
    /// Brightens and darkens by a plasma fractal (Kornia's `RandomPlasmaBrightness`):
    /// `clamp(x + (2·plasma - 1)·intensity)`, one map per channel.
    ///
    /// Params: `roughness` (B,), `intensity` (B,), `plasma` (B,C,H,W) float32.
    RandomPlasmaBrightness,
    Map::Brightness
);

plasma!(
    /// Changes the contrast by a plasma fractal (Kornia's `RandomPlasmaContrast`):
    /// `clamp((x - ½)·4·plasma + ½)`, one map per channel.
    ///
    /// Params: `roughness` (B,), `plasma` (B,C,H,W) float32.
    RandomPlasmaContrast,
    Map::Contrast
);

plasma!(
    /// Shades where a plasma fractal is below a drawn quantity (Kornia's
    /// `RandomPlasmaShadow`): `clamp(x + [plasma < quantity]·shade_intensity)`, one map for
    /// all channels.
    ///
    /// Params: `roughness`, `shade_intensity`, `shade_quantity` (B,), `plasma` (B,1,H,W)
    /// float32.
    RandomPlasmaShadow,
    Map::Shadow
);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

/// Kornia's plasma arguments: `roughness`, the operator's own `keys` (pairs), the common
/// ones.
fn plasma_from_kornia(kw: &Kwargs, keys: &[&str]) -> Result<PlasmaConfig> {
    let mut c = PlasmaConfig::default();
    set!(c.roughness = kw.pair("roughness")?);
    for &key in keys {
        if let Some(v) = kw.pair(key)? {
            match key {
                "intensity" => c.intensity = v,
                "shade_intensity" => c.shade_intensity = v,
                _ => c.shade_quantity = v,
            }
        }
    }
    common!(kw, c);
    Ok(c)
}

impl FromKornia for RandomPlasmaBrightness {
    type Config = PlasmaConfig;

    fn from_kornia(kw: &Kwargs) -> Result<PlasmaConfig> {
        plasma_from_kornia(kw, &["intensity"])
    }
}

impl FromKornia for RandomPlasmaContrast {
    type Config = PlasmaConfig;

    fn from_kornia(kw: &Kwargs) -> Result<PlasmaConfig> {
        plasma_from_kornia(kw, &[])
    }
}

impl FromKornia for RandomPlasmaShadow {
    type Config = PlasmaConfig;

    fn from_kornia(kw: &Kwargs) -> Result<PlasmaConfig> {
        plasma_from_kornia(kw, &["shade_intensity", "shade_quantity"])
    }
}
