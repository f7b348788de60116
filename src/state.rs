//! Checked, atomic saving and loading of a pipeline's state (its ranges' variables), of a
//! whole `VarStore` that holds pipelines, and of structure plus state in one file.
//!
//! Every loader reads the file and checks it against what it loads into first: each name
//! present, no name left over, shapes and dtypes equal (floating point for ranges), range
//! values finite, fixed ranges equal to the file's (a file whose ranges contradict a
//! fixed-range spec is refused: `to_json` would describe other draws than those made).
//! Only then does it copy, all of it; if a copy still fails, every variable is restored.
//! So a load either succeeds or returns `Err` with nothing changed.
//!
//! The crate's own files hold learnable ranges as drawn (ordered, clamped to their domain),
//! and their loaders refuse a learnable value outside its domain; a `VarStore` file holds
//! raw training state, which an optimiser may have moved past the domain (the draws clamp
//! it), so [`load_var_store`] accepts any finite value there.

use crate::{Augmentation, Error, Range, Result};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

/// The entry of a file written by [`crate::Sequential::f_save`] that holds the pipeline's
/// JSON (UTF-8 bytes as a uint8 tensor).
pub const STRUCTURE_KEY: &str = "__tch_dda__.structure";

/// The name under which [`crate::Sequential::f_save`] stores the `i`-th range's bound
/// (`lo` or `hi`): by position, so that the file loads under any `VarStore` path.
fn positional_key(i: usize, bound: &str) -> String {
    format!("__tch_dda__.range.{i}.{bound}")
}

fn state_error(file: &Path, problem: impl Into<String>) -> Error {
    Error::State {
        file: file.display().to_string(),
        problem: problem.into(),
    }
}

/// Reads every named tensor of a safetensors file (`.safetensors`) or of tch's own format
/// (any other extension, as `VarStore::save` writes it), on the CPU.
pub(crate) fn read_file(file: &Path) -> Result<HashMap<String, Tensor>> {
    let named = if file.extension().is_some_and(|e| e == "safetensors") {
        Tensor::read_safetensors(file)?
    } else {
        Tensor::load_multi_with_device(file, Device::Cpu)?
    };
    let mut map = HashMap::new();
    for (name, t) in named {
        if map.insert(name.clone(), t).is_some() {
            return Err(state_error(file, format!("holds `{name}` twice")));
        }
    }
    Ok(map)
}

/// Writes named tensors (copied to the CPU, contiguous), choosing the format by extension
/// as [`read_file`] reads it.
pub(crate) fn write_file(file: &Path, named: &[(String, Tensor)]) -> Result<()> {
    let named: Vec<(String, Tensor)> = named
        .iter()
        .map(|(k, v)| (k.clone(), v.detach().to_device(Device::Cpu).contiguous()))
        .collect();
    if file.extension().is_some_and(|e| e == "safetensors") {
        Tensor::write_safetensors(&named, file)?;
    } else {
        Tensor::save_multi(&named, file)?;
    }
    Ok(())
}

fn is_float(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double
    )
}

/// The pipeline's range variables by `VarStore` name (a single value once).
fn range_variables<'a>(ranges: &[&'a Range]) -> Vec<(&'a str, &'a Tensor)> {
    let mut v = Vec::new();
    for r in ranges {
        let (lo, hi) = r.var_names();
        v.push((lo, r.lo()));
        if !r.is_single() {
            v.push((hi, r.hi()));
        }
    }
    v
}

/// The ranges' values as the crate's own files store them, by `VarStore` name (a single
/// value once): a fixed range's variables, a learnable range's bounds as drawn
/// ([`Range::effective`]: ordered and clamped to its domain), so that every file the crate
/// writes holds values inside their domains.
fn saved_values(ranges: &[&Range]) -> Vec<(String, Tensor)> {
    let mut v = Vec::new();
    for r in ranges {
        let (lo_name, hi_name) = r.var_names();
        let (lo, hi) = r.effective(r.lo().device());
        v.push((lo_name.to_string(), lo.detach()));
        if !r.is_single() {
            v.push((hi_name.to_string(), hi.detach()));
        }
    }
    v
}

/// How [`check_ranges`] treats a learnable range's values.
#[derive(Clone, Copy, PartialEq)]
enum Learned {
    /// As the crate's own files hold them (written as drawn): inside the domain, `lo <= hi`.
    AsDrawn,
    /// Raw training state (a `VarStore` file): any finite value, as an optimiser may leave
    /// it; draws order and clamp it ([`Range::effective`]).
    Raw,
}

