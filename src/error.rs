//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong when configuring or running an augmentation.
///
/// Every message says what was given and what is allowed.
#[derive(Debug, Error)]
pub enum Error {
    /// The input tensor has a rank the operation does not accept.
    #[error("{op}: expected an input of rank {expected}, got shape {shape:?}")]
    Rank {
        /// Operation that rejected the input.
        op: &'static str,
        /// Accepted ranks, in words (e.g. "3 (C,H,W) or 4 (B,C,H,W)").
        expected: &'static str,
        /// Shape of the rejected input.
        shape: Vec<i64>,
    },
    /// The input has a number of channels the operation cannot handle.
    #[error("{op}: got {got} channels (input shape {shape:?}); allowed: {expected}")]
    Channels {
        /// Operation that rejected the input.
        op: &'static str,
        /// Accepted channel counts, in words.
        expected: String,
        /// Channel count of the input.
        got: i64,
        /// Shape of the rejected input.
        shape: Vec<i64>,
    },
    /// The input tensor is not floating point.
    #[error("{op}: expected a floating point input (float32 or float64), got {kind:?}; convert it first, e.g. `x.to_kind(Kind::Float) / 255.0` for uint8 images in [0, 255]")]
    Dtype {
        /// Operation that rejected the input.
        op: &'static str,
        /// Kind of the rejected input.
        kind: tch::Kind,
    },
    /// The input has an empty batch or a zero-sized dimension.
    #[error("{op}: expected a non-empty input with H, W >= 1 and batch >= 1, got shape {shape:?}")]
    Empty {
        /// Operation that rejected the input.
        op: &'static str,
        /// Shape of the rejected input.
        shape: Vec<i64>,
    },
    /// A requested output or crop size does not fit the input.
    #[error("{op}: {what} {size:?} does not fit the input of spatial size {input:?}; {allowed}")]
    Size {
        /// Operation that rejected the size.
        op: &'static str,
        /// Which size (e.g. "crop size").
        what: &'static str,
        /// The size given: (height, width), or (depth, height, width) for volumes.
        size: Vec<i64>,
        /// The input's spatial size, in the same order.
        input: Vec<i64>,
        /// What is allowed, in words.
        allowed: &'static str,
    },
    /// A configuration value is out of its allowed domain.
    #[error("{op}: {name} = {value} is invalid; allowed: {allowed}")]
    Config {
        /// Operation whose configuration is invalid.
        op: &'static str,
        /// Name of the field (Kornia's argument name).
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// What is allowed, in words.
        allowed: String,
    },
    /// A parameter map lacks a key or holds a tensor of the wrong shape.
    #[error("{op}: parameter `{key}` {problem}")]
    Params {
        /// Operation that read the parameters.
        op: &'static str,
        /// The parameter key (Kornia's name).
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Labels given to a mixing augmentation (or its loss) have the wrong shape or kind.
    #[error("{op}: labels {problem}")]
    Labels {
        /// Operation that rejected the labels.
        op: &'static str,
        /// What is wrong with them, and what is expected.
        problem: String,
    },
    /// The operation has no inverse (e.g. an intensity transform), or a matrix is singular.
    #[error("{op} is not invertible: {why}")]
    NotInvertible {
        /// The operation asked for an inverse.
        op: &'static str,
        /// Why, in words.
        why: String,
    },
    /// The geometry of the operation is a dense displacement field, where a matrix was asked
    /// for.
    #[error("{op} warps with a dense displacement field, not a matrix; use f_geometry for its Geometry::Dense")]
    NotAMatrix {
        /// The operation.
        op: &'static str,
    },
    /// A transform, field or point set has the wrong shape, or two cannot be composed.
    #[error("{what} {problem}")]
    Geometry {
        /// What was given (e.g. "points").
        what: &'static str,
        /// What is wrong with it, and what is expected.
        problem: String,
    },
    /// An annotation given with an image (mask, boxes, keypoints, labels) does not fit it,
    /// or cannot go through a step of the pipeline.
    #[error("{op}: {what} {problem}")]
    Annotation {
        /// The operation (or pipeline) that rejected it.
        op: &'static str,
        /// Which annotation ("mask", "boxes", "keypoints", "labels", "class_ids").
        what: &'static str,
        /// What is wrong, and what is expected.
        problem: String,
    },
    /// Replayed params turn a finite input of image magnitude (|x| <= 1e3) into a
    /// non-finite output (a zero scale, a singular matrix, a factor that overflows);
    /// checked for inputs on the CPU.
    #[error(
        "{op}: the replayed params give a non-finite output for the finite sample(s) {samples:?}"
    )]
    NonFinite {
        /// The operation.
        op: &'static str,
        /// The batch indices of the samples.
        samples: Vec<i64>,
    },
    /// A [`crate::Generator`] could not draw (a device other than the CPU or CUDA, CUDA
    /// without its libraries, or a state libtorch refuses).
    #[error("generator: {0}")]
    Rng(String),
    /// A state file does not fit what it is loaded into (names, shapes, dtypes, values);
    /// nothing was changed.
    #[error("{file}: {problem}; nothing was loaded")]
    State {
        /// The file.
        file: String,
        /// What does not fit, and what was expected.
        problem: String,
    },
    /// A pipeline description (JSON) could not be read or written.
    #[error("pipeline JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An I/O error while saving or loading.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A shape whose element count overflows, or whose tensor would be larger than any
    /// machine's memory (more than [`crate::MAX_TENSOR_BYTES`] at 8 bytes an element), asked
    /// for before anything is allocated.
    #[error("{op}: {what} {shape:?} is too large: {elements} elements; at most {max} elements (2^48 bytes at 8 bytes each)", max = crate::MAX_TENSOR_BYTES / 8)]
    TooLarge {
        /// The operation.
        op: &'static str,
        /// What has the shape (`input_shape`, an output size).
        what: &'static str,
        /// The shape asked for.
        shape: Vec<i64>,
        /// Its element count, in words ("more than 2^63" when it overflows).
        elements: String,
    },
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// The value, or a panic whose message is the error's `Display` (what the panicking forms
/// and `Module::forward` do with an error, so that a panic reads as the typed error says).
pub(crate) fn or_panic<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}
