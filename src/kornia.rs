//! Kornia's constructors, translated: [`AugSpec::from_kornia`] takes a Kornia 0.9 class
//! name and its keyword arguments (as JSON) and returns the equivalent [`AugSpec`], with
//! Kornia's scalar and tuple shorthands (`degrees=30` is `(-30, 30)`, `brightness=0.2` is
//! `(0.8, 1.2)`, a 4-tuple scale or shear splits into its x and y ranges, ...).
//!
//! Every fixture of the parity suite is rebuilt through it (tests/kornia.rs), and
//! docs/KORNIA.md is generated from those translations, so the table cannot drift.

use crate::annotations::AnnotationOptions;
use crate::auto::{AutoAugmentConfig, OpRange, RandAugmentConfig, TrivialAugmentConfig};
use crate::container::{DataKey, RandomApply, SequentialConfig};
use crate::geometric::{
    CenterCropConfig, CropPadding, CroppingMode, ElasticConfig, FisheyeConfig, FlipConfig,
    MaxSizeConfig, PadMode, PadToConfig, PerspectiveConfig, PerspectiveSampling,
    RandomAffineConfig, RandomCropConfig, RandomResizedCropConfig, RandomRotationConfig,
    ResizeConfig, ResizeTo, Rotation90Config, ShearConfig, Side, ThinPlateSplineConfig,
    TranslateConfig,
};
use crate::intensity::{
    AutoContrastConfig, BoxBlurConfig, ChannelDropoutConfig, ChannelShuffleConfig, EqualizeConfig,
    ErasingConfig, FactorConfig, GammaConfig, GaussianBlurConfig, GaussianIlluminationConfig,
    GaussianNoiseConfig, IlluminationConfig, InvertConfig, JitterConfig, MedianBlurConfig,
    MotionBlurConfig, MotionKernelSize, NormalizeConfig, PlanckianConfig, PlanckianMode,
    PlasmaConfig, PosterizeConfig, RandomGrayscaleConfig, RgbShiftConfig, SaltAndPepperConfig,
    SharpnessConfig, SnowConfig, SolarizeConfig,
};
use crate::mix::{CutMixConfig, MixUpConfig};
use crate::volume::{
    Affine3DConfig, CenterCrop3DConfig, Equalize3DConfig, MotionBlur3DConfig, Perspective3DConfig,
    RandomCrop3DConfig, Rotation3DConfig, Scale3D,
};
use crate::warp::{Padding, Resample};
use crate::{AugSpec, Border, Error, Result};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeSet;

mod params;
mod python;
// Generated (scripts/gen_kornia_signatures.py): kept as written.
#[rustfmt::skip]
mod signatures;

/// Kornia 0.9's constructor of `class`: its positional parameters in order, and whether
/// `*args` (a container's steps) follows them.
fn signature(class: &str) -> Option<(&'static [&'static str], bool)> {
    signatures::SIGNATURES
        .iter()
        .find(|(name, _, _)| *name == class)
        .map(|&(_, params, varargs)| (params, varargs))
}

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

/// Kornia's keyword arguments of one class, read once each; what is left unread is an
/// error (a misspelt argument must not be ignored).
struct Kwargs<'a> {
    class: String,
    map: &'a Map<String, Value>,
    read: RefCell<BTreeSet<String>>,
}

const OP: &str = "AugSpec::from_kornia";

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

