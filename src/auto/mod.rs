//! Auto-augment presets, equal to Kornia 0.9's `kornia.augmentation.auto`: [`AutoAugment`]
//! (its ImageNet, CIFAR-10 and SVHN policies, or a custom one), [`RandAugment`] and
//! [`TrivialAugment`]; and [`search`], Faster AutoAugment's differentiable policy.
//!
//! A preset is a table of sub-policies, each a short list of operations ([`PolicyOp`]) built
//! on the crate's operators (`rotate` is [`crate::RandomRotation`], `color` is
//! [`crate::RandomSaturation`], ...). One call chooses its sub-policies for the whole batch
//! (Kornia's draw on torch's CPU generator); the gates and magnitudes of their operations are
//! drawn per sample, batched, on the input's device. The params hold the choice under
//! `choice` (the table indices, int64, in the order applied) and the `pos`-th chosen
//! sub-policy's `j`-th operation's params (Kornia's keys) under `"{pos}.{j}."`: they replay,
//! and masks, boxes and keypoints follow the geometric operations.
//!
//! With `per_sample: true` (ours; Kornia has no such mode) every sample draws its own
//! sub-policies, on the input's device in one batched call, so a batch mixes them and nothing
//! is read back to the host. `choice` is then (B, n) and every sub-policy's params are drawn
//! for the whole batch under its table index (`"{k}.{j}."`). Each sub-policy is applied to the
//! batch and each sample keeps its own: on the CPU only the chosen sub-policies run; on a GPU
//! all of them do (AutoAugment: 25 sub-policies of 2 operations), which is the price of not
//! synchronising.
//!
//! On a 1-channel (grayscale) image the colour operation (`color`, which needs RGB) is the
//! identity inside a preset, as torchvision's presets do; every other operation applies.
//! Its gate and magnitude are still drawn, so a grayscale batch draws the same stream as an
//! RGB one. Other channel counts than 1 and 3 are refused with an error that names the
//! preset and the way out (a policy without [`PolicyOp::Color`]).

mod augmix;
pub mod search;

pub use augmix::{AugMix, AugMixConfig, AUGMIX_OPS};

use crate::annotations::{AnnotationOptions, MaskSampling, Record};
use crate::augmentation::{gated_geometry, gated_transform, impl_module};
use crate::augmentation::{Container, Role, Step};
use crate::checks;
use crate::container::{Sequential, SequentialConfig};
use crate::geometry::{Geometry, Transform, TransformClass};
use crate::kornia::kwargs::{FromKornia, Kwargs};
use crate::range::Range;
use crate::{
    AugSpec, Augmentation, AutoContrastConfig, EqualizeConfig, Error, FactorConfig, InvertConfig,
    Params, PosterizeConfig, RandomAutoContrast, RandomBrightness, RandomContrast, RandomEqualize,
    RandomInvert, RandomPosterize, RandomRotation, RandomRotationConfig, RandomSaturation,
    RandomSharpness, RandomShear, RandomSolarize, RandomTranslate, Result, SharpnessConfig,
    ShearConfig, SolarizeConfig, TranslateConfig,
};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// One operation of a policy, by Kornia's name (`"auto_contrast"`, `"shear_x"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyOp {
    /// Per-channel `(x - min) / (max - min)` ([`crate::RandomAutoContrast`]); no magnitude.
    AutoContrast,
    /// Histogram equalization ([`crate::RandomEqualize`]); no magnitude.
    Equalize,
    /// `1 - x` ([`crate::RandomInvert`]); no magnitude.
    Invert,
    /// Rotation in degrees, counter-clockwise ([`crate::RandomRotation`], corners aligned).
    Rotate,
    /// Bits kept ([`crate::RandomPosterize`]), truncated to an integer.
    Posterize,
    /// Threshold in [0, 1] ([`crate::RandomSolarize`] with no addition).
    Solarize,
    /// Value added before a U(0, 1) threshold ([`crate::RandomSolarize`]).
    SolarizeAdd,
    /// HSV saturation factor ([`crate::RandomSaturation`]); Kornia's `Saturate`.
    Color,
    /// Multiplicative contrast factor ([`crate::RandomContrast`]).
    Contrast,
    /// Additive brightness factor, `x + (f - 1)` ([`crate::RandomBrightness`]).
    Brightness,
    /// Sharpness factor ([`crate::RandomSharpness`]).
    Sharpness,
    /// Horizontal shear; the magnitude is a fraction, times 180 gives degrees
    /// ([`crate::RandomShear`], corners aligned).
    ShearX,
    /// Vertical shear, as `shear_x`.
    ShearY,
    /// Horizontal translation; the magnitude is a fraction of the width, applied in pixels
    /// ([`crate::RandomTranslate`], corners aligned).
    TranslateX,
    /// Vertical translation, a fraction of the height.
    TranslateY,
}

impl PolicyOp {
    /// Every operation, in [`RandAugment`]'s default order.
    pub const ALL: [PolicyOp; 15] = [
        PolicyOp::AutoContrast,
        PolicyOp::Equalize,
        PolicyOp::Invert,
        PolicyOp::Rotate,
        PolicyOp::Posterize,
        PolicyOp::Solarize,
        PolicyOp::SolarizeAdd,
        PolicyOp::Color,
        PolicyOp::Contrast,
        PolicyOp::Brightness,
        PolicyOp::Sharpness,
        PolicyOp::ShearX,
        PolicyOp::ShearY,
        PolicyOp::TranslateX,
        PolicyOp::TranslateY,
    ];

