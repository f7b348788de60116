//! Sampled parameters as a map of named tensors, with Kornia 0.9's keys, shapes and units.
//!
//! This map is how parameters are replayed, saved (safetensors) and compared with Kornia's
//! `aug._params`. Each augmentation also has a typed view (e.g. [`crate::AffineParams`])
//! converting to and from it.

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// Parameters of one call: Kornia's keys mapped to tensors.
///
/// A container prefixes the keys of its step `i` with `"{i}."`.
#[derive(Debug, Default)]
pub struct Params {
    map: BTreeMap<String, Tensor>,
}

impl Clone for Params {
    fn clone(&self) -> Self {
        Params {
            map: self
                .map
                .iter()
                .map(|(k, v)| (k.clone(), v.shallow_clone()))
                .collect(),
        }
    }
}

impl Params {
    /// An empty map.
    pub fn new() -> Params {
        Params::default()
    }

    /// Inserts or replaces `key`.
    pub fn insert(&mut self, key: impl Into<String>, value: Tensor) {
        self.map.insert(key.into(), value);
    }

    /// Removes `key`, giving back its tensor if it had one.
    pub fn remove(&mut self, key: &str) -> Option<Tensor> {
        self.map.remove(key)
    }

    /// The tensor stored under `key`.
    pub fn get(&self, key: &str) -> Option<&Tensor> {
        self.map.get(key)
    }

    /// The first row of the (B,`n`) integer tensor under `key`, whose values are all at
    /// least `min`: a value drawn once for the whole batch (a drawn size, a placement) and
    /// kept on the CPU, where reading it synchronises no device.
    ///
    /// # Errors
    /// [`Error::Params`] for a missing key, another shape or kind, or a value below `min`.
    pub(crate) fn batch_row(
        &self,
        op: &'static str,
        key: &str,
        n: i64,
        min: i64,
    ) -> crate::Result<Vec<i64>> {
        let t = self.require(op, key)?;
        let bad = |problem: String| Error::Params {
            op,
            key: key.to_string(),
            problem,
        };
        if t.dim() != 2 || t.size()[1] != n || t.size()[0] < 1 || t.is_floating_point() {
            return Err(bad(format!(
                "has shape {:?} and kind {:?}; expected (B, {n}) integers",
                t.size(),
                t.kind()
            )));
        }
        let row = Vec::<i64>::try_from(t.get(0).to_device(tch::Device::Cpu))?;
        if row.iter().any(|&v| v < min) {
            return Err(bad(format!("is {row:?}; expected values >= {min}")));
        }
        Ok(row)
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(|k| k.as_str())
    }