impl<'a> Kwargs<'a> {
    fn err(&self, key: &str, allowed: impl Into<String>) -> Error {
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
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.read.borrow_mut().insert(key.to_string());
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            // A tensor argument, as the fixture script stores it.
            Some(Value::Object(o)) if o.contains_key("tensor") => o.get("tensor"),
            Some(v) => Some(v),
        }
    }

    fn num(&self, key: &str) -> Result<Option<f64>> {
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

    fn int(&self, key: &str) -> Result<Option<i64>> {
        Ok(self.num(key)?.map(|v| v as i64))
    }

    fn flag(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(key, "true or false")),
        }
    }

    /// A list of numbers (or a number, as a list of one).
    fn nums(&self, key: &str) -> Result<Option<Vec<f64>>> {
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
    fn pairs(&self, key: &str) -> Result<Option<Vec<(f64, f64)>>> {
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
    fn range(&self, key: &str, center: f64, floor: f64) -> Result<Option<(f64, f64)>> {
        match self.nums(key)?.as_deref() {
            None => Ok(None),
            Some([f]) => Ok(Some(((center - f).max(floor), center + f))),
            Some([a, b]) => Ok(Some((*a, *b))),
            Some(_) => Err(self.err(key, "a number or a (lo, hi) pair")),
        }
    }

    /// A pair `(a, b)` (or a number `n`, read as `(n, n)`).
    fn pair(&self, key: &str) -> Result<Option<(f64, f64)>> {
        match self.nums(key)?.as_deref() {
            None => Ok(None),
            Some([n]) => Ok(Some((*n, *n))),
            Some([a, b]) => Ok(Some((*a, *b))),
            Some(_) => Err(self.err(key, "a (lo, hi) pair")),
        }
    }

    /// A size `(h, w)` from an int or a pair.
    fn size(&self, key: &str) -> Result<Option<(i64, i64)>> {
        Ok(self.pair(key)?.map(|(a, b)| (a as i64, b as i64)))
    }

    /// An enum from Kornia's string (as given, or lower-cased).
    fn enm<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
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
    fn neutral_only(&self, key: &str, neutral: fn(&Value) -> bool, why: &str) -> Result<()> {
        match self.get(key) {
            Some(v) if !neutral(v) => Err(self.err(key, format!("no `{key}` here: {why}"))),
            _ => Ok(()),
        }
    }

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
        set!($cfg.p = $kw.num("p")?);
        set!($cfg.same_on_batch = $kw.flag("same_on_batch")?);
        let _ = $kw.flag("keepdim")?;
    };
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
        kw.finish(translate(class, &kw)?)
    }
}