    /// Kornia's name (`"shear_x"`), as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            PolicyOp::AutoContrast => "auto_contrast",
            PolicyOp::Equalize => "equalize",
            PolicyOp::Invert => "invert",
            PolicyOp::Rotate => "rotate",
            PolicyOp::Posterize => "posterize",
            PolicyOp::Solarize => "solarize",
            PolicyOp::SolarizeAdd => "solarize_add",
            PolicyOp::Color => "color",
            PolicyOp::Contrast => "contrast",
            PolicyOp::Brightness => "brightness",
            PolicyOp::Sharpness => "sharpness",
            PolicyOp::ShearX => "shear_x",
            PolicyOp::ShearY => "shear_y",
            PolicyOp::TranslateX => "translate_x",
            PolicyOp::TranslateY => "translate_y",
        }
    }

    /// The name of Kornia's operation class (`"ShearX"`, `"Saturate"` for `color`).
    pub fn kornia_class(self) -> &'static str {
        match self {
            PolicyOp::AutoContrast => "AutoContrast",
            PolicyOp::Equalize => "Equalize",
            PolicyOp::Invert => "Invert",
            PolicyOp::Rotate => "Rotate",
            PolicyOp::Posterize => "Posterize",
            PolicyOp::Solarize => "Solarize",
            PolicyOp::SolarizeAdd => "SolarizeAdd",
            PolicyOp::Color => "Saturate",
            PolicyOp::Contrast => "Contrast",
            PolicyOp::Brightness => "Brightness",
            PolicyOp::Sharpness => "Sharpness",
            PolicyOp::ShearX => "ShearX",
            PolicyOp::ShearY => "ShearY",
            PolicyOp::TranslateX => "TranslateX",
            PolicyOp::TranslateY => "TranslateY",
        }
    }

    /// Whether it has a magnitude (all but `auto_contrast`, `equalize` and `invert`).
    pub fn has_magnitude(self) -> bool {
        self.factor_key().is_some()
    }

    /// Whether [`RandAugment`] and [`TrivialAugment`] give it a random sign (rotations,
    /// shears, translations): its range is then `(-max, max)`.
    pub fn is_symmetric(self) -> bool {
        matches!(
            self,
            PolicyOp::Rotate
                | PolicyOp::ShearX
                | PolicyOp::ShearY
                | PolicyOp::TranslateX
                | PolicyOp::TranslateY
        )
    }

    /// Whether it moves pixels (rotations, shears, translations).
    pub fn is_geometric(self) -> bool {
        self.is_symmetric()
    }

    /// Whether it needs RGB (`color`): inside a preset it is then the identity on a
    /// 1-channel image, as torchvision's.
    pub fn needs_rgb(self) -> bool {
        self == PolicyOp::Color
    }

    /// The params key of its magnitude (Kornia's `_factor_name`).
    pub(crate) fn factor_key(self) -> Option<&'static str> {
        match self {
            PolicyOp::AutoContrast | PolicyOp::Equalize | PolicyOp::Invert => None,
            PolicyOp::Rotate => Some("degrees"),
            PolicyOp::Posterize => Some("bits_factor"),
            PolicyOp::Solarize => Some("thresholds"),
            PolicyOp::SolarizeAdd => Some("additions"),
            PolicyOp::Color => Some("saturation_factor"),
            PolicyOp::Contrast => Some("contrast_factor"),
            PolicyOp::Brightness => Some("brightness_factor"),
            PolicyOp::Sharpness => Some("sharpness"),
            PolicyOp::ShearX => Some("shear_x"),
            PolicyOp::ShearY => Some("shear_y"),
            PolicyOp::TranslateX => Some("translate_x"),
            PolicyOp::TranslateY => Some("translate_y"),
        }
    }

    /// AutoAugment's magnitude scale: 11 points, bin `m` is `[s[m], s[m+1]]` (Kornia's
    /// `linspace`, in float32); `None` without a magnitude.
    fn scale(self) -> Option<(f64, f64)> {
        match self {
            PolicyOp::Rotate => Some((-30.0, 30.0)),
            PolicyOp::ShearX | PolicyOp::ShearY => Some((-0.3, 0.3)),
            PolicyOp::TranslateX | PolicyOp::TranslateY => Some((-0.5, 0.5)),
            PolicyOp::Solarize => Some((0.0, 1.0)),
            PolicyOp::Posterize => Some((4.0, 8.0)),
            PolicyOp::Color | PolicyOp::Contrast | PolicyOp::Brightness | PolicyOp::Sharpness => {
                Some((0.1, 1.9))
            }
            _ => None,
        }
    }

    /// The crate's operator for it, with gate probability `p` and magnitude range `range`
    /// (in the units drawn, before the map), under `path`.
    pub(crate) fn operator(
        self,
        path: &nn::Path,
        p: f64,
        range: (f64, f64),
    ) -> Result<Box<dyn Augmentation>> {
        self.operator_with(path, p, range, false)
    }

    /// As [`PolicyOp::operator`]; `straight_through` for the piecewise-constant operators
    /// (solarize, posterize, equalize, auto-contrast) that have the option.
    pub(crate) fn operator_with(
        self,
        path: &nn::Path,
        p: f64,
        range: (f64, f64),
        straight_through: bool,
    ) -> Result<Box<dyn Augmentation>> {
        let st = straight_through;
        let factor = |range| FactorConfig {
            range,
            p,
            ..Default::default()
        };
        Ok(match self {
            PolicyOp::AutoContrast => Box::new(RandomAutoContrast::new(
                path,
                AutoContrastConfig {
                    p,
                    straight_through: st,
                    ..Default::default()
                },
            )?),
            PolicyOp::Equalize => Box::new(RandomEqualize::new(
                path,
                EqualizeConfig {
                    p,
                    straight_through: st,
                    ..Default::default()
                },
            )?),
            PolicyOp::Invert => Box::new(RandomInvert::new(
                path,
                InvertConfig {
                    p,
                    ..Default::default()
                },
            )?),
            PolicyOp::Rotate => Box::new(RandomRotation::new(
                path,
                RandomRotationConfig {
                    degrees: range,
                    p,
                    ..Default::default()
                },
            )?),
            PolicyOp::Posterize => Box::new(RandomPosterize::new(
                path,
                PosterizeConfig {
                    bits: range,
                    p,
                    straight_through: st,
                    ..Default::default()
                },
            )?),
            PolicyOp::Solarize => Box::new(RandomSolarize::new(
                path,
                SolarizeConfig {
                    thresholds: range,
                    additions: (0.0, 0.0),
                    p,
                    straight_through: st,
                    ..Default::default()
                },
            )?),
            PolicyOp::SolarizeAdd => Box::new(RandomSolarize::new(
                path,
                SolarizeConfig {
                    thresholds: (0.0, 1.0),
                    additions: range,
                    p,
                    straight_through: st,
                    ..Default::default()
                },
            )?),
            PolicyOp::Color => Box::new(RandomSaturation::new(path, factor(range))?),
            PolicyOp::Contrast => Box::new(RandomContrast::new(path, factor(range))?),
            PolicyOp::Brightness => Box::new(RandomBrightness::new(path, factor(range))?),
            PolicyOp::Sharpness => Box::new(RandomSharpness::new(
                path,
                SharpnessConfig {
                    sharpness: range,
                    p,
                    ..Default::default()
                },
            )?),
            PolicyOp::ShearX | PolicyOp::ShearY => {
                let (x, y) = if self == PolicyOp::ShearX {
                    (range, None)
                } else {
                    ((0.0, 0.0), Some(range))
                };
                Box::new(RandomShear::new(
                    path,
                    ShearConfig {
                        shear: x,
                        shear_y: y,
                        align_corners: true,
                        p,
                        ..Default::default()
                    },
                )?)
            }
            PolicyOp::TranslateX | PolicyOp::TranslateY => {
                let (x, y) = if self == PolicyOp::TranslateX {
                    (Some(range), None)
                } else {
                    (None, Some(range))
                };
                Box::new(RandomTranslate::new(
                    path,
                    TranslateConfig {
                        translate_x: x,
                        translate_y: y,
                        align_corners: true,
                        p,
                        ..Default::default()
                    },
                )?)
            }
        })
    }
}

