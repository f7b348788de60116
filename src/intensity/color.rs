//! ColorJitter and ColorJiggle, and the colour math they share (grayscale, HSV).

use crate::augmentation::impl_module;
use crate::augmentation::{ColorStep, Role};
use crate::checks;
use crate::color_map::{ColorMap, ColorStats};
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::{constant, Ew};
use crate::params::typed_params;
use crate::range::{gate, Learnable, Range};
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::f64::consts::PI;
use tch::{nn, Device, Kind, Tensor};

/// ITU-R BT.601 luma weights, Kornia's default for `rgb_to_grayscale`.
pub(crate) const LUMA: [f64; 3] = [0.299, 0.587, 0.114];

/// `r·wr + g·wg + b·wb` of a (B,3,H,W) image, as (B,1,H,W).
pub(crate) fn rgb_to_gray(x: &Tensor, w: [f64; 3]) -> Tensor {
    let c = x.unbind(1);
    let w1 = Tensor::scalar_tensor(w[1], (x.kind(), x.device()));
    let w2 = Tensor::scalar_tensor(w[2], (x.kind(), x.device()));
    (&c[0] * w[0])
        .addcmul(&c[1], &w1)
        .addcmul(&c[2], &w2)
        .unsqueeze(1)
}

/// Contrast's mean of a (B,C,H,W) image, (B,1,1,1): of its BT.601 gray for RGB, of its one
/// channel otherwise.
fn gray_mean(x: &Tensor) -> Tensor {
    if x.size()[1] == 3 {
        rgb_to_gray(x, LUMA).mean_dim([-2i64, -1].as_slice(), true, x.kind())
    } else {
        x.mean_dim([-3i64, -2, -1].as_slice(), true, x.kind())
    }
}

/// A hue factor in turns (B,), cast to `kind` the way Kornia does: multiplied by 2π in the
/// params' dtype first, so float64 images round as Kornia's do.
pub(crate) fn hue_turns(f: &Tensor, kind: tch::Kind) -> Tensor {
    (f * 2.0 * PI).to_kind(kind) / (2.0 * PI)
}

/// Rotates the hue of a (B,3,H,W) image in [0,1] by `turns` (B,) of a full turn: Kornia's
/// `hsv_to_rgb(rgb_to_hsv(x) + 2π·turns)`, computed without the HSV round trip.
///
/// A hue rotation keeps each pixel's maximum `v` and its HSV saturation `s = (v - min) /
/// (v + 1e-8)`; channel `k` of the result is `v - v·s·w((n_k + H') mod 6)` with the new hue
/// `H'` in sextants, `n = (5, 3, 1)` for (r, g, b) and the triangle `w(K) = clamp(min(K, 4 -
/// K), 0, 1)`. That is the same piecewise-linear function as Kornia's `p, q, t` table (`w`
/// is 1 for `p`, `f` for `q`, `1 - f` for `t`, 0 for `v`), continuous across sextants, in
/// about a third of the passes.
///
/// On the CPU the fused kernel ([`crate::kernels::hue_rotate`]) computes the same
/// arithmetic in one pass (and its gradient in one more); elsewhere the composition runs.
pub(crate) fn adjust_hue(x: Tensor, turns: &Tensor, ew: Ew) -> Result<Tensor> {
    Ok(match crate::kernels::hue_rotate(&x, turns)? {
        Some(out) => out,
        None => adjust_hue_composed(x, turns, ew),
    })
}

