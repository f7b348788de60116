//! RandomHorizontalFlip and RandomVerticalFlip.

use crate::augmentation::impl_module;
use crate::checks;
use crate::ops::constant;
use crate::range::gate_params;
use crate::{AugSpec, Augmentation, Params, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

/// Configuration of a flip; `Default` is Kornia's (`p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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
    ($(#[$meta:meta])* $name:ident, $kornia:literal, $dim:expr, $spec:ident) => {
        $(#[$meta])*
        ///
        /// # Shapes
        /// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
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
            pub fn new(_path: &nn::Path, cfg: FlipConfig) -> Result<$name> {
                checks::probability($kornia, "p", cfg.p)?;
                Ok($name { cfg })
            }
        }

        impl Augmentation for $name {
            fn name(&self) -> &'static str {
                $kornia
            }

            fn spec(&self) -> AugSpec {
                AugSpec::$spec(self.cfg.clone())
            }

            fn probabilities(&self) -> (f64, f64) {
                (self.cfg.p, 1.0)
            }

            fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
                let p = gate_params(shape, self.cfg.p, self.cfg.same_on_batch, device);
                Ok(p)
            }

            fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
                Ok(input.f_flip([$dim])?)
            }

            fn transform_matrix_ungated(
                &self,
                shape: &[i64],
                _params: &Params,
                kind: Kind,
                device: Device,
            ) -> Result<Option<Tensor>> {
                // x' = (W-1) - x for a horizontal flip, y' = (H-1) - y for a vertical one.
                let (h, w) = ((shape[2] - 1) as f64, (shape[3] - 1) as f64);
                let m: [f64; 9] = if $dim == 3 {
                    [-1.0, 0.0, w, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
                } else {
                    [1.0, 0.0, 0.0, 0.0, -1.0, h, 0.0, 0.0, 1.0]
                };
                let m = constant(&m, kind, device).view([1, 3, 3]);
                Ok(Some(m.expand([shape[0], 3, 3], false)))
            }

            fn inverse_transform(&self, output: &Tensor, _params: &Params, _shape: &[i64]) -> Result<Tensor> {
                Ok(output.f_flip([$dim])?)
            }
        }

        impl_module!($name);
    };
}

flip!(
    /// Flips each sample left-right with probability `p` (Kornia's `RandomHorizontalFlip`).
    RandomHorizontalFlip, "RandomHorizontalFlip", 3, RandomHorizontalFlip
);
flip!(
    /// Flips each sample top-bottom with probability `p` (Kornia's `RandomVerticalFlip`).
    RandomVerticalFlip, "RandomVerticalFlip", 2, RandomVerticalFlip
);
