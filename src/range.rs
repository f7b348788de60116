//! Magnitude ranges, fixed or learnable, and the batched draws made from them.
//!
//! A range `(lo, hi)` lives in the augmentation's [`nn::Path`]: as two trainable
//! variables `<name>_lo`, `<name>_hi` when learnable, as non-trainable buffers when
//! fixed. Sampling is reparameterised, `v = lo + (hi - lo) * u` with `u ~ U(0, 1)` from
//! torch's RNG, so gradients reach `lo` and `hi`; every draw reads the variables as they
//! are now, so an optimiser step is seen by the next draw.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

/// Which of an augmentation's magnitude ranges are trainable variables: none (the
/// default), all, or those named (the range names of the operator, as in its VarStore
/// variables `<name>_lo` / `<name>_hi`; [`crate::Augmentation::range_names`] lists them).
///
/// In JSON: `false`, `true`, or a list of names (`"learnable": ["brightness", "contrast"]`).
///
/// # Example
/// ```no_run
/// use tch_dda::{JitterConfig, Learnable};
/// let cfg = JitterConfig { learnable: Learnable::only(["brightness"]), ..JitterConfig::new(0.2, 0.3, 0.0, 0.0) };
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Learnable {
    /// Every range is a fixed buffer.
    #[default]
    None,
    /// Every range is trainable.
    All,
    /// The named ranges are trainable, the others fixed.
    Only(Vec<String>),
}

impl Learnable {
    /// The named ranges only.
    pub fn only<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Learnable {
        Learnable::Only(names.into_iter().map(Into::into).collect())
    }

    /// Whether the range `name` is trainable.
    pub fn has(&self, name: &str) -> bool {
        match self {
            Learnable::None => false,
            Learnable::All => true,
            Learnable::Only(v) => v.iter().any(|n| n == name),
        }
    }

    /// Whether any range is trainable.
    pub fn any(&self) -> bool {
        match self {
            Learnable::None => false,
            Learnable::All => true,
            Learnable::Only(v) => !v.is_empty(),
        }
    }

    /// Checks that every named range is one of `allowed` (the operator's range names).
    pub(crate) fn check(&self, op: &'static str, allowed: &[&str]) -> Result<()> {
        if let Learnable::Only(v) = self {
            if let Some(bad) = v.iter().find(|n| !allowed.contains(&n.as_str())) {
                return Err(Error::Config {
                    op,
                    name: "learnable",
                    value: format!("{v:?}"),
                    allowed: if allowed.is_empty() {
                        format!("no range names ({op} has no learnable range; `{bad}` is not one)")
                    } else {
                        format!("names of its ranges: {}", allowed.join(", "))
                    },
                });
            }
        }
        Ok(())
    }
}

impl From<bool> for Learnable {
    fn from(all: bool) -> Learnable {
        if all {
            Learnable::All
        } else {
            Learnable::None
        }
    }
}

impl Serialize for Learnable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Learnable::None => s.serialize_bool(false),
            Learnable::All => s.serialize_bool(true),
            Learnable::Only(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Learnable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            All(bool),
            Only(Vec<String>),
        }
        Ok(
            match Form::deserialize(d).map_err(|_| {
                serde::de::Error::custom("learnable: expected true, false or a list of range names")
            })? {
                Form::All(b) => Learnable::from(b),
                Form::Only(v) => Learnable::Only(v),
            },
        )
    }
}

/// A magnitude range `(lo, hi)` held as scalar float32 tensors in a `VarStore`.
#[derive(Debug)]
pub struct Range {
    lo: Tensor,
    hi: Tensor,
    learnable: bool,
    domain: (f64, f64),
    name: String,
    var_names: (String, String),
    single: bool,
}