/// [`adjust_hue`] as a composition of libtorch ops (any device).
pub(crate) fn adjust_hue_composed(x: Tensor, turns: &Tensor, ew: Ew) -> Tensor {
    let (kind, device) = (x.kind(), x.device());
    let v = x.amax([1], true);
    let delta = &v - x.amin([1], true);
    // Kornia divides by 1 where v = 0; there delta = 0, so dividing by v + eps gives the
    // same 0 (and the same zero gradient, since the result is multiplied by v).
    let vs = &v * (&delta / (&v + 1e-8));
    // Kornia's `where(delta == 0, 1, delta)`, without `where` (slow on the CPU).
    let delta = &delta + delta.eq(0.0);
    // Which channel holds the maximum, the first one winning ties (r, then g, then b), as
    // Kornia's `rgb_to_hsv` decides it: 0, 1 or 2.
    let below = x.lt_tensor(&v); // (B,3,H,W): channel is not the maximum
    let r_below = below.narrow(1, 0, 1);
    let arg = r_below.to_kind(kind) + r_below.logical_and(&below.narrow(1, 1, 1));
    drop(below);
    // Hue in sextants: (g - b)/d for a red maximum, (b - r)/d + 2 for green, (r - g)/d + 4
    // for blue, i.e. (next - previous channel)/d + 2·arg; then as a fraction of a turn,
    // rotated, wrapped into [0, 1).
    let diff = ew.sub(x.roll([-1], [1]), &x.roll([1], [1]));
    drop(x);
    let h = (diff.gather(1, &arg.to_kind(Kind::Int64), false) + arg * 2.0 * &delta) / delta;
    drop(diff);
    let t = h / 6.0 + turns.view([-1, 1, 1, 1]);
    let h6 = (&t - t.floor()) * 6.0;
    let n = constant(&[5.0f32, 3.0, 1.0], kind, device).view([1, 3, 1, 1]);
    // Channel k is v - vs·w(k) with k = (n + h6) mod 6 and w(k) = clamp(2 - |k - 2|, 0, 1)
    // (Kornia's p/q/t weights). As 2 - w = clamp(|k - 2|, 1, 2), that is
    // (v - 2·vs) + vs·clamp(|k - 2|, 1, 2): three fewer passes over the image.
    let k = ew.add_scalar(ew.remainder(n + h6, 6.0), -2.0);
    let c = ew.clamp(ew.abs(k), 1.0, 2.0);
    ew.add(ew.mul(c, &vs), &(&v - &vs * 2.0))
}

/// Configuration of [`ColorJitter`] and [`ColorJiggle`]; `Default` is Kornia's (all
/// ranges neutral, `p = 1`).
///
/// Kornia's scalar `b` for brightness, contrast or saturation is `(max(0, 1-b), 1+b)`
/// here; its scalar hue `h` is `(-h, h)` with |h| <= 0.5. Use [`JitterConfig::new`] for the
/// scalar form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JitterConfig {
    /// Brightness factor range (neutral 1).
    pub brightness: (f64, f64),
    /// Contrast factor range (neutral 1).
    pub contrast: (f64, f64),
    /// Saturation factor range (neutral 1).
    pub saturation: (f64, f64),
    /// Hue shift range in turns, within [-0.5, 0.5] (neutral 0).
    pub hue: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            brightness: (1.0, 1.0),
            contrast: (1.0, 1.0),
            saturation: (1.0, 1.0),
            hue: (0.0, 0.0),
            same_on_batch: false,
            p: 1.0,
            learnable: Learnable::None,
        }
    }
}

impl JitterConfig {
    /// Kornia's scalar form `ColorJitter(brightness, contrast, saturation, hue)`.
    pub fn new(brightness: f64, contrast: f64, saturation: f64, hue: f64) -> JitterConfig {
        let around_one = |v: f64| ((1.0 - v).max(0.0), 1.0 + v);
        JitterConfig {
            brightness: around_one(brightness),
            contrast: around_one(contrast),
            saturation: around_one(saturation),
            hue: (-hue, hue),
            ..Default::default()
        }
    }
}

typed_params!(
    /// Parameters of [`ColorJitter`] and [`ColorJiggle`] (plus `order`, a (4,) int64
    /// permutation of brightness, contrast, saturation, hue, on the CPU as in Kornia).
    JitterParams, "ColorJitter" {
        /// (B,) brightness factors.
        brightness_factor,
        /// (B,) contrast factors.
        contrast_factor,
        /// (B,) saturation factors.
        saturation_factor,
        /// (B,) hue shifts in turns.
        hue_factor,
        /// (4,) int64 order of the four steps (0 brightness, 1 contrast, 2 saturation, 3 hue).
        order,
    }
);

/// Which flavour of the four colour steps.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Flavour {
    /// torchvision's: multiplicative brightness, contrast about the gray mean, saturation
    /// by blending with gray.
    Jitter,
    /// Kornia's older one: additive brightness, multiplicative contrast, saturation
    /// scaling S in HSV.
    Jiggle,
}

