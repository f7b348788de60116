//! The augmentation trait: Kornia's four stages (config, sample, apply, inverse), typed.

use crate::checks::{self, Batched};
use crate::{AugSpec, Error, Params, Result};
use tch::{nn, Device, Kind, Tensor};

/// One augmentation: sample parameters, apply them, and (for geometric ones) expose the
/// per-sample 3×3 (4×4 for volumes) matrix and an inverse.
///
/// The trait is object safe, so containers hold `Box<dyn Augmentation>`. Implementors
/// provide the `*_transform` hooks; callers use the provided `f_*` methods (which validate
/// the input, accept (C,H,W) as well as (B,C,H,W) (for volumes (C,D,H,W) and (B,C,D,H,W)), and honour the `p` gate) or their
/// panicking twins.
pub trait Augmentation: std::fmt::Debug + Send {
    /// Kornia's class name (e.g. `"RandomAffine"`).
    fn name(&self) -> &'static str;

    /// The number of spatial dimensions it works on: 2 for images (B,C,H,W), 3 for
    /// volumes (B,C,D,H,W). Matrices are (B, n+1, n+1).
    fn spatial_dims(&self) -> usize {
        2
    }

    /// The configuration, as a serialisable spec that rebuilds this augmentation.
    fn spec(&self) -> AugSpec;

    /// Whether the output depends on random draws. Deterministic augmentations
    /// (Normalize, CenterCrop, ...) still apply in evaluation mode under [`TrainOnly`].
    fn is_random(&self) -> bool {
        true
    }

    /// `(p, p_batch)`: the per-sample and per-batch application probabilities.
    fn probabilities(&self) -> (f64, f64) {
        (1.0, 1.0)
    }

    /// The batched shape of the output for a batched input of shape `shape`.
    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        shape.to_vec()
    }

    /// Checks a batched shape beyond the generic checks (channel counts, sizes).
    fn check_shape(&self, _shape: &[i64]) -> Result<()> {
        Ok(())
    }

    /// Draws the parameters for a batched input of shape `shape` in one batched call per
    /// quantity from torch's RNG on `device`, `batch_prob` included.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params>;

    /// Applies `params` to every sample of a validated batched input, ignoring the gate.
    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor>;

    /// The per-sample (B,3,3) (volumes: (B,4,4)) matrix mapping input pixels to output pixels, for geometric
    /// augmentations; `None` for intensity ones. Ignores the gate.
    fn transform_matrix_ungated(
        &self,
        _shape: &[i64],
        _params: &Params,
        _kind: Kind,
        _device: Device,
    ) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// Maps an output back to the input geometry (`input_shape` is batched), for every
    /// sample, ignoring the gate. Intensity augmentations have none.
    fn inverse_transform(
        &self,
        _output: &Tensor,
        _params: &Params,
        _input_shape: &[i64],
    ) -> Result<Tensor> {
        Err(Error::NotInvertible { op: self.name() })
    }

    /// Validates `input`, draws parameters, and applies them.
    ///
    /// # Errors
    /// [`Error::Rank`], [`Error::Dtype`], [`Error::Empty`], [`Error::Channels`] or
    /// [`Error::Size`] for an input the augmentation cannot take.
    fn f_forward_with_params(&self, input: &Tensor) -> Result<(Tensor, Params)> {
        let b = batched(self, input)?;
        let params = self.sample(&b.x.size(), b.x.device())?;
        let out = self.gated_apply(&b.x, &params)?;
        Ok((b.restore(out), params))
    }

    /// Validates `input`, draws parameters, and applies them; returns the output only.
    ///
    /// # Errors
    /// As [`Augmentation::f_forward_with_params`].
    fn f_forward(&self, input: &Tensor) -> Result<Tensor> {
        Ok(self.f_forward_with_params(input)?.0)
    }

    /// Applies given parameters (a replay): deterministic; samples whose `batch_prob` is 0
    /// come back unchanged.
    ///
    /// # Errors
    /// As [`Augmentation::f_forward_with_params`], plus [`Error::Params`] for a map that
    /// lacks a key or has the wrong batch size.
    fn f_apply(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = batched(self, input)?;
        let out = self.gated_apply(&b.x, params)?;
        Ok(b.restore(out))
    }

    /// The (B,3,3) (volumes: (B,4,4)) matrix mapping input pixels to output pixels; identity where the gate
    /// is off. `None` for intensity augmentations.
    ///
    /// # Errors
    /// [`Error::Params`] for a map that lacks a key.
    fn f_transform_matrix(
        &self,
        input_shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Option<Tensor>> {
        let Some(m) = self.transform_matrix_ungated(input_shape, params, kind, device)? else {
            return Ok(None);
        };
        if self.probabilities() == (1.0, 1.0) {
            return Ok(Some(m));
        }
        let on = params
            .shaped(self.name(), "batch_prob", &input_shape[..1])?
            .to_device(device)
            .gt(0.5)
            .view([-1, 1, 1]);
        let n = self.spatial_dims() as i64 + 1;
        let eye = Tensor::eye(n, (kind, device)).expand_as(&m);
        Ok(Some(m.where_self(&on, &eye)))
    }

    /// Maps an augmented output back to the geometry of an input of shape `input_shape`
    /// ((B,C,H,W) or (C,H,W); for volumes (B,C,D,H,W) or (C,D,H,W)). Samples whose gate was off come back unchanged.
    ///
    /// # Errors
    /// [`Error::NotInvertible`] for intensity augmentations; input errors as
    /// [`Augmentation::f_forward_with_params`].
    fn f_inverse(&self, output: &Tensor, params: &Params, input_shape: &[i64]) -> Result<Tensor> {
        let dims = self.spatial_dims();
        let b = checks::input(self.name(), output, dims)?;
        let shape: Vec<i64> = if input_shape.len() == dims + 1 {
            [&[1], input_shape].concat()
        } else {
            input_shape.to_vec()
        };
        if shape.len() != dims + 2 {
            return Err(Error::Rank {
                op: self.name(),
                expected: if dims == 3 {
                    "4 (C,D,H,W) or 5 (B,C,D,H,W) for input_shape"
                } else {
                    "3 (C,H,W) or 4 (B,C,H,W) for input_shape"
                },
                shape,
            });
        }
        let inv = self.inverse_transform(&b.x, params, &shape)?;
        let out = if self.probabilities() == (1.0, 1.0) || inv.size() != b.x.size() {
            inv
        } else {
            gate_blend(&inv, &b.x, params, self.name())?
        };
        Ok(b.restore(out))
    }

    /// Panicking form of [`Augmentation::f_forward_with_params`].
    fn forward_with_params(&self, input: &Tensor) -> (Tensor, Params) {
        self.f_forward_with_params(input).unwrap()
    }

    /// Panicking form of [`Augmentation::f_apply`].
    fn apply(&self, input: &Tensor, params: &Params) -> Tensor {
        self.f_apply(input, params).unwrap()
    }

    /// Panicking form of [`Augmentation::f_inverse`].
    fn inverse(&self, output: &Tensor, params: &Params, input_shape: &[i64]) -> Tensor {
        self.f_inverse(output, params, input_shape).unwrap()
    }

    /// Wraps the augmentation in a [`TrainOnly`] layer for `nn::seq_t()`.
    fn train_only(self) -> TrainOnly<Self>
    where
        Self: Sized,
    {
        TrainOnly(self)
    }

    #[doc(hidden)]
    fn gated_apply(&self, x: &Tensor, params: &Params) -> Result<Tensor> {
        let out = self.apply_transform(x, params)?;
        if self.probabilities() == (1.0, 1.0) {
            return Ok(out);
        }
        gate_blend(&out, x, params, self.name())
    }
}

