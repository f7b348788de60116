//! The flips: RandomHorizontalFlip, RandomVerticalFlip and their 3D versions, with
//! RandomDepthicalFlip3D.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, FromKornia, Kwargs};
use crate::ops::constant;
use crate::range::gate_params;
use crate::warp::Sampling;
use crate::{
    AugSpec, Augmentation, Geometry, MaskSampling, Params, Result, Transform, TransformClass,
};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of a flip; `Default` is Kornia's (`p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlipConfig {
    /// Probability of flipping each sample.
    pub p: f64,
    /// One gate shared by the whole batch.
    pub same_on_batch: bool,
}

impl Default for FlipConfig {
    fn default() -> Self {
        FlipConfig {
            p: 0.5,
            same_on_batch: false,
        }
    }
}

macro_rules! flip {
    ($(#[$meta:meta])* $name:ident, $kornia:literal, spatial $spatial:literal, axis $axis:literal, $shapes:literal) => {
        $(#[$meta])*
        ///
        /// Params: `batch_prob`, `forward_input_shape`.
        ///
        /// # Shapes
        #[doc = $shapes]
        ///
        /// # Errors
        /// `new` fails on a `p` outside [0, 1]; `f_*` forms on a bad input.
        #[derive(Debug)]
        pub struct $name {
            cfg: FlipConfig,
        }

        impl $name {
            /// Builds the flip (it has no variables; `path` is taken for uniformity).
            ///
            /// # Errors
            /// [`crate::Error::Config`] for a `p` outside [0, 1].
            pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: FlipConfig) -> Result<$name> {
                $name::from_config(cfg)
            }

            /// Builds it without a VarStore: it has no variables.
            ///
            /// # Errors
            /// As `new`.
            pub fn from_config(cfg: FlipConfig) -> Result<$name> {
                checks::probability($kornia, "p", cfg.p)?;
                Ok($name { cfg })
            }

            /// The flipped dimension of a batched input: x (W) is the last.
            const DIM: i64 = $spatial + 1 - $axis;
        }

        impl Augmentation for $name {
            fn name(&self) -> &'static str {
                $kornia
            }

            fn spatial_dims(&self) -> usize {
                $spatial
            }

            fn spec(&self) -> AugSpec {
                AugSpec::$name(self.cfg.clone())
            }

            fn probabilities(&self) -> (f64, f64) {
                (self.cfg.p, 1.0)
            }

            fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
                gate_params(shape, self.cfg.p, self.cfg.same_on_batch, device)
            }

            fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
                Ok(input.f_flip([Self::DIM])?)
            }

            fn geometry_ungated(
                &self,
                shape: &[i64],
                _params: &Params,
                kind: Kind,
                device: Device,
            ) -> Result<Geometry> {
                // coordinate' = (size - 1) - coordinate along the flipped axis.
                let m = flip_matrix($spatial, $axis, shape[Self::DIM as usize], shape[0], kind, device);
                Ok(Geometry::Matrix(Transform::from_parts(m, TransformClass::Affine)))
            }

            fn sampling(&self) -> Option<Sampling> {
                Some(Sampling::bilinear(true))
            }

            fn inverse_transform(&self, output: &Tensor, _params: &Params, _shape: &[i64]) -> Result<Tensor> {
                Ok(output.f_flip([Self::DIM])?)
            }

            fn apply_mask(&self, mask: &Tensor, _params: &Params, _how: &MaskSampling) -> Result<Tensor> {
                Ok(mask.f_flip([Self::DIM])?)
            }

            fn inverse_mask(&self, mask: &Tensor, _params: &Params, _shape: &[i64], _how: &MaskSampling) -> Result<Tensor> {
                Ok(mask.f_flip([Self::DIM])?)
            }
        }

        impl_module!($name);
    };
}

/// The (B, n+1, n+1) matrix of a flip along `axis` (0 = x, 1 = y, 2 = z) of `size` pixels.
fn flip_matrix(
    spatial: usize,
    axis: usize,
    size: i64,
    b: i64,
    kind: Kind,
    device: Device,
) -> Tensor {
    let n = spatial + 1;
    let mut m = vec![0.0f64; n * n];
    for i in 0..n {
        m[i * (n + 1)] = 1.0;
    }
    m[axis * (n + 1)] = -1.0;
    m[axis * n + spatial] = (size - 1) as f64;
    let n = n as i64;
    constant(&m, kind, device)
        .view([1, n, n])
        .expand([b, n, n], false)
}

flip!(
    /// Flips each sample left-right with probability `p` (Kornia's `RandomHorizontalFlip`).
    RandomHorizontalFlip, "RandomHorizontalFlip", spatial 2, axis 0,
    "Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape."
);
flip!(
    /// Flips each sample top-bottom with probability `p` (Kornia's `RandomVerticalFlip`).
    RandomVerticalFlip, "RandomVerticalFlip", spatial 2, axis 1,
    "Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape."
);
flip!(
    /// Flips each volume along W (x) with probability `p` (Kornia's `RandomHorizontalFlip3D`).
    RandomHorizontalFlip3D, "RandomHorizontalFlip3D", spatial 3, axis 0,
    "Input (B,C,D,H,W) or (C,D,H,W), float32 or float64; output the same shape."
);
flip!(
    /// Flips each volume along H (y) with probability `p` (Kornia's `RandomVerticalFlip3D`).
    RandomVerticalFlip3D, "RandomVerticalFlip3D", spatial 3, axis 1,
    "Input (B,C,D,H,W) or (C,D,H,W), float32 or float64; output the same shape."
);
flip!(
    /// Flips each volume along D (z) with probability `p` (Kornia's `RandomDepthicalFlip3D`).
    RandomDepthicalFlip3D, "RandomDepthicalFlip3D", spatial 3, axis 2,
    "Input (B,C,D,H,W) or (C,D,H,W), float32 or float64; output the same shape."
);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

/// Kornia's flip arguments (`p`, `same_on_batch`, a neutral `p_batch`), for every flip.
pub(crate) fn flip_from_kornia(kw: &Kwargs) -> Result<FlipConfig> {
    let mut c = FlipConfig::default();
    common!(kw, c);
    kw.neutral_only(
        "p_batch",
        |v| v.as_f64() == Some(1.0),
        "Kornia's whole-batch gate is 1 (always) here; gate per sample with p",
    )?;
    Ok(c)
}

impl FromKornia for RandomHorizontalFlip {
    type Config = FlipConfig;

    fn from_kornia(kw: &Kwargs) -> Result<FlipConfig> {
        flip_from_kornia(kw)
    }
}

impl FromKornia for RandomVerticalFlip {
    type Config = FlipConfig;

    fn from_kornia(kw: &Kwargs) -> Result<FlipConfig> {
        flip_from_kornia(kw)
    }
}

impl FromKornia for RandomHorizontalFlip3D {
    type Config = FlipConfig;

    fn from_kornia(kw: &Kwargs) -> Result<FlipConfig> {
        flip_from_kornia(kw)
    }
}

impl FromKornia for RandomVerticalFlip3D {
    type Config = FlipConfig;

    fn from_kornia(kw: &Kwargs) -> Result<FlipConfig> {
        flip_from_kornia(kw)
    }
}

impl FromKornia for RandomDepthicalFlip3D {
    type Config = FlipConfig;

    fn from_kornia(kw: &Kwargs) -> Result<FlipConfig> {
        flip_from_kornia(kw)
    }
}
