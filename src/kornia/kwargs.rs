//! Kornia's keyword arguments, read for an operator's translation: each operator's
//! [`FromKornia`] sits next to its config and reads its arguments through [`Kwargs`]; the
//! registry dispatches on the class name, and `crate::kornia` checks what is left over.
//! This module depends on nothing above the values (no operator, no registry).

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeSet;

/// The `op` of every translation error.
pub(crate) const OP: &str = "AugSpec::from_kornia";

/// An operator's translation from Kornia 0.9's constructor arguments into its config.
pub(crate) trait FromKornia {
    /// The config the arguments become (the registry row's).
    type Config;

    /// Kornia's other names for the class (`RandomMixUpV2`); the registry's name is always
    /// one.
    const KORNIA_ALIASES: &'static [&'static str] = &[];

    /// The library whose class the operator reproduces number for number.
    const REFERENCE: Reference = Reference::Kornia;

    /// Reads the arguments (every one it knows, once; the caller refuses the rest). An
    /// operator of another library keeps this default: Kornia has no such class.
    fn from_kornia(kw: &Kwargs) -> Result<Self::Config> {
        Err(kw.err(
            "class",
            format!(
                "a Kornia class: {} is {}'s; build AugSpec::{} instead",
                kw.class,
                Self::REFERENCE.name(),
                kw.class
            ),
        ))
    }
}

/// The library an operator reproduces number for number (its fixtures come from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// Kornia 0.9's `kornia.augmentation`.
    Kornia,
    /// torchvision 0.28's `transforms.v2`, for what Kornia lacks.
    Torchvision,
}

impl Reference {
    /// The library's name.
    pub fn name(self) -> &'static str {
        match self {
            Reference::Kornia => "Kornia",
            Reference::Torchvision => "torchvision",
        }
    }
}

/// Kornia 0.9's constructor of `class`: its positional parameters in order, and whether
/// `*args` (a container's steps) follows them.
pub(crate) fn signature(class: &str) -> Option<(&'static [&'static str], bool)> {
    super::signatures::SIGNATURES
        .iter()
        .find(|(name, _, _)| *name == class)
        .map(|&(_, params, varargs)| (params, varargs))
}

/// Kornia's keyword arguments of one class, read once each; what is left unread is an
/// error (a misspelt argument must not be ignored).
pub(crate) struct Kwargs<'a> {
    pub(crate) class: String,
    pub(crate) map: &'a Map<String, Value>,
    pub(crate) read: RefCell<BTreeSet<String>>,
}

impl<'a> Kwargs<'a> {
    pub(crate) fn err(&self, key: &str, allowed: impl Into<String>) -> Error {
        let mut allowed = allowed.into();
        if let Some((params, _)) = signature(&self.class) {
            allowed = format!(
                "{allowed} (the positional arguments of {}: {})",
                self.class,
                params.join(", ")
            );
        }
        Error::Config {
            op: OP,
            name: "kwargs",
            value: format!(
                "{}({key}={})",
                self.class,
                self.map.get(key).map(|v| v.to_string()).unwrap_or_default()
            ),
            allowed,
        }
    }