// SAFETY: a `Range` only reads its two tensors after construction (`to_device`,
// `minimum`, `clamp`, arithmetic: new tensors, never an in-place write), and libtorch's
// tensor handles are safe to read from several threads at once (atomic reference counts;
// autograd records the leaf's use under its own locks). Writes to the variables go through
// the `VarStore`'s own handles (an optimiser step, a load), which tch already lets another
// thread own (`Tensor: Send`); synchronising those with forward passes is the caller's
// concern, as with any tch model. So sharing a pipeline for concurrent forward passes adds
// no data race.
unsafe impl Sync for Range {}

impl Range {
    /// Creates the range's two variables `<name>_lo` and `<name>_hi` under `path`, trainable
    /// when `learnable` names it.
    pub(crate) fn new(
        path: &nn::Path,
        name: &str,
        (lo, hi): (f64, f64),
        learnable: &Learnable,
        domain: (f64, f64),
    ) -> Range {
        let learnable = learnable.has(name);
        let make =
            |suffix: &str, v: f64| scalar_var(path, &format!("{name}_{suffix}"), v, learnable);
        Range {
            lo: make("lo", lo),
            hi: make("hi", hi),
            learnable,
            domain,
            name: name.to_string(),
            var_names: (
                path.path(&format!("{name}_lo")),
                path.path(&format!("{name}_hi")),
            ),
            single: false,
        }
    }

    /// A single value held as one variable `<name>` under `path` (e.g. `distortion_scale`):
    /// `lo` and `hi` are the same tensor.
    pub(crate) fn single(
        path: &nn::Path,
        name: &str,
        v: f64,
        learnable: bool,
        domain: (f64, f64),
    ) -> Range {
        let t = scalar_var(path, name, v, learnable);
        let full = path.path(name);
        Range {
            hi: t.shallow_clone(),
            lo: t,
            learnable,
            domain,
            name: name.to_string(),
            var_names: (full.clone(), full),
            single: true,
        }
    }

    /// Whether it is a single value (one variable, `lo == hi`).
    pub fn is_single(&self) -> bool {
        self.single
    }

    /// The range's name, as in the operator's `range_names` (e.g. `"degrees"`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full `VarStore` names of its two variables (`<path>.<name>_lo`, `_hi`).
    pub fn var_names(&self) -> (&str, &str) {
        (&self.var_names.0, &self.var_names.1)
    }

    /// The lower bound (a 0-dim float32 tensor, trainable when learnable).
    pub fn lo(&self) -> &Tensor {
        &self.lo
    }

    /// The upper bound (a 0-dim float32 tensor, trainable when learnable).
    pub fn hi(&self) -> &Tensor {
        &self.hi
    }

    /// Whether the bounds are trainable variables.
    pub fn is_learnable(&self) -> bool {
        self.learnable
    }

    /// The domain the range's values must stay in (its operator's bounds).
    pub fn domain(&self) -> (f64, f64) {
        self.domain
    }

    /// The range as drawn from, read back to the host (synchronises; for inspection, not
    /// for a forward pass).
    pub fn values(&self) -> (f64, f64) {
        let (lo, hi) = self.effective(self.lo.device());
        (lo.double_value(&[]), hi.double_value(&[]))
    }

    /// The bounds draws use. A learnable range is reparameterised so that training cannot
    /// leave its domain or reverse it: `(min(lo, hi), max(lo, hi))`, clamped to the domain
    /// (gradients pass where the clamp does not bind). A fixed range is as given (checked).
    pub(crate) fn effective(&self, device: Device) -> (Tensor, Tensor) {
        let lo = self.lo.to_device(device);
        let hi = self.hi.to_device(device);
        if !self.learnable {
            return (lo, hi);
        }
        // Bounds as float32 can hold them (libtorch refuses a clamp bound that overflows).
        let (min, max) = self.domain;
        let (min, max) = (min.max(f32::MIN as f64), max.min(f32::MAX as f64));
        let (a, b) = (lo.minimum(&hi), lo.maximum(&hi));
        (a.clamp(min, max), b.clamp(min, max))
    }