/// RandAugment's fixed magnitude: `t = m / 30` over the range `(lo, lo + diff)`, reversed
/// for posterize.
#[derive(Debug, Clone, Copy)]
struct FixedMagnitude {
    t: f64,
    lo: f64,
    diff: f64,
}

/// One operation of a preset: the crate's operator, whose draw is then mapped as Kornia's
/// `OperationBase` does (RandAugment's fixed magnitude, shear times 180, posterize truncated,
/// a random sign for symmetric operations).
#[derive(Debug)]
struct PolicyStep {
    op: PolicyOp,
    inner: Box<dyn Augmentation>,
    sign: bool,
    fixed: Option<FixedMagnitude>,
}

impl PolicyStep {
    fn new(
        path: &nn::Path,
        op: PolicyOp,
        p: f64,
        range: (f64, f64),
        sign: bool,
        fixed: Option<f64>,
    ) -> Result<PolicyStep> {
        let inner = op.operator(path, p, range)?;
        // Kornia's range as the generator holds it (float32), and its width.
        let (lo, hi) = (range.0 as f32, range.1 as f32);
        let fixed = fixed.map(|t| FixedMagnitude {
            t,
            lo: lo as f64,
            diff: (hi - lo) as f64,
        });
        Ok(PolicyStep {
            op,
            inner,
            sign,
            fixed,
        })
    }
}

impl PolicyStep {
    /// Whether the step leaves a batch of `shape` as it is: a colour operation on a
    /// 1-channel image (torchvision's convention for grayscale).
    fn identity_on(&self, shape: &[i64]) -> bool {
        self.op.needs_rgb() && shape.get(1) == Some(&1)
    }
}

impl Augmentation for PolicyStep {
    fn name(&self) -> &'static str {
        self.op.kornia_class()
    }

    fn spec(&self) -> AugSpec {
        self.inner.spec()
    }

    fn probabilities(&self) -> (f64, f64) {
        self.inner.probabilities()
    }

    fn ranges(&self) -> Vec<&Range> {
        self.inner.ranges()
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        if self.identity_on(shape) {
            return Ok(());
        }
        self.inner.check_shape(shape)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        // The operator draws first (gate, then its generator), as Kornia's.
        let mut params = self.inner.sample(shape, device)?;
        let Some(key) = self.op.factor_key() else {
            return Ok(params);
        };
        let b = shape[0];
        let drawn = params.require(self.name(), key)?.shallow_clone();
        let mut v = match self.fixed {
            None => drawn,
            Some(f) => {
                // Kornia computes this on the CPU; float32 arithmetic gives the same values
                // on the input's device, with no host-to-device copy.
                let t = Tensor::f_full([b], f.t, (Kind::Float, device))?;
                let t = if self.op == PolicyOp::Posterize {
                    1.0 - t
                } else {
                    t
                };
                let mut mag = t * f.diff + f.lo;
                match self.op {
                    PolicyOp::TranslateX => mag *= shape[3] as f64,
                    PolicyOp::TranslateY => mag *= shape[2] as f64,
                    _ => {}
                }
                drawn.zeros_like().to_kind(Kind::Float) + mag
            }
        };
        v = match self.op {
            PolicyOp::ShearX | PolicyOp::ShearY => v * 180.0,
            PolicyOp::Posterize => v.to_kind(Kind::Int64),
            _ => v,
        };
        if self.sign {
            let up = crate::rng::rand(&[b], (Kind::Float, device))?.gt(0.5);
            let one = Tensor::f_ones([b], (v.kind(), device))?;
            v = &v * one.where_self(&up, &(-&one));
        }
        params.insert(key, v);
        Ok(params)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        if self.identity_on(&input.size()) {
            return crate::ops::fresh_copy(input);
        }
        self.inner.apply_transform(input, params)
    }

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        self.inner.geometry_ungated(shape, params, kind, device)
    }

    fn sampling(&self) -> Option<crate::Sampling> {
        self.inner.sampling()
    }

    fn inverse_transform(
        &self,
        output: &Tensor,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        self.inner.inverse_transform(output, params, input_shape)
    }

    fn apply_mask(&self, mask: &Tensor, params: &Params, how: &MaskSampling) -> Result<Tensor> {
        self.inner.apply_mask(mask, params, how)
    }

    fn inverse_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        input_shape: &[i64],
        how: &MaskSampling,
    ) -> Result<Tensor> {
        self.inner.inverse_mask(mask, params, input_shape, how)
    }
}

/// How a preset chooses its sub-policies.
#[derive(Debug, Clone, Copy)]
enum Choose {
    /// One, uniformly (Kornia's `Categorical(...).sample((1,))`).
    One,
    /// `n` distinct ones, in the order drawn (`randperm(len)[:n]`).
    Distinct(usize),
}

/// The machinery shared by the presets: the sub-policies and how they are chosen.
#[derive(Debug)]
struct Policy {
    name: &'static str,
    subs: Vec<Sequential>,
    choose: Choose,
    /// One choice per sample, drawn on the input's device (ours; Kornia: one per call).
    per_sample: bool,
}

