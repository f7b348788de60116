//! Kornia's constructors, translated: [`AugSpec::from_kornia`] takes a Kornia 0.9 class
//! name and its keyword arguments (as JSON) and returns the equivalent [`AugSpec`], with
//! Kornia's scalar and tuple shorthands (`degrees=30` is `(-30, 30)`, `brightness=0.2` is
//! `(0.8, 1.2)`, a 4-tuple scale or shear splits into its x and y ranges, ...).
//!
//! Each operator reads its own arguments: its `FromKornia` sits next to its config, and the
//! registry dispatches on the class name ([`kwargs`] is the reader they share). This module
//! parses the call (JSON, positional arguments, Python source), refuses what no translation
//! read and checks Kornia's required arguments, and translates `AugmentationSequential`,
//! whose steps are any registered class.
//!
//! Every fixture of the parity suite is rebuilt through it (tests/kornia.rs), and
//! docs/KORNIA.md is generated from those translations, so the table cannot drift.

use crate::annotations::AnnotationOptions;
use crate::container::{DataKey, RandomApply, Sequential, SequentialConfig};
use crate::{AugSpec, Error, Result};
use kwargs::{signature, FromKornia, Kwargs, OP};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeSet;

pub(crate) mod kwargs;
mod params;
mod python;
// Generated (scripts/gen_kornia_signatures.py): kept as written.
#[rustfmt::skip]
mod signatures;

/// Kornia's positional arguments of `class` as keyword arguments, added to `kwargs`: in the
/// order of its signature, a container's steps (`*args`) under `steps`.
fn positional(class: &str, args: Vec<Value>, kwargs: &mut Map<String, Value>) -> Result<()> {
    if args.is_empty() {
        return Ok(());
    }
    let Some((params, varargs)) = signature(class) else {
        return Err(Error::Config {
            op: OP,
            name: "args",
            value: format!("{class}(...) with {} positional arguments", args.len()),
            allowed: "keyword arguments only: positional ones follow a Kornia 0.9 class's signature, and this is not a Kornia class".into(),
        });
    };
    let n = args.len();
    let mut args = args.into_iter();
    for (name, v) in params.iter().zip(args.by_ref()) {
        if kwargs.contains_key(*name) {
            return Err(Error::Config {
                op: OP,
                name: "args",
                value: format!("{class}(...) with `{name}` given by position and by keyword"),
                allowed: format!(
                    "each argument once; {class}'s positional arguments: {}",
                    params.join(", ")
                ),
            });
        }
        kwargs.insert(name.to_string(), v);
    }
    let rest: Vec<Value> = args.collect();
    if rest.is_empty() {
        return Ok(());
    }
    if !varargs {
        return Err(Error::Config {
            op: OP,
            name: "args",
            value: format!("{class}(...) with {n} positional arguments"),
            allowed: format!(
                "at most {} positional arguments: {}",
                params.len(),
                params.join(", ")
            ),
        });
    }
    if kwargs.contains_key("steps") {
        return Err(Error::Config {
            op: OP,
            name: "args",
            value: format!("{class}(...) with steps given by position and as `steps`"),
            allowed: "the steps once".into(),
        });
    }
    kwargs.insert("steps".into(), Value::Array(rest));
    Ok(())
}

/// `class` and its arguments as [`AugSpec::from_kornia`] takes them: positional ones named
/// by the signature, a container's step calls as `[class, kwargs]` pairs.
fn call_arguments(call: python::Call) -> Result<(String, Value)> {
    let python::Call {
        class,
        args,
        kwargs,
    } = call;
    let varargs = signature(&class).is_some_and(|(_, v)| v);
    let mut map = Map::new();
    for (k, e) in kwargs {
        let v = match e {
            python::Expr::Value(v) => v,
            python::Expr::Call(c) => {
                return Err(Error::Config {
                    op: OP,
                    name: "kwargs",
                    value: format!("{class}({k}={}(...))", c.class),
                    allowed: "values as keyword arguments; calls only as a container's steps"
                        .into(),
                })
            }
        };
        map.insert(k, v);
    }
    let mut values = Vec::with_capacity(args.len());
    for e in args {
        values.push(match e {
            python::Expr::Value(v) => v,
            python::Expr::Call(c) if varargs => {
                let (step, kwargs) = call_arguments(c)?;
                Value::Array(vec![Value::String(step), kwargs])
            }
            python::Expr::Call(c) => {
                return Err(Error::Config {
                    op: OP,
                    name: "args",
                    value: format!("{class}({}(...))", c.class),
                    allowed: "values as arguments; calls only as a container's steps".into(),
                })
            }
        });
    }
    positional(&class, values, &mut map)?;
    Ok((class, Value::Object(map)))
}