/// The four ranges and sampling shared by ColorJitter and ColorJiggle.
#[derive(Debug)]
struct Jitter {
    cfg: JitterConfig,
    flavour: Flavour,
    ranges: [Range; 4],
    /// Steps that are the identity whatever is drawn (fixed neutral ranges).
    skip: [bool; 4],
}

const KEYS: [&str; 4] = [
    "brightness_factor",
    "contrast_factor",
    "saturation_factor",
    "hue_factor",
];

/// The names of a colour jitter's ranges (see [`crate::Learnable`]).
const JITTER_RANGES: [&str; 4] = ["brightness", "contrast", "saturation", "hue"];

impl Jitter {
    fn new(
        op: &'static str,
        path: &nn::Path,
        cfg: JitterConfig,
        flavour: Flavour,
    ) -> Result<Jitter> {
        let inf = checks::MAGNITUDE;
        checks::range(op, "brightness", cfg.brightness, (0.0, inf))?;
        checks::range(op, "contrast", cfg.contrast, (0.0, inf))?;
        checks::range(op, "saturation", cfg.saturation, (0.0, inf))?;
        checks::range(op, "hue", cfg.hue, (-0.5, 0.5))?;
        checks::probability(op, "p", cfg.p)?;
        cfg.learnable.check(op, &JITTER_RANGES)?;
        let l = &cfg.learnable;
        let ranges = [
            Range::new(path, "brightness", cfg.brightness, l, (0.0, inf)),
            Range::new(path, "contrast", cfg.contrast, l, (0.0, inf)),
            Range::new(path, "saturation", cfg.saturation, l, (0.0, inf)),
            Range::new(path, "hue", cfg.hue, l, (-0.5, 0.5)),
        ];
        // A range fixed at its neutral value is skipped (and so never constrains the input).
        let fixed = |name: &str, r: (f64, f64), n: f64| !l.has(name) && r == (n, n);
        let skip = [
            fixed("brightness", cfg.brightness, 1.0),
            fixed("contrast", cfg.contrast, 1.0),
            fixed("saturation", cfg.saturation, 1.0),
            fixed("hue", cfg.hue, 0.0),
        ];
        Ok(Jitter {
            cfg,
            flavour,
            ranges,
            skip,
        })
    }

    fn check_shape(&self, op: &'static str, shape: &[i64]) -> Result<()> {
        checks::channels(op, shape, &[1, 3], "1 or 3 channels")?;
        if shape[1] == 1 && !self.skip[3] {
            return Err(Error::Channels {
                op,
                expected: "3 (a hue range other than (0, 0) needs RGB)".into(),
                got: 1,
                shape: shape.to_vec(),
            });
        }
        Ok(())
    }

