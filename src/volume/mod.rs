//! Volumetric (3D) augmentations on (B,C,D,H,W) or (C,D,H,W): Kornia's `kornia.augmentation`
//! 3D family. Geometric ones expose per-sample 4×4 matrices (voxel coordinates `(x, y, z)`)
//! and an inverse, and warp with the 3D `affine_grid_generator` / `grid_sampler`.

mod crop;
mod geometric;
mod intensity;

pub use crate::geometric::{RandomDepthicalFlip3D, RandomHorizontalFlip3D, RandomVerticalFlip3D};
pub use crop::{CenterCrop3D, CenterCrop3DConfig, RandomCrop3D, RandomCrop3DConfig};
pub use geometric::{
    Affine3DConfig, Perspective3DConfig, RandomAffine3D, RandomPerspective3D, RandomRotation3D,
    Rotation3DConfig, Scale3D,
};
pub use intensity::{Equalize3DConfig, MotionBlur3DConfig, RandomEqualize3D, RandomMotionBlur3D};

use crate::warp::Resample;
use crate::{Augmentation, Error, Params, Result};
use tch::Tensor;

/// The (D, H, W) of a batched 5-D shape.
pub(crate) fn dhw(shape: &[i64]) -> (i64, i64, i64) {
    (shape[2], shape[3], shape[4])
}

/// Warps `input` by `aug`'s 4×4 matrix for an input of shape `shape` (by its inverse when
/// `inverse`) into an output of size `size` with an affine or projective 3D warp.
#[allow(clippy::too_many_arguments)]
pub(crate) fn warp3d_by<A: Augmentation + ?Sized>(
    aug: &A,
    input: &Tensor,
    params: &Params,
    shape: &[i64],
    size: (i64, i64, i64),
    (resample, align_corners): (Resample, bool),
    projective: bool,
    inverse: bool,
) -> Result<Tensor> {
    let m = aug
        .transform_matrix_ungated(shape, params, input.kind(), input.device())?
        .ok_or(Error::NotInvertible { op: aug.name() })?;
    let m = if inverse {
        crate::warp3d::inverse4x4(&m)
    } else {
        m
    };
    if projective {
        crate::warp3d::warp_perspective3d(input, &m, size, resample, align_corners, aug.name())
    } else {
        crate::warp3d::warp_affine3d(input, &m, size, resample, align_corners, aug.name())
    }
}

/// `apply_transform` and `inverse_transform` for a 3D warp that keeps the volume size, with
/// the `(resample, align_corners)` of `self.warp_options()`; `$projective` selects the
/// perspective warp.
macro_rules! warp3d_same_size {
    ($projective:expr) => {
        fn apply_transform(
            &self,
            input: &tch::Tensor,
            params: &crate::Params,
        ) -> crate::Result<tch::Tensor> {
            let size = input.size();
            let out = crate::volume::dhw(&size);
            crate::volume::warp3d_by(
                self,
                input,
                params,
                &size,
                out,
                self.warp_options(),
                $projective,
                false,
            )
        }

        fn inverse_transform(
            &self,
            output: &tch::Tensor,
            params: &crate::Params,
            input_shape: &[i64],
        ) -> crate::Result<tch::Tensor> {
            crate::volume::warp3d_by(
                self,
                output,
                params,
                input_shape,
                crate::volume::dhw(input_shape),
                self.warp_options(),
                $projective,
                true,
            )
        }
    };
}
pub(crate) use warp3d_same_size;

/// Rejects bicubic resampling, which `grid_sampler` does not offer for volumes.
pub(crate) fn check_resample(op: &'static str, resample: Resample) -> Result<()> {
    if resample == Resample::Bicubic {
        return Err(crate::checks::config(
            op,
            "resample",
            "bicubic",
            "bilinear or nearest (grid_sample has no bicubic mode for volumes)",
        ));
    }
    Ok(())
}