/// A Kornia call written as in Python, as its class and keyword arguments (positional ones
/// named by the signature, a container's step calls as `[class, kwargs]` pairs).
pub(crate) fn python_call(source: &str) -> Result<(String, Value)> {
    call_arguments(python::parse_call(source)?)
}

/// How deeply a Kornia call's keyword values may nest: an operator's arguments nest at most
/// 3 deep (a list of (lo, hi) pairs in an object); a container's `steps` add 4 levels per
/// nested container, up to [`crate::MAX_NESTING`] of them.
const MAX_JSON_DEPTH: usize = 4 * crate::MAX_NESTING + 8;

/// The nesting depth of `v` (a scalar is 0), found without recursion; stops counting past
/// [`MAX_JSON_DEPTH`] + 1, so a deep value is refused in time proportional to the cap, not
/// to its depth.
fn json_depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        if depth > MAX_JSON_DEPTH {
            break;
        }
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(o) => stack.extend(o.values().map(|x| (x, depth + 1))),
            _ => {}
        }
    }
    deepest
}

impl Kwargs<'_> {
    /// Fails on an argument nobody read.
    fn finish(&self, spec: AugSpec) -> Result<AugSpec> {
        let read = self.read.borrow();
        // What the translation read: the constructor's arguments (a BTreeSet, so sorted).
        let arguments = || read.iter().cloned().collect::<Vec<_>>().join(", ");
        if let Some(k) = self.map.keys().find(|k| !read.contains(*k)) {
            return Err(Error::Config {
                op: OP,
                name: "kwargs",
                value: format!("{}({k}=...)", self.class),
                allowed: format!("the arguments of {}: {}", self.class, arguments()),
            });
        }
        // Kornia's required constructor arguments, as the JSON form requires them (where
        // the class is ours under the same name; translated shorthands check their own).
        if spec.name() == self.class {
            let given = |f: &&str| !matches!(self.map.get(*f), None | Some(Value::Null));
            if let Some(missing) = AugSpec::required_fields(spec.name())
                .iter()
                .find(|f| !given(f))
            {
                return Err(Error::Config {
                    op: OP,
                    name: "kwargs",
                    value: format!("{}(...) without `{missing}`", self.class),
                    allowed: format!(
                        "`{missing}` given, as Kornia's constructor requires; the arguments of {}: {}",
                        self.class,
                        arguments()
                    ),
                });
            }
        }
        Ok(spec)
    }
}

impl AugSpec {
    /// The spec of Kornia 0.9's `class(**kwargs)`, with Kornia's shorthands (see the
    /// module docs and docs/KORNIA.md). Kornia's `RandomMixUpV2`, `RandomCutMixV2` and
    /// `AugmentationSequential` (its `steps` as
    /// `[[class, kwargs], ...]`; its `data_keys` set [`SequentialConfig::data_keys`] for
    /// [`crate::Sequential::f_call`], and its annotations follow Kornia's box mode,
    /// [`AnnotationOptions::kornia`]) are understood; tensors may be given as lists or as
    /// `{"tensor": [...]}`.
    ///
    /// # Example
    /// ```no_run
    /// use tch_dda::AugSpec;
    /// let spec = AugSpec::from_kornia(
    ///     "RandomAffine",
    ///     &serde_json::json!({"degrees": 30, "translate": [0.1, 0.1], "p": 1.0}),
    /// ).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a class this crate does not have, an argument the class does
    /// not take (naming the ones it does), or a value of the wrong form.
    pub fn from_kornia(class: &str, kwargs: &Value) -> Result<AugSpec> {
        Self::from_kornia_checked(class, kwargs)
    }

