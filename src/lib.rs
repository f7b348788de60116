//! # tch-dda: differentiable data augmentation for tch-rs
//!
//! Augmentations as layers of the computation graph, on libtorch through
//! [tch](https://docs.rs/tch), numerically equal to Kornia 0.9's `kornia.augmentation`:
//!
//! - every augmentation is a [`tch::nn::Module`] built from libtorch ops, batched, running
//!   on the input's device, differentiable with respect to its input;
//! - magnitude ranges can be learnable variables of an [`nn::VarStore`](tch::nn::VarStore)
//!   (reparameterised sampling), optimised by `nn::Adam`;
//! - randomness comes from torch's RNG (`tch::manual_seed`), one batched draw per quantity,
//!   and sampled [`Params`] (Kornia's keys) can be saved, loaded and replayed;
//! - pipelines ([`Sequential`]) save their structure as JSON and their state in the
//!   `VarStore`.
//! - volumes (B,C,D,H,W) have their own family ([`volume`]: 3D affine, rotation,
//!   perspective, flips, crops, motion blur, equalize) with 4×4 matrices;
//! - [`RandomMixUp`] and [`RandomCutMix`] mix labels with images ([`MixAugmentation`]), and
//!   [`mix_cross_entropy`] turns their label tensors into a loss.
//! - the auto-augment presets ([`AutoAugment`], [`RandAugment`], [`TrivialAugment`]) equal
//!   Kornia's, and [`auto::search`] is Faster AutoAugment's differentiable policy search.
//!
//! ```no_run
//! use tch::{nn, nn::Module, Device, Kind, Tensor};
//! use tch_dda::{ColorJitter, JitterConfig, RandomAffine, RandomAffineConfig};
//!
//! let vs = nn::VarStore::new(Device::Cpu);
//! let affine = RandomAffine::new(
//!     &(vs.root() / "affine"),
//!     RandomAffineConfig { degrees: (-30.0, 30.0), p: 1.0, ..Default::default() },
//! ).unwrap();
//! let jitter = ColorJitter::new(&(vs.root() / "jitter"), JitterConfig::new(0.2, 0.3, 0.2, 0.3)).unwrap();
//! let model = nn::seq().add(affine).add(jitter);
//! let x = Tensor::rand([8, 3, 64, 64], (Kind::Float, Device::Cpu));
//! let y = model.forward(&x);
//! assert_eq!(y.size(), x.size());
//! ```
#![deny(missing_docs)]

/// The README's code blocks, run as doctests so that the README compiles as written.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The guides' code blocks (docs/), run as doctests likewise.
#[cfg(doctest)]
#[doc = include_str!("../docs/pipelines.md")]
pub struct PipelinesGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/operators.md")]
pub struct OperatorsGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/learning.md")]
pub struct LearningGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/reliability.md")]
pub struct ReliabilityGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/kornia-params.md")]
pub struct KorniaParamsGuideDoctests;

mod alloc;
mod annotations;
mod augmentation;
pub mod auto;
mod checks;
mod color_map;
mod container;
pub mod draw;
mod error;
mod filter;
pub mod geometric;
mod geometry;
pub mod intensity;
mod kernels;
mod kornia;
mod labels;
pub mod mix;
mod ops;
mod params;
mod range;
mod registry;
mod rng;
mod state;
pub mod volume;
mod warp;

pub use alloc::tune_cpu_allocator;
pub use annotations::{
    AnnotationOptions, Batch, BoxFormat, BoxMode, BoxSize, Boxes, Keypoints, MaskSampling,
    MixedLabels,
};
pub use augmentation::{Augmentation, AugmentationExt, Role, TrainOnly};
pub use auto::{
    rand_augment_policy, trivial_augment_policy, AugMix, AugMixConfig, AutoAugment,
    AutoAugmentConfig, AutoPolicy, NamedPolicy, OpRange, PolicyEntry, PolicyOp, RandAugment,
    RandAugmentConfig, TrivialAugment, TrivialAugmentConfig, AUGMIX_OPS,
};
pub use checks::MAX_TENSOR_BYTES;
pub use container::{
    DataKey, ManyToMany, ManyToOne, PatchConfig, PatchPadding, PatchSequential, RandomApply,
    Sequential, SequentialConfig, VideoConfig, VideoFormat, VideoSequential, MAX_APPLIED,
    MAX_NESTING,
};
pub use error::{Error, Result};
pub use filter::Border;
pub use geometric::*;
pub use geometry::{box_corners, enclosure, DenseField, Geometry, Transform, TransformClass};
pub use intensity::*;
pub use kernels::{
    cpu_kernels_isa, fused_cpu_kernels, kernel_path_scope, set_fused_cpu_kernels, KernelPath,
    KernelPathScope,
};
pub use mix::*;
pub use params::{GateParams, Params};
pub use range::{Learnable, Range};
pub use registry::{register_augmentation, AugSpec, CustomConstructor, CustomSpec, Reference};
pub use rng::Generator;
/// serde_json, for [`AugSpec::from_kornia`]'s keyword arguments (`tch_dda::serde_json::json!`).
pub use serde_json;
pub use state::{load_var_store, STRUCTURE_KEY};
pub use volume::*;
pub use warp::{Padding, Resample, Sampling};

/// The glob import for users: every type, trait and function of the crate but its
/// `Result` and `Error` aliases, so that `use tch_dda::prelude::*;` sits next to
/// `fn main() -> Result<(), Box<dyn std::error::Error>>` (the crate's own are
/// `tch_dda::Result` and `tch_dda::Error`).
pub mod prelude {
    pub use crate::alloc::tune_cpu_allocator;
    pub use crate::annotations::{
        AnnotationOptions, Batch, BoxFormat, BoxMode, BoxSize, Boxes, Keypoints, MaskSampling,
        MixedLabels,
    };
    pub use crate::augmentation::{Augmentation, AugmentationExt, Role, TrainOnly};
    pub use crate::auto::{
        rand_augment_policy, trivial_augment_policy, AugMix, AugMixConfig, AutoAugment,
        AutoAugmentConfig, AutoPolicy, NamedPolicy, OpRange, PolicyEntry, PolicyOp, RandAugment,
        RandAugmentConfig, TrivialAugment, TrivialAugmentConfig, AUGMIX_OPS,
    };
    pub use crate::container::{
        DataKey, ManyToMany, ManyToOne, PatchConfig, PatchPadding, PatchSequential, RandomApply,
        Sequential, SequentialConfig, VideoConfig, VideoFormat, VideoSequential,
    };
    pub use crate::filter::Border;
    pub use crate::geometric::*;
    pub use crate::geometry::{
        box_corners, enclosure, DenseField, Geometry, Transform, TransformClass,
    };
    pub use crate::intensity::*;
    pub use crate::mix::{
        mix_cross_entropy, soft_targets, CutMixConfig, LambdaWeight, MixAugmentation, MixUpConfig,
        RandomCutMix, RandomMixUp,
    };
    pub use crate::params::{GateParams, Params};
    pub use crate::range::{Learnable, Range};
    pub use crate::registry::{register_augmentation, AugSpec, CustomConstructor, CustomSpec};
    pub use crate::rng::Generator;
    pub use crate::state::load_var_store;
    pub use crate::volume::*;
    pub use crate::warp::{Padding, Resample, Sampling};
}
