//! Kornia's recorded params (`aug._params`) as this crate's [`Params`]: the layout a few
//! lines of Python write (docs/kornia-params.md), read back for steps, containers and presets.

use crate::{Error, Params, Result};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Device, Tensor};

const OP: &str = "Params::from_kornia";

/// One list of `ParamItem`s: the names of its items by position, and the name of the item
/// that holds it (`None` at the top).
#[derive(Default)]
struct Level {
    names: BTreeMap<usize, String>,
    parent: Option<String>,
}

/// `"{i}:{name}"`, one item of a list of `ParamItem`s.
fn item(segment: &str) -> Option<(usize, &str)> {
    let (i, name) = segment.split_once(':')?;
    let i = i.parse().ok()?;
    let named = !name.is_empty() && name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric());
    named.then_some((i, name))
}

/// The child index at the end of a Kornia child's name (`RandomAffine_3` is child 3).
fn child_index(name: &str) -> Option<i64> {
    name.rsplit_once('_')?.1.parse().ok()
}

/// Kornia's `PatchSequential` records one `PatchParamItem` per child call: the child's
/// params and the patches it ran on (`patch_indices`, as docs/kornia-params.md saves them).
/// This crate groups a `PatchSequential`'s params by the patches they apply to: one group
/// (0) for calls on every patch, else one per grid location `g` (patches `g`, `g + G`, ...),
/// each a pipeline of its own. The items are renamed into that nesting
/// (`"{g}:Patches_{g}.{k}:{name}."`), so the rest reads them as nested containers; the
/// second value says whether they were a `PatchSequential`'s.
fn regroup_patches(tensors: Vec<(String, Tensor)>) -> Result<(Vec<(String, Tensor)>, bool)> {
    let mut indices: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for (key, t) in &tensors {
        if let Some((i, _, "patch_indices")) = key
            .split_once('.')
            .and_then(|(segment, rest)| item(segment).map(|(i, name)| (i, name, rest)))
        {
            let v = Vec::<i64>::try_from(t.f_to_kind(tch::Kind::Int64)?.f_to_device(Device::Cpu)?)?;
            indices.insert(i, v);
        }
    }
    if indices.is_empty() {
        return Ok((tensors, false));
    }
    let total = indices.values().flatten().max().map_or(0, |m| m + 1);
    let mut place: BTreeMap<usize, (i64, usize)> = BTreeMap::new();
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for (&i, idx) in &indices {
        let g = match idx.first() {
            Some(&first) if (idx.len() as i64) < total => first,
            _ => 0,
        };
        let k = counts.entry(g).or_default();
        place.insert(i, (g, *k));
        *k += 1;
    }
    let mut out = Vec::with_capacity(tensors.len());
    for (key, t) in tensors {
        let parsed = key
            .split_once('.')
            .and_then(|(segment, rest)| item(segment).map(|(i, name)| (i, name, rest)));
        let Some((i, name, rest)) = parsed else {
            return Err(Error::Params {
                op: OP,
                key,
                problem: "is not under an item of the PatchSequential's list (\"{i}:{name}.\")"
                    .into(),
            });
        };
        let Some(&(g, k)) = place.get(&i) else {
            return Err(Error::Params {
                op: OP,
                key,
                problem: "belongs to an item without patch_indices, beside items with them \
                          (a PatchSequential's items all have them)"
                    .into(),
            });
        };
        if rest != "patch_indices" {
            out.push((format!("{g}:Patches_{g}.{k}:{name}.{rest}"), t));
        }
    }
    Ok((out, true))
}