    /// The spec of a Kornia constructor call written as in Python, positional arguments
    /// included: `K.RandomAffine(30, (0.1, 0.1), p=1.0)`, or a whole
    /// `K.AugmentationSequential(K.RandomHorizontalFlip(), K.ColorJitter(0.2, 0.2),
    /// data_keys=["input", "bbox_xyxy"])`. Positional arguments follow Kornia 0.9's
    /// signatures (read from its source by scripts/gen_kornia_signatures.py); the module
    /// prefix (`K.`, `kornia.augmentation.`) is ignored; values are Python literals (numbers,
    /// strings, `True`/`False`/`None`, tuples, lists, dicts, `torch.tensor([...])`, enum
    /// members such as `Resample.BILINEAR`). Then as [`AugSpec::from_kornia`].
    ///
    /// ```
    /// use tch_dda::{AugSpec, RandomAffineConfig};
    /// let spec = AugSpec::from_kornia_python("K.RandomAffine(30, (0.1, 0.1), p=1.0)").unwrap();
    /// assert_eq!(spec, AugSpec::RandomAffine(RandomAffineConfig::degrees(30.0).translate(0.1, 0.1).p(1.0)));
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for source that is not one call (naming the place and what was
    /// expected there), more positional arguments than the signature has (listing them), an
    /// argument given twice, a script's variable (values must be written out); then as
    /// [`AugSpec::from_kornia`].
    pub fn from_kornia_python(source: &str) -> Result<AugSpec> {
        let (class, kwargs) = call_arguments(python::parse_call(source)?)?;
        Self::from_kornia_checked(&class, &kwargs)
    }

    /// The positional parameters of Kornia 0.9's constructor of `class`, in order (what
    /// positional arguments mean to [`AugSpec::from_kornia_python`]); `None` for a name that
    /// is not a Kornia augmentation class.
    pub fn kornia_signature(class: &str) -> Option<&'static [&'static str]> {
        signature(class).map(|(params, _)| params)
    }

    fn from_kornia_checked(class: &str, kwargs: &Value) -> Result<AugSpec> {
        let depth = json_depth(kwargs);
        if depth > MAX_JSON_DEPTH {
            return Err(Error::Config {
                op: OP,
                name: "kwargs",
                value: format!("{class}(...) with values nested {depth} deep"),
                allowed: format!("values nested at most {MAX_JSON_DEPTH} deep"),
            });
        }
        let empty = Map::new();
        let from_args;
        let map = match kwargs {
            Value::Object(m) => m,
            Value::Null => &empty,
            Value::Array(args) => {
                let mut m = Map::new();
                positional(class, args.clone(), &mut m)?;
                from_args = m;
                &from_args
            }
            _ => {
                return Err(Error::Config {
                    op: OP,
                    name: "kwargs",
                    value: kwargs.to_string(),
                    allowed: "a JSON object of keyword arguments, or a list of positional ones"
                        .into(),
                })
            }
        };
        let kw = Kwargs {
            class: class.to_string(),
            map,
            read: RefCell::new(BTreeSet::new()),
        };
        let spec = match crate::registry::from_kornia_registered(class, &kw) {
            Some(spec) => spec?,
            None if class.ends_with("AugmentationDispather") => {
                // Not one augmentation: several pipelines and their inputs.
                let ty = if class.starts_with("ManyToMany") {
                    "ManyToMany"
                } else {
                    "ManyToOne"
                };
                return Err(Error::Config {
                    op: OP,
                    name: "class",
                    value: class.to_string(),
                    allowed: format!(
                        "a class of one augmentation; for Kornia's dispatcher, build \
                         tch_dda::{ty} from its pipelines (each an AugmentationSequential spec)"
                    ),
                });
            }
            None if class == "VideoSequential" || class == "PatchSequential" => {
                let (ty, what) = if class == "VideoSequential" {
                    ("VideoConfig", "clips, not images")
                } else {
                    ("PatchConfig", "a grid of patches")
                };
                return Err(Error::Config {
                    op: OP,
                    name: "class",
                    value: class.to_string(),
                    allowed: format!(
                        "a class of one augmentation; for Kornia's {class} ({what}), \
                         tch_dda::{ty}::from_kornia"
                    ),
                });
            }
            None => {
                return Err(Error::Config {
                    op: OP,
                    name: "class",
                    value: class.to_string(),
                    allowed: format!(
                        "a Kornia class this crate has: {} (and RandomMixUpV2, RandomCutMixV2, AugmentationSequential, ImageSequential)",
                        AugSpec::NAMES.join(", ")
                    ),
                })
            }
        };
        kw.finish(spec)
    }
}

