//! # tch-dda-data: from a folder of images to augmented batches on the device
//!
//! The data pipeline a Rust training loop written with tch lacks: readers for an image
//! folder tree, a list file and COCO-style detection annotations, a loader that decodes JPEG and PNG files on worker threads
//! into uint8 `(B, 3, H, W)` batches (with the resizing or random-resized crop that has to
//! happen before batching), prefetches them and copies them to the device, where
//! [`tch_dda`]'s augmentations run in the graph.
//!
//! - **Determinism**: the order of an epoch is `randperm` from torch's RNG seeded with
//!   `seed + epoch` (PyTorch's `DistributedSampler`), and each batch's crop draws are seeded
//!   by `(seed, epoch, rank, batch)`: the same batches whatever the thread count, and after
//!   a [`Loader::resume`] from a saved [`LoaderState`].
//! - **Sharding**: rank `r` of `w` reads every `w`-th position of the shuffled order from
//!   `r` on; the shards partition the dataset.
//! - **Bad files**: corrupt, truncated, mislabelled, grayscale, 16-bit, alpha, CMYK, EXIF
//!   orientation, decompression bombs: decoded to RGB where they are images, otherwise a
//!   typed [`Error`] or a counted skip ([`OnError`]).
//!
//! See docs/data.md for the guide and the measurements behind the choices.

#![deny(missing_docs)]

mod dataset;
mod decode;
mod error;
mod loader;

pub use dataset::{Dataset, Object, Sample, IMAGE_EXTENSIONS};
pub use decode::{decode_image, decode_image_bytes, Resize, DEFAULT_MAX_PIXELS};
pub use error::{Error, Result};
pub use loader::{
    Epoch, EpochSummary, ImageBatch, Loader, LoaderConfig, LoaderState, Objects, OnError,
};

/// The guide's code blocks (docs/data.md), run as doctests so that it compiles as written.
#[cfg(doctest)]
#[doc = include_str!("../../docs/data.md")]
pub struct DataGuideDoctests;
