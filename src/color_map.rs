//! A colour step as a value: its per-sample affine map of the channels ([`ColorMap`]) and
//! what it may ask of the image it receives ([`ColorStats`]). The fast mode's fused colour
//! pass (the container's `color` module) composes them; colour operators give them.

use std::cell::OnceCell;
use tch::Tensor;

/// A colour step as a per-sample affine map, ungated: `y = M·x + b` per pixel, then
/// clamped per channel to `bounds` when set (crate-internal; the hooks that take it are
/// hidden).
#[derive(Debug)]
pub(crate) struct ColorMap {
    /// (B,C,C).
    pub(crate) matrix: Tensor,
    /// (B,C).
    pub(crate) bias: Tensor,
    /// (B,C) lower and upper bounds of the clamp that ends the step.
    pub(crate) bounds: Option<(Tensor, Tensor)>,
    /// `matrix` is diagonal (a per-channel scale): a clamp before it can move after it.
    pub(crate) diagonal: bool,
}

/// What a colour step may ask of the image it receives: its per-channel means (B,C),
/// computed from the pass's input on first use and carried through the maps before the
/// step (clamps aside: the fast mode's approximation).
pub(crate) struct ColorStats<'a> {
    pub(crate) input: &'a Tensor,
    pub(crate) input_mean: &'a OnceCell<Tensor>,
    pub(crate) matrix: &'a Tensor,
    pub(crate) bias: &'a Tensor,
}

impl ColorStats<'_> {
    /// The image entering the pass (for its kind and device).
    pub(crate) fn like(&self) -> &Tensor {
        self.input
    }

    /// (B,C) per-channel means of the image entering the step.
    pub(crate) fn mean(&self) -> Tensor {
        let m0 = self.input_mean.get_or_init(|| {
            let dims: Vec<i64> = (2..self.input.dim() as i64).collect();
            self.input
                .mean_dim(dims.as_slice(), false, self.input.kind())
        });
        self.matrix.matmul(&m0.unsqueeze(-1)).squeeze_dim(-1) + self.bias
    }
}