/// Checks the file's values for `ranges`: floating point 0-dim, finite, equal to a fixed
/// range's own values, and for a learnable range as `learned` says.
fn check_ranges(
    file: &Path,
    entries: &HashMap<String, Tensor>,
    ranges: &[&Range],
    learned: Learned,
) -> Result<()> {
    for r in ranges {
        let (lo_name, hi_name) = r.var_names();
        let mut got = Vec::new();
        for (name, var) in [(lo_name, r.lo()), (hi_name, r.hi())] {
            let t = entries.get(name).ok_or_else(|| {
                state_error(file, format!("lacks `{name}` (range `{}`)", r.name()))
            })?;
            if t.size() != var.size() || !is_float(t.kind()) {
                return Err(state_error(
                    file,
                    format!(
                        "`{name}` is {:?} of shape {:?}; range `{}` needs a floating point scalar",
                        t.kind(),
                        t.size(),
                        r.name()
                    ),
                ));
            }
            let v = t.to_kind(Kind::Double).double_value(&[]);
            if !(v as f32).is_finite() {
                return Err(state_error(
                    file,
                    format!(
                        "`{name}` = {v} is not a finite float32 (range `{}`)",
                        r.name()
                    ),
                ));
            }
            got.push(v as f32);
        }
        if r.is_learnable() && learned == Learned::AsDrawn {
            // Compared as the float32 the draws clamp with (Range::effective).
            let (min, max) = r.domain();
            let (min, max) = (
                min.max(f32::MIN as f64) as f32,
                max.min(f32::MAX as f64) as f32,
            );
            let inside = got.iter().all(|&v| min <= v && v <= max);
            if !inside || got[0] > got[1] {
                return Err(state_error(
                    file,
                    format!(
                        "learnable range `{}` is ({}, {}); it must lie in its domain [{}, {}] with lo <= hi (the crate saves ranges as drawn; a VarStore file of raw training state loads with load_var_store)",
                        r.name(),
                        got[0],
                        got[1],
                        r.domain().0,
                        r.domain().1,
                    ),
                ));
            }
        }
        if !r.is_learnable() {
            let have = (
                r.lo().to_kind(Kind::Float).double_value(&[]) as f32,
                r.hi().to_kind(Kind::Float).double_value(&[]) as f32,
            );
            if (got[0], got[1]) != have {
                return Err(state_error(
                    file,
                    format!(
                        "range `{}` is ({}, {}) in the file but fixed at ({}, {}) by the pipeline's spec; build the pipeline with `{}` learnable (or from the file's structure) to load it",
                        r.name(),
                        got[0],
                        got[1],
                        have.0,
                        have.1,
                        r.name()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Copies `sources` into `targets` under no_grad; if any copy fails, restores every target
/// from a backup taken first, so that nothing is half-loaded.
fn copy_all(targets: &[(&str, &Tensor)], sources: &HashMap<String, Tensor>) -> Result<()> {
    let _guard = tch::no_grad_guard();
    let backups: Vec<Tensor> = targets.iter().map(|(_, t)| t.copy()).collect();
    for (i, (name, target)) in targets.iter().enumerate() {
        let source = &sources[*name];
        if let Err(e) = target.shallow_clone().f_copy_(source) {
            for ((_, t), b) in targets[..i].iter().zip(&backups) {
                let _ = t.shallow_clone().f_copy_(b);
            }
            return Err(e.into());
        }
    }
    Ok(())
}

/// Names in `entries` that nothing loads (the structure entry aside).
fn leftover(entries: &HashMap<String, Tensor>, used: &HashSet<&str>) -> Vec<String> {
    let mut extra: Vec<String> = entries
        .keys()
        .filter(|k| k.as_str() != STRUCTURE_KEY && !used.contains(k.as_str()))
        .cloned()
        .collect();
    extra.sort();
    extra
}

fn refuse_leftover(file: &Path, extra: &[String], what: &str) -> Result<()> {
    if extra.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = extra.iter().take(5).map(String::as_str).collect();
    Err(state_error(
        file,
        format!(
            "holds {} variable(s) {what} does not have: {shown:?}{}",
            extra.len(),
            if extra.len() > 5 { " ..." } else { "" }
        ),
    ))
}

/// Saves the ranges of `aug` (fixed and learnable, learnable ones as drawn) under their
/// `VarStore` names.
pub(crate) fn save_state(aug: &(impl Augmentation + ?Sized), file: &Path) -> Result<()> {
    write_file(file, &saved_values(&aug.ranges()))
}

/// Loads state written by [`save_state`] (or a structure-plus-state file) into `aug`:
/// exactly its range variables, checked, all or nothing.
pub(crate) fn load_state(aug: &(impl Augmentation + ?Sized), file: &Path) -> Result<()> {
    let entries = read_file(file)?;
    load_state_from(aug, file, &entries)
}

pub(crate) fn load_state_from(
    aug: &(impl Augmentation + ?Sized),
    file: &Path,
    entries: &HashMap<String, Tensor>,
) -> Result<()> {
    let ranges = aug.ranges();
    check_ranges(file, entries, &ranges, Learned::AsDrawn)?;
    let targets = range_variables(&ranges);
    let used: HashSet<&str> = targets.iter().map(|(k, _)| *k).collect();
    refuse_leftover(file, &leftover(entries, &used), "the pipeline")?;
    copy_all(&targets, entries)
}

/// Loads a `VarStore` file (as `vs.save` writes it, or safetensors) into `vs`, checked and
/// atomic, where tch's `vs.load` overwrites variables one by one and stops at the first
/// mismatch: every variable of `vs` must be in the file with the same shape and a
/// compatible dtype (floating point for floating point variables, else the same), the file
/// may hold nothing else, and the ranges of `pipelines` (built in `vs`) must be finite and
/// agree with their fixed specs. A learnable range's raw variables may lie outside its
/// domain (an optimiser may move them there; draws order and clamp them). Only then is
/// everything copied; nothing changes on `Err`.
///
/// # Errors
/// [`Error::State`] naming the first mismatch; [`Error::Torch`] or [`Error::Io`] for a file
/// that cannot be read.
pub fn load_var_store(
    vs: &mut nn::VarStore,
    file: impl AsRef<Path>,
    pipelines: &[&dyn Augmentation],
) -> Result<()> {
    let file = file.as_ref();
    let entries = read_file(file)?;
    let variables = vs.variables();
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort();
    for name in &names {
        let var = &variables[*name];
        let t = entries
            .get(*name)
            .ok_or_else(|| state_error(file, format!("lacks `{name}`")))?;
        let compatible = if is_float(var.kind()) {
            is_float(t.kind())
        } else {
            t.kind() == var.kind()
        };
        if t.size() != var.size() || !compatible {
            return Err(state_error(
                file,
                format!(
                    "`{name}` is {:?} of shape {:?}; the VarStore's is {:?} of shape {:?}",
                    t.kind(),
                    t.size(),
                    var.kind(),
                    var.size()
                ),
            ));
        }
    }
    for p in pipelines {
        let ranges = p.ranges();
        for (name, t) in range_variables(&ranges) {
            if variables
                .get(name)
                .is_none_or(|v| v.data_ptr() != t.data_ptr())
            {
                return Err(state_error(
                    file,
                    format!("`{name}` of a pipeline given is not a variable of this VarStore"),
                ));
            }
        }
        check_ranges(file, &entries, &ranges, Learned::Raw)?;
    }
    let used: HashSet<&str> = names.iter().map(|s| s.as_str()).collect();
    refuse_leftover(file, &leftover(&entries, &used), "the VarStore")?;
    let targets: Vec<(&str, &Tensor)> =
        names.iter().map(|n| (n.as_str(), &variables[*n])).collect();
    copy_all(&targets, &entries)
}

/// Saves structure and state: the pipeline's JSON and its ranges by position.
pub(crate) fn save_pipeline(seq: &crate::Sequential, file: &Path) -> Result<()> {
    let json = seq.to_json()?;
    let mut named = vec![(
        STRUCTURE_KEY.to_string(),
        Tensor::from_slice(json.as_bytes()),
    )];
    for (i, r) in seq.ranges().iter().enumerate() {
        let (lo, hi) = r.effective(r.lo().device());
        named.push((positional_key(i, "lo"), lo.detach()));
        named.push((positional_key(i, "hi"), hi.detach()));
    }
    write_file(file, &named)
}

/// Rebuilds a pipeline saved by [`save_pipeline`] under `path`. It is first built and
/// loaded in a scratch `VarStore`, so that a bad file leaves `path`'s `VarStore` untouched.
pub(crate) fn load_pipeline(path: &nn::Path, file: &Path) -> Result<crate::Sequential> {
    let entries = read_file(file)?;
    let structure = entries.get(STRUCTURE_KEY).ok_or_else(|| {
        state_error(
            file,
            format!("has no `{STRUCTURE_KEY}` entry (not written by Sequential::f_save)"),
        )
    })?;
    if structure.kind() != Kind::Uint8 || structure.dim() != 1 {
        return Err(state_error(
            file,
            format!("`{STRUCTURE_KEY}` is not a byte string"),
        ));
    }
    let bytes = Vec::<u8>::try_from(structure)?;
    let json = String::from_utf8(bytes)
        .map_err(|_| state_error(file, format!("`{STRUCTURE_KEY}` is not UTF-8")))?;
    let by_name = |seq: &crate::Sequential| -> Result<HashMap<String, Tensor>> {
        let ranges = seq.ranges();
        let mut map = HashMap::new();
        let mut used = HashSet::new();
        for (i, r) in ranges.iter().enumerate() {
            let (lo, hi) = r.var_names();
            for (name, bound) in [(lo, "lo"), (hi, "hi")] {
                let key = positional_key(i, bound);
                let t = entries.get(&key).ok_or_else(|| {
                    state_error(file, format!("lacks `{key}` (range `{}`)", r.name()))
                })?;
                map.insert(name.to_string(), t.shallow_clone());
                used.insert(key);
            }
        }
        let extra: Vec<String> = entries
            .keys()
            .filter(|k| k.as_str() != STRUCTURE_KEY && !used.contains(*k))
            .cloned()
            .collect();
        refuse_leftover(file, &extra, "the pipeline of its structure")?;
        Ok(map)
    };
    let scratch = nn::VarStore::new(path.device());
    let trial = crate::Sequential::from_json(scratch.root(), &json)?;
    load_state_from(&trial, file, &by_name(&trial)?)?;
    let seq = crate::Sequential::from_json(path, &json)?;
    load_state_from(&seq, file, &by_name(&seq)?)?;
    Ok(seq)
}
