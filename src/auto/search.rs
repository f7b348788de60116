//! Differentiable policy search: Faster AutoAugment (Hataya et al., 2019).
//!
//! A [`DifferentiablePolicy`] is `K` sub-policies of `S` stages (2 in the paper). Each stage
//! holds, for every candidate operation `o`, a selection weight `w_o`, an application
//! probability `p_o` and a magnitude `μ_o ∈ [0, 1]`, all variables of the policy's
//! `VarStore`. Each sample draws its own sub-policy (on the input's device). In search mode
//! ([`DifferentiablePolicy::f_relaxed`], `forward_t(x, true)`) a stage outputs
//!
//! `Σ_o softmax(w / τ)_o · (b_o · op_o(x, μ_o) + (1 - b_o) · x)`,
//! `b_o ~ RelaxedBernoulli(τ, p_o)`,
//!
//! so the loss reaches every weight, probability and magnitude; the piecewise-constant
//! operations (solarize, posterize, equalize, auto-contrast) pass it straight through. In
//! application mode ([`DifferentiablePolicy::f_sampled`], `forward_t(x, false)`) each sample
//! draws one operation per stage from `softmax(w / τ)` and a hard gate from `p_o`.
//!
//! The operations are the crate's operators (the same as the presets'); the magnitude maps
//! to each one's range as in [`MagnitudeMap`]. [`gradient_penalty`] is WGAN-GP's term for
//! the critic that drives the search (examples/policy_search.rs has the whole loop).

use super::PolicyOp;
use crate::checks;
use crate::{Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of a [`DifferentiablePolicy`]; `Default` is a small version of the
/// paper's (10 sub-policies of 2 stages over 14 operations, τ = 0.05).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Number of sub-policies `K` (the paper uses up to 150).
    pub sub_policies: usize,
    /// Number of stages per sub-policy (the paper: 2).
    pub stages: usize,
    /// The candidate operations of every stage.
    pub operations: Vec<PolicyOp>,
    /// The temperature `τ` of the operation softmax and of the relaxed Bernoulli gates.
    pub temperature: f64,
    /// The initial application probability of every operation, in (0, 1).
    pub init_probability: f64,
    /// The initial magnitude of every operation, in [0, 1].
    pub init_magnitude: f64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            sub_policies: 10,
            stages: 2,
            operations: PolicyOp::ALL
                .into_iter()
                .filter(|&o| o != PolicyOp::SolarizeAdd)
                .collect(),
            temperature: 0.05,
            init_probability: 0.5,
            init_magnitude: 0.5,
        }
    }
}

/// How a magnitude `μ ∈ [0, 1]` becomes each operation's value (a random sign for the
/// symmetric ones): rotate `30μ` degrees; shears `0.3μ · 180` degrees; translations `0.5μ`
/// of the width or height; solarize threshold `1 - μ`; solarize-add addition `0.43μ`
/// (threshold 0.5); posterize `8 - 4μ` bits; colour, contrast, brightness and sharpness
/// factors `0.1 + 1.8μ` (`μ = 0.5` is the identity). The ranges are RandAugment's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MagnitudeMap;

impl MagnitudeMap {
    /// The operation's value for magnitudes `mu` (B,) and signs `sign` (B,) of ±1.
    pub fn value(op: PolicyOp, mu: &Tensor, sign: &Tensor, hw: (i64, i64)) -> Tensor {
        match op {
            PolicyOp::Rotate => mu * 30.0 * sign,
            PolicyOp::ShearX | PolicyOp::ShearY => mu * (0.3 * 180.0) * sign,
            PolicyOp::TranslateX => mu * (0.5 * hw.1 as f64) * sign,
            PolicyOp::TranslateY => mu * (0.5 * hw.0 as f64) * sign,
            PolicyOp::Solarize => 1.0 - mu,
            PolicyOp::SolarizeAdd => mu * 0.43,
            PolicyOp::Posterize => 8.0 - mu * 4.0,
            PolicyOp::Color | PolicyOp::Contrast | PolicyOp::Brightness | PolicyOp::Sharpness => {
                mu * 1.8 + 0.1
            }
            PolicyOp::AutoContrast | PolicyOp::Equalize | PolicyOp::Invert => mu.zeros_like(),
        }
    }
}

