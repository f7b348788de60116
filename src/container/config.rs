//! The configuration of a [`super::Sequential`]: which steps, how many apply per call, and
//! how annotations are carried; JSON as a plain list of steps or an object.

use crate::annotations::AnnotationOptions;
use crate::AugSpec;
use serde::{Deserialize, Serialize};

/// How many steps a [`Sequential`](super::Sequential) applies per call (Kornia's `random_apply`). The
/// selection is one draw per call for the whole batch, from torch's CPU generator as
/// Kornia draws it, recorded in the params under `selection` and replayed from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RandomApply {
    /// Every step, in order (Kornia's `False`); nothing is drawn.
    #[default]
    Off,
    /// Every step, in a random order (Kornia's `True`).
    All,
    /// Exactly `k` steps drawn by weight (Kornia's int `k`; `k = 1` is `OneOf`).
    Exactly(i64),
    /// Between `lo` and `hi` steps, both included (Kornia's `(lo, hi)`; Albumentations'
    /// `SomeOf`).
    Between(i64, i64),
    /// At least `lo` steps, up to all of them (Kornia's `(lo,)`).
    AtLeast(i64),
}

/// Kornia's data keys (`AugmentationSequential(..., data_keys=[...])`): what each tensor of a
/// keyed call ([`Sequential::f_call`](super::Sequential::f_call)) is, in order. The image
/// comes first; each other key at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKey {
    /// The image (B,C,H,W) or (C,H,W) (Kornia's `input`, or `image`).
    Input,
    /// Masks, warped with the image by the geometric steps (Kornia's `mask`).
    Mask,
    /// Boxes `[x1, y1, x2, y2]`, corners inclusive (Kornia's `bbox_xyxy`).
    BboxXyxy,
    /// Boxes `[x, y, w, h]`, `x2 = x + w - 1` (Kornia's `bbox_xywh`).
    BboxXywh,
    /// Boxes as their four vertices (B,N,4,2) or (N,4,2), top-left, top-right,
    /// bottom-right, bottom-left, inclusive (Kornia's `bbox`, its `vertices_plus` form): read
    /// as the box around them, given back as the vertices of the output box (Kornia's
    /// export: the box around the warped vertices).
    Bbox,
    /// Keypoints (B,N,2) or (N,2), `(x, y)` in pixels (Kornia's `keypoints`).
    Keypoints,
    /// Class labels, mixed by MixUp and CutMix and unchanged by every other step (Kornia's
    /// `label`, or `class`).
    Label,
}

impl DataKey {
    /// The names Kornia takes, case-insensitive: `input` (`image`), `mask`, `bbox`,
    /// `bbox_xyxy`, `bbox_xywh`, `keypoints`, `label` (`class`).
    pub const KORNIA_NAMES: &'static str =
        "input (or image), mask, bbox, bbox_xyxy, bbox_xywh, keypoints, label (or class)";

    /// The key of Kornia's name `name` (case-insensitive, as Kornia reads it).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a name Kornia does not have, listing the ones it does.
    pub fn from_kornia(name: &str) -> crate::Result<DataKey> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "input" | "image" => DataKey::Input,
            "mask" => DataKey::Mask,
            "bbox" => DataKey::Bbox,
            "bbox_xyxy" => DataKey::BboxXyxy,
            "bbox_xywh" => DataKey::BboxXywh,
            "keypoints" => DataKey::Keypoints,
            "label" | "class" => DataKey::Label,
            _ => {
                return Err(crate::checks::config(
                    "DataKey::from_kornia",
                    "data_keys",
                    format!("{name:?}"),
                    format!("one of Kornia's data keys: {}", DataKey::KORNIA_NAMES),
                ))
            }
        })
    }

    /// Kornia's name of the key.
    pub fn kornia_name(self) -> &'static str {
        match self {
            DataKey::Input => "input",
            DataKey::Mask => "mask",
            DataKey::BboxXyxy => "bbox_xyxy",
            DataKey::BboxXywh => "bbox_xywh",
            DataKey::Bbox => "bbox",
            DataKey::Keypoints => "keypoints",
            DataKey::Label => "label",
        }
    }
}

