//! Validation of inputs and configurations, in one place.
//!
//! Every check returns a typed [`Error`] that names what was given and what is allowed.
//! None of them reads tensor values, so none synchronises with the device.

use crate::{Error, Result};
use tch::{Kind, Tensor};

/// An image batch (B,C,H,W), and whether the caller gave (C,H,W).
pub(crate) struct Batched {
    pub x: Tensor,
    pub unbatched: bool,
}

impl Batched {
    /// Restores the caller's layout: drops the batch dimension added for a (C,H,W) input.
    pub fn restore(&self, out: Tensor) -> Tensor {
        if self.unbatched {
            out.squeeze_dim(0)
        } else {
            out
        }
    }
}

/// The accepted ranks, in words, for inputs with `spatial` spatial dimensions (2 or 3).
pub(crate) fn ranks(spatial: usize) -> &'static str {
    if spatial == 3 {
        "4 (C,D,H,W) or 5 (B,C,D,H,W)"
    } else {
        "3 (C,H,W) or 4 (B,C,H,W)"
    }
}

/// Accepts an unbatched or batched floating point input with `spatial` spatial dimensions
/// (2: images, 3: volumes) and no zero-sized dimension.
pub(crate) fn input(op: &'static str, x: &Tensor, spatial: usize) -> Result<Batched> {
    let shape = x.size();
    let unbatched = if shape.len() == spatial + 1 {
        true
    } else if shape.len() == spatial + 2 {
        false
    } else {
        return Err(Error::Rank {
            op,
            expected: ranks(spatial),
            shape,
        });
    };
    float_kind(op, x.kind())?;
    if shape.contains(&0) {
        return Err(Error::Empty { op, shape });
    }
    let x = if unbatched {
        x.unsqueeze(0)
    } else {
        x.shallow_clone()
    };
    Ok(Batched { x, unbatched })
}

/// The largest tensor a shape may ask for, in bytes at 8 bytes an element: 2^48 (256 TiB),
/// past the memory of any machine, so that a larger size is refused before libtorch is
/// asked for it (an allocator that overcommits would otherwise accept it and then fault
/// the pages in one by one).
pub const MAX_TENSOR_BYTES: i64 = 1 << 48;

/// Refuses a shape whose element count overflows or whose tensor would exceed
/// [`MAX_TENSOR_BYTES`]; nothing is allocated.
pub(crate) fn fits(op: &'static str, what: &'static str, shape: &[i64]) -> Result<()> {
    let elements = shape.iter().try_fold(1i64, |n, &s| n.checked_mul(s.max(0)));
    match elements {
        Some(n) if n <= MAX_TENSOR_BYTES / 8 => Ok(()),
        n => Err(Error::TooLarge {
            op,
            what,
            shape: shape.to_vec(),
            elements: n.map_or_else(|| "more than 2^63".to_string(), |n| n.to_string()),
        }),
    }
}

/// Checks a batched `shape` that an inverse or a matrix is asked for against the params it
/// goes with: the batch of every `batch_prob` and of `output` (when there is one), and the
/// input shape the forward pass recorded (`forward_input_shape`, of the first applied step at
/// every level of containers; read only where it is on the CPU, so nothing waits for a
/// device): the same rank, batch and channels, and spatial sizes at least the asked ones (a
/// crop that pads records its padded input, as Kornia does, so a record may be larger).
pub(crate) fn against_params(
    op: &'static str,
    params: &crate::Params,
    shape: &[i64],
    output: Option<&[i64]>,
) -> Result<()> {
    let batch = shape[0];
    let mismatch = |key: &str, problem: String| {
        Err(Error::Params {
            op,
            key: key.to_string(),
            problem,
        })
    };
    params_batch(op, params, shape)?;
    for (key, t) in params.iter() {
        let first_step = key
            .strip_suffix("forward_input_shape")
            .is_some_and(|prefix| prefix.split_terminator('.').all(|s| s == "0"));
        if first_step && t.device() == tch::Device::Cpu && t.kind() == Kind::Int64 {
            let recorded = Vec::<i64>::try_from(t.reshape([-1]))?;
            let fits = recorded.len() == shape.len()
                && recorded[..2] == shape[..2]
                && recorded[2..].iter().zip(&shape[2..]).all(|(r, s)| r >= s);
            if !fits {
                return mismatch(
                    key,
                    format!(
                        "records the forward pass's input {recorded:?}; input_shape {shape:?} \
                         differs in rank, batch or channels, or is larger"
                    ),
                );
            }
        }
    }
    if let Some(out) = output {
        if out.first() != Some(&batch) {
            return mismatch(
                "batch_prob",
                format!(
                    "is for a batch of {batch} (input_shape {shape:?}); the output to invert \
                     has shape {out:?}"
                ),
            );
        }
    }
    Ok(())
}

