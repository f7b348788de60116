//! Geometric augmentations: each reports its geometry (a per-sample 3×3 matrix, or a dense
//! field) and has an inverse.

/// `apply_transform` and `sampling` for a warp that keeps the image (volume) size: warp by
/// the augmentation's matrix with the options of its `warp_options()`. Its inverse, masks,
/// boxes and keypoints follow from the matrix (the trait's defaults).
macro_rules! warp_same_size {
    () => {
        fn apply_transform(
            &self,
            input: &tch::Tensor,
            params: &crate::Params,
        ) -> crate::Result<tch::Tensor> {
            let size = input.size();
            crate::warp::warp_by(
                self,
                input,
                params,
                &size,
                crate::warp::spatial(&size),
                &self.warp_options(),
                false,
            )
        }

        fn sampling(&self) -> Option<crate::warp::Sampling> {
            Some(self.warp_options())
        }
    };
}
pub(crate) use warp_same_size;

/// The same 2D affine map `[a, b, c; d, e, f]` for every sample of a batch of `b`: a
/// matrix geometry (B,3,3) in `kind` on `device`.
pub(crate) fn same_affine(
    [a, b_, c, d, e, f]: [f64; 6],
    b: i64,
    kind: tch::Kind,
    device: tch::Device,
) -> crate::Geometry {
    let m = crate::ops::constant(&[a, b_, c, d, e, f, 0.0, 0.0, 1.0], kind, device)
        .view([1, 3, 3])
        .expand([b, 3, 3], false);
    crate::Geometry::affine(m)
}

pub(crate) mod affine;
mod crop;
mod distort;
mod flip;
mod iou_crop;
mod jigsaw;
mod perspective;
mod random_size;
mod resize;
mod resized_crop;
mod simple;
mod zoom_out;

pub use affine::{
    AffineParams, RandomAffine, RandomAffineConfig, RandomRotation, RandomRotationConfig,
    RotationParams,
};
pub(crate) use crop::check_crop_p;
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
pub use iou_crop::{RandomIoUCrop, RandomIoUCropConfig};
pub use jigsaw::{JigsawConfig, RandomJigsaw};
pub(crate) use perspective::{distortion_scale_var, end_and_extent};
pub use perspective::{PerspectiveConfig, PerspectiveSampling, RandomPerspective};
pub use random_size::{
    RandomShortestSize, RandomShortestSizeConfig, RandomSize, ScaleJitter, ScaleJitterConfig,
};
pub use resize::{
    LongestMaxSize, MaxSizeConfig, PadMode, PadTo, PadToConfig, Resize, ResizeConfig, ResizeTo,
    Side, SmallestMaxSize,
};
pub use resized_crop::{RandomResizedCrop, RandomResizedCropConfig};
pub use simple::{
    RandomRotation90, RandomShear, RandomTranslate, Rotation90Config, ShearConfig, TranslateConfig,
};
pub use zoom_out::{RandomZoomOut, RandomZoomOutConfig};