impl Policy {
    fn new(
        name: &'static str,
        subs: Vec<Vec<PolicyStep>>,
        choose: Choose,
        per_sample: bool,
    ) -> Result<Policy> {
        let subs = subs
            .into_iter()
            .map(|steps| {
                let steps = steps
                    .into_iter()
                    .map(|s| Box::new(s) as Box<dyn Augmentation>)
                    .collect();
                Sequential::from_steps(steps, SequentialConfig::default())
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Policy {
            name,
            subs,
            choose,
            per_sample,
        })
    }

    /// How many sub-policies apply per call (per sample).
    fn count(&self) -> usize {
        match self.choose {
            Choose::One => 1,
            Choose::Distinct(n) => n,
        }
    }

    /// Per-sample mode: the choice (B, n) on `device`, one row per sample, drawn in one
    /// batched call (uniform; `n` distinct by sorting uniform keys).
    fn draw_per_sample(&self, b: i64, device: Device) -> Result<Tensor> {
        let k = self.subs.len() as i64;
        Ok(match self.choose {
            Choose::One => crate::rng::randint(0, k, &[b, 1], (Kind::Int64, device))?,
            Choose::Distinct(n) => crate::rng::rand(&[b, k], (Kind::Float, device))?
                .argsort(1, false)
                .narrow(1, 0, n as i64),
        })
    }

    /// Per-sample mode: the recorded choice (B, n), checked (its values on the CPU only,
    /// where reading them costs no device synchronisation; elsewhere a sample whose index
    /// is out of range matches no sub-policy and passes unchanged); and, on the CPU, which
    /// sub-policies any sample chose (the others are skipped).
    fn per_sample_choice(&self, params: &Params, b: i64) -> Result<(Tensor, Vec<bool>)> {
        let n = self.count() as i64;
        let t = params.require(self.name, "choice")?;
        let bad = |problem: String| Error::Params {
            op: self.name,
            key: "choice".into(),
            problem,
        };
        if t.size() != [b, n] || t.is_floating_point() {
            return Err(bad(format!(
                "must be a (B, n) = ({b}, {n}) integer tensor; got {:?} {:?}",
                t.kind(),
                t.size()
            )));
        }
        let k = self.subs.len() as i64;
        let mut used = vec![true; self.subs.len()];
        if t.device() == Device::Cpu {
            let v = Vec::<i64>::try_from(t.to_kind(Kind::Int64).reshape([-1]))?;
            if let Some(i) = v.iter().find(|&&i| i < 0 || i >= k) {
                return Err(bad(format!("holds {i}; the policy has {k} sub-policies")));
            }
            used = (0..k).map(|i| v.contains(&i)).collect();
        }
        Ok((t.shallow_clone(), used))
    }

    /// Per-sample mode: `f(sub_k, x, params_k)` for every sub-policy, each sample keeping
    /// its chosen one's, position by position (reversed for an inverse).
    fn select(
        &self,
        x: &Tensor,
        params: &Params,
        reverse: bool,
        f: impl Fn(&Sequential, &Tensor, &Params) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let b = x.size()[0];
        let (choice, used) = self.per_sample_choice(params, b)?;
        let choice = choice.to_device(x.device());
        let mut positions: Vec<i64> = (0..self.count() as i64).collect();
        if reverse {
            positions.reverse();
        }
        let mut x = x.shallow_clone();
        for s in positions {
            let col = choice.select(1, s);
            let mut out = x.shallow_clone();
            for (k, sub) in self.subs.iter().enumerate() {
                if !used[k] {
                    continue;
                }
                let y = f(sub, &x, &params.sub(&k.to_string()))?;
                if y.size() != out.size() {
                    let spatial = |t: &Tensor| t.size()[2..].to_vec();
                    return Err(Error::Size {
                        op: self.name,
                        what: "input shape",
                        size: spatial(&y),
                        input: spatial(&out),
                        allowed: "a preset keeps the size, so an inverse's input shape has the output's height and width",
                    });
                }
                let mut shape = vec![-1i64];
                shape.resize(y.dim(), 1);
                let sel = col.eq(k as i64).view(shape.as_slice());
                out = y.where_self(&sel, &out);
            }
            x = out;
        }
        Ok(x)
    }

    /// The choice for one call, drawn on torch's CPU generator (as Kornia's).
    fn draw_choice(&self) -> Result<Tensor> {
        let k = self.subs.len() as i64;
        Ok(match self.choose {
            Choose::One => {
                let probs = Tensor::f_full([k], 1.0 / k as f64, (Kind::Float, Device::Cpu))?;
                crate::rng::multinomial(&probs, 1, true)?
            }
            Choose::Distinct(n) => {
                crate::rng::randperm(k, (Kind::Int64, Device::Cpu))?.narrow(0, 0, n as i64)
            }
        })
    }

    /// The chosen table indices recorded in `params`, checked.
    fn chosen(&self, params: &Params) -> Result<Vec<usize>> {
        let t = params.require(self.name, "choice")?;
        let bad = |problem: String| Error::Params {
            op: self.name,
            key: "choice".into(),
            problem,
        };
        if t.dim() != 1 || t.is_floating_point() {
            return Err(bad(format!(
                "must be a 1-D integer tensor; got {:?} {:?}",
                t.kind(),
                t.size()
            )));
        }
        let v = Vec::<i64>::try_from(t.to_device(Device::Cpu).to_kind(Kind::Int64))?;
        let want = match self.choose {
            Choose::One => 1,
            Choose::Distinct(n) => n,
        };
        if v.len() != want {
            return Err(bad(format!("holds {} indices; expected {want}", v.len())));
        }
        v.iter()
            .map(|&i| {
                if i >= 0 && (i as usize) < self.subs.len() {
                    Ok(i as usize)
                } else {
                    Err(bad(format!(
                        "holds {i}; the policy has {} sub-policies",
                        self.subs.len()
                    )))
                }
            })
            .collect()
    }

    /// Every sub-policy's check; a channel error names the preset, its operation and the
    /// way out.
    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let checked = self.subs.iter().try_for_each(|s| s.check_shape(shape));
        match checked {
            Err(Error::Channels {
                op,
                expected,
                got,
                shape,
            }) => Err(Error::Channels {
                op: self.name,
                expected: format!(
                    "{expected} for its operation {op}, or 1 channel (where colour is the identity); a policy without PolicyOp::Color (e.g. rand_augment_policy() filtered) takes any channel count"
                ),
                got,
                shape,
            }),
            other => other,
        }
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let mut params = Params::new();
        if self.per_sample {
            params.insert("choice", self.draw_per_sample(shape[0], device)?);
            // Every sub-policy draws for the whole batch, under its table index.
            for (k, sub) in self.subs.iter().enumerate() {
                params.extend_prefixed(&k.to_string(), &sub.sample(shape, device)?);
            }
            return Ok(params);
        }
        let choice = self.draw_choice()?;
        let chosen = Vec::<i64>::try_from(&choice)?;
        params.insert("choice", choice);
        for (pos, &i) in chosen.iter().enumerate() {
            let p = self.subs[i as usize].sample(shape, device)?;
            params.extend_prefixed(&pos.to_string(), &p);
        }
        Ok(params)
    }

    fn apply_record(
        &self,
        mut w: Record,
        params: &Params,
        opts: &AnnotationOptions,
    ) -> Result<Record> {
        for (pos, i) in self.chosen(params)?.into_iter().enumerate() {
            w = self.subs[i].apply_record(w, &params.sub(&pos.to_string()), opts)?;
        }
        Ok(w)
    }

    fn inverse_record(
        &self,
        mut w: Record,
        params: &Params,
        input_shape: &[i64],
        opts: &AnnotationOptions,
    ) -> Result<Record> {
        let chosen = self.chosen(params)?;
        for (pos, &i) in chosen.iter().enumerate().rev() {
            let sub = params.sub(&pos.to_string());
            w = self.subs[i].inverse_record(w, &sub, input_shape, opts)?;
        }
        Ok(w)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        if self.per_sample {
            return self.select(input, params, false, |sub, x, p| sub.apply_transform(x, p));
        }
        let w = Record::image_only(input.shallow_clone());
        Ok(self
            .apply_record(w, params, &AnnotationOptions::default())?
            .image)
    }