/// The gates of `params` (`batch_prob`, at every level of containers) are for the batch of
/// `shape`: params drawn for another batch are refused, not broadcast or ignored. Shapes
/// only: nothing is read from a device.
pub(crate) fn params_batch(op: &'static str, params: &crate::Params, shape: &[i64]) -> Result<()> {
    for (key, t) in params.iter() {
        if key == "batch_prob" || key.ends_with(".batch_prob") {
            let size = t.size();
            if size != [shape[0]] {
                return Err(Error::Params {
                    op,
                    key: key.to_string(),
                    problem: format!(
                        "has shape {size:?}: drawn for another batch than {} (shape {shape:?})",
                        shape[0]
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Only float32 and float64 are supported.
pub(crate) fn float_kind(op: &'static str, kind: Kind) -> Result<()> {
    match kind {
        Kind::Float | Kind::Double => Ok(()),
        kind => Err(Error::Dtype { op, kind }),
    }
}

/// Checks the channel count of a (B,C,H,W) shape against a list of allowed counts.
pub(crate) fn channels(
    op: &'static str,
    shape: &[i64],
    allowed: &[i64],
    expected: &'static str,
) -> Result<()> {
    let c = shape[1];
    if allowed.contains(&c) {
        Ok(())
    } else {
        Err(Error::Channels {
            op,
            expected: expected.to_string(),
            got: c,
            shape: shape.to_vec(),
        })
    }
}

/// A probability in [0, 1].
pub(crate) fn probability(op: &'static str, name: &'static str, p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(config(op, name, p, "a probability in [0, 1]"))
    }
}

/// The largest magnitude of an otherwise unbounded range (a factor, a shift, a blur
/// sigma): times an image value of magnitude up to 1e3 it stays finite in float32.
pub(crate) const MAGNITUDE: f64 = 1e30;

/// The domain of a scale factor (affine scale, 2D and 3D): its inverse and the sampling
/// grid stay finite.
pub(crate) const SCALE_DOMAIN: (f64, f64) = (1e-4, 1e4);

/// A bound as written in messages (exponent notation for large ones).
fn bound(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Whether `v` stays finite in float32, the kind ranges and params are drawn in.
pub(crate) fn f32_finite(v: f64) -> bool {
    v.is_finite() && (v as f32).is_finite()
}

/// Whether `v` is a positive normal float32 (a divisor or scale that does not vanish).
pub(crate) fn f32_positive(v: f64) -> bool {
    f32_finite(v) && (v as f32) >= f32::MIN_POSITIVE
}

/// A range (lo, hi) with lo <= hi inside [min, max], finite in float32 (the kind it is
/// drawn in); a `min` of `f64::MIN_POSITIVE` means positive in float32 (at least its
/// smallest normal, so that it neither vanishes nor overflows what divides by it).
pub(crate) fn range(
    op: &'static str,
    name: &'static str,
    (lo, hi): (f64, f64),
    (min, max): (f64, f64),
) -> Result<()> {
    let positive = min == f64::MIN_POSITIVE;
    let in_f32 = f32_finite(lo) && f32_finite(hi) && (!positive || f32_positive(lo));
    if in_f32 && lo <= hi && lo >= min && hi <= max {
        return Ok(());
    }
    let low = if positive {
        "0 < lo".to_string()
    } else {
        format!("{} <= lo", bound(min))
    };
    let high = if max == f64::MAX {
        String::new()
    } else {
        format!(" <= {}", bound(max))
    };
    Err(Error::Config {
        op,
        name,
        value: format!("({lo}, {hi})"),
        allowed: format!("finite (lo, hi) with {low} <= hi{high}, as float32"),
    })
}

/// A positive (height, width).
pub(crate) fn size(op: &'static str, name: &'static str, (h, w): (i64, i64)) -> Result<()> {
    if h > 0 && w > 0 {
        Ok(())
    } else {
        Err(config(
            op,
            name,
            format!("({h}, {w})"),
            "a size (height, width) with both >= 1",
        ))
    }
}

/// Finite values (means, fills), as float32.
pub(crate) fn finite(op: &'static str, name: &'static str, values: &[f64]) -> Result<()> {
    if values.iter().all(|&v| f32_finite(v)) {
        Ok(())
    } else {
        Err(config(
            op,
            name,
            format!("{values:?}"),
            "finite numbers, as float32",
        ))
    }
}

/// Shorthand for an [`Error::Config`].
pub(crate) fn config(
    op: &'static str,
    name: &'static str,
    value: impl std::fmt::Display,
    allowed: impl Into<String>,
) -> Error {
    Error::Config {
        op,
        name,
        value: value.to_string(),
        allowed: allowed.into(),
    }
}
