//! RandomMotionBlur3D and RandomEqualize3D.

use super::geometric::voxel_center;
use crate::augmentation::impl_module;
use crate::checks;
use crate::filter::filter3d;
use crate::filter::Border;
use crate::intensity::equalize::equalize;
use crate::intensity::motion::motion_kernel_size;
use crate::intensity::motion::{check_kernel_size, draw_ksize, nearest_taps};
use crate::intensity::MotionKernelSize;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::straight_through;
use crate::range::{gate_params, Learnable, Range};
use crate::warp::matrix3d::{self, axis_angle_to_rotation};
use crate::warp::Resample;
use crate::warp::Sampling;
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomMotionBlur3D`]; `Default` is Kornia's, with the required
/// `kernel_size = 3`, `angle = [(-45, 45); 3]`, `direction = (-1, 1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MotionBlur3DConfig {
    /// The kernel size (one odd size, or a range drawn once per batch).
    pub kernel_size: MotionKernelSize,
    /// Ranges of the streak's axis-angle rotation (yaw, pitch, roll) in degrees, within
    /// [-360, 360].
    pub angle: [(f64, f64); 3],
    /// Range of the direction, within [-1, 1]: -1 weights the start of the streak, 1 its
    /// end, 0 evenly.
    pub direction: (f64, f64),
    /// Border mode (Kornia: constant).
    pub border_type: Border,
    /// How the line kernel is rotated (Kornia: nearest).
    pub resample: Resample,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of blurring each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Default for MotionBlur3DConfig {
    fn default() -> Self {
        MotionBlur3DConfig {
            kernel_size: MotionKernelSize::Fixed(3),
            angle: [(-45.0, 45.0); 3],
            direction: (-1.0, 1.0),
            border_type: Border::Constant,
            resample: Resample::Nearest,
            same_on_batch: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Blurs volumes along a random 3D line (Kornia's `RandomMotionBlur3D`): a K×K×K kernel
/// whose centre row along x ramps linearly with `direction`, rotated by the axis-angle
/// (yaw, pitch, roll) (nearest: Kornia's snapped index map, computed on the device;
/// bilinear: a 3D warp), normalised, applied with one grouped `conv3d` for the batch.
///
/// A kernel-size range is drawn once per batch on the CPU generator, as Kornia draws it, and
/// read on the host (no GPU wait).
///
/// Params: `ksize_factor` (B,) int32, `angle_factor` (B,3), `direction_factor` (B,);
/// `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,D,H,W) or (C,D,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on an even or < 3 kernel size, ranges out of their domain, a bicubic
/// `resample` or a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomMotionBlur3D {
    cfg: MotionBlur3DConfig,
    angle: [Range; 3],
    direction: Range,
}

const MOTION3D: &str = "RandomMotionBlur3D";

/// The names of [`RandomMotionBlur3D`]'s ranges (see [`crate::Learnable`]).
const RANDOM_MOTION_BLUR3D_RANGES: [&str; 4] =
    ["angle_yaw", "angle_pitch", "angle_roll", "direction"];

impl RandomMotionBlur3D {
    /// Builds the augmentation; `angle` and `direction` live under `path`.
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: MotionBlur3DConfig,
    ) -> Result<RandomMotionBlur3D> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomMotionBlur3D", &RANDOM_MOTION_BLUR3D_RANGES)?;
        check_kernel_size(MOTION3D, cfg.kernel_size)?;
        for a in &cfg.angle {
            checks::range(MOTION3D, "angle", *a, (-360.0, 360.0))?;
        }
        checks::range(MOTION3D, "direction", cfg.direction, (-1.0, 1.0))?;
        super::check_resample(MOTION3D, cfg.resample)?;
        checks::probability(MOTION3D, "p", cfg.p)?;
        let names = ["angle_yaw", "angle_pitch", "angle_roll"];
        let angle = [0, 1, 2].map(|i| {
            Range::new(
                path,
                names[i],
                cfg.angle[i],
                &cfg.learnable,
                (-360.0, 360.0),
            )
        });
        let direction = Range::new(
            path,
            "direction",
            cfg.direction,
            &cfg.learnable,
            (-1.0, 1.0),
        );
        Ok(RandomMotionBlur3D {
            cfg,
            angle,
            direction,
        })
    }
}

/// Kornia's `get_motion_kernel3d`: (B,K,K,K) kernels.
fn motion_kernel3d(
    k: i64,
    angle: &Tensor,
    direction: &Tensor,
    resample: Resample,
) -> Result<Tensor> {
    let b = angle.size()[0];
    let direction = (direction.clamp(-1.0, 1.0) + 1.0) / 2.0;
    let step: Tensor = (1f64 - &direction * 2.0) / (k - 1) as f64;
    let positions = Tensor::f_arange(k, (direction.kind(), direction.device()))?.view([1, k]);
    let row = direction.view([b, 1]) + step.view([b, 1]) * positions;
    let half = k / 2;
    let kernel =
        row.view([b, 1, 1, k])
            .f_pad([0, 0, half, half, half, half], "constant", Some(0.0))?;
    let kernel = match resample {
        Resample::Nearest => rotate3d_nearest(&kernel, angle),
        mode => {
            let shape = [b, 1, k, k, k];
            let center = voxel_center(&shape, kernel.kind(), kernel.device());
            let m = matrix3d::projective_transform(
                &center,
                &angle.to_kind(kernel.kind()),
                &center.ones_like(),
            );
            let t = crate::Transform::from_parts(m, crate::TransformClass::Affine);
            let s = Sampling::new(mode, true);
            crate::warp::warp(&kernel.unsqueeze(1), &t, &[k, k, k], &s)?.squeeze_dim(1)
        }
    };
    Ok(&kernel / kernel.sum_dim_intlist([1i64, 2, 3].as_slice(), true, kernel.kind()))
}

/// Kornia's `_rotate3d_nearest`: each output tap (x, y, z) takes the input tap at
/// `(x, y, z) · R`, in float64 on the kernel's device ([`nearest_taps`]).
fn rotate3d_nearest(kernel: &Tensor, angle: &Tensor) -> Tensor {
    let size = kernel.size();
    let (b, k) = (size[0], size[3]);
    let dev = kernel.device();
    let centre = (k - 1) as f64 / 2.0;
    let rad = angle.detach().to_kind(Kind::Double).to_device(dev) * (std::f64::consts::PI / 180.0);
    let rot = axis_angle_to_rotation(&rad);
    let offsets = Tensor::arange(k, (Kind::Double, dev)) - centre;
    let z = offsets.view([k, 1, 1]).expand([k, k, k], false);
    let y = offsets.view([1, k, 1]).expand([k, k, k], false);
    let x = offsets.view([1, 1, k]).expand([k, k, k], false);
    let points = Tensor::stack(&[x, y, z], -1).view([1, k * k * k, 3]);
    let source = points.matmul(&rot).view([b, k, k, k, 3]);
    let axis = |i: i64| source.select(-1, i);
    nearest_taps(kernel, &[axis(2), axis(1), axis(0)])
}

impl Augmentation for RandomMotionBlur3D {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_MOTION_BLUR3D_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        self.angle.iter().chain([&self.direction]).collect()
    }

    fn name(&self) -> &'static str {
        MOTION3D
    }

    fn spatial_dims(&self) -> usize {
        3
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomMotionBlur3D(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let angles: Vec<Tensor> = self
            .angle
            .iter()
            .map(|r| r.sample(b, same, device))
            .collect::<Result<_>>()?;
        let direction = self.direction.sample(b, same, device)?;
        p.insert("angle_factor", Tensor::stack(&angles, 1));
        p.insert("direction_factor", direction);
        p.insert("ksize_factor", draw_ksize(self.cfg.kernel_size, b, same)?);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = input.size()[0];
        let k = match self.cfg.kernel_size {
            MotionKernelSize::Fixed(k) => k,
            MotionKernelSize::Range(..) => {
                // One size for the batch, drawn on the CPU: reading it does not wait for the GPU.
                let sizes = params
                    .shaped(MOTION3D, "ksize_factor", &[b])?
                    .to_device(Device::Cpu);
                let k = sizes.int64_value(&[0]);
                if k < 3 || k % 2 == 0 {
                    return Err(Error::Params {
                        op: MOTION3D,
                        key: "ksize_factor".into(),
                        problem: format!("holds {k}; expected an odd size >= 3"),
                    });
                }
                k
            }
        };
        let get = |key: &str, shape: &[i64]| -> Result<Tensor> {
            Ok(params
                .shaped(MOTION3D, key, shape)?
                .to_device(input.device())
                .to_kind(input.kind()))
        };
        let kernel = motion_kernel3d(
            k,
            &get("angle_factor", &[b, 3])?,
            &get("direction_factor", &[b])?,
            self.cfg.resample,
        )?;
        filter3d(self.name(), input, &kernel, self.cfg.border_type)
    }
}

/// Configuration of [`RandomEqualize3D`]; `Default` is Kornia's (`p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Equalize3DConfig {
    /// One gate shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of equalizing each sample.
    pub p: f64,
    /// Straight-through estimator: identity backward (the true gradient is zero).
    pub straight_through: bool,
}

impl Default for Equalize3DConfig {
    fn default() -> Self {
        Equalize3DConfig {
            same_on_batch: false,
            p: 0.5,
            straight_through: false,
        }
    }
}

/// Histogram equalization of every (sample, channel) over the whole volume (Kornia's
/// `RandomEqualize3D`), the same PIL algorithm as [`crate::RandomEqualize`].
///
/// Params: `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,D,H,W) or (C,D,H,W), float32 or float64 (clamped to [0, 1]); output the same.
///
/// # Errors
/// `new` fails on a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomEqualize3D {
    cfg: Equalize3DConfig,
}