    /// (key, tensor) pairs, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entries whose key starts with `"{prefix}."`, with the prefix removed.
    pub fn sub(&self, prefix: &str) -> Params {
        let p = format!("{prefix}.");
        Params {
            map: self
                .map
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(&p)
                        .map(|s| (s.to_string(), v.shallow_clone()))
                })
                .collect(),
        }
    }

    /// Adds every entry of `other` under `"{prefix}.{key}"`.
    pub fn extend_prefixed(&mut self, prefix: &str, other: &Params) {
        for (k, v) in other.iter() {
            self.map.insert(format!("{prefix}.{k}"), v.shallow_clone());
        }
    }

    /// The tensor under `key`, or an [`Error::Params`] naming the operation.
    pub fn require(&self, op: &'static str, key: &str) -> Result<&Tensor> {
        self.map.get(key).ok_or_else(|| Error::Params {
            op,
            key: key.to_string(),
            problem: format!(
                "is missing (present: {:?})",
                self.map.keys().collect::<Vec<_>>()
            ),
        })
    }

    /// The input shape of the forward pass, as the params recorded it: Kornia's
    /// `forward_input_shape` of this map, else of its first step (`"0."`, at every level of
    /// containers and presets), less the padding of a crop that padded its input
    /// (`padding_size`, which Kornia's inverse removes). Read back from the device where the
    /// params live (a few bytes, once per call).
    ///
    /// ```no_run
    /// # use tch_dda::{Augmentation, AugmentationExt, Params};
    /// # fn f(aug: &dyn Augmentation, y: &tch::Tensor, params: &Params) -> tch_dda::Result<()> {
    /// let x = aug.f_inverse(y, params, &params.recorded_input_shape()?)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Params`] when nothing recorded the shape (params built by hand), or the
    /// record is not a list of sizes.
    pub fn recorded_input_shape(&self) -> Result<Vec<i64>> {
        const KEY: &str = "forward_input_shape";
        let mut prefix = String::new();
        loop {
            let key = format!("{prefix}{KEY}");
            if let Some(t) = self.map.get(&key) {
                let bad = |problem: String| Error::Params {
                    op: "Params::recorded_input_shape",
                    key: key.clone(),
                    problem,
                };
                if t.dim() != 1 || t.is_floating_point() {
                    return Err(bad(format!(
                        "is a {:?} tensor of shape {:?}; a list of sizes (int64) was expected",
                        t.kind(),
                        t.size()
                    )));
                }
                let mut shape =
                    Vec::<i64>::try_from(t.to_device(Device::Cpu).to_kind(Kind::Int64))?;
                if shape.len() < 3 || shape.iter().any(|&n| n < 0) {
                    return Err(bad(format!("records {shape:?}; not an input shape")));
                }
                // (B, 2·dims) [left, right, top, bottom(, front, back)], the same per sample.
                if let Some(pad) = self.map.get(&format!("{prefix}padding_size")) {
                    let dims = shape.len() - 2;
                    if pad.dim() == 2 && pad.size()[1] == 2 * dims as i64 && pad.size()[0] > 0 {
                        let pad = Vec::<i64>::try_from(
                            pad.get(0).to_device(Device::Cpu).to_kind(Kind::Int64),
                        )?;
                        for (axis, pair) in pad.chunks(2).enumerate() {
                            let n = shape.len() - 1 - axis;
                            shape[n] -= pair[0] + pair[1];
                        }
                    }
                }
                if shape.iter().any(|&n| n < 0) {
                    return Err(bad(format!(
                        "and padding_size give {shape:?}; not an input shape"
                    )));
                }
                return Ok(shape);
            }
            prefix.push_str("0.");
            if !self.map.keys().any(|k| k.starts_with(&prefix)) {
                return Err(Error::Params {
                    op: "Params::recorded_input_shape",
                    key: KEY.into(),
                    problem:
                        "is not recorded (neither here nor for a first step): give the input shape"
                            .into(),
                });
            }
        }
    }

    /// Like [`Params::require`], and checks the tensor's shape is `shape`.
    pub(crate) fn shaped(&self, op: &'static str, key: &str, shape: &[i64]) -> Result<&Tensor> {
        let t = self.require(op, key)?;
        let size = t.size();
        if size != shape {
            return Err(Error::Params {
                op,
                key: key.to_string(),
                problem: format!("has shape {size:?}; expected {shape:?}"),
            });
        }
        Ok(t)
    }

    /// A per-sample factor (B,) as (B,1,1,1) in the kind and on the device of `like`
    /// (B,C,H,W), ready to broadcast.
    pub(crate) fn factor(&self, op: &'static str, key: &str, like: &Tensor) -> Result<Tensor> {
        let b = like.size()[0];
        Ok(self
            .shaped(op, key, &[b])?
            .to_device(like.device())
            .to_kind(like.kind())
            .view([-1, 1, 1, 1]))
    }

    /// Checks replayed params: every floating point tensor on the CPU is finite (NaN and
    /// ±inf are refused). On a GPU nothing is read back (that would stall the device).
    pub(crate) fn check_finite(&self, op: &'static str) -> Result<()> {
        let mut keys: Vec<&String> = self.map.keys().collect();
        keys.sort();
        for key in keys {
            let t = &self.map[key];
            if t.device() == tch::Device::Cpu
                && t.is_floating_point()
                && t.numel() > 0
                && !bool::try_from(t.isfinite().all()).unwrap_or(false)
            {
                return Err(Error::Params {
                    op,
                    key: key.clone(),
                    problem: "has non-finite values (NaN or ±inf)".into(),
                });
            }
        }
        Ok(())
    }

    /// Every tensor moved to `device` (no-op for tensors already there).
    pub fn to_device(&self, device: Device) -> Params {
        Params {
            map: self
                .map
                .iter()
                .map(|(k, v)| (k.clone(), v.to_device(device)))
                .collect(),
        }
    }

    /// Every tensor detached from the autograd graph.
    pub fn detach(&self) -> Params {
        Params {
            map: self
                .map
                .iter()
                .map(|(k, v)| (k.clone(), v.detach()))
                .collect(),
        }
    }

    /// Saves to a safetensors file (values are copied to the CPU).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let named: Vec<(String, Tensor)> = self
            .map
            .iter()
            .map(|(k, v)| {
                let v = v.detach().to_device(Device::Cpu).contiguous();
                let v = if v.kind() == Kind::Bool {
                    v.to_kind(Kind::Uint8)
                } else {
                    v
                };
                (k.clone(), v)
            })
            .collect();
        Tensor::write_safetensors(&named, path)?;
        Ok(())
    }

    /// Loads a map saved by [`Params::save`] onto `device`.
    pub fn load(path: impl AsRef<Path>, device: Device) -> Result<Params> {
        let map = Tensor::read_safetensors(path)?
            .into_iter()
            .map(|(k, v)| (k, v.to_device(device)))
            .collect();
        Ok(Params { map })
    }
}

/// Declares a typed parameter struct with one `Tensor` field per Kornia key, plus
/// conversions to and from [`Params`].
macro_rules! typed_params {
    ($(#[$meta:meta])* $name:ident, $op:literal { $($(#[$fmeta:meta])* $field:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: tch::Tensor,)*
            /// Kornia's `batch_prob`: 1 where the sample is transformed, 0 where it passes through.
            pub batch_prob: tch::Tensor,
        }

        impl From<$name> for $crate::Params {
            fn from(p: $name) -> $crate::Params {
                let mut m = $crate::Params::new();
                $(m.insert(stringify!($field), p.$field);)*
                m.insert("batch_prob", p.batch_prob);
                m
            }
        }

        impl TryFrom<&$crate::Params> for $name {
            type Error = $crate::Error;
            fn try_from(m: &$crate::Params) -> $crate::Result<$name> {
                Ok($name {
                    $($field: m.require($op, stringify!($field))?.shallow_clone(),)*
                    batch_prob: m.require($op, "batch_prob")?.shallow_clone(),
                })
            }
        }
    };
}
pub(crate) use typed_params;

typed_params!(
    /// Parameters of the augmentations that draw only their gate (flips, Normalize,
    /// Denormalize, RandomGrayscale).
    GateParams, "augmentation" {}
);