    fn geometry(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        if self.per_sample {
            return self.geometry_per_sample(shape, params, kind, device);
        }
        let hw = (shape[2], shape[3]);
        let mut total = Geometry::None;
        for (pos, i) in self.chosen(params)?.into_iter().enumerate() {
            let sub = params.sub(&pos.to_string());
            let g = gated_geometry(&self.subs[i], shape, &sub, kind, device)?;
            total = total.then(&g, hw, hw);
        }
        Ok(total)
    }

    fn inverse_transform(
        &self,
        output: &Tensor,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        if self.per_sample {
            return self.select(output, params, true, |sub, x, p| {
                sub.inverse_transform(x, p, input_shape)
            });
        }
        let w = Record::image_only(output.shallow_clone());
        let opts = AnnotationOptions::default();
        Ok(self.inverse_record(w, params, input_shape, &opts)?.image)
    }

    /// Per-sample mode: each sample's product of its chosen sub-policies' gated matrices.
    fn geometry_per_sample(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let b = shape[0];
        let (choice, used) = self.per_sample_choice(params, b)?;
        let choice = choice.to_device(device);
        let mut total = Transform::identity(b, 2, kind, device);
        for s in 0..self.count() as i64 {
            let col = choice.select(1, s).view([-1, 1, 1]);
            let mut m = Tensor::f_eye(3, (kind, device))?.expand([b, 3, 3], true);
            for (k, sub) in self.subs.iter().enumerate() {
                if !used[k] {
                    continue;
                }
                let p = params.sub(&k.to_string());
                let t = gated_transform(sub, shape, &p, kind, device)?;
                m = t
                    .matrix()
                    .expand([b, 3, 3], false)
                    .where_self(&col.eq(k as i64), &m);
            }
            total = total.then(&Transform::from_parts(m, TransformClass::Affine));
        }
        Ok(Geometry::Matrix(total))
    }

    fn apply_mask(&self, mask: &Tensor, params: &Params, how: &MaskSampling) -> Result<Tensor> {
        if self.per_sample {
            return self.select(mask, params, false, |sub, m, p| sub.apply_mask(m, p, how));
        }
        let mut m = mask.shallow_clone();
        for (pos, i) in self.chosen(params)?.into_iter().enumerate() {
            m = self.subs[i].apply_mask(&m, &params.sub(&pos.to_string()), how)?;
        }
        Ok(m)
    }

    fn inverse_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        input_shape: &[i64],
        how: &MaskSampling,
    ) -> Result<Tensor> {
        if self.per_sample {
            return self.select(mask, params, true, |sub, m, p| {
                sub.inverse_mask(m, p, input_shape, how)
            });
        }
        let chosen = self.chosen(params)?;
        let mut m = mask.shallow_clone();
        for (pos, &i) in chosen.iter().enumerate().rev() {
            let sub = params.sub(&pos.to_string());
            m = self.subs[i].inverse_mask(&m, &sub, input_shape, how)?;
        }
        Ok(m)
    }
}

/// The `Augmentation` methods every preset forwards to its [`Policy`].
macro_rules! policy_augmentation {
    ($name:ident) => {
        impl Augmentation for $name {
            fn name(&self) -> &'static str {
                stringify!($name)
            }

            fn spec(&self) -> AugSpec {
                AugSpec::$name(self.cfg.clone())
            }

            fn role(&self) -> Role<'_> {
                Role::container(self)
            }

            fn check_shape(&self, shape: &[i64]) -> Result<()> {
                self.policy.check_shape(shape)
            }

            fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
                self.policy.sample(shape, device)
            }

            fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
                self.policy.apply_transform(input, params)
            }

            fn geometry_ungated(
                &self,
                shape: &[i64],
                params: &Params,
                kind: Kind,
                device: Device,
            ) -> Result<Geometry> {
                self.policy.geometry(shape, params, kind, device)
            }

            fn inverse_transform(
                &self,
                output: &Tensor,
                params: &Params,
                input_shape: &[i64],
            ) -> Result<Tensor> {
                self.policy.inverse_transform(output, params, input_shape)
            }

            fn apply_mask(
                &self,
                mask: &Tensor,
                params: &Params,
                how: &MaskSampling,
            ) -> Result<Tensor> {
                self.policy.apply_mask(mask, params, how)
            }

            fn inverse_mask(
                &self,
                mask: &Tensor,
                params: &Params,
                input_shape: &[i64],
                how: &MaskSampling,
            ) -> Result<Tensor> {
                self.policy.inverse_mask(mask, params, input_shape, how)
            }

            /// Its operators' ranges (fixed: the tables' magnitude ranges).
            fn ranges(&self) -> Vec<&Range> {
                self.policy.subs.iter().flat_map(|s| s.ranges()).collect()
            }
        }

        impl Container for $name {
            fn depth(&self) -> usize {
                1
            }

            fn apply_steps(
                &self,
                w: Record,
                params: &Params,
                opts: &AnnotationOptions,
            ) -> Result<Record> {
                if self.policy.per_sample {
                    return crate::augmentation::step_apply_record(self, w, params, opts);
                }
                self.policy.apply_record(w, params, opts)
            }

            fn inverse_steps(
                &self,
                w: Record,
                params: &Params,
                input_shape: &[i64],
                opts: &AnnotationOptions,
            ) -> Result<Record> {
                if self.policy.per_sample {
                    return crate::augmentation::step_inverse_record(
                        self,
                        w,
                        params,
                        input_shape,
                        opts,
                    );
                }
                self.policy.inverse_record(w, params, input_shape, opts)
            }
        }

        impl_module!($name);
    };
}

/// One entry of an AutoAugment sub-policy: the operation, its probability and its magnitude
/// bin (0..=9; `None` for the operations without a magnitude). In JSON, Kornia's tuple:
/// `["rotate", 0.6, 9]`, `["equalize", 0.8, null]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PolicyEntry(pub PolicyOp, pub f64, pub Option<u32>);

/// One candidate of [`RandAugment`] and [`TrivialAugment`]: the operation and its magnitude
/// range `(lo, hi)` (`(-max, max)` for the symmetric ones). In JSON, `["rotate", -30, 30]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpRange(pub PolicyOp, pub f64, pub f64);

/// AutoAugment's built-in policies (Cubuk et al.), as Kornia's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamedPolicy {
    /// The ImageNet policy (25 sub-policies).
    Imagenet,
    /// The CIFAR-10 policy (25 sub-policies).
    Cifar10,
    /// The SVHN policy (25 sub-policies).
    Svhn,
}

/// Which policy an [`AutoAugment`] draws from: a named one (JSON `"imagenet"`), or a list of
/// sub-policies of [`PolicyEntry`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AutoPolicy {
    /// One of the built-in tables.
    Named(NamedPolicy),
    /// A custom table: sub-policies, each a non-empty list of entries.
    Custom(Vec<Vec<PolicyEntry>>),
}