/// Configuration of a [`Sequential`](super::Sequential).
///
/// In JSON it is either a plain list of steps (every option at its default) or an object
/// with `steps` and the options.
#[derive(Debug, PartialEq, Default)]
pub struct SequentialConfig {
    /// The steps.
    pub steps: Vec<AugSpec>,
    /// How many steps apply per call.
    pub random_apply: RandomApply,
    /// Selection weights, one per step, >= 0 (default: all 1).
    pub random_apply_weights: Option<Vec<f64>>,
    /// When set, overrides every step's `same_on_batch` (nested containers included), as
    /// Kornia's container flag.
    pub same_on_batch: Option<bool>,
    /// Compose consecutive matrix steps into one transform and resample the image (and
    /// masks) once, with the first step's sampling. Off by default, so that outputs stay
    /// equal to Kornia's; on, a chain of warps blurs once instead of once per step.
    pub fuse_geometry: bool,
    /// Fast mode for colour: fold each run of consecutive colour steps (ColorJitter,
    /// Normalize, Denormalize, RandomGrayscale) into one per-sample affine map of the
    /// channels and one clamp, applied in one pass. Off by default: it drops the clamps
    /// between colour steps and rotates hue about the gray axis instead of in HSV (the
    /// pipelines guide, docs/pipelines.md, gives the deviation from Kornia); the result stays
    /// differentiable.
    pub fuse_color: bool,
    /// How masks, boxes and keypoints are carried.
    pub annotations: AnnotationOptions,
    /// Kornia's `data_keys`: what the tensors of a keyed call
    /// ([`Sequential::f_call`](super::Sequential::f_call)) are, in order (`None`: the image
    /// only). `AugSpec::from_kornia` sets them from Kornia's argument.
    pub data_keys: Option<Vec<DataKey>>,
}

impl SequentialConfig {
    /// Steps in order, every option at its default.
    pub fn new(steps: impl Into<Vec<AugSpec>>) -> SequentialConfig {
        SequentialConfig {
            steps: steps.into(),
            ..Default::default()
        }
    }

    /// One of the steps, drawn by `weights` (uniform when `None`).
    pub fn one_of(steps: impl Into<Vec<AugSpec>>, weights: Option<Vec<f64>>) -> SequentialConfig {
        SequentialConfig {
            random_apply: RandomApply::Exactly(1),
            random_apply_weights: weights,
            ..SequentialConfig::new(steps)
        }
    }

    /// Steps in order in the fast mode: consecutive warps fused into one
    /// (`fuse_geometry`) and consecutive colour steps into one pass (`fuse_color`).
    pub fn fast(steps: impl Into<Vec<AugSpec>>) -> SequentialConfig {
        SequentialConfig {
            fuse_geometry: true,
            fuse_color: true,
            ..SequentialConfig::new(steps)
        }
    }

    /// Between `lo` and `hi` of the steps (both included), in a random order.
    pub fn some_of(steps: impl Into<Vec<AugSpec>>, lo: i64, hi: i64) -> SequentialConfig {
        SequentialConfig {
            random_apply: RandomApply::Between(lo, hi),
            ..SequentialConfig::new(steps)
        }
    }

    fn is_plain(&self) -> bool {
        *self == SequentialConfig::new(self.steps.clone())
    }
}

