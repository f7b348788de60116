//! The data crate's typed errors: each says what was given and what is allowed.

use std::path::PathBuf;

/// What can go wrong between a folder of files and a batch on the device.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's message.
        message: String,
    },
    /// A file is not an image this crate decodes (JPEG or PNG), or is corrupt or truncated.
    #[error("cannot decode {path}: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// An image is larger than `LoaderConfig::max_pixels` (a decompression bomb, or a
    /// photograph larger than the limit the user set); nothing was allocated for it.
    #[error(
        "{path} is {width}x{height} pixels, more than the limit of {limit} pixels \
         (LoaderConfig::max_pixels)"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its width, from its header.
        width: u32,
        /// Its height, from its header.
        height: u32,
        /// The limit in pixels.
        limit: u64,
    },
    /// A dataset description (folder tree, list file, COCO JSON) is not what the reader takes.
    #[error("{source_name}: {problem}")]
    Dataset {
        /// The folder or file read.
        source_name: String,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// A loader setting is out of its domain.
    #[error("LoaderConfig::{name} = {value} is invalid; allowed: {allowed}")]
    Config {
        /// The field.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// A saved loader state does not belong to this loader (another seed, dataset or shard).
    #[error("cannot resume from this state: {0}")]
    State(String),
    /// A decode worker panicked while decoding this batch; the others go on.
    #[error("a decode worker failed on batch {batch}: {message}")]
    Worker {
        /// The batch's number in the epoch.
        batch: usize,
        /// The panic's message.
        message: String,
    },
    /// A libtorch call failed.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// A tch-dda call failed (the shuffle's and the crops' generator).
    #[error(transparent)]
    Dda(#[from] tch_dda::Error),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
