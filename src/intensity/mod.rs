//! Intensity (colour) augmentations.

mod blur;
mod channels;
mod clahe;
mod color;
mod enhance;
pub(crate) mod equalize;
mod erasing;
mod illumination;
mod jpeg;
pub(crate) mod motion;
mod normalize;
mod pixel;
mod planckian;
mod plasma;
mod rain;
mod single;
mod snow;

pub use blur::{BoxBlurConfig, GaussianBlurConfig, RandomBoxBlur, RandomGaussianBlur};
pub use channels::{
    ChannelDropoutConfig, MedianBlurConfig, RandomChannelDropout, RandomMedianBlur, RandomRGBShift,
    RandomSaltAndPepperNoise, RgbShiftConfig, SaltAndPepperConfig,
};
pub use clahe::{ClaheConfig, RandomClahe};
pub use color::{ColorJiggle, ColorJitter, JitterConfig, JitterParams};
pub use enhance::{
    RandomSharpness, RandomSolarize, SharpnessConfig, SolarizeConfig, SolarizeParams,
};
pub use equalize::{EqualizeConfig, RandomEqualize};
pub use erasing::{ErasingConfig, ErasingParams, RandomErasing};
pub use illumination::{
    GaussianIlluminationConfig, IlluminationConfig, RandomGaussianIllumination,
    RandomLinearCornerIllumination, RandomLinearIllumination,
};
pub use jpeg::{JpegConfig, RandomJPEG};
pub use motion::{MotionBlurConfig, MotionKernelSize, RandomMotionBlur};
pub use normalize::{
    Denormalize, Normalize, NormalizeConfig, RandomGrayscale, RandomGrayscaleConfig,
};
pub use pixel::{
    AutoContrastConfig, ChannelShuffleConfig, GaussianNoiseConfig, PosterizeConfig,
    RandomAutoContrast, RandomChannelShuffle, RandomGaussianNoise, RandomPosterize,
};
pub use planckian::{PlanckianConfig, PlanckianMode, RandomPlanckianJitter};
pub use plasma::{PlasmaConfig, RandomPlasmaBrightness, RandomPlasmaContrast, RandomPlasmaShadow};
pub use rain::{RainConfig, RandomRain};
pub use single::{
    FactorConfig, GammaConfig, InvertConfig, RandomBrightness, RandomContrast, RandomGamma,
    RandomHue, RandomInvert, RandomSaturation,
};
pub use snow::{RandomSnow, SnowConfig};