/// Configuration of [`AutoAugment`]; `Default` is Kornia's (the ImageNet policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoAugmentConfig {
    /// The policy.
    pub policy: AutoPolicy,
    /// One sub-policy per sample instead of one per call (see the module docs; not Kornia's).
    pub per_sample: bool,
}

impl Default for AutoAugmentConfig {
    fn default() -> Self {
        AutoAugmentConfig {
            policy: AutoPolicy::Named(NamedPolicy::Imagenet),
            per_sample: false,
        }
    }
}

impl AutoAugmentConfig {
    /// A built-in policy.
    pub fn named(policy: NamedPolicy) -> AutoAugmentConfig {
        AutoAugmentConfig {
            policy: AutoPolicy::Named(policy),
            per_sample: false,
        }
    }
}

use PolicyOp::{
    AutoContrast as AC, Brightness as BRI, Color as COL, Contrast as CON, Equalize as EQ,
    Invert as INV, Posterize as POST, Rotate as ROT, Sharpness as SHP, ShearX as SHX,
    ShearY as SHY, Solarize as SOL, TranslateX as TX, TranslateY as TY,
};

/// A table row: two (op, p, bin) entries; bin 0 for the operations without a magnitude.
type Row = [(PolicyOp, f64, u32); 2];

const IMAGENET: [Row; 25] = [
    [(POST, 0.4, 8), (ROT, 0.6, 9)],
    [(SOL, 0.6, 5), (AC, 0.6, 0)],
    [(EQ, 0.8, 0), (EQ, 0.6, 0)],
    [(POST, 0.6, 7), (POST, 0.6, 6)],
    [(EQ, 0.4, 0), (SOL, 0.2, 4)],
    [(EQ, 0.4, 0), (ROT, 0.8, 8)],
    [(SOL, 0.6, 3), (EQ, 0.6, 0)],
    [(POST, 0.8, 5), (EQ, 1.0, 0)],
    [(ROT, 0.2, 3), (SOL, 0.6, 8)],
    [(EQ, 0.6, 0), (POST, 0.4, 6)],
    [(ROT, 0.8, 8), (COL, 0.4, 0)],
    [(ROT, 0.4, 9), (EQ, 0.6, 0)],
    [(EQ, 0.0, 0), (EQ, 0.8, 0)],
    [(INV, 0.6, 0), (EQ, 1.0, 0)],
    [(COL, 0.6, 4), (CON, 1.0, 8)],
    [(ROT, 0.8, 8), (COL, 1.0, 2)],
    [(COL, 0.8, 8), (SOL, 0.8, 7)],
    [(SHP, 0.4, 7), (INV, 0.6, 0)],
    [(SHX, 0.6, 5), (EQ, 1.0, 0)],
    [(COL, 0.4, 0), (EQ, 0.6, 0)],
    [(EQ, 0.4, 0), (SOL, 0.2, 4)],
    [(SOL, 0.6, 5), (AC, 0.6, 0)],
    [(INV, 0.6, 0), (EQ, 1.0, 0)],
    [(COL, 0.6, 4), (CON, 1.0, 8)],
    [(EQ, 0.8, 0), (EQ, 0.6, 0)],
];

const CIFAR10: [Row; 25] = [
    [(INV, 0.1, 0), (CON, 0.2, 6)],
    [(ROT, 0.7, 2), (TX, 0.3, 9)],
    [(SHP, 0.8, 1), (SHP, 0.9, 3)],
    [(SHY, 0.5, 8), (TY, 0.7, 9)],
    [(AC, 0.5, 0), (EQ, 0.9, 0)],
    [(SHY, 0.2, 7), (POST, 0.3, 7)],
    [(COL, 0.4, 3), (BRI, 0.6, 7)],
    [(SHP, 0.3, 9), (BRI, 0.7, 9)],
    [(EQ, 0.6, 0), (EQ, 0.5, 0)],
    [(CON, 0.6, 7), (SHP, 0.6, 5)],
    [(COL, 0.7, 7), (TX, 0.5, 8)],
    [(EQ, 0.3, 0), (AC, 0.4, 0)],
    [(TY, 0.4, 3), (SHP, 0.2, 6)],
    [(BRI, 0.9, 6), (COL, 0.2, 8)],
    [(SOL, 0.5, 2), (INV, 0.0, 0)],
    [(EQ, 0.2, 0), (AC, 0.6, 0)],
    [(EQ, 0.2, 0), (EQ, 0.6, 0)],
    [(COL, 0.9, 9), (EQ, 0.6, 0)],
    [(AC, 0.8, 0), (SOL, 0.2, 8)],
    [(BRI, 0.1, 3), (COL, 0.7, 0)],
    [(SOL, 0.4, 5), (AC, 0.9, 0)],
    [(TY, 0.9, 9), (TY, 0.7, 9)],
    [(AC, 0.9, 0), (SOL, 0.8, 3)],
    [(EQ, 0.8, 0), (INV, 0.1, 0)],
    [(TY, 0.7, 9), (AC, 0.9, 0)],
];

const SVHN: [Row; 25] = [
    [(SHX, 0.9, 4), (INV, 0.2, 0)],
    [(SHY, 0.9, 8), (INV, 0.7, 0)],
    [(EQ, 0.6, 0), (SOL, 0.6, 6)],
    [(INV, 0.9, 0), (EQ, 0.6, 0)],
    [(EQ, 0.6, 0), (ROT, 0.9, 3)],
    [(SHX, 0.9, 4), (AC, 0.8, 0)],
    [(SHY, 0.9, 8), (INV, 0.4, 0)],
    [(SHY, 0.9, 5), (SOL, 0.2, 6)],
    [(INV, 0.9, 0), (AC, 0.8, 0)],
    [(EQ, 0.6, 0), (ROT, 0.9, 3)],
    [(SHX, 0.9, 4), (SOL, 0.3, 3)],
    [(SHY, 0.8, 8), (INV, 0.7, 0)],
    [(EQ, 0.9, 0), (TY, 0.6, 6)],
    [(INV, 0.9, 0), (EQ, 0.6, 0)],
    [(CON, 0.3, 3), (ROT, 0.8, 4)],
    [(INV, 0.8, 0), (TY, 0.0, 2)],
    [(SHY, 0.7, 6), (SOL, 0.4, 8)],
    [(INV, 0.6, 0), (ROT, 0.8, 4)],
    [(SHY, 0.3, 7), (TX, 0.9, 3)],
    [(SHX, 0.1, 6), (INV, 0.6, 0)],
    [(SOL, 0.7, 2), (TY, 0.6, 7)],
    [(SHY, 0.8, 4), (INV, 0.8, 0)],
    [(SHX, 0.7, 9), (TY, 0.8, 3)],
    [(SHY, 0.8, 5), (AC, 0.7, 0)],
    [(SHX, 0.7, 2), (INV, 0.1, 0)],
];