/// Cloned without recursion: a spec nested deeper than the stack allows (100,000 levels
/// built in Rust) still clones, so that [`super::Sequential::new`] can take it by reference
/// and refuse it with an error instead of overflowing the stack in the clone.
impl Clone for SequentialConfig {
    fn clone(&self) -> Self {
        // The options of `c` around already cloned `steps`.
        let shell = |c: &SequentialConfig, steps: Vec<AugSpec>| SequentialConfig {
            steps,
            random_apply: c.random_apply,
            random_apply_weights: c.random_apply_weights.clone(),
            same_on_batch: c.same_on_batch,
            fuse_geometry: c.fuse_geometry,
            fuse_color: c.fuse_color,
            annotations: c.annotations.clone(),
            data_keys: c.data_keys.clone(),
        };
        // Depth first: each frame is a container, the index of its next step and its
        // steps cloned so far; a finished container is pushed into its parent's.
        let mut stack: Vec<(&SequentialConfig, usize, Vec<AugSpec>)> =
            vec![(self, 0, Vec::with_capacity(self.steps.len()))];
        let mut root = None;
        while let Some(top) = stack.last_mut() {
            let cfg: &SequentialConfig = top.0;
            if let Some(step) = cfg.steps.get(top.1) {
                top.1 += 1;
                match step {
                    AugSpec::Sequential(inner) => {
                        stack.push((inner, 0, Vec::with_capacity(inner.steps.len())))
                    }
                    // Not a container: its derived clone does not recurse.
                    other => top.2.push(other.clone()),
                }
            } else if let Some((cfg, _, steps)) = stack.pop() {
                let done = shell(cfg, steps);
                match stack.last_mut() {
                    Some(parent) => parent.2.push(AugSpec::Sequential(done)),
                    None => root = Some(done),
                }
            }
        }
        // The loop ends when the root's frame is popped, which sets `root`.
        root.unwrap_or_default()
    }
}

impl From<Vec<AugSpec>> for SequentialConfig {
    fn from(steps: Vec<AugSpec>) -> Self {
        SequentialConfig::new(steps)
    }
}

impl From<&[AugSpec]> for SequentialConfig {
    fn from(steps: &[AugSpec]) -> Self {
        SequentialConfig::new(steps.to_vec())
    }
}

impl From<&Vec<AugSpec>> for SequentialConfig {
    fn from(steps: &Vec<AugSpec>) -> Self {
        SequentialConfig::new(steps.clone())
    }
}

impl<const N: usize> From<&[AugSpec; N]> for SequentialConfig {
    fn from(steps: &[AugSpec; N]) -> Self {
        SequentialConfig::new(steps.to_vec())
    }
}

impl<const N: usize> From<[AugSpec; N]> for SequentialConfig {
    fn from(steps: [AugSpec; N]) -> Self {
        SequentialConfig::new(steps.to_vec())
    }
}

/// The object form of [`SequentialConfig`] in JSON.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigObject {
    steps: Vec<AugSpec>,
    #[serde(default, skip_serializing_if = "is_default")]
    random_apply: RandomApply,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    random_apply_weights: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    same_on_batch: Option<bool>,
    #[serde(default, skip_serializing_if = "is_default")]
    fuse_geometry: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    fuse_color: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    annotations: AnnotationOptions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_keys: Option<Vec<DataKey>>,
}

fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

impl Serialize for SequentialConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.is_plain() {
            return self.steps.serialize(s);
        }
        ConfigObject {
            steps: self.steps.clone(),
            random_apply: self.random_apply,
            random_apply_weights: self.random_apply_weights.clone(),
            same_on_batch: self.same_on_batch,
            fuse_geometry: self.fuse_geometry,
            fuse_color: self.fuse_color,
            annotations: self.annotations.clone(),
            data_keys: self.data_keys.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SequentialConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        // Read the form first, so that a bad step gets serde's precise message.
        let value = serde_json::Value::deserialize(d)?;
        if value.is_array() {
            let steps: Vec<AugSpec> = serde_json::from_value(value).map_err(D::Error::custom)?;
            return Ok(SequentialConfig::new(steps));
        }
        let o: ConfigObject = serde_json::from_value(value).map_err(D::Error::custom)?;
        Ok(SequentialConfig {
            steps: o.steps,
            random_apply: o.random_apply,
            random_apply_weights: o.random_apply_weights,
            same_on_batch: o.same_on_batch,
            fuse_geometry: o.fuse_geometry,
            fuse_color: o.fuse_color,
            annotations: o.annotations,
            data_keys: o.data_keys,
        })
    }
}