    /// The value of `key`, unless absent or `null`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.read.borrow_mut().insert(key.to_string());
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            // A tensor argument, as the fixture script stores it.
            Some(Value::Object(o)) if o.contains_key("tensor") => o.get("tensor"),
            Some(v) => Some(v),
        }
    }

    pub(crate) fn num(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v {
                Value::Number(n) => Ok(n.as_f64()),
                Value::Bool(b) => Ok(Some(f64::from(u8::from(*b)))),
                Value::Array(a) if a.len() == 1 => Ok(a[0].as_f64()),
                _ => Err(self.err(key, "a number")),
            },
        }
    }

    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>> {
        Ok(self.num(key)?.map(|v| v as i64))
    }

    pub(crate) fn flag(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(key, "true or false")),
        }
    }

    /// A list of numbers (or a number, as a list of one).
    pub(crate) fn nums(&self, key: &str) -> Result<Option<Vec<f64>>> {
        let flat = |v: &Value| -> Option<Vec<f64>> {
            match v {
                Value::Number(n) => n.as_f64().map(|x| vec![x]),
                Value::Array(a) => a.iter().map(|x| x.as_f64()).collect(),
                _ => None,
            }
        };
        match self.get(key) {
            None => Ok(None),
            Some(v) => flat(v)
                .map(Some)
                .ok_or_else(|| self.err(key, "a number or a list of numbers")),
        }
    }

    /// A list of pairs `[[a, b], ...]`.
    pub(crate) fn pairs(&self, key: &str) -> Result<Option<Vec<(f64, f64)>>> {
        match self.get(key) {
            Some(Value::Array(a))
                if a.iter()
                    .all(|x| matches!(x, Value::Array(p) if p.len() == 2)) =>
            {
                Ok(Some(
                    a.iter()
                        .map(|x| {
                            (
                                x[0].as_f64().unwrap_or(f64::NAN),
                                x[1].as_f64().unwrap_or(f64::NAN),
                            )
                        })
                        .collect(),
                ))
            }
            None => Ok(None),
            Some(_) => Err(self.err(key, "a list of (lo, hi) pairs")),
        }
    }

    /// Kornia's `_range_bound`: a scalar `f` is `[max(center - f, floor), center + f]`, a
    /// pair is the range itself.
    pub(crate) fn range(&self, key: &str, center: f64, floor: f64) -> Result<Option<(f64, f64)>> {
        match self.nums(key)?.as_deref() {
            None => Ok(None),
            Some([f]) => Ok(Some(((center - f).max(floor), center + f))),
            Some([a, b]) => Ok(Some((*a, *b))),
            Some(_) => Err(self.err(key, "a number or a (lo, hi) pair")),
        }
    }

    /// A pair `(a, b)` (or a number `n`, read as `(n, n)`).
    pub(crate) fn pair(&self, key: &str) -> Result<Option<(f64, f64)>> {
        match self.nums(key)?.as_deref() {
            None => Ok(None),
            Some([n]) => Ok(Some((*n, *n))),
            Some([a, b]) => Ok(Some((*a, *b))),
            Some(_) => Err(self.err(key, "a (lo, hi) pair")),
        }
    }

    /// A size `(h, w)` from an int or a pair.
    pub(crate) fn size(&self, key: &str) -> Result<Option<(i64, i64)>> {
        Ok(self.pair(key)?.map(|(a, b)| (a as i64, b as i64)))
    }

    /// An enum from Kornia's string (as given, or lower-cased).
    pub(crate) fn enm<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => serde_json::from_value(Value::String(s.clone()))
                .or_else(|_| serde_json::from_value(Value::String(s.to_lowercase())))
                .map(Some)
                .map_err(|_| self.err(key, "one of the names Kornia takes for it")),
            Some(_) => Err(self.err(key, "a string")),
        }
    }

    /// Kornia's argument `key`, which this crate does not have, given only at its neutral
    /// value (`neutral` says whether a value is); otherwise an error that says so and why.
    pub(crate) fn neutral_only(
        &self,
        key: &str,
        neutral: fn(&Value) -> bool,
        why: &str,
    ) -> Result<()> {
        match self.get(key) {
            Some(v) if !neutral(v) => Err(self.err(key, format!("no `{key}` here: {why}"))),
            _ => Ok(()),
        }
    }

    /// Kornia's shear: `s` is x in `(-s, s)`; `(a, b)` x; `(a, b, c, d)` x then y.
    pub(crate) fn shear(&self, key: &str) -> Result<(MaybeRange, MaybeRange)> {
        Ok(match self.nums(key)?.as_deref() {
            None => (None, None),
            Some([s]) => (Some((-s, *s)), None),
            Some([a, b]) => (Some((*a, *b)), None),
            Some([a, b, c, d]) => (Some((*a, *b)), Some((*c, *d))),
            Some(_) => return Err(self.err(key, "a number, or 2 or 4 numbers")),
        })
    }

    /// Three angle ranges: `d` is `(-d, d)` on every axis, `(a, b)` on every axis, or three
    /// pairs.
    pub(crate) fn angles(&self, key: &str) -> Result<Option<[(f64, f64); 3]>> {
        if let Ok(Some(p)) = self.pairs(key) {
            if let [a, b, c] = p[..] {
                return Ok(Some([a, b, c]));
            }
            return Err(self.err(key, "a number, a (lo, hi) pair or three of them"));
        }
        Ok(self.range(key, 0.0, f64::MIN)?.map(|r| [r; 3]))
    }
}

/// An optional `(lo, hi)` range.
pub(crate) type MaybeRange = Option<(f64, f64)>;

/// Sets `$field` of `$cfg` from `$expr` (an `Option`) when present.
macro_rules! set {
    ($cfg:ident . $field:ident = $expr:expr) => {
        if let Some(v) = $expr {
            $cfg.$field = v;
        }
    };
}

/// `p` and `same_on_batch` (and `keepdim`, which has no effect here: outputs keep the
/// input's layout).
macro_rules! common {
    ($kw:ident, $cfg:ident) => {
        $crate::kornia::kwargs::set!($cfg.p = $kw.num("p")?);
        $crate::kornia::kwargs::set!($cfg.same_on_batch = $kw.flag("same_on_batch")?);
        let _ = $kw.flag("keepdim")?;
    };
}
pub(crate) use {common, set};