/// Kornia's `AugmentationSequential` (and `ImageSequential`): its steps as `[[class,
/// kwargs], ...]`, each translated in turn. Here, above the registry, since its steps are
/// any registered class.
impl FromKornia for Sequential {
    type Config = SequentialConfig;
    const KORNIA_ALIASES: &'static [&'static str] = &["AugmentationSequential", "ImageSequential"];

    fn from_kornia(kw: &Kwargs) -> Result<SequentialConfig> {
        let mut c = SequentialConfig::default();
        if let Some(Value::Array(steps)) = kw.get("steps") {
            for s in steps {
                match s {
                    Value::Array(p) if p.len() == 2 && p[0].is_string() => {
                        let name = p[0].as_str().unwrap_or_default();
                        c.steps.push(AugSpec::from_kornia(name, &p[1])?);
                    }
                    _ => return Err(kw.err("steps", "a list of [class, kwargs] pairs")),
                }
            }
        }
        let random_apply_allowed = || kw.err("random_apply", "false, true, k, (lo,) or (lo, hi)");
        c.random_apply = match kw.get("random_apply") {
            None | Some(Value::Bool(false)) => RandomApply::Off,
            Some(Value::Bool(true)) => RandomApply::All,
            Some(Value::Number(n)) => RandomApply::Exactly(n.as_i64().unwrap_or(-1)),
            Some(Value::Array(a)) => {
                match a
                    .iter()
                    .map(|v| v.as_i64())
                    .collect::<Option<Vec<_>>>()
                    .as_deref()
                {
                    Some([lo]) => RandomApply::AtLeast(*lo),
                    Some([lo, hi]) => RandomApply::Between(*lo, *hi),
                    _ => return Err(random_apply_allowed()),
                }
            }
            Some(_) => return Err(random_apply_allowed()),
        };
        c.random_apply_weights = kw.nums("random_apply_weights")?;
        c.same_on_batch = kw.flag("same_on_batch")?;
        // Kornia's ImageSequential takes images only (no data keys); its
        // `if_unsupported_ops="raise"` is what this crate does anyway.
        if kw.class == "ImageSequential" {
            kw.neutral_only(
                "if_unsupported_ops",
                |v| v.as_str() == Some("raise"),
                "every step here supports images; `skip` would drop steps silently",
            )?;
            // Kornia's switches for its own per-item machinery: no effect on the output.
            let _ = kw.flag("disable_item_features")?;
            let _ = kw.flag("disable_sequential_features")?;
            let _ = kw.flag("keepdim")?;
            return Ok(c);
        }
        // What Kornia's container does with annotations: boxes enclosed after every
        // step, never clipped or dropped; the keys say what a keyed call passes.
        c.annotations = AnnotationOptions::kornia();
        let keys_allowed = || {
            kw.err(
                "data_keys",
                format!(
                    "a list of Kornia's data key names: {}",
                    DataKey::KORNIA_NAMES
                ),
            )
        };
        c.data_keys = match kw.get("data_keys") {
            None => None,
            Some(Value::Array(keys)) => Some(
                keys.iter()
                    .map(|k| match k {
                        Value::String(name) => DataKey::from_kornia(name),
                        _ => Err(keys_allowed()),
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(_) => return Err(keys_allowed()),
        };
        let _ = kw.flag("keepdim")?;
        Ok(c)
    }
}