impl NamedPolicy {
    /// The table, as entries.
    pub fn table(self) -> Vec<Vec<PolicyEntry>> {
        let rows: &[Row] = match self {
            NamedPolicy::Imagenet => &IMAGENET,
            NamedPolicy::Cifar10 => &CIFAR10,
            NamedPolicy::Svhn => &SVHN,
        };
        rows.iter()
            .map(|row| {
                row.iter()
                    .map(|&(op, p, m)| PolicyEntry(op, p, op.has_magnitude().then_some(m)))
                    .collect()
            })
            .collect()
    }
}

impl AutoPolicy {
    /// The sub-policies.
    pub fn table(&self) -> Vec<Vec<PolicyEntry>> {
        match self {
            AutoPolicy::Named(n) => n.table(),
            AutoPolicy::Custom(t) => t.clone(),
        }
    }
}

/// `torch.linspace(lo, hi, 11)` in float32, read back: AutoAugment's bin edges.
fn bin_edges((lo, hi): (f64, f64)) -> Vec<f64> {
    let t = Tensor::linspace(lo, hi, 11, (Kind::Float, Device::Cpu));
    Vec::<f32>::try_from(t)
        .unwrap_or_default()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// AutoAugment (Cubuk et al., 2019), equal to Kornia's `AutoAugment`: one sub-policy per
/// call, chosen uniformly; each entry `(op, p, m)` applies per sample with probability `p`
/// and a magnitude drawn uniformly in bin `m` of the operation's scale (no random sign:
/// the bin sets the direction).
///
/// # Shapes
/// Input (B,3,H,W) or (3,H,W) (the ImageNet and CIFAR-10 policies hold `color`, which needs
/// RGB), float32 or float64 in [0, 1]; output the same shape.
///
/// # Errors
/// `new` fails on an empty policy or sub-policy, a `p` outside [0, 1] or a magnitude bin
/// outside 0..=9 where the operation has one.
#[derive(Debug)]
pub struct AutoAugment {
    cfg: AutoAugmentConfig,
    policy: Policy,
}

const AUTO: &str = "AutoAugment";

impl AutoAugment {
    /// Builds the preset (it has no variables; `path` names its operators).
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: AutoAugmentConfig,
    ) -> Result<AutoAugment> {
        let path = path.borrow();
        let table = cfg.policy.table();
        if table.is_empty() || table.iter().any(|s| s.is_empty()) {
            return Err(checks::config(
                AUTO,
                "policy",
                format!(
                    "{} sub-policies (sizes {:?})",
                    table.len(),
                    table.iter().map(Vec::len).collect::<Vec<_>>()
                ),
                "at least one sub-policy, each with at least one entry",
            ));
        }
        let mut subs = Vec::new();
        for (i, sub) in table.iter().enumerate() {
            let mut steps = Vec::new();
            for (j, &PolicyEntry(op, p, m)) in sub.iter().enumerate() {
                checks::probability(AUTO, "p", p)?;
                let range = match op.scale() {
                    None => (0.0, 0.0),
                    Some(scale) => match m {
                        Some(m) if m <= 9 => {
                            let edges = bin_edges(scale);
                            (edges[m as usize], edges[m as usize + 1])
                        }
                        _ => {
                            return Err(checks::config(
                                AUTO,
                                "magnitude",
                                format!("{m:?} for `{}`", op.name()),
                                "a magnitude bin in 0..=9",
                            ))
                        }
                    },
                };
                let path = path / i.to_string() / j.to_string();
                steps.push(PolicyStep::new(&path, op, p, range, false, None)?);
            }
            subs.push(steps);
        }
        Ok(AutoAugment {
            policy: Policy::new(AUTO, subs, Choose::One, cfg.per_sample)?,
            cfg,
        })
    }
}

policy_augmentation!(AutoAugment);

/// RandAugment's and TrivialAugment's candidates: one operation each, with p = 1.
fn candidates(
    op_name: &'static str,
    path: &nn::Path,
    list: &[OpRange],
    fixed: Option<f64>,
) -> Result<Vec<Vec<PolicyStep>>> {
    if list.is_empty() {
        return Err(checks::config(
            op_name,
            "policy",
            "[]",
            "at least one operation",
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, &OpRange(op, lo, hi))| {
            let range = if op.is_symmetric() {
                if lo != -hi || hi.is_nan() || hi < 0.0 {
                    return Err(checks::config(
                        op_name,
                        "policy",
                        format!("`{}` on ({lo}, {hi})", op.name()),
                        "a symmetric range (-max, max) with max >= 0 for rotations, shears and translations",
                    ));
                }
                (0.0, hi)
            } else if op.has_magnitude() {
                (lo, hi)
            } else {
                (0.0, 0.0)
            };
            let path = path / i.to_string();
            Ok(vec![PolicyStep::new(
                &path,
                op,
                1.0,
                range,
                op.is_symmetric(),
                if op.has_magnitude() { fixed } else { None },
            )?])
        })
        .collect()
}

/// RandAugment's default candidates (Kornia's table).
pub fn rand_augment_policy() -> Vec<OpRange> {
    use PolicyOp::*;
    vec![
        OpRange(AutoContrast, 0.0, 1.0),
        OpRange(Equalize, 0.0, 1.0),
        OpRange(Invert, 0.0, 1.0),
        OpRange(Rotate, -30.0, 30.0),
        OpRange(Posterize, 4.0, 8.0),
        OpRange(Solarize, 0.0, 1.0),
        OpRange(SolarizeAdd, 0.0, 0.43),
        OpRange(Color, 0.1, 1.9),
        OpRange(Contrast, 0.1, 1.9),
        OpRange(Brightness, 0.1, 1.9),
        OpRange(Sharpness, 0.1, 1.9),
        OpRange(ShearX, -0.3, 0.3),
        OpRange(ShearY, -0.3, 0.3),
        OpRange(TranslateX, -0.1, 0.1),
        OpRange(TranslateY, -0.1, 0.1),
    ]
}

/// TrivialAugment's default candidates (Kornia's table).
pub fn trivial_augment_policy() -> Vec<OpRange> {
    use PolicyOp::*;
    vec![
        OpRange(AutoContrast, 0.0, 1.0),
        OpRange(Equalize, 0.0, 1.0),
        OpRange(Rotate, -30.0, 30.0),
        OpRange(Posterize, 0.0, 4.0),
        OpRange(Solarize, 0.0, 1.0),
        OpRange(Contrast, 0.1, 1.9),
        OpRange(Brightness, 0.1, 1.9),
        OpRange(Sharpness, 0.1, 1.9),
        OpRange(ShearX, -0.3, 0.3),
        OpRange(ShearY, -0.3, 0.3),
        OpRange(TranslateX, -0.5, 0.5),
        OpRange(TranslateY, -0.5, 0.5),
    ]
}

/// Configuration of [`RandAugment`]. `n` and `m` have no default in Kornia: JSON must give
/// them; `Default` is `n = 2, m = 9` for Rust code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandAugmentConfig {
    /// How many distinct candidates apply per call, in [1, number of candidates].
    pub n: usize,
    /// The magnitude, in (0, 30): every operation applies at `lo + (hi - lo) * m / 30` of
    /// its range (posterize reversed; symmetric operations on `(0, max)` with a random sign).
    pub m: f64,
    /// The candidates (`None`: Kornia's 15, [`rand_augment_policy`]).
    pub policy: Option<Vec<OpRange>>,
    /// `n` candidates per sample instead of per call (see the module docs; not Kornia's).
    pub per_sample: bool,
}