    /// Kornia's draw order: brightness, contrast, hue, saturation, then one randperm(4)
    /// from the CPU generator.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let batch_prob = gate(b, self.cfg.p, 1.0, same, device)?;
        let brightness_factor = self.ranges[0].sample(b, same, device)?;
        let contrast_factor = self.ranges[1].sample(b, same, device)?;
        let hue_factor = self.ranges[3].sample(b, same, device)?;
        let saturation_factor = self.ranges[2].sample(b, same, device)?;
        let order = crate::rng::randperm(4, (Kind::Int64, Device::Cpu))?;
        let mut p: Params = JitterParams {
            brightness_factor,
            contrast_factor,
            saturation_factor,
            hue_factor,
            order,
            batch_prob,
        }
        .into();
        p.insert("forward_input_shape", Tensor::from_slice(shape));
        Ok(p)
    }

    /// The fast mode's map (torchvision's flavour only): brightness `f·x`, contrast
    /// `f·x + (1-f)·mean(gray)` with the mean of the image it receives, saturation
    /// `f·x + (1-f)·gray`, hue a rotation about the gray axis, composed in the drawn order;
    /// no clamp on the input or between steps, one clamp to [0, 1] at the end.
    fn fast_map(
        &self,
        op: &'static str,
        shape: &[i64],
        params: &Params,
        stats: &crate::color_map::ColorStats<'_>,
    ) -> Result<crate::color_map::ColorMap> {
        let (b, c) = (shape[0], shape[1]);
        let mean_in = stats.mean();
        let (kind, device) = (mean_in.kind(), mean_in.device());
        let mut factors = Vec::with_capacity(4);
        for key in KEYS {
            let f = params.shaped(op, key, &[b])?.to_device(device);
            factors.push(f.to_kind(kind));
        }
        let order = self.order(op, params)?;
        let eye = Tensor::f_eye(c, (kind, device))?.expand([b, c, c], false);
        let luma = if c == 3 {
            constant(&LUMA, kind, device)
        } else {
            Tensor::f_ones([c], (kind, device))? / c as f64
        };
        // (C, C): every channel replaced by the gray value.
        let to_gray = luma.view([1, c]).expand([c, c], false);
        let mut matrix = eye.shallow_clone();
        let mut bias = Tensor::f_zeros([b, c], (kind, device))?;
        for idx in order {
            let idx = idx as usize;
            if self.skip[idx] {
                continue;
            }
            let f = factors[idx].view([b, 1, 1]);
            let (m, shift) = match idx {
                0 => (&f * &eye, None),
                1 => {
                    // The gray mean of the image entering this step.
                    let mean_now = matrix.matmul(&mean_in.unsqueeze(-1)).squeeze_dim(-1) + &bias;
                    let gray = (mean_now * &luma).sum_dim_intlist([1i64].as_slice(), true, kind);
                    (&f * &eye, Some((1.0 - factors[idx].view([b, 1])) * gray))
                }
                2 if c == 3 => (&f * &eye + (1.0 - &f) * &to_gray, None),
                2 => continue,
                _ => (gray_axis_rotation(&hue_turns(&factors[idx], kind)), None),
            };
            matrix = m.matmul(&matrix);
            bias = m.matmul(&bias.unsqueeze(-1)).squeeze_dim(-1);
            if let Some(shift) = shift {
                bias += shift;
            }
        }
        Ok(crate::color_map::ColorMap {
            matrix,
            bias,
            bounds: Some((
                Tensor::f_zeros([b, c], (kind, device))?,
                Tensor::f_ones([b, c], (kind, device))?,
            )),
            diagonal: false,
        })
    }

    /// The drawn order of the four steps, checked to be a permutation.
    fn order(&self, op: &'static str, params: &Params) -> Result<Vec<i64>> {
        let order = params.shaped(op, "order", &[4])?;
        // `order` is a (4,) tensor on the CPU (Kornia draws it there); reading it does not
        // wait for the GPU. A replayed map moved to the GPU is read back once.
        let order: Vec<i64> = Vec::try_from(&order.to_device(Device::Cpu).to_kind(Kind::Int64))?;
        let mut sorted = order.clone();
        sorted.sort_unstable();
        if sorted != [0, 1, 2, 3] {
            return Err(Error::Params {
                op,
                key: "order".into(),
                problem: format!("is {order:?}; expected a permutation of 0..4"),
            });
        }
        Ok(order)
    }

    /// On a CPU RGB image: the steps by the fused kernel ([`crate::kernels::jitter`]), one
    /// pass before contrast's mean and one after it, with the float operations of the
    /// composition below (bit for bit but for saturation's gray, which libtorch's `addcmul`
    /// rounds once less: within one float32 rounding); with a graph, one node whose
    /// backward is two passes. `None` when the kernel does not take the input.
    fn fused(&self, x: &Tensor, factors: &[Tensor], order: &[i64]) -> crate::kernels::Fused {
        use crate::kernels::{jitter, JitterStep};
        if x.device() != Device::Cpu {
            return Ok(None);
        }
        let mut steps = vec![JitterStep::Clamp];
        for &idx in order {
            let idx = idx as usize;
            if !self.skip[idx] {
                steps.push(match idx {
                    0 => JitterStep::Brightness,
                    1 => JitterStep::Contrast,
                    2 => JitterStep::Saturation,
                    _ => JitterStep::Hue,
                });
            }
        }
        let flat: Vec<Tensor> = factors.iter().map(|f| f.reshape([-1])).collect();
        jitter(x, &Tensor::stack(&flat, 1), &steps)
    }

    fn apply(&self, op: &'static str, x: &Tensor, params: &Params) -> Result<Tensor> {
        let b = x.size()[0];
        let mut factors = Vec::with_capacity(4);
        for key in KEYS {
            let f = params.shaped(op, key, &[b])?.to_device(x.device());
            let f = if key == "hue_factor" {
                hue_turns(&f, x.kind())
            } else {
                f
            };
            factors.push(f.to_kind(x.kind()).view([-1, 1, 1, 1]));
        }
        let order = self.order(op, params)?;
        if self.flavour == Flavour::Jitter {
            if let Some(out) = self.fused(x, &factors, &order)? {
                return Ok(out);
            }
        }
        self.composed(x, &factors, &order)
    }

    /// The steps as a composition of libtorch ops (any device, either flavour); `factors`
    /// (B,1,1,1) each, the hue in turns.
    fn composed(&self, x: &Tensor, factors: &[Tensor], order: &[i64]) -> Result<Tensor> {
        let ew = Ew::for_inputs(&[x, &factors[0], &factors[1], &factors[2], &factors[3]]);
        let mut out = x.clamp(0.0, 1.0);
        for &idx in order {
            let idx = idx as usize;
            if self.skip[idx] {
                continue;
            }
            let f = &factors[idx];
            let rgb = out.size()[1] == 3;
            out = match (self.flavour, idx) {
                (Flavour::Jitter, 0) => ew.clamp(ew.mul(out, f), 0.0, 1.0),
                (Flavour::Jitter, 1) => {
                    // x·f + mean(gray)·(1 - f)
                    let mean = gray_mean(&out);
                    let shift = mean * (1f64 - f);
                    ew.clamp(ew.add(ew.mul(out, f), &shift), 0.0, 1.0)
                }
                (Flavour::Jitter, 2) if rgb => {
                    // (1 - f)·gray + f·x (the sum is the same in either order)
                    let gray = (1f64 - f) * rgb_to_gray(&out, LUMA);
                    ew.clamp(ew.add(ew.mul(out, f), &gray), 0.0, 1.0)
                }
                (Flavour::Jiggle, 0) => ew.clamp(ew.add(out, &(f - 1.0)), 0.0, 1.0),
                (Flavour::Jiggle, 1) => ew.clamp(ew.mul(out, f), 0.0, 1.0),
                (Flavour::Jiggle, 2) if rgb => jiggle_saturation(out, f, ew),
                (_, 2) => out,
                (_, _) => adjust_hue(out, &f.view([-1]), ew)?,
            };
        }
        // Every step keeps values in [0, 1], so Kornia's final clamp is the identity (for
        // values and gradients) and is skipped.
        Ok(out)
    }
}