/// One candidate operation: the crate's operator (straight-through where piecewise
/// constant) and how its params are built from a magnitude.
#[derive(Debug)]
struct Candidate {
    op: PolicyOp,
    inner: Box<dyn Augmentation>,
}

impl Candidate {
    /// `op(x, μ)` for per-sample magnitudes `mu` (B,) and signs `sign` (B,).
    fn apply(&self, x: &Tensor, mu: &Tensor, sign: &Tensor) -> Result<Tensor> {
        let size = x.size();
        let (b, hw) = (size[0], (size[2], size[3]));
        let (kind, device) = (x.kind(), x.device());
        let v = MagnitudeMap::value(self.op, mu, sign, hw).to_kind(kind);
        let zeros = Tensor::f_zeros([b], (kind, device))?;
        let mut p = Params::new();
        match self.op {
            PolicyOp::AutoContrast | PolicyOp::Equalize | PolicyOp::Invert => {}
            PolicyOp::Rotate => p.insert("degrees", v),
            PolicyOp::ShearX | PolicyOp::ShearY => {
                p.insert(
                    "center",
                    crate::geometric::affine::center(&size, device)?.to_kind(kind),
                );
                let (sx, sy) = if self.op == PolicyOp::ShearX {
                    (v, zeros)
                } else {
                    (zeros, v)
                };
                p.insert("shear_x", sx);
                p.insert("shear_y", sy);
            }
            PolicyOp::TranslateX | PolicyOp::TranslateY => {
                let (tx, ty) = if self.op == PolicyOp::TranslateX {
                    (v, zeros)
                } else {
                    (zeros, v)
                };
                p.insert("translate_x", tx);
                p.insert("translate_y", ty);
            }
            PolicyOp::Solarize => {
                p.insert("thresholds", v);
                p.insert("additions", zeros);
            }
            PolicyOp::SolarizeAdd => {
                p.insert("thresholds", zeros + 0.5);
                p.insert("additions", v);
            }
            PolicyOp::Posterize => {
                p.insert("bits_factor", v.detach().round().to_kind(Kind::Int));
                p.insert("bits_raw", v);
            }
            PolicyOp::Color => p.insert("saturation_factor", v),
            PolicyOp::Contrast => p.insert("contrast_factor", v),
            PolicyOp::Brightness => p.insert("brightness_factor", v),
            PolicyOp::Sharpness => p.insert("sharpness", v),
        }
        self.inner.apply_transform(x, &p)
    }
}

/// A found policy, readable: per sub-policy and stage, every operation with its selection
/// weight (`softmax(w / τ)`), probability and magnitude (`None` without one), by weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundPolicy {
    /// The temperature `τ` of the weights.
    pub temperature: f64,
    /// `[sub-policy][stage]` → the operations, heaviest first.
    pub sub_policies: Vec<Vec<Vec<FoundOp>>>,
}

/// One operation of a [`FoundPolicy`] stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundOp {
    /// The operation.
    pub op: PolicyOp,
    /// Its probability of being the stage's operation.
    pub weight: f64,
    /// Its probability of applying once chosen.
    pub probability: f64,
    /// Its magnitude in [0, 1] (see [`MagnitudeMap`]); `None` without one.
    pub magnitude: Option<f64>,
}

/// Faster AutoAugment's differentiable policy (see the module docs). Its variables
/// (`weights`, `probabilities`, `magnitudes`, each (K, S, O)) live under the path given to
/// [`DifferentiablePolicy::new`], so `nn::Adam` optimises them and the `VarStore` saves
/// them (with its operators' fixed ranges, non-trainable, under `ops`).
///
/// # Shapes
/// Input (B,3,H,W) with the default operations (`color` needs RGB), float32 or float64 in
/// [0, 1]; output the same shape.
#[derive(Debug)]
pub struct DifferentiablePolicy {
    cfg: SearchConfig,
    candidates: Vec<Candidate>,
    weights: Tensor,
    probabilities: Tensor,
    magnitudes: Tensor,
}

