//! The fast mode's fused colour pass (`SequentialConfig::fuse_color`): consecutive colour
//! steps composed into one per-sample affine map `y = M·x + b` with one clamp, applied to
//! the image in one batched matmul and one clamp, whatever the number of steps.
//!
//! Each step gives its map ungated ((its `ColorStep::color_map`)); the pass gates it
//! per sample (a sample the step skips gets the identity and no clamp), then composes:
//! `M ← M₂·M`, `b ← M₂·b + b₂`. A clamp to `[lo, hi]` followed by a per-channel scale `d`
//! (Normalize) becomes a clamp to `[d·lo + b₂, d·hi + b₂]` (swapped where `d < 0`), and two
//! clamps in a row are one: `clamp(clamp(z, a, b), c, d) = clamp(z, clamp(a, c, d),
//! clamp(b, c, d))`. A clamp followed by a step that mixes channels cannot be moved past
//! it: the pass applies what it holds there and starts again.

use crate::augmentation::gated_apply_needed;
use crate::augmentation::Step;
use crate::color_map::{ColorMap, ColorStats};
use crate::{Augmentation, Params, Result};
use std::cell::OnceCell;
use tch::{Kind, Tensor};

/// The maps composed so far.
struct Acc {
    matrix: Tensor,
    bias: Tensor,
    bounds: Option<(Tensor, Tensor)>,
}

impl Acc {
    fn identity(b: i64, c: i64, kind: Kind, device: tch::Device) -> Acc {
        Acc {
            matrix: Tensor::eye(c, (kind, device)).expand([b, c, c], false),
            bias: Tensor::zeros([b, c], (kind, device)),
            bounds: None,
        }
    }

    /// `x` through the composed map: one batched matmul, then the clamp (on the CPU, one
    /// fused pass, and one graph node: [`crate::kernels::color_map`]).
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let bounds = self.bounds.as_ref().map(|(lo, hi)| (lo, hi));
        if let Some(y) = crate::kernels::color_map(x, &self.matrix, &self.bias, bounds)? {
            return Ok(y);
        }
        let size = x.size();
        let (b, c) = (size[0], size[1]);
        let flat = x.f_reshape([b, c, -1])?;
        let y = self
            .bias
            .unsqueeze(-1)
            .f_baddbmm(&self.matrix, &flat, 1, 1)?
            .f_view(size.as_slice())?;
        Ok(match &self.bounds {
            None => y,
            Some((lo, hi)) => {
                let mut view = vec![1i64; size.len()];
                view[0] = b;
                view[1] = c;
                let (lo, hi) = (lo.view(view.as_slice()), hi.view(view.as_slice()));
                if y.requires_grad() {
                    y.f_clamp_tensor(Some(&lo), Some(&hi))?
                } else {
                    let mut y = y;
                    let _ = y.f_clamp_tensor_(Some(&lo), Some(&hi))?;
                    y
                }
            }
        })
    }

    /// Folds in `m` (gated by `on`, (B,) bool, when the step may skip samples).
    fn then(&mut self, m: ColorMap, on: Option<&Tensor>) {
        let (b, c) = (self.bias.size()[0], self.bias.size()[1]);
        let (kind, device) = (self.bias.kind(), self.bias.device());
        let (mut matrix, mut bias, mut bounds) = (m.matrix, m.bias, m.bounds);
        if let Some(on) = on {
            let eye = Tensor::eye(c, (kind, device)).expand([b, c, c], false);
            matrix = matrix.where_self(&on.view([b, 1, 1]), &eye);
            bias = bias.where_scalarother(&on.view([b, 1]), 0.0);
            bounds = bounds.map(|(lo, hi)| {
                (
                    lo.where_scalarother(&on.view([b, 1]), f64::NEG_INFINITY),
                    hi.where_scalarother(&on.view([b, 1]), f64::INFINITY),
                )
            });
        }
        let carried = self.bounds.take().map(|(lo, hi)| {
            // A per-channel scale d and shift: the bounds move with the values.
            let d = matrix.diagonal(0, 1, 2);
            let (a, z) = (&d * &lo, &d * &hi);
            (a.minimum(&z) + &bias, a.maximum(&z) + &bias)
        });
        self.matrix = matrix.matmul(&self.matrix);
        self.bias = matrix.matmul(&self.bias.unsqueeze(-1)).squeeze_dim(-1) + &bias;
        self.bounds = match (carried, bounds) {
            (None, b) => b,
            (a, None) => a,
            (Some((a, z)), Some((lo, hi))) => Some((
                a.clamp_tensor(Some(&lo), Some(&hi)),
                z.clamp_tensor(Some(&lo), Some(&hi)),
            )),
        };
    }
}

/// Applies the colour steps `steps` (each with its params, in order) to `image` as one
/// fused pass (or as few as the clamps allow).
pub(crate) fn apply_color_run(
    steps: &[(&dyn Augmentation, Params)],
    image: Tensor,
) -> Result<Tensor> {
    let size = image.size();
    let (b, c) = (size[0], size[1]);
    let (kind, device) = (image.kind(), image.device());
    let mut x = image;
    let mut acc = Acc::identity(b, c, kind, device);
    let mut input_mean = OnceCell::new();
    for (step, params) in steps {
        step.check_shape(&x.size())?;
        let map = {
            let stats = ColorStats {
                input: &x,
                input_mean: &input_mean,
                matrix: &acc.matrix,
                bias: &acc.bias,
            };
            step.fused_color_map(&size, params, &stats)?
        };
        if acc.bounds.is_some() && !map.diagonal {
            // The clamp cannot move past a step that mixes channels: apply what is held.
            x = acc.apply(&x)?;
            acc = Acc::identity(b, c, kind, device);
            input_mean = OnceCell::new();
        }
        let on = if gated_apply_needed(*step) {
            Some(
                params
                    .shaped(step.name(), "batch_prob", &[b])?
                    .to_device(device)
                    .gt(0.5),
            )
        } else {
            None
        };
        acc.then(map, on.as_ref());
    }
    // A run holds at least one step, so there is always something to apply.
    acc.apply(&x)
}