    /// `n` draws `lo + u * (hi - lo)` (in the variables' kind, on `device`), one batched call.
    pub(crate) fn sample(&self, n: i64, same_on_batch: bool, device: Device) -> Result<Tensor> {
        let (lo, hi) = self.effective(device);
        // In the variables' kind (float32 unless the VarStore was cast): a 0-dim tensor
        // would not promote the (n,) draw.
        let u = uniform(n, same_on_batch, device)?.to_kind(lo.kind());
        Ok(&lo + u * (&hi - &lo))
    }
}

/// `n` draws of U(0, 1) in float32 on `device`; with `same_on_batch` one draw repeated.
pub(crate) fn uniform(n: i64, same_on_batch: bool, device: Device) -> Result<Tensor> {
    if same_on_batch {
        Ok(crate::rng::rand(&[1], (Kind::Float, device))?.f_repeat([n])?)
    } else {
        crate::rng::rand(&[n], (Kind::Float, device))
    }
}

/// Kornia's `batch_prob`: a float32 (B,) gate of ones and zeros. The batch gate
/// (`p_batch`) is drawn first, then the per-sample gate (`p`); a gate is drawn only when
/// its probability is strictly between 0 and 1.
pub(crate) fn gate(
    n: i64,
    p: f64,
    p_batch: f64,
    same_on_batch: bool,
    device: Device,
) -> Result<Tensor> {
    let opts = (Kind::Float, device);
    let batch = if p_batch >= 1.0 {
        None
    } else if p_batch <= 0.0 {
        Some(Tensor::f_zeros([1], opts)?)
    } else {
        Some(
            crate::rng::rand(&[1], opts)?
                .lt(p_batch)
                .to_kind(Kind::Float),
        )
    };
    let elem = if p >= 1.0 {
        Tensor::f_ones([n], opts)?
    } else if p <= 0.0 {
        Tensor::f_zeros([n], opts)?
    } else if same_on_batch {
        crate::rng::rand(&[1], opts)?
            .lt(p)
            .to_kind(Kind::Float)
            .f_expand([n], false)?
    } else {
        crate::rng::rand(&[n], opts)?.lt(p).to_kind(Kind::Float)
    };
    Ok(match batch {
        Some(b) => b.f_mul(&elem)?,
        None => elem,
    })
}

/// The params every augmentation starts from: its `batch_prob` gate (drawn first, as in
/// Kornia) and Kornia's `forward_input_shape`.
pub(crate) fn gate_params(
    shape: &[i64],
    p: f64,
    same_on_batch: bool,
    device: Device,
) -> Result<crate::Params> {
    let batch_prob = gate(shape[0], p, 1.0, same_on_batch, device)?;
    let mut params: crate::Params = crate::GateParams { batch_prob }.into();
    params.insert("forward_input_shape", Tensor::from_slice(shape));
    Ok(params)
}

/// `n` draws of U(lo, hi) as Kornia's float32 `Uniform(lo, hi).rsample`.
pub(crate) fn uniform_between(
    n: i64,
    same_on_batch: bool,
    device: Device,
    (lo, hi): (f64, f64),
) -> Result<Tensor> {
    let (lo, hi) = (lo as f32 as f64, hi as f32 as f64);
    Ok(uniform(n, same_on_batch, device)? * (hi - lo) + lo)
}

/// A 0-dim float32 variable `name` under `path` holding `v`: trainable when `learnable`,
/// else a non-trainable buffer (saved and moved with the `VarStore` all the same).
pub(crate) fn scalar_var(path: &nn::Path, name: &str, v: f64, learnable: bool) -> Tensor {
    let init = Tensor::from(v as f32);
    if learnable {
        path.var_copy(name, &init)
    } else {
        let t = path.zeros_no_train(name, &[]);
        // A guard, not `tch::no_grad(..)`: grad mode comes back even if this unwinds.
        let _guard = tch::no_grad_guard();
        t.shallow_clone().copy_(&init);
        t
    }
}