fn flip(kw: &Kwargs) -> Result<FlipConfig> {
    let mut c = FlipConfig::default();
    common!(kw, c);
    kw.neutral_only(
        "p_batch",
        |v| v.as_f64() == Some(1.0),
        "Kornia's whole-batch gate is 1 (always) here; gate per sample with p",
    )?;
    Ok(c)
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

/// An optional `(lo, hi)` range.
type MaybeRange = Option<(f64, f64)>;

/// Kornia's shear: `s` is x in `(-s, s)`; `(a, b)` x; `(a, b, c, d)` x then y.
fn shear(kw: &Kwargs, key: &str) -> Result<(MaybeRange, MaybeRange)> {
    Ok(match kw.nums(key)?.as_deref() {
        None => (None, None),
        Some([s]) => (Some((-s, *s)), None),
        Some([a, b]) => (Some((*a, *b)), None),
        Some([a, b, c, d]) => (Some((*a, *b)), Some((*c, *d))),
        Some(_) => return Err(kw.err(key, "a number, or 2 or 4 numbers")),
    })
}

/// Three angle ranges: `d` is `(-d, d)` on every axis, `(a, b)` on every axis, or three pairs.
fn angles(kw: &Kwargs, key: &str) -> Result<Option<[(f64, f64); 3]>> {
    if let Ok(Some(p)) = kw.pairs(key) {
        if let [a, b, c] = p[..] {
            return Ok(Some([a, b, c]));
        }
        return Err(kw.err(key, "a number, a (lo, hi) pair or three of them"));
    }
    Ok(kw.range(key, 0.0, f64::MIN)?.map(|r| [r; 3]))
}

fn kernel(kw: &Kwargs, key: &str) -> Result<Option<MotionKernelSize>> {
    Ok(match kw.nums(key)?.as_deref() {
        None => None,
        Some([k]) => Some(MotionKernelSize::Fixed(*k as i64)),
        Some([a, b]) => Some(MotionKernelSize::Range(*a as i64, *b as i64)),
        Some(_) => return Err(kw.err(key, "an odd size or a (lo, hi) range of sizes")),
    })
}

fn translate(class: &str, kw: &Kwargs) -> Result<AugSpec> {
    Ok(match class {
        "RandomAffine" => {
            let mut c = RandomAffineConfig::default();
            set!(c.degrees = kw.range("degrees", 0.0, -360.0)?);
            c.translate = kw.pair("translate")?;
            match kw.nums("scale")?.as_deref() {
                None => {}
                Some([a, b]) => c.scale = Some((*a, *b)),
                Some([a, b, x, y]) => {
                    c.scale = Some((*a, *b));
                    c.scale_y = Some((*x, *y));
                }
                Some(_) => return Err(kw.err("scale", "2 or 4 numbers")),
            }
            (c.shear, c.shear_y) = shear(kw, "shear")?;
            set!(c.resample = kw.enm("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.padding_mode = kw.enm("padding_mode")?);
            c.fill_value = kw.nums("fill_value")?;
            common!(kw, c);
            AugSpec::RandomAffine(c)
        }
        "RandomRotation" => {
            let mut c = RandomRotationConfig::default();
            set!(c.degrees = kw.range("degrees", 0.0, -360.0)?);
            set!(c.resample = kw.enm("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            common!(kw, c);
            AugSpec::RandomRotation(c)
        }
        "RandomHorizontalFlip" => AugSpec::RandomHorizontalFlip(flip(kw)?),
        "RandomVerticalFlip" => AugSpec::RandomVerticalFlip(flip(kw)?),
        "RandomHorizontalFlip3D" => AugSpec::RandomHorizontalFlip3D(flip(kw)?),
        "RandomVerticalFlip3D" => AugSpec::RandomVerticalFlip3D(flip(kw)?),
        "RandomDepthicalFlip3D" => AugSpec::RandomDepthicalFlip3D(flip(kw)?),
        "RandomCrop" => {
            let mut c = RandomCropConfig::default();
            set!(c.size = kw.size("size")?);
            c.padding = kw.nums("padding")?.map(|v| v.iter().map(|&x| x as i64).collect());
            set!(c.pad_if_needed = kw.flag("pad_if_needed")?);
            set!(c.fill = kw.nums("fill")?);
            set!(c.padding_mode = kw.enm::<CropPadding>("padding_mode")?);
            set!(c.resample = kw.enm("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.cropping_mode = kw.enm::<CroppingMode>("cropping_mode")?);
            common!(kw, c);
            AugSpec::RandomCrop(c)
        }
        "CenterCrop" => {
            let mut c = CenterCropConfig::default();
            set!(c.size = kw.size("size")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.resample = kw.enm("resample")?);
            set!(c.cropping_mode = kw.enm("cropping_mode")?);
            set!(c.p = kw.num("p")?);
            let _ = kw.flag("keepdim")?;
            AugSpec::CenterCrop(c)
        }
        "RandomResizedCrop" => {
            let mut c = RandomResizedCropConfig::default();
            set!(c.size = kw.size("size")?);
            set!(c.scale = kw.pair("scale")?);
            set!(c.ratio = kw.pair("ratio")?);
            set!(c.resample = kw.enm("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.cropping_mode = kw.enm("cropping_mode")?);
            common!(kw, c);
            AugSpec::RandomResizedCrop(c)
        }
        "RandomPerspective" => {
            let mut c = PerspectiveConfig::default();
            set!(c.distortion_scale = kw.num("distortion_scale")?);
            set!(c.resample = kw.enm("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.sampling_method = kw.enm::<PerspectiveSampling>("sampling_method")?);
            common!(kw, c);
            AugSpec::RandomPerspective(c)
        }
        "RandomShear" => {
            let mut c = ShearConfig::default();
            let (x, y) = shear(kw, "shear")?;
            set!(c.shear = x);
            c.shear_y = y;
            set!(c.resample = kw.enm("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.padding_mode = kw.enm::<Padding>("padding_mode")?);
            common!(kw, c);
            AugSpec::RandomShear(c)
        }
        "RandomTranslate" => {
            let mut c = TranslateConfig {
                translate_x: kw.range("translate_x", 0.0, -1.0)?,
                translate_y: kw.range("translate_y", 0.0, -1.0)?,
                ..Default::default()
            };
            set!(c.resample = kw.enm("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.padding_mode = kw.enm::<Padding>("padding_mode")?);
            common!(kw, c);
            AugSpec::RandomTranslate(c)
        }
        "RandomRotation90" => {
            let mut c = Rotation90Config::default();
            set!(c.times = kw.pair("times")?);
            set!(c.resample = kw.enm("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            common!(kw, c);
            AugSpec::RandomRotation90(c)
        }
        "LongestMaxSize" | "SmallestMaxSize" => {
            let mut c = MaxSizeConfig::new(match kw.nums("max_size")?.as_deref() {
                Some([s]) => *s as i64,
                _ => return Err(kw.err("max_size", "one side length (an int)")),
            });
            set!(c.resample = kw.enm("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.p = kw.num("p")?);
            if class == "LongestMaxSize" {
                AugSpec::LongestMaxSize(c)
            } else {
                AugSpec::SmallestMaxSize(c)
            }
        }
        "Resize" => {
            let mut c = ResizeConfig::default();
            let side = kw.enm::<Side>("side")?;
            c.size = match (kw.nums("size")?.as_deref(), side) {
                (Some([s]), side) => ResizeTo::Side(*s as i64, side.unwrap_or_default()),
                (Some([h, w]), _) => ResizeTo::Size(*h as i64, *w as i64),
                _ => return Err(kw.err("size", "a side length or a (height, width)")),
            };
            set!(c.resample = kw.enm("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.antialias = kw.flag("antialias")?);
            set!(c.p = kw.num("p")?);
            let _ = kw.flag("keepdim")?;
            AugSpec::Resize(c)
        }
        "PadTo" => {
            let mut c = PadToConfig::default();
            set!(c.size = kw.size("size")?);
            set!(c.pad_mode = kw.enm::<PadMode>("pad_mode")?);
            set!(c.pad_value = kw.num("pad_value")?);
            set!(c.crop_if_exceeds = kw.flag("crop_if_exceeds")?);
            let _ = kw.flag("keepdim")?;
            AugSpec::PadTo(c)
        }
        "RandomFisheye" => {
            let mut c = FisheyeConfig::default();
            set!(c.center_x = kw.pair("center_x")?);
            set!(c.center_y = kw.pair("center_y")?);
            set!(c.gamma = kw.pair("gamma")?);
            common!(kw, c);
            AugSpec::RandomFisheye(c)
        }
        "RandomElasticTransform" => {
            let mut c = ElasticConfig::default();
            set!(c.kernel_size = kw.size("kernel_size")?);
            set!(c.sigma = kw.pair("sigma")?);
            set!(c.alpha = kw.pair("alpha")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.resample = kw.enm("resample")?);
            set!(c.padding_mode = kw.enm::<Padding>("padding_mode")?);
            common!(kw, c);
            AugSpec::RandomElasticTransform(c)
        }
        "RandomThinPlateSpline" => {
            let mut c = ThinPlateSplineConfig::default();
            set!(c.scale = kw.num("scale")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            set!(c.padding_mode = kw.enm::<Padding>("padding_mode")?);
            common!(kw, c);
            AugSpec::RandomThinPlateSpline(c)
        }
        "ColorJitter" | "ColorJiggle" => {
            let mut c = JitterConfig::default();
            set!(c.brightness = kw.range("brightness", 1.0, 0.0)?);
            set!(c.contrast = kw.range("contrast", 1.0, 0.0)?);
            set!(c.saturation = kw.range("saturation", 1.0, 0.0)?);
            set!(c.hue = kw.range("hue", 0.0, -0.5)?);
            common!(kw, c);
            kw.neutral_only(
                "order",
                Value::is_null,
                "the steps' order is drawn per call (Kornia's default, order=None); a fixed order is not supported yet",
            )?;
            if class == "ColorJitter" {
                AugSpec::ColorJitter(c)
            } else {
                AugSpec::ColorJiggle(c)
            }
        }
        "Normalize" | "Denormalize" => {
            let mut c = NormalizeConfig::default();
            set!(c.mean = kw.nums("mean")?);
            set!(c.std = kw.nums("std")?);
            set!(c.p = kw.num("p")?);
            let _ = kw.flag("keepdim")?;
            if class == "Normalize" {
                AugSpec::Normalize(c)
            } else {
                AugSpec::Denormalize(c)
            }
        }
        "RandomGrayscale" => {
            let mut c = RandomGrayscaleConfig {
                rgb_weights: kw.nums("rgb_weights")?,
                ..Default::default()
            };
            common!(kw, c);
            AugSpec::RandomGrayscale(c)
        }
        "RandomSolarize" => {
            let mut c = SolarizeConfig::default();
            set!(c.thresholds = kw.range("thresholds", 0.5, 0.0)?);
            set!(c.additions = kw.range("additions", 0.0, -0.5)?);
            common!(kw, c);
            AugSpec::RandomSolarize(c)
        }
        "RandomErasing" => {
            let mut c = ErasingConfig::default();
            set!(c.scale = kw.pair("scale")?);
            set!(c.ratio = kw.pair("ratio")?);
            set!(c.value = kw.num("value")?);
            common!(kw, c);
            AugSpec::RandomErasing(c)
        }
        "RandomEqualize" => {
            let mut c = EqualizeConfig::default();
            common!(kw, c);
            AugSpec::RandomEqualize(c)
        }
        "RandomBrightness" | "RandomContrast" | "RandomSaturation" | "RandomHue" => {
            let (key, center, floor) = match class {
                "RandomBrightness" => ("brightness", 1.0, 0.0),
                "RandomContrast" => ("contrast", 1.0, 0.0),
                "RandomSaturation" => ("saturation", 1.0, 0.0),
                _ => ("hue", 0.0, -0.5),
            };
            let mut c = FactorConfig::default();
            if class == "RandomHue" {
                c.range = (0.0, 0.0);
            }
            set!(c.range = kw.range(key, center, floor)?);
            set!(c.clip_output = kw.flag("clip_output")?);
            common!(kw, c);
            match class {
                "RandomBrightness" => AugSpec::RandomBrightness(c),
                "RandomContrast" => AugSpec::RandomContrast(c),
                "RandomSaturation" => AugSpec::RandomSaturation(c),
                _ => AugSpec::RandomHue(c),
            }
        }
        "RandomGamma" => {
            let mut c = GammaConfig::default();
            set!(c.gamma = kw.pair("gamma")?);
            set!(c.gain = kw.pair("gain")?);
            common!(kw, c);
            AugSpec::RandomGamma(c)
        }
        "RandomInvert" => {
            let mut c = InvertConfig::default();
            set!(c.max_val = kw.num("max_val")?);
            common!(kw, c);
            AugSpec::RandomInvert(c)
        }
        "RandomGaussianBlur" => {
            let mut c = GaussianBlurConfig::default();
            set!(c.kernel_size = kw.size("kernel_size")?);
            set!(c.sigma = kw.pair("sigma")?);
            set!(c.border_type = kw.enm::<Border>("border_type")?);
            let _ = kw.flag("separable")?;
            common!(kw, c);
            AugSpec::RandomGaussianBlur(c)
        }
        "RandomBoxBlur" => {
            let mut c = BoxBlurConfig::default();
            set!(c.kernel_size = kw.size("kernel_size")?);
            set!(c.border_type = kw.enm::<Border>("border_type")?);
            // Kornia's two box-blur implementations (separable or one 2D pass) give the
            // same mean of each window, up to float rounding: either is this blur.
            let _ = kw.flag("normalized")?;
            common!(kw, c);
            AugSpec::RandomBoxBlur(c)
        }
        "RandomChannelShuffle" => {
            let mut c = ChannelShuffleConfig::default();
            common!(kw, c);
            AugSpec::RandomChannelShuffle(c)
        }
        "RandomGaussianNoise" => {
            let mut c = GaussianNoiseConfig::default();
            set!(c.mean = kw.num("mean")?);
            set!(c.std = kw.num("std")?);
            common!(kw, c);
            AugSpec::RandomGaussianNoise(c)
        }
        "RandomPosterize" => {
            let mut c = PosterizeConfig::default();
            set!(c.bits = match kw.nums("bits")?.as_deref() {
                None => None,
                Some([b]) => Some((*b, 8.0)),
                Some([a, b]) => Some((*a, *b)),
                Some(_) => return Err(kw.err("bits", "a number of bits or a (lo, hi) range")),
            });
            common!(kw, c);
            AugSpec::RandomPosterize(c)
        }
        "RandomAutoContrast" => {
            let mut c = AutoContrastConfig::default();
            set!(c.clip_output = kw.flag("clip_output")?);
            common!(kw, c);
            AugSpec::RandomAutoContrast(c)
        }
        "RandomChannelDropout" => {
            let mut c = ChannelDropoutConfig::default();
            set!(c.num_drop_channels = kw.int("num_drop_channels")?);
            set!(c.fill_value = kw.num("fill_value")?);
            common!(kw, c);
            AugSpec::RandomChannelDropout(c)
        }
        "RandomRGBShift" => {
            let mut c = RgbShiftConfig::default();
            set!(c.r_shift_limit = kw.range("r_shift_limit", 0.0, -1.0)?);
            set!(c.g_shift_limit = kw.range("g_shift_limit", 0.0, -1.0)?);
            set!(c.b_shift_limit = kw.range("b_shift_limit", 0.0, -1.0)?);
            common!(kw, c);
            AugSpec::RandomRGBShift(c)
        }
        "RandomSaltAndPepperNoise" => {
            let mut c = SaltAndPepperConfig::default();
            set!(c.amount = kw.pair("amount")?);
            set!(c.salt_vs_pepper = kw.pair("salt_vs_pepper")?);
            common!(kw, c);
            AugSpec::RandomSaltAndPepperNoise(c)
        }
        "RandomMedianBlur" => {
            let mut c = MedianBlurConfig::default();
            set!(c.kernel_size = kw.size("kernel_size")?);
            common!(kw, c);
            AugSpec::RandomMedianBlur(c)
        }
        "RandomMotionBlur" => {
            let mut c = MotionBlurConfig::default();
            set!(c.kernel_size = kernel(kw, "kernel_size")?);
            set!(c.angle = kw.range("angle", 0.0, -360.0)?);
            set!(c.direction = kw.range("direction", 0.0, -1.0)?);
            set!(c.border_type = kw.enm::<Border>("border_type")?);
            set!(c.resample = kw.enm("resample")?);
            common!(kw, c);
            AugSpec::RandomMotionBlur(c)
        }
        "RandomLinearIllumination" | "RandomLinearCornerIllumination" => {
            // A number is a point range here (Kornia's constructor makes it (n, n)).
            let mut c = IlluminationConfig::default();
            set!(c.gain = kw.pair("gain")?);
            set!(c.sign = kw.pair("sign")?);
            common!(kw, c);
            if class == "RandomLinearIllumination" {
                AugSpec::RandomLinearIllumination(c)
            } else {
                AugSpec::RandomLinearCornerIllumination(c)
            }
        }
        "RandomGaussianIllumination" => {
            let mut c = GaussianIlluminationConfig::default();
            set!(c.gain = kw.pair("gain")?);
            set!(c.center = kw.pair("center")?);
            set!(c.sigma = kw.pair("sigma")?);
            set!(c.sign = kw.pair("sign")?);
            common!(kw, c);
            AugSpec::RandomGaussianIllumination(c)
        }
        "RandomPlasmaBrightness" | "RandomPlasmaContrast" | "RandomPlasmaShadow" => {
            let mut c = PlasmaConfig::default();
            set!(c.roughness = kw.pair("roughness")?);
            if class == "RandomPlasmaBrightness" {
                set!(c.intensity = kw.pair("intensity")?);
            }
            if class == "RandomPlasmaShadow" {
                set!(c.shade_intensity = kw.pair("shade_intensity")?);
                set!(c.shade_quantity = kw.pair("shade_quantity")?);
            }
            common!(kw, c);
            match class {
                "RandomPlasmaBrightness" => AugSpec::RandomPlasmaBrightness(c),
                "RandomPlasmaContrast" => AugSpec::RandomPlasmaContrast(c),
                _ => AugSpec::RandomPlasmaShadow(c),
            }
        }
        "RandomSnow" => {
            let mut c = SnowConfig::default();
            set!(c.snow_coefficient = kw.range("snow_coefficient", 0.5, 0.0)?);
            set!(c.brightness = kw.pair("brightness")?);
            common!(kw, c);
            AugSpec::RandomSnow(c)
        }
        "RandomPlanckianJitter" => {
            let mut c = PlanckianConfig::default();
            set!(c.mode = kw.enm::<PlanckianMode>("mode")?);
            c.select_from = kw
                .nums("select_from")?
                .map(|v| v.iter().map(|&x| x as usize).collect());
            common!(kw, c);
            AugSpec::RandomPlanckianJitter(c)
        }
        "RandomSharpness" => {
            let mut c = SharpnessConfig::default();
            set!(c.sharpness = kw.range("sharpness", 0.0, 0.0)?);
            common!(kw, c);
            AugSpec::RandomSharpness(c)
        }
        "CenterCrop3D" | "RandomCrop3D" => {
            let size = match kw.nums("size")?.as_deref() {
                None => [1, 1, 1],
                Some([s]) => [*s as i64; 3],
                Some([d, h, w]) => [*d as i64, *h as i64, *w as i64],
                Some(_) => return Err(kw.err("size", "a side or (depth, height, width)")),
            };
            if class == "CenterCrop3D" {
                let mut c = CenterCrop3DConfig {
                    size,
                    ..Default::default()
                };
                set!(c.align_corners = kw.flag("align_corners")?);
                set!(c.resample = kw.enm("resample")?);
                set!(c.p = kw.num("p")?);
                let _ = kw.flag("keepdim")?;
                AugSpec::CenterCrop3D(c)
            } else {
                let mut c = RandomCrop3DConfig {
                    size,
                    ..Default::default()
                };
                c.padding = match kw.nums("padding")?.as_deref() {
                    None => None,
                    Some([n]) => Some([*n as i64; 6]),
                    Some([a, b, d]) => {
                        let (a, b, d) = (*a as i64, *b as i64, *d as i64);
                        Some([a, a, b, b, d, d])
                    }
                    Some(v) if v.len() == 6 => {
                        let mut p = [0i64; 6];
                        for (o, x) in p.iter_mut().zip(v) {
                            *o = *x as i64;
                        }
                        Some(p)
                    }
                    Some(_) => return Err(kw.err("padding", "1, 3 or 6 amounts")),
                };
                set!(c.pad_if_needed = kw.flag("pad_if_needed")?);
                set!(c.fill = kw.num("fill")?);
                set!(c.padding_mode = kw.enm::<CropPadding>("padding_mode")?);
                set!(c.resample = kw.enm("resample")?);
                set!(c.align_corners = kw.flag("align_corners")?);
                common!(kw, c);
                AugSpec::RandomCrop3D(c)
            }
        }
        "RandomAffine3D" => {
            let mut c = Affine3DConfig::default();
            set!(c.degrees = angles(kw, "degrees")?);
            c.translate = match kw.nums("translate")?.as_deref() {
                None => None,
                Some([a, b, d]) => Some((*a, *b, *d)),
                Some(_) => return Err(kw.err("translate", "three fractions (x, y, z)")),
            };
            c.scale = match kw.pairs("scale") {
                Ok(Some(p)) if p.len() == 3 => Some(Scale3D::PerAxis([p[0], p[1], p[2]])),
                _ => kw.pair("scale")?.map(Scale3D::Isotropic),
            };
            c.shears = match kw.pairs("shears") {
                Ok(Some(p)) if p.len() == 6 => Some([p[0], p[1], p[2], p[3], p[4], p[5]]),
                _ => kw.range("shears", 0.0, f64::MIN)?.map(|r| [r; 6]),
            };
            set!(c.resample = kw.enm::<Resample>("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            common!(kw, c);
            AugSpec::RandomAffine3D(c)
        }
        "RandomRotation3D" => {
            let mut c = Rotation3DConfig::default();
            set!(c.degrees = angles(kw, "degrees")?);
            set!(c.resample = kw.enm::<Resample>("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            common!(kw, c);
            AugSpec::RandomRotation3D(c)
        }
        "RandomPerspective3D" => {
            let mut c = Perspective3DConfig::default();
            set!(c.distortion_scale = kw.num("distortion_scale")?);
            set!(c.resample = kw.enm::<Resample>("resample")?);
            set!(c.align_corners = kw.flag("align_corners")?);
            common!(kw, c);
            AugSpec::RandomPerspective3D(c)
        }
        "RandomMotionBlur3D" => {
            let mut c = MotionBlur3DConfig::default();
            set!(c.kernel_size = kernel(kw, "kernel_size")?);
            set!(c.angle = angles(kw, "angle")?);
            set!(c.direction = kw.range("direction", 0.0, -1.0)?);
            set!(c.border_type = kw.enm::<Border>("border_type")?);
            set!(c.resample = kw.enm::<Resample>("resample")?);
            common!(kw, c);
            AugSpec::RandomMotionBlur3D(c)
        }
        "RandomEqualize3D" => {
            let mut c = Equalize3DConfig::default();
            common!(kw, c);
            AugSpec::RandomEqualize3D(c)
        }
        "RandomMixUpV2" | "RandomMixUp" => {
            let mut c = MixUpConfig::default();
            set!(c.lambda_val = kw.pair("lambda_val")?);
            let _ = kw.get("data_keys");
            common!(kw, c);
            AugSpec::RandomMixUp(c)
        }
        "RandomCutMixV2" | "RandomCutMix" => {
            let mut c = CutMixConfig::default();
            set!(c.num_mix = kw.int("num_mix")?);
            set!(c.cut_size = kw.pair("cut_size")?);
            set!(c.beta = kw.num("beta")?);
            set!(c.use_correct_lambda = kw.flag("use_correct_lambda")?);
            let _ = kw.get("data_keys");
            common!(kw, c);
            AugSpec::RandomCutMix(c)
        }
        "AutoAugment" => {
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
            AugSpec::AutoAugment(c)
        }
        "RandAugment" => {
            let count = |key| match kw.num(key)? {
                Some(v) if v.fract() == 0.0 && v >= 0.0 => Ok(v),
                _ => Err(kw.err(key, "a whole number (required)")),
            };
            let mut c = RandAugmentConfig::new(count("n")? as usize, count("m")?);
            c.policy = candidate_list(kw)?;
            let _ = kw.get("transformation_matrix_mode");
            AugSpec::RandAugment(c)
        }
        "TrivialAugment" => {
            let c = TrivialAugmentConfig {
                policy: candidate_list(kw)?,
                ..Default::default()
            };
            let _ = kw.get("transformation_matrix_mode");
            AugSpec::TrivialAugment(c)
        }
        "AugmentationSequential" | "Sequential" | "ImageSequential" => {
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
            c.random_apply = match kw.get("random_apply") {
                None | Some(Value::Bool(false)) => RandomApply::Off,
                Some(Value::Bool(true)) => RandomApply::All,
                Some(Value::Number(n)) => RandomApply::Exactly(n.as_i64().unwrap_or(-1)),
                Some(Value::Array(a)) => match a.iter().map(|v| v.as_i64()).collect::<Option<Vec<_>>>().as_deref() {
                    Some([lo]) => RandomApply::AtLeast(*lo),
                    Some([lo, hi]) => RandomApply::Between(*lo, *hi),
                    _ => return Err(kw.err("random_apply", "false, true, k, (lo,) or (lo, hi)")),
                },
                Some(_) => return Err(kw.err("random_apply", "false, true, k, (lo,) or (lo, hi)")),
            };
            c.random_apply_weights = kw.nums("random_apply_weights")?;
            c.same_on_batch = kw.flag("same_on_batch")?;
            // Kornia's ImageSequential takes images only (no data keys); its
            // `if_unsupported_ops="raise"` is what this crate does anyway.
            if class == "ImageSequential" {
                kw.neutral_only(
                    "if_unsupported_ops",
                    |v| v.as_str() == Some("raise"),
                    "every step here supports images; `skip` would drop steps silently",
                )?;
                // Kornia's switches for its own per-item machinery: no effect on the output.
                let _ = kw.flag("disable_item_features")?;
                let _ = kw.flag("disable_sequential_features")?;
                let _ = kw.flag("keepdim")?;
                return Ok(AugSpec::Sequential(c));
            }
            // What Kornia's container does with annotations: boxes enclosed after every
            // step, never clipped or dropped; the keys say what a keyed call passes.
            c.annotations = AnnotationOptions::kornia();
            let keys_allowed = || {
                kw.err(
                    "data_keys",
                    format!("a list of Kornia's data key names: {}", DataKey::KORNIA_NAMES),
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
            AugSpec::Sequential(c)
        }
        other => {
            return Err(Error::Config {
                op: OP,
                name: "class",
                value: other.to_string(),
                allowed: format!(
                    "a Kornia class this crate has: {} (and RandomMixUpV2, RandomCutMixV2, AugmentationSequential, ImageSequential)",
                    AugSpec::NAMES.join(", ")
                ),
            })
        }
    })
}