/// Validates an image input and the augmentation's shape constraints.
fn batched<A: Augmentation + ?Sized>(aug: &A, input: &Tensor) -> Result<Batched> {
    let b = checks::input(aug.name(), input, aug.spatial_dims())?;
    aug.check_shape(&b.x.size())?;
    Ok(b)
}

/// Where `batch_prob` is set, `transformed`; elsewhere `original`, bit for bit.
pub(crate) fn gate_blend(
    transformed: &Tensor,
    original: &Tensor,
    params: &Params,
    op: &'static str,
) -> Result<Tensor> {
    let b = original.size()[0];
    if transformed.size() != original.size() {
        return Err(checks::config(
            op,
            "p",
            "< 1",
            "p = 1 for augmentations that change the image size",
        ));
    }
    let mut view = vec![1i64; original.dim()];
    view[0] = -1;
    let on = params
        .shaped(op, "batch_prob", &[b])?
        .to_device(original.device())
        .gt(0.5)
        .view(view.as_slice());
    Ok(transformed.where_self(&on, original))
}

/// A layer that augments in training and not in evaluation: implements
/// [`nn::ModuleT`] alone, for `nn::seq_t()` loops.
///
/// With `train = false` a random augmentation is the identity (the input is returned as a
/// shallow clone); deterministic ones (Normalize, Denormalize, CenterCrop) still apply.
#[derive(Debug)]
pub struct TrainOnly<A>(pub A);

impl<A: Augmentation> nn::ModuleT for TrainOnly<A> {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        if train || !self.0.is_random() {
            self.0.f_forward(xs).unwrap()
        } else {
            xs.shallow_clone()
        }
    }
}

/// Implements [`tch::nn::Module`] (always augments, as Kornia does) for augmentation types.
macro_rules! impl_module {
    ($($t:ty),* $(,)?) => {$(
        impl tch::nn::Module for $t {
            fn forward(&self, xs: &tch::Tensor) -> tch::Tensor {
                $crate::Augmentation::f_forward(self, xs).unwrap()
            }
        }
    )*};
}
pub(crate) use impl_module;