const EQUALIZE3D: &str = "RandomEqualize3D";

impl RandomEqualize3D {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] for a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: Equalize3DConfig,
    ) -> Result<RandomEqualize3D> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: Equalize3DConfig) -> Result<RandomEqualize3D> {
        checks::probability(EQUALIZE3D, "p", cfg.p)?;
        Ok(RandomEqualize3D { cfg })
    }
}

impl Augmentation for RandomEqualize3D {
    fn name(&self) -> &'static str {
        EQUALIZE3D
    }

    fn spatial_dims(&self) -> usize {
        3
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomEqualize3D(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        gate_params(shape, self.cfg.p, self.cfg.same_on_batch, device)
    }

    fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
        let x = input.clamp(0.0, 1.0);
        let out = equalize(&x);
        Ok(if self.cfg.straight_through {
            straight_through(out, &x)
        } else {
            out
        })
    }
}

impl_module!(RandomMotionBlur3D, RandomEqualize3D);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomMotionBlur3D {
    type Config = MotionBlur3DConfig;

    fn from_kornia(kw: &Kwargs) -> Result<MotionBlur3DConfig> {
        let mut c = MotionBlur3DConfig::default();
        set!(c.kernel_size = motion_kernel_size(kw, "kernel_size")?);
        set!(c.angle = kw.angles("angle")?);
        set!(c.direction = kw.range("direction", 0.0, -1.0)?);
        set!(c.border_type = kw.enm::<Border>("border_type")?);
        set!(c.resample = kw.enm::<Resample>("resample")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomEqualize3D {
    type Config = Equalize3DConfig;

    fn from_kornia(kw: &Kwargs) -> Result<Equalize3DConfig> {
        let mut c = Equalize3DConfig::default();
        common!(kw, c);
        Ok(c)
    }
}
