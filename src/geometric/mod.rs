//! Geometric augmentations: each exposes a per-sample 3×3 matrix and an inverse.

/// `apply_transform` and `inverse_transform` for a warp that keeps the image size: warp by
/// the augmentation's matrix (or its inverse) with the options of its `warp_options()`.
macro_rules! warp_same_size {
    () => {
        fn apply_transform(
            &self,
            input: &tch::Tensor,
            params: &crate::Params,
        ) -> crate::Result<tch::Tensor> {
            let size = input.size();
            let out = (size[2], size[3]);
            crate::warp::warp_by(self, input, params, &size, out, &self.warp_options(), false)
        }

        fn inverse_transform(
            &self,
            output: &tch::Tensor,
            params: &crate::Params,
            input_shape: &[i64],
        ) -> crate::Result<tch::Tensor> {
            let size = (input_shape[2], input_shape[3]);
            crate::warp::warp_by(
                self,
                output,
                params,
                input_shape,
                size,
                &self.warp_options(),
                true,
            )
        }
    };
}
pub(crate) use warp_same_size;

mod affine;
mod crop;
mod distort;
mod flip;
mod perspective;
mod resize;
mod resized_crop;
mod simple;

pub use affine::{
    AffineParams, RandomAffine, RandomAffineConfig, RandomRotation, RandomRotationConfig,
    RotationParams,
};
pub use crop::{
    CenterCrop, CenterCropConfig, CropPadding, CropParams, CroppingMode, RandomCrop,
    RandomCropConfig,
};
pub use distort::{
    ElasticConfig, FisheyeConfig, RandomElasticTransform, RandomFisheye, RandomThinPlateSpline,
    ThinPlateSplineConfig,
};
pub use flip::{
    FlipConfig, RandomDepthicalFlip3D, RandomHorizontalFlip, RandomHorizontalFlip3D,
    RandomVerticalFlip, RandomVerticalFlip3D,
};
pub(crate) use perspective::{distortion_scale_var, end_and_extent};
pub use perspective::{PerspectiveConfig, PerspectiveSampling, RandomPerspective};
pub use resize::{PadMode, PadTo, PadToConfig, Resize, ResizeConfig, ResizeTo, Side};
pub use resized_crop::{RandomResizedCrop, RandomResizedCropConfig};
pub use simple::{
    RandomRotation90, RandomShear, RandomTranslate, Rotation90Config, ShearConfig, TranslateConfig,
};