impl Default for RandAugmentConfig {
    fn default() -> Self {
        RandAugmentConfig::new(2, 9.0)
    }
}

impl RandAugmentConfig {
    /// `n` operations at magnitude `m`, over Kornia's candidates.
    pub fn new(n: usize, m: f64) -> RandAugmentConfig {
        RandAugmentConfig {
            n,
            m,
            policy: None,
            per_sample: false,
        }
    }
}

/// RandAugment (Cubuk et al., 2020), equal to Kornia's `RandAugment(n, m)`: `n` distinct
/// candidates per call, in the order drawn, each applied to every sample at the fixed
/// magnitude `m` (a per-sample random sign for rotations, shears and translations).
///
/// # Shapes
/// Input (B,3,H,W) or (3,H,W) with the default candidates (`color` needs RGB), float32 or
/// float64 in [0, 1]; output the same shape.
///
/// # Errors
/// `new` fails on `n` outside [1, candidates], `m` outside (0, 30), or a candidate range
/// its operator refuses (a symmetric operation needs `(-max, max)`).
#[derive(Debug)]
pub struct RandAugment {
    cfg: RandAugmentConfig,
    policy: Policy,
}

const RAND: &str = "RandAugment";

impl RandAugment {
    /// Builds the preset (it has no variables; `path` names its operators).
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: RandAugmentConfig,
    ) -> Result<RandAugment> {
        let path = path.borrow();
        if !(cfg.m > 0.0 && cfg.m < 30.0) {
            return Err(checks::config(RAND, "m", cfg.m, "a magnitude in (0, 30)"));
        }
        let list = cfg.policy.clone().unwrap_or_else(rand_augment_policy);
        if cfg.n < 1 || cfg.n > list.len() {
            return Err(checks::config(
                RAND,
                "n",
                cfg.n,
                format!("1..={} (the number of candidates)", list.len()),
            ));
        }
        let t = (cfg.m / 30.0) as f32 as f64;
        let subs = candidates(RAND, path, &list, Some(t))?;
        Ok(RandAugment {
            policy: Policy::new(RAND, subs, Choose::Distinct(cfg.n), cfg.per_sample)?,
            cfg,
        })
    }
}

policy_augmentation!(RandAugment);

/// Configuration of [`TrivialAugment`]; `Default` is Kornia's (its 12 candidates).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrivialAugmentConfig {
    /// The candidates (`None`: Kornia's 12, [`trivial_augment_policy`]).
    pub policy: Option<Vec<OpRange>>,
    /// One candidate per sample instead of per call (see the module docs; not Kornia's).
    pub per_sample: bool,
}

/// TrivialAugment (Müller and Hutter, 2021), equal to Kornia's `TrivialAugment`: one
/// candidate per call, chosen uniformly, applied to every sample with a magnitude drawn per
/// sample over its range (symmetric operations: `U(0, max)` with a random sign).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64 in [0, 1]; output the same shape.
///
/// # Errors
/// `new` fails on an empty list or a candidate range its operator refuses.
#[derive(Debug)]
pub struct TrivialAugment {
    cfg: TrivialAugmentConfig,
    policy: Policy,
}

const TRIVIAL: &str = "TrivialAugment";

impl TrivialAugment {
    /// Builds the preset (it has no variables; `path` names its operators).
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: TrivialAugmentConfig,
    ) -> Result<TrivialAugment> {
        let path = path.borrow();
        let list = cfg.policy.clone().unwrap_or_else(trivial_augment_policy);
        let subs = candidates(TRIVIAL, path, &list, None)?;
        Ok(TrivialAugment {
            policy: Policy::new(TRIVIAL, subs, Choose::One, cfg.per_sample)?,
            cfg,
        })
    }
}

policy_augmentation!(TrivialAugment);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for AutoAugment {
    type Config = AutoAugmentConfig;

    fn from_kornia(kw: &Kwargs) -> Result<AutoAugmentConfig> {
        let mut c = AutoAugmentConfig::default();
        if let Some(p) = kw.get("policy") {
            c.policy = serde_json::from_value(p.clone()).map_err(|_| {
                kw.err(
                    "policy",
                    "\"imagenet\", \"cifar10\", \"svhn\" or sub-policies of [op, p, magnitude bin]",
                )
            })?;
        }
        let _ = kw.get("transformation_matrix_mode");
        Ok(c)
    }
}

impl FromKornia for RandAugment {
    type Config = RandAugmentConfig;

    fn from_kornia(kw: &Kwargs) -> Result<RandAugmentConfig> {
        let count = |key| match kw.num(key)? {
            Some(v) if v.fract() == 0.0 && v >= 0.0 => Ok(v),
            _ => Err(kw.err(key, "a whole number (required)")),
        };
        let mut c = RandAugmentConfig::new(count("n")? as usize, count("m")?);
        c.policy = candidate_list(kw)?;
        let _ = kw.get("transformation_matrix_mode");
        Ok(c)
    }
}

impl FromKornia for TrivialAugment {
    type Config = TrivialAugmentConfig;

    fn from_kornia(kw: &Kwargs) -> Result<TrivialAugmentConfig> {
        let c = TrivialAugmentConfig {
            policy: candidate_list(kw)?,
            ..Default::default()
        };
        let _ = kw.get("transformation_matrix_mode");
        Ok(c)
    }
}

/// RandAugment's and TrivialAugment's `policy`: Kornia's sub-policies of one `(op, lo, hi)`
/// each, as the flat candidate list of [`RandAugmentConfig::policy`].
fn candidate_list(kw: &Kwargs) -> Result<Option<Vec<OpRange>>> {
    let Some(p) = kw.get("policy") else {
        return Ok(None);
    };
    let subs: Vec<Vec<OpRange>> = serde_json::from_value(p.clone())
        .map_err(|_| kw.err("policy", "sub-policies of one [op, low, high] each"))?;
    subs.into_iter()
        .map(|s| match s.as_slice() {
            [one] => Ok(*one),
            _ => Err(kw.err("policy", "sub-policies of one [op, low, high] each")),
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}
