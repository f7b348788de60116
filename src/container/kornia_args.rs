//! What `VideoSequential` and `PatchSequential` share: reading a Kornia container's call
//! (its keyword arguments, its flags, the `ImageSequential` arguments it passes on), and
//! their `nn::Module` / [`crate::TrainOnly`] layers.

use super::SequentialConfig;
use crate::{AugSpec, Error, Result};
use serde_json::{Map, Value};

/// The keyword arguments of Kornia's container `op`: a JSON object (or null: none) whose
/// every key is one of `args`.
pub(crate) fn kwargs(
    op: &'static str,
    kwargs: &Value,
    args: &[&str],
) -> Result<Map<String, Value>> {
    let map = match kwargs {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        other => {
            return Err(bad(
                op,
                "kwargs",
                other,
                "a JSON object of keyword arguments",
            ))
        }
    };
    if let Some(k) = map.keys().find(|k| !args.contains(&k.as_str())) {
        return Err(Error::Config {
            op,
            name: "kwargs",
            value: format!("{op}({k}=...)"),
            allowed: format!("the arguments of {op}: {}", args.join(", ")),
        });
    }
    Ok(map)
}

/// The typed error for argument `name` of `op` given as `value`.
pub(crate) fn bad(op: &'static str, name: &'static str, value: &Value, allowed: &str) -> Error {
    Error::Config {
        op,
        name,
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

/// A flag argument, removed from `map` (absent or null: `default`).
pub(crate) fn flag(
    op: &'static str,
    map: &mut Map<String, Value>,
    name: &'static str,
    default: bool,
) -> Result<bool> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(b),
        Some(v) => Err(bad(op, name, &v, "true or false")),
    }
}

/// The arguments `map` still holds, as Kornia's `ImageSequential` (which both containers
/// extend): the steps, a random selection, `same_on_batch`, ...
pub(crate) fn image_sequential(map: Map<String, Value>) -> Result<SequentialConfig> {
    match AugSpec::from_kornia("ImageSequential", &Value::Object(map))? {
        AugSpec::Sequential(cfg) => Ok(cfg),
        other => unreachable!("ImageSequential translates to a Sequential, not {other:?}"),
    }
}

/// The keyword arguments of a call of `op` written as in Python (a call of another class is
/// refused, pointing at `AugSpec::from_kornia_python`).
pub(crate) fn python(op: &'static str, source: &str) -> Result<Value> {
    let (class, kwargs) = crate::kornia::python_call(source)?;
    if class != op {
        return Err(Error::Config {
            op,
            name: "class",
            value: class,
            allowed: format!("a call of {op} (for another class, AugSpec::from_kornia_python)"),
        });
    }
    Ok(kwargs)
}

/// `nn::Module` (the training forward) for a container with `f_forward` and
/// `f_forward_eval`, and its `train_only()`: the [`crate::TrainOnly`] layer for
/// `nn::seq_t()`, which in evaluation applies the deterministic steps only.
macro_rules! impl_layers {
    ($t:ty) => {
        impl tch::nn::Module for $t {
            fn forward(&self, xs: &tch::Tensor) -> tch::Tensor {
                $crate::error::or_panic(self.f_forward(xs))
            }
        }

        impl $t {
            /// Wraps the container in a [`crate::TrainOnly`] layer for `nn::seq_t()`:
            /// augments in training; in evaluation applies the deterministic steps only
            /// (its `f_forward_eval`).
            pub fn train_only(self) -> $crate::TrainOnly<$t> {
                $crate::TrainOnly(self)
            }
        }

        impl tch::nn::ModuleT for $crate::TrainOnly<$t> {
            fn forward_t(&self, xs: &tch::Tensor, train: bool) -> tch::Tensor {
                $crate::error::or_panic(if train {
                    self.0.f_forward(xs)
                } else {
                    self.0.f_forward_eval(xs)
                })
            }
        }
    };
}
pub(crate) use impl_layers;
