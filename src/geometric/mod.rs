//! Geometric augmentations: each exposes a per-sample 3×3 matrix and an inverse.

mod affine;
mod crop;
mod distort;
mod flip;
mod perspective;
mod resize;
mod simple;

pub use affine::{
    AffineParams, RandomAffine, RandomAffineConfig, RandomRotation, RandomRotationConfig,
    RotationParams,
};
pub use crop::{
    CenterCrop, CenterCropConfig, CropPadding, CropParams, CroppingMode, RandomCrop,
    RandomCropConfig, RandomResizedCrop, RandomResizedCropConfig,
};
pub use distort::{
    ElasticConfig, FisheyeConfig, RandomElasticTransform, RandomFisheye, RandomThinPlateSpline,
    ThinPlateSplineConfig,
};
pub use flip::{FlipConfig, RandomHorizontalFlip, RandomVerticalFlip};
pub use perspective::{PerspectiveConfig, PerspectiveSampling, RandomPerspective};
pub use resize::{PadMode, PadTo, PadToConfig, Resize, ResizeConfig, ResizeTo, Side};
pub use simple::{
    RandomRotation90, RandomShear, RandomTranslate, Rotation90Config, ShearConfig, TranslateConfig,
};