const SEARCH: &str = "DifferentiablePolicy";

impl DifferentiablePolicy {
    /// Builds the policy; its variables live under `path`.
    ///
    /// # Errors
    /// [`Error::Config`] for no sub-policy, no stage, no operation, a repeated operation,
    /// a temperature that is not positive and finite, or initial values out of range.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: SearchConfig,
    ) -> Result<DifferentiablePolicy> {
        let path = path.borrow();
        let positive = |name, v: usize| {
            if v == 0 {
                Err(checks::config(SEARCH, name, v, "at least 1"))
            } else {
                Ok(())
            }
        };
        positive("sub_policies", cfg.sub_policies)?;
        positive("stages", cfg.stages)?;
        positive("operations", cfg.operations.len())?;
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = cfg.operations.iter().find(|o| !seen.insert(**o)) {
            return Err(checks::config(
                SEARCH,
                "operations",
                dup.name(),
                "each operation at most once",
            ));
        }
        if !(cfg.temperature > 0.0 && checks::f32_positive(cfg.temperature)) {
            return Err(checks::config(
                SEARCH,
                "temperature",
                cfg.temperature,
                "a positive finite temperature",
            ));
        }
        if !(cfg.init_probability > 0.0 && cfg.init_probability < 1.0) {
            return Err(checks::config(
                SEARCH,
                "init_probability",
                cfg.init_probability,
                "a probability in (0, 1)",
            ));
        }
        if !(0.0..=1.0).contains(&cfg.init_magnitude) {
            return Err(checks::config(
                SEARCH,
                "init_magnitude",
                cfg.init_magnitude,
                "a magnitude in [0, 1]",
            ));
        }
        // The three (S, stages, O) variables, checked before anything is added to the store.
        let count = |name, v: usize| {
            i64::try_from(v).map_err(|_| checks::config(SEARCH, name, v, "at most 2^63 - 1"))
        };
        let shape = [
            count("sub_policies", cfg.sub_policies)?,
            count("stages", cfg.stages)?,
            count("operations", cfg.operations.len())?,
        ];
        checks::fits(
            SEARCH,
            "3 variables of shape",
            &[3, shape[0], shape[1], shape[2]],
        )?;
        let candidates = cfg
            .operations
            .iter()
            .map(|&op| {
                let range = match op {
                    PolicyOp::Rotate => (-30.0, 30.0),
                    PolicyOp::ShearX | PolicyOp::ShearY => (-54.0, 54.0),
                    PolicyOp::TranslateX | PolicyOp::TranslateY => (-0.5, 0.5),
                    PolicyOp::Solarize => (0.0, 1.0),
                    PolicyOp::SolarizeAdd => (0.0, 0.43),
                    PolicyOp::Posterize => (4.0, 8.0),
                    _ => (0.1, 1.9),
                };
                let inner = op.operator_with(&(path / "ops" / op.name()), 1.0, range, true)?;
                Ok(Candidate { op, inner })
            })
            .collect::<Result<Vec<_>>>()?;
        let weights = path.f_var("weights", &shape, nn::Init::Const(0.0))?;
        let probabilities = path.f_var(
            "probabilities",
            &shape,
            nn::Init::Const(cfg.init_probability),
        )?;
        let magnitudes = path.f_var("magnitudes", &shape, nn::Init::Const(cfg.init_magnitude))?;
        Ok(DifferentiablePolicy {
            cfg,
            candidates,
            weights,
            probabilities,
            magnitudes,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SearchConfig {
        &self.cfg
    }

    /// The selection weights' variable (K, S, O) (before `softmax(· / τ)`).
    pub fn weights(&self) -> &Tensor {
        &self.weights
    }

    /// The probabilities' variable (K, S, O) (clamped to [0, 1] when used).
    pub fn probabilities(&self) -> &Tensor {
        &self.probabilities
    }

    /// The magnitudes' variable (K, S, O) (clamped to [0, 1] when used).
    pub fn magnitudes(&self) -> &Tensor {
        &self.magnitudes
    }

    fn check(&self, x: &Tensor) -> Result<()> {
        let size = x.size();
        if size.len() != 4 {
            return Err(Error::Rank {
                op: SEARCH,
                shape: size,
                expected: "4 (B,C,H,W)",
            });
        }
        checks::float_kind(SEARCH, x.kind())?;
        if size.contains(&0) {
            return Err(Error::Empty {
                op: SEARCH,
                shape: size,
            });
        }
        self.candidates
            .iter()
            .try_for_each(|c| c.inner.check_shape(&size))
    }

    /// Per sample: the sub-policy's (S, O) rows of the three variables, clamped, and ±1
    /// signs (B, S, O), all drawn on the input's device.
    fn rows(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
        let (b, device) = (x.size()[0], x.device());
        let k = self.cfg.sub_policies as i64;
        let idx = crate::rng::randint(0, k, &[b], (Kind::Int64, device))?;
        let pick = |t: &Tensor| t.to_device(device).to_kind(x.kind()).index_select(0, &idx);
        let w = pick(&self.weights);
        let p = pick(&self.probabilities).clamp(0.0, 1.0);
        let m = pick(&self.magnitudes).clamp(0.0, 1.0);
        let shape = w.size();
        let up = crate::rng::rand(&shape, (x.kind(), device))?.gt(0.5);
        let sign = up.to_kind(x.kind()) * 2.0 - 1.0;
        Ok((w, p, m, sign))
    }

    /// Search mode: every stage is the softmax-weighted sum over all operations, each gated
    /// by a relaxed Bernoulli draw; differentiable with respect to the input and to every
    /// variable.
    ///
    /// # Errors
    /// [`Error::Rank`], [`Error::Dtype`], [`Error::Empty`] or [`Error::Channels`] for an
    /// input it cannot take.
    pub fn f_relaxed(&self, x: &Tensor) -> Result<Tensor> {
        self.check(x)?;
        let tau = self.cfg.temperature;
        let (w, p, m, sign) = self.rows(x)?;
        let eps = 1e-6;
        let mut x = x.clamp(0.0, 1.0);
        for s in 0..self.cfg.stages as i64 {
            let ws = (w.select(1, s) / tau).softmax(-1, x.kind());
            let ps = p.select(1, s).clamp(eps, 1.0 - eps);
            let u = crate::rng::rand(&ps.size(), (x.kind(), x.device()))?.clamp(eps, 1.0 - eps);
            let logits: Tensor = ps.log() - ps.neg().log1p() + u.log() - u.neg().log1p();
            let gates = (logits / tau).sigmoid();
            let mut out: Option<Tensor> = None;
            for (o, c) in self.candidates.iter().enumerate() {
                let o = o as i64;
                let y = c.apply(
                    &x,
                    &m.select(1, s).select(1, o),
                    &sign.select(1, s).select(1, o),
                )?;
                let g = gates.select(1, o).view([-1, 1, 1, 1]);
                let blended = &g * y + (1.0 - &g) * &x;
                let term = ws.select(1, o).view([-1, 1, 1, 1]) * blended;
                out = Some(match out {
                    None => term,
                    Some(sum) => sum + term,
                });
            }
            x = out.unwrap_or(x);
        }
        Ok(x)
    }

    /// Application mode: per sample and stage, one operation drawn from `softmax(w / τ)`,
    /// applied with probability `p` at magnitude `μ` (no gradient to the variables).
    ///
    /// # Errors
    /// As [`DifferentiablePolicy::f_relaxed`].
    pub fn f_sampled(&self, x: &Tensor) -> Result<Tensor> {
        self.check(x)?;
        let _guard = tch::no_grad_guard();
        let tau = self.cfg.temperature;
        let (w, p, m, sign) = self.rows(x)?;
        let mut x = x.clamp(0.0, 1.0);
        for s in 0..self.cfg.stages as i64 {
            let ws = (w.select(1, s) / tau).softmax(-1, Kind::Float);
            let chosen = crate::rng::multinomial(&ws, 1, true)?; // (B, 1)
            let gate = crate::rng::bernoulli(&p.select(1, s).gather(1, &chosen, false))?;
            let mu = m.select(1, s).gather(1, &chosen, false).view([-1]);
            let sg = sign.select(1, s).gather(1, &chosen, false).view([-1]);
            let applied = gate.view([-1]).gt(0.5);
            let chosen = chosen.view([-1]);
            let mut out = x.shallow_clone();
            for (o, c) in self.candidates.iter().enumerate() {
                let y = c.apply(&x, &mu, &sg)?;
                let sel = chosen
                    .eq(o as i64)
                    .logical_and(&applied)
                    .view([-1, 1, 1, 1]);
                out = y.where_self(&sel, &out);
            }
            x = out;
        }
        Ok(x)
    }

    /// The policy as it stands, readable (reads the variables: not for a forward pass).
    pub fn found(&self) -> FoundPolicy {
        let tau = self.cfg.temperature;
        let read = |t: &Tensor| -> Vec<f64> {
            Vec::<f64>::try_from(
                t.detach()
                    .to_device(Device::Cpu)
                    .to_kind(Kind::Double)
                    .reshape([-1]),
            )
            .unwrap_or_default()
        };
        let w = read(&(self.weights.detach() / tau).softmax(-1, Kind::Double));
        let p = read(&self.probabilities.clamp(0.0, 1.0));
        let m = read(&self.magnitudes.clamp(0.0, 1.0));
        let (s, o) = (self.cfg.stages, self.cfg.operations.len());
        let sub_policies = (0..self.cfg.sub_policies)
            .map(|k| {
                (0..s)
                    .map(|st| {
                        let mut ops: Vec<FoundOp> = (0..o)
                            .map(|j| {
                                let i = (k * s + st) * o + j;
                                let op = self.cfg.operations[j];
                                FoundOp {
                                    op,
                                    weight: w[i],
                                    probability: p[i],
                                    magnitude: op.has_magnitude().then_some(m[i]),
                                }
                            })
                            .collect();
                        ops.sort_by(|a, b| b.weight.total_cmp(&a.weight));
                        ops
                    })
                    .collect()
            })
            .collect();
        FoundPolicy {
            temperature: tau,
            sub_policies,
        }
    }

    /// Sets the variables to a [`FoundPolicy`] of the same structure (weights as
    /// `τ · ln(weight)`); checked first, so that on `Err` nothing has changed.
    ///
    /// # Errors
    /// [`Error::Config`] for a policy of another structure or values out of range.
    pub fn f_load_found(&self, found: &FoundPolicy) -> Result<()> {
        let (k, s, o) = (
            self.cfg.sub_policies,
            self.cfg.stages,
            self.cfg.operations.len(),
        );
        let bad = |problem: String| {
            checks::config(
                SEARCH,
                "found",
                problem,
                format!("{k} sub-policies of {s} stages, each stage with every operation once, weights in (0, 1], probabilities and magnitudes in [0, 1]"),
            )
        };
        if !(found.temperature > 0.0 && checks::f32_positive(found.temperature)) {
            return Err(bad(format!("temperature {}", found.temperature)));
        }
        if found.sub_policies.len() != k || found.sub_policies.iter().any(|sp| sp.len() != s) {
            return Err(bad(format!(
                "the found policy is not {k} sub-policies of {s} stages"
            )));
        }
        let n = k * s * o;
        let (mut w, mut p, mut m) = (vec![0f64; n], vec![0f64; n], vec![0f64; n]);
        for (ki, sp) in found.sub_policies.iter().enumerate() {
            for (si, stage) in sp.iter().enumerate() {
                let mut seen = vec![false; o];
                for f in stage {
                    let Some(j) = self.cfg.operations.iter().position(|&x| x == f.op) else {
                        return Err(bad(format!(
                            "`{}` is not one of the operations",
                            f.op.name()
                        )));
                    };
                    let mag = f.magnitude.unwrap_or(self.cfg.init_magnitude);
                    let ok = !seen[j]
                        && f.weight > 0.0
                        && f.weight <= 1.0
                        && (0.0..=1.0).contains(&f.probability)
                        && (0.0..=1.0).contains(&mag);
                    if !ok {
                        return Err(bad(format!(
                            "`{}` in sub-policy {ki}, stage {si} is repeated or out of range",
                            f.op.name()
                        )));
                    }
                    seen[j] = true;
                    let i = (ki * s + si) * o + j;
                    w[i] = found.temperature * f.weight.ln();
                    p[i] = f.probability;
                    m[i] = mag;
                }
                if seen.iter().any(|v| !v) {
                    return Err(bad(format!(
                        "sub-policy {ki}, stage {si} lacks an operation"
                    )));
                }
            }
        }
        let shape = [k as i64, s as i64, o as i64];
        let _guard = tch::no_grad_guard();
        let set = |var: &Tensor, v: &[f64]| {
            let t = Tensor::from_slice(v)
                .view(shape)
                .to_kind(var.kind())
                .to_device(var.device());
            let mut var = var.shallow_clone();
            var.copy_(&t);
        };
        set(&self.weights, &w);
        set(&self.probabilities, &p);
        set(&self.magnitudes, &m);
        Ok(())
    }
}

impl nn::ModuleT for DifferentiablePolicy {
    /// `train`: [`DifferentiablePolicy::f_relaxed`]; else [`DifferentiablePolicy::f_sampled`].
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        crate::error::or_panic(if train {
            self.f_relaxed(xs)
        } else {
            self.f_sampled(xs)
        })
    }
}

/// WGAN-GP's gradient penalty (Gulrajani et al., 2017) for a critic `critic` (images →
/// (B,) scores): `E[(‖∇ critic(x̂)‖₂ - 1)²]` at `x̂ = ε·real + (1 - ε)·fake`, `ε ~ U(0, 1)`
/// per sample. The graph is kept, so the penalty trains the critic.
///
/// # Panics
/// Where [`f_gradient_penalty`] returns an error.
pub fn gradient_penalty(
    critic: &dyn Fn(&Tensor) -> Tensor,
    real: &Tensor,
    fake: &Tensor,
) -> Tensor {
    crate::error::or_panic(f_gradient_penalty(critic, real, fake))
}

/// [`gradient_penalty`], with an error where the draw of `ε` cannot be allocated.
///
/// # Errors
/// [`Error::Torch`] for an allocation that fails; [`Error::Rng`] from a generator scope.
pub fn f_gradient_penalty(
    critic: &dyn Fn(&Tensor) -> Tensor,
    real: &Tensor,
    fake: &Tensor,
) -> Result<Tensor> {
    let b = real.size()[0];
    let eps = crate::rng::rand(&[b, 1, 1, 1], (real.kind(), real.device()))?;
    let mixed: Tensor = &eps * real.detach() + (eps.neg() + 1.0) * fake.detach();
    let mixed = mixed.set_requires_grad(true);
    let score = critic(&mixed);
    let grad = Tensor::run_backward(&[score.sum(score.kind())], &[&mixed], true, true)
        .pop()
        .unwrap_or_else(|| mixed.zeros_like());
    let norm = grad
        .view([b, -1])
        .pow_tensor_scalar(2)
        .sum_dim_intlist(1, false, None)
        .clamp_min(1e-12)
        .sqrt();
    let kind = norm.kind();
    Ok((norm - 1.0).pow_tensor_scalar(2).mean(kind))
}