/// The fast mode's hue: a rotation by `turns` (B,) of a turn about the gray axis (1,1,1)/√3,
/// as (B,3,3) matrices. It equals the HSV rotation for the primaries at multiples of a
/// third of a turn and keeps every pixel's mean; elsewhere it deviates from it (docs/pipelines.md
/// gives the figure).
pub(crate) fn gray_axis_rotation(turns: &Tensor) -> Tensor {
    let (kind, device) = (turns.kind(), turns.device());
    let angle = turns * (2.0 * PI);
    let (cos, sin) = (angle.cos().view([-1, 1, 1]), angle.sin().view([-1, 1, 1]));
    let eye = Tensor::eye(3, (kind, device)).unsqueeze(0);
    let s3 = 1.0 / 3f64.sqrt();
    let cross = constant(&[0.0, -s3, s3, s3, 0.0, -s3, -s3, s3, 0.0], kind, device).view([1, 3, 3]);
    let ones = Tensor::full([1, 3, 3], 1.0 / 3.0, (kind, device));
    &cos * &eye + &sin * cross + (1.0 - &cos) * ones
}

/// Kornia's `adjust_saturation` on RGB: scales HSV saturation in closed form,
/// `(x - min)·(max·s'/Δ) + (max - max·s')` with `s' = clamp(Δ/(max + 1e-8)·f, 0, 1)`.
pub(crate) fn jiggle_saturation(x: Tensor, f: &Tensor, ew: Ew) -> Tensor {
    let max = x.amax([1], true);
    let min = x.amin([1], true);
    let delta = &max - &min;
    // Kornia divides by 1 where max = 0; there delta = 0 and s' = 0 either way.
    let sat = ((&delta / (&max + 1e-8)) * f).clamp(0.0, 1.0);
    let adjusted = &max * sat;
    let delta = &delta + delta.eq(0.0);
    let ratio = &adjusted / delta;
    ew.add(ew.mul(ew.sub(x, &min), &ratio), &(max - adjusted))
}