impl Params {
    /// Kornia's params of one call, as `kornia_params(aug._params)` flattens them
    /// (docs/kornia-params.md): a step's tensors under their own keys, the `i`-th item of a
    /// container's list under `"{i}:{item.name}."`. They become this crate's layout: the
    /// `i`-th applied step's entries under `"{i}."`, the children Kornia applied (the index
    /// ending each item's name) as a container's `selection`, and a preset's applied
    /// sub-policies (`PolicySequential_k`) as its `choice`; a `PatchSequential`'s items (with
    /// their `patch_indices`) grouped by the patches they apply to, group `g`'s `k`-th item
    /// under `"{g}.{k}."` and its children under `"{g}.selection"`. Tensors are taken as
    /// they are (moved to `device`), so a replay sees Kornia's values bit for bit.
    ///
    /// # Errors
    /// [`Error::Params`] for a list whose positions are not 0, 1, 2, ... or an item whose name
    /// does not end in its child index, or two names for one position.
    pub fn from_kornia(
        tensors: impl IntoIterator<Item = (String, Tensor)>,
        device: Device,
    ) -> Result<Params> {
        let bad = |key: &str, problem: String| Error::Params {
            op: OP,
            key: key.to_string(),
            problem,
        };
        let (tensors, patches) = regroup_patches(tensors.into_iter().collect())?;
        let mut out = Params::new();
        let mut levels: BTreeMap<String, Level> = BTreeMap::new();
        for (key, t) in tensors {
            let mut ours = String::new();
            let mut rest = key.as_str();
            let mut parent: Option<&str> = None;
            while let Some((i, name, tail)) = rest
                .split_once('.')
                .and_then(|(segment, tail)| item(segment).map(|(i, name)| (i, name, tail)))
            {
                rest = tail;
                let level = levels.entry(ours.clone()).or_default();
                level.parent = parent.map(String::from);
                match level.names.insert(i, name.to_string()) {
                    Some(other) if other != name => {
                        return Err(bad(
                            &key,
                            format!("names item {i} {name}, where another key names it {other}"),
                        ))
                    }
                    _ => {}
                }
                ours.push_str(&format!("{i}."));
                parent = Some(name);
            }
            out.insert(format!("{ours}{rest}"), t.to_device(device));
        }
        for (prefix, level) in &levels {
            let positions: Vec<usize> = level.names.keys().copied().collect();
            if positions != (0..positions.len()).collect::<Vec<_>>() {
                return Err(bad(
                    prefix,
                    format!(
                        "lists items at positions {positions:?}; Kornia's lists count 0, 1, 2, ..."
                    ),
                ));
            }
            // A sub-policy's ops all run: no selection to record.
            if level
                .parent
                .as_deref()
                .is_some_and(|p| p.starts_with("PolicySequential"))
            {
                continue;
            }
            let indices = level
                .names
                .values()
                .map(|name| {
                    child_index(name).ok_or_else(|| {
                        bad(
                            prefix,
                            format!("has the item {name}, whose name does not end in its child index (Name_3)"),
                        )
                    })
                })
                .collect::<Result<Vec<i64>>>()?;
            let policies = level
                .names
                .values()
                .all(|n| n.starts_with("PolicySequential"));
            let key = if policies { "choice" } else { "selection" };
            // CPU int64, where Kornia draws it and the containers read it.
            out.insert(format!("{prefix}{key}"), Tensor::from_slice(&indices));
        }
        if patches {
            // The groups are the patches', not children a container picked.
            out.remove("selection");
        }
        Ok(out)
    }

    /// [`Params::from_kornia`] of a safetensors file that `kornia_params(aug._params)` was
    /// saved to (docs/kornia-params.md), every key read (`prefix` selects those under a
    /// prefix and removes it, as in a file that holds more than the params).
    ///
    /// # Errors
    /// [`Error::Torch`] for a file that is not safetensors; as [`Params::from_kornia`].
    pub fn load_kornia(path: impl AsRef<Path>, prefix: &str, device: Device) -> Result<Params> {
        let tensors = Tensor::read_safetensors(path)?
            .into_iter()
            .filter_map(|(k, t)| k.strip_prefix(prefix).map(|k| (k.to_string(), t)));
        Params::from_kornia(tensors, device)
    }
}
