//! Intensity (colour) augmentations.

mod color;
mod normalize;

pub use color::{ColorJiggle, ColorJitter, JitterConfig, JitterParams};
pub use normalize::{
    Denormalize, Normalize, NormalizeConfig, RandomGrayscale, RandomGrayscaleConfig,
};