macro_rules! jitter_type {
    ($(#[$meta:meta])* $name:ident, $kornia:literal, $flavour:expr) => {
        $(#[$meta])*
        ///
        /// The input is clamped to [0, 1]; the steps run in the drawn `order`, each clamping
        /// its result; a step whose range is fixed at its neutral value is skipped.
        /// Ranges: `brightness`, `contrast`, `saturation`, `hue` (learnable with
        /// `learnable: true`).
        ///
        /// # Shapes
        /// Input (B,C,H,W) or (C,H,W) with C = 3, or C = 1 when `hue` is (0, 0);
        /// float32 or float64. Output the same shape.
        ///
        /// # Errors
        /// `new` fails on a range outside its domain or a `p` outside [0, 1]; `f_*` forms
        /// on a bad input ([`Error::Channels`] for other channel counts).
        #[derive(Debug)]
        pub struct $name {
            inner: Jitter,
        }

        impl $name {
            /// Builds the augmentation; its four ranges live under `path`.
            ///
            /// # Errors
            /// [`Error::Config`] for NaN or reversed ranges, negative factors, a hue
            /// outside [-0.5, 0.5], or a `p` outside [0, 1].
            pub fn new<'p, P: Borrow<nn::Path<'p>>>(path: P, cfg: JitterConfig) -> Result<$name> {
                let path = path.borrow();
                Ok($name { inner: Jitter::new($kornia, path, cfg, $flavour)? })
            }

            /// The configuration.
            pub fn config(&self) -> &JitterConfig {
                &self.inner.cfg
            }

        }

        impl Augmentation for $name {
            fn range_names(&self) -> &'static [&'static str] {
                &JITTER_RANGES
            }

            fn ranges(&self) -> Vec<&Range> {
                self.inner.ranges.iter().collect()
            }

            fn name(&self) -> &'static str {
                $kornia
            }

            fn spec(&self) -> AugSpec {
                AugSpec::$name(self.inner.cfg.clone())
            }

            fn probabilities(&self) -> (f64, f64) {
                (self.inner.cfg.p, 1.0)
            }

            fn check_shape(&self, shape: &[i64]) -> Result<()> {
                self.inner.check_shape($kornia, shape)
            }

            fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
                self.inner.sample(shape, device)
            }

            fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
                self.inner.apply($kornia, input, params)
            }

            fn role(&self) -> Role<'_> {
                if self.inner.flavour == Flavour::Jitter {
                    Role::color(self)
                } else {
                    Role::operator()
                }
            }
        }

        impl ColorStep for $name {
            fn color_map(
                &self,
                shape: &[i64],
                params: &Params,
                stats: &ColorStats<'_>,
            ) -> Result<ColorMap> {
                self.inner.fast_map($kornia, shape, params, stats)
            }
        }

        impl_module!($name);
    };
}

jitter_type!(
    /// Random brightness, contrast, saturation and hue, torchvision's flavour (Kornia's
    /// `ColorJitter`): brightness `x·f`, contrast `x·f + mean(gray)·(1-f)`, saturation
    /// `(1-f)·gray + f·x`, hue rotated by `2π·f` in HSV.
    ColorJitter, "ColorJitter", Flavour::Jitter
);
jitter_type!(
    /// Random brightness, contrast, saturation and hue, Kornia's own flavour (Kornia's
    /// `ColorJiggle`): brightness `x + (f-1)`, contrast `x·f`, saturation scales S in HSV,
    /// hue rotated by `2π·f`.
    ColorJiggle, "ColorJiggle", Flavour::Jiggle
);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

/// Kornia's ColorJitter and ColorJiggle arguments.
fn jitter_from_kornia(kw: &Kwargs) -> Result<JitterConfig> {
    let mut c = JitterConfig::default();
    set!(c.brightness = kw.range("brightness", 1.0, 0.0)?);
    set!(c.contrast = kw.range("contrast", 1.0, 0.0)?);
    set!(c.saturation = kw.range("saturation", 1.0, 0.0)?);
    set!(c.hue = kw.range("hue", 0.0, -0.5)?);
    common!(kw, c);
    kw.neutral_only(
        "order",
        serde_json::Value::is_null,
        "the steps' order is drawn per call (Kornia's default, order=None); a fixed order is not supported yet",
    )?;
    Ok(c)
}

