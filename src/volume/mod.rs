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
use crate::Result;

/// The (D, H, W) of a batched 5-D shape.
pub(crate) fn dhw(shape: &[i64]) -> (i64, i64, i64) {
    (shape[2], shape[3], shape[4])
}

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