impl FromKornia for ColorJitter {
    type Config = JitterConfig;

    fn from_kornia(kw: &Kwargs) -> Result<JitterConfig> {
        jitter_from_kornia(kw)
    }
}

impl FromKornia for ColorJiggle {
    type Config = JitterConfig;

    fn from_kornia(kw: &Kwargs) -> Result<JitterConfig> {
        jitter_from_kornia(kw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image with the ties the kernel must treat as libtorch does: gray pixels, two
    /// channels at the maximum or the minimum, zeros, and a random rest.
    fn image(kind: Kind) -> Tensor {
        let x = hash(4 * 3 * 9 * 11, 0.0, kind).view([4, 3, 9, 11]);
        let q = (&x * 4.0).round() / 4.0; // many exact ties
        let x = Tensor::cat(&[x.narrow(2, 0, 5), q.narrow(2, 5, 4)], 2);
        let _ = x.narrow(3, 0, 1).fill_(0.5); // gray column
        let _ = x.narrow(3, 1, 1).fill_(0.0); // black column
        x
    }

    /// `n` values in [0, 1) that look random (a sine hash), without the global generator.
    fn hash(n: i64, offset: f64, kind: Kind) -> Tensor {
        let i = Tensor::arange(n, (Kind::Double, Device::Cpu)) + offset;
        let s = (i * 12.9898).sin() * 43758.5453;
        (&s - s.floor()).to_kind(kind)
    }

    #[test]
    fn the_hue_kernel_equals_the_composition_in_values_and_gradients() {
        let _draws = crate::rng::drawing();
        for kind in [Kind::Float, Kind::Double] {
            let x0 = image(kind);
            let t0 = Tensor::from_slice(&[-0.45f64, -0.1, 0.2, 0.5]).to_kind(kind);
            let up = hash(x0.numel() as i64, 0.5, kind).view_as(&x0) - 0.5; // upstream gradient
            let run = |fused: bool| {
                let x = x0.detach().set_requires_grad(true);
                let t = t0.detach().set_requires_grad(true);
                let out = if fused {
                    crate::kernels::hue_rotate(&x, &t)
                        .unwrap()
                        .expect("the kernel takes this input")
                } else {
                    adjust_hue_composed(x.shallow_clone(), &t, Ew::for_inputs(&[&x, &t]))
                };
                (&out * &up).sum(kind).backward();
                (out.detach(), x.grad(), t.grad())
            };
            let (o1, gx1, gt1) = run(true);
            let (o2, gx2, gt2) = run(false);
            // Same float operations in the same order: equal values.
            let d = (&o1 - &o2).abs().max().double_value(&[]);
            assert!(d == 0.0, "{kind:?}: values differ by {d}");
            let dx = (&gx1 - &gx2).abs().max().double_value(&[]);
            assert!(dx <= 1e-4, "{kind:?}: image gradients differ by {dx}");
            let dt = (&gt1 - &gt2).abs().max().double_value(&[]);
            let scale = gt2.abs().max().double_value(&[]).max(1.0);
            assert!(
                dt <= 1e-4 * scale,
                "{kind:?}: turn gradients differ by {dt}"
            );
            assert!(gx1.abs().sum(Kind::Double).double_value(&[]) > 1.0);
        }
    }

    /// The fused ColorJitter (no graph, and as a graph node) against the composition, for
    /// every order of the steps: the values, and the gradients of the image and of the four
    /// factors (contrast's through its mean too).
    #[test]
    fn the_fused_jitter_equals_the_composition_for_every_order() {
        let _draws = crate::rng::drawing();
        let vs = nn::VarStore::new(Device::Cpu);
        for kind in [Kind::Float, Kind::Double] {
            // Values outside [0, 1] too: the input clamp is a step.
            let x0 = (image(kind) * 1.4 - 0.2).contiguous();
            let b = x0.size()[0];
            let up = hash(x0.numel() as i64, 0.25, kind).view_as(&x0) - 0.5;
            for (i, cfg) in [
                JitterConfig::new(0.4, 0.5, 0.6, 0.3),
                JitterConfig::new(0.0, 0.5, 0.0, 0.3),
                JitterConfig::new(0.4, 0.0, 0.6, 0.0),
            ]
            .into_iter()
            .enumerate()
            {
                let jitter = Jitter::new(
                    "ColorJitter",
                    &(vs.root() / format!("j{i}")),
                    cfg,
                    Flavour::Jitter,
                )
                .unwrap();
                for perm in [[0i64, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
                    let factors0: Vec<Tensor> = (0..4)
                        .map(|k| {
                            let v = hash(b, 0.1 * k as f64 + 0.05, Kind::Double);
                            let v = if k == 3 { v - 0.5 } else { v * 1.5 + 0.25 };
                            v.to_kind(kind).view([-1, 1, 1, 1])
                        })
                        .collect();
                    let fused = {
                        let _g = tch::no_grad_guard();
                        jitter
                            .fused(&x0, &factors0, &perm)
                            .unwrap()
                            .expect("the kernel takes this")
                    };
                    let run = |fuse: bool| {
                        let x = x0.detach().set_requires_grad(true);
                        let f: Vec<Tensor> = factors0
                            .iter()
                            .map(|f| f.detach().set_requires_grad(true))
                            .collect();
                        let out = if fuse {
                            jitter
                                .fused(&x, &f, &perm)
                                .unwrap()
                                .expect("the kernel takes this")
                        } else {
                            jitter.composed(&x, &f, &perm).unwrap()
                        };
                        (&out * &up).sum(kind).backward();
                        // A skipped step's factor has no gradient (zero) in the composition.
                        let grads: Vec<Tensor> = f
                            .iter()
                            .map(|f| {
                                let g = f.grad();
                                if g.defined() {
                                    g
                                } else {
                                    f.zeros_like()
                                }
                            })
                            .collect();
                        (out.detach(), x.grad(), Tensor::cat(&grads, 1))
                    };
                    let (o1, gx1, gf1) = run(true);
                    let (o2, gx2, gf2) = run(false);
                    let what = format!("{kind:?} config {i} order {perm:?}");
                    // The graph node's forward is the kernel's.
                    assert!(o1.equal(&fused), "{what}");
                    let d = (&fused - &o2).abs().max().double_value(&[]);
                    // Bit for bit, but for saturation's gray, where libtorch's `addcmul`
                    // fuses a multiply-add (one rounding fewer) and the kernel does not.
                    let tol = match (i, kind) {
                        (1, _) => 0.0,
                        (_, Kind::Float) => 1e-6,
                        _ => 1e-14,
                    };
                    assert!(d <= tol, "{what}: values differ by {d}");
                    let close = |a: &Tensor, e: &Tensor, name: &str| {
                        let scale = e.abs().max().double_value(&[]).max(1.0);
                        let tol = if kind == Kind::Float { 1e-4 } else { 1e-10 };
                        let d = (a - e).abs().max().double_value(&[]);
                        assert!(d <= tol * scale, "{what}: {name} gradients differ by {d}");
                    };
                    close(&gx1, &gx2, "image");
                    close(&gf1, &gf2, "factor");
                    assert!(
                        gx1.abs().sum(Kind::Double).double_value(&[]) > 1.0,
                        "{what}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_hue_kernel_leaves_the_input_and_refuses_what_it_does_not_take() {
        let _draws = crate::rng::drawing();
        let x = image(Kind::Float);
        let before = x.copy();
        let t = Tensor::from_slice(&[0.1f32, 0.2, 0.3, 0.4]);
        let _ = crate::kernels::hue_rotate(&x, &t).unwrap().unwrap();
        assert!(x.equal(&before));
        // Not contiguous: taken after a copy.
        let xt = x.transpose(2, 3);
        let a = crate::kernels::hue_rotate(&xt, &t).unwrap().unwrap();
        let b = adjust_hue_composed(xt.copy(), &t, Ew::for_inputs(&[]));
        assert!(a.allclose(&b, 1e-6, 1e-6, false));
        // Integer images, one channel or a mismatched turns: the composition's business.
        let taken = |x: &Tensor, t: &Tensor| crate::kernels::hue_rotate(x, t).unwrap().is_some();
        assert!(!taken(&x.to_kind(Kind::Uint8), &t));
        assert!(!taken(&x.narrow(1, 0, 1), &t));
        assert!(!taken(&x, &t.narrow(0, 0, 1)));
    }
}
