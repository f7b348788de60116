//! RandomMotionBlur.

use crate::augmentation::impl_module;
use crate::checks;
use crate::filter::{filter2d, Border};
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, uniform_between, Learnable, Range};
use crate::warp::{self, Resample, Sampling};
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// The kernel size of [`RandomMotionBlur`] (Kornia's `kernel_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MotionKernelSize {
    /// One odd size >= 3 (Kornia's int).
    Fixed(i64),
    /// An odd size drawn from [lo, hi], one for the whole batch (Kornia's pair).
    Range(i64, i64),
}

/// Configuration of [`RandomMotionBlur`]; `Default` is Kornia's, with the required
/// `kernel_size = 3`, `angle = (-45, 45)`, `direction = (-1, 1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MotionBlurConfig {
    /// The kernel size.
    pub kernel_size: MotionKernelSize,
    /// Range of the motion angle in degrees, within [-360, 360].
    pub angle: (f64, f64),
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

impl MotionBlurConfig {
    /// Kornia's `RandomMotionBlur(kernel_size=k, angle=a, direction=d)`: angle in
    /// `(-a, a)`, direction in `(-d, d)`.
    pub fn new(kernel_size: i64, angle: f64, direction: f64) -> MotionBlurConfig {
        MotionBlurConfig {
            kernel_size: MotionKernelSize::Fixed(kernel_size),
            angle: (-angle, angle),
            direction: (-direction, direction),
            ..Default::default()
        }
    }
}

impl Default for MotionBlurConfig {
    fn default() -> Self {
        MotionBlurConfig {
            kernel_size: MotionKernelSize::Fixed(3),
            angle: (-45.0, 45.0),
            direction: (-1.0, 1.0),
            border_type: Border::Constant,
            resample: Resample::Nearest,
            same_on_batch: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Blurs along a random line (Kornia's `RandomMotionBlur`): a K×K kernel whose middle row
/// ramps linearly with `direction`, rotated by `angle` (nearest: Kornia's snapped index
/// map, computed on the device; bilinear: a warp), normalised, applied with one grouped
/// convolution for the batch.
///
/// The kernel size is shared by the batch and drawn on the CPU generator (its value fixes
/// tensor shapes, so it is read on the host without waiting for the GPU), as Kornia draws
/// it.
///
/// Params: `ksize_factor` (B,) int32, `angle_factor`, `direction_factor` (B,), `idx` (1,)
/// int64.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on an even or < 3 kernel size, ranges out of their domain or a bad `p`;
/// `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomMotionBlur {
    cfg: MotionBlurConfig,
    angle: Range,
    direction: Range,
}

const MOTION: &str = "RandomMotionBlur";

/// The names of [`RandomMotionBlur`]'s ranges (see [`crate::Learnable`]).
const RANDOM_MOTION_BLUR_RANGES: [&str; 2] = ["angle", "direction"];

impl RandomMotionBlur {
    /// Builds the augmentation; `angle` and `direction` live under `path`.
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: MotionBlurConfig,
    ) -> Result<RandomMotionBlur> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomMotionBlur", &RANDOM_MOTION_BLUR_RANGES)?;
        check_kernel_size(MOTION, cfg.kernel_size)?;
        checks::range(MOTION, "angle", cfg.angle, (-360.0, 360.0))?;
        checks::range(MOTION, "direction", cfg.direction, (-1.0, 1.0))?;
        checks::probability(MOTION, "p", cfg.p)?;
        let angle = Range::new(path, "angle", cfg.angle, &cfg.learnable, (-360.0, 360.0));
        let direction = Range::new(
            path,
            "direction",
            cfg.direction,
            &cfg.learnable,
            (-1.0, 1.0),
        );
        Ok(RandomMotionBlur {
            cfg,
            angle,
            direction,
        })
    }
}

/// An odd kernel size >= 3, or a range 3 <= lo <= hi.
pub(crate) fn check_kernel_size(op: &'static str, ks: MotionKernelSize) -> Result<()> {
    match ks {
        MotionKernelSize::Fixed(k) if k < 3 || k % 2 == 0 => {
            Err(checks::config(op, "kernel_size", k, "an odd size >= 3"))
        }
        MotionKernelSize::Range(lo, hi) if lo < 3 || lo > hi => Err(checks::config(
            op,
            "kernel_size",
            format!("({lo}, {hi})"),
            "3 <= lo <= hi",
        )),
        _ => Ok(()),
    }
}

/// Kornia's half-size sampler: (draw bounds lo, hi, largest half size).
fn ksize_sampler(ks: MotionKernelSize) -> (f64, f64, i64) {
    match ks {
        MotionKernelSize::Fixed(k) => ((k / 2) as f64, (k / 2) as f64, k / 2),
        MotionKernelSize::Range(lo, hi) => {
            let half_lo = lo / 2;
            let half_hi = half_lo.max((hi - 1) / 2);
            (half_lo as f64, (half_hi + 1) as f64, half_hi)
        }
    }
}

/// Kornia's odd kernel sizes `2·min(floor(half), half_max) + 1` (int32) from `n` draws on
/// the CPU generator (one shared draw for a size range or `same_on_batch`).
pub(crate) fn draw_ksize(ks: MotionKernelSize, n: i64, same_on_batch: bool) -> Result<Tensor> {
    let (lo, hi, half_max) = ksize_sampler(ks);
    let shared = same_on_batch || matches!(ks, MotionKernelSize::Range(..));
    let half = uniform_between(n, shared, Device::Cpu, (lo, hi))?.floor();
    Ok((half.clamp_max(half_max as f64).to_kind(Kind::Int) * 2 + 1).to_kind(Kind::Int))
}

/// The motion kernels (B,K,K), Kornia's `get_motion_kernel2d`.
fn motion_kernel(k: i64, angle: &Tensor, direction: &Tensor, resample: Resample) -> Result<Tensor> {
    let b = angle.size()[0];
    let direction = (direction.clamp(-1.0, 1.0) + 1.0) / 2.0;
    let step: Tensor = (1f64 - &direction * 2.0) / (k - 1) as f64;
    let positions = Tensor::f_arange(k, (direction.kind(), direction.device()))?.view([1, k]);
    let row = direction.view([b, 1]) + step.view([b, 1]) * positions;
    let kernel = row
        .view([b, 1, k])
        .f_pad([0, 0, k / 2, k / 2], "constant", Some(0.0))?;
    let kernel = match resample {
        Resample::Nearest => rotate_nearest(&kernel, angle),
        mode => {
            let centre = Tensor::f_full(
                [b, 2],
                (k - 1) as f64 / 2.0,
                (kernel.kind(), kernel.device()),
            )?;
            let m =
                warp::rotation_matrix(&centre, &angle.to_kind(kernel.kind()), &centre.ones_like());
            let opts = Sampling::new(mode, true);
            let t = crate::Transform::from_parts(m, crate::TransformClass::Affine);
            warp::warp(&kernel.unsqueeze(1), &t, &[k, k], &opts)?.squeeze_dim(1)
        }
    };
    Ok(&kernel / kernel.sum_dim_intlist([1i64, 2].as_slice(), true, kernel.kind()))
}

/// Kornia's `_rotate_nearest`: each output tap takes the input tap at its rotated position,
/// in float64 on the kernel's device ([`nearest_taps`]).
fn rotate_nearest(kernel: &Tensor, angle: &Tensor) -> Tensor {
    let size = kernel.size();
    let (b, k) = (size[0], size[2]);
    let dev = kernel.device();
    let centre = (k - 1) as f64 / 2.0;
    let rad = (angle
        .detach()
        .to_kind(Kind::Double)
        .to_device(dev)
        .remainder(360.0)
        * (std::f64::consts::PI / 180.0))
        .view([b, 1, 1]);
    let (cos, sin) = (rad.cos(), rad.sin());
    let offsets = Tensor::arange(k, (Kind::Double, dev)) - centre;
    let v = offsets.view([1, k, 1]);
    let u = offsets.view([1, 1, k]);
    let col = (&cos * &u) - (&sin * &v);
    let row = (&sin * &u) + (&cos * &v);
    nearest_taps(kernel, &[row, col])
}

/// The nearest-neighbour resampling of Kornia's motion kernels (2D and 3D): `source` holds,
/// slowest axis first, each output tap's source position relative to the kernel centre
/// (float64, broadcastable to (B, k, ..., k)); positions are snapped to 2^-20 and rounded,
/// and taps landing outside the kernel read 0. One `gather` for the batch.
pub(crate) fn nearest_taps(kernel: &Tensor, source: &[Tensor]) -> Tensor {
    let size = kernel.size();
    let (b, k) = (size[0], size[size.len() - 1]);
    let centre = (k - 1) as f64 / 2.0;
    let snap = 2f64.powi(20);
    let mut flat: Option<Tensor> = None;
    let mut inside: Option<Tensor> = None;
    for s in source {
        let s = ((s * snap).round() / snap + centre).round();
        let ok = s.ge(0.0).logical_and(&s.lt(k as f64));
        inside = Some(match inside {
            Some(i) => i.logical_and(&ok),
            None => ok,
        });
        flat = Some(match flat {
            Some(f) => f * k as f64 + s,
            None => s,
        });
    }
    let (flat, inside) = (flat.expect("an axis"), inside.expect("an axis"));
    let index = (flat + 1.0)
        .where_scalarother(&inside, 0.0)
        .to_kind(Kind::Int64)
        .expand(size.as_slice(), false)
        .reshape([b, -1]);
    let weights = kernel.reshape([b, -1]).constant_pad_nd([1, 0]);
    weights.gather(1, &index, false).view(size.as_slice())
}

impl Augmentation for RandomMotionBlur {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_MOTION_BLUR_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.angle, &self.direction]
    }

    fn name(&self) -> &'static str {
        MOTION
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomMotionBlur(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let angle = self.angle.sample(b, same, device)?;
        let direction = self.direction.sample(b, same, device)?;
        let ksize = draw_ksize(self.cfg.kernel_size, b, same)?;
        let idx = crate::rng::randint(0, b, &[1], (Kind::Int64, Device::Cpu))?;
        p.insert("ksize_factor", ksize);
        p.insert("angle_factor", angle);
        p.insert("direction_factor", direction);
        p.insert("idx", idx);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = input.size()[0];
        let k = match self.cfg.kernel_size {
            MotionKernelSize::Fixed(k) => k,
            MotionKernelSize::Range(..) => {
                // One size for the batch, drawn on the CPU: reading it does not wait for the GPU.
                let sizes = params
                    .shaped(MOTION, "ksize_factor", &[b])?
                    .to_device(Device::Cpu);
                // Kornia reads the first entry (a VideoSequential repeats it over frames).
                let idx = params.require(MOTION, "idx")?;
                if idx.dim() != 1 || idx.size()[0] < 1 {
                    return Err(Error::Params {
                        op: MOTION,
                        key: "idx".into(),
                        problem: format!(
                            "has shape {:?}; expected (n,) with n >= 1 (the first entry is read)",
                            idx.size()
                        ),
                    });
                }
                let idx = idx.to_device(Device::Cpu).int64_value(&[0]);
                if !(0..b).contains(&idx) {
                    return Err(Error::Params {
                        op: MOTION,
                        key: "idx".into(),
                        problem: format!("is {idx}; expected 0..{b}"),
                    });
                }
                sizes.int64_value(&[idx])
            }
        };
        let get = |key: &str| -> Result<Tensor> {
            Ok(params
                .shaped(MOTION, key, &[b])?
                .to_device(input.device())
                .to_kind(input.kind()))
        };
        let kernel = motion_kernel(
            k,
            &get("angle_factor")?,
            &get("direction_factor")?,
            self.cfg.resample,
        )?;
        filter2d(self.name(), input, &kernel, self.cfg.border_type)
    }
}

impl_module!(RandomMotionBlur);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomMotionBlur {
    type Config = MotionBlurConfig;

    fn from_kornia(kw: &Kwargs) -> Result<MotionBlurConfig> {
        let mut c = MotionBlurConfig::default();
        set!(c.kernel_size = motion_kernel_size(kw, "kernel_size")?);
        set!(c.angle = kw.range("angle", 0.0, -360.0)?);
        set!(c.direction = kw.range("direction", 0.0, -1.0)?);
        set!(c.border_type = kw.enm::<Border>("border_type")?);
        set!(c.resample = kw.enm("resample")?);
        common!(kw, c);
        Ok(c)
    }
}

/// Kornia's motion-blur `kernel_size`: an odd size or a (lo, hi) range of sizes.
pub(crate) fn motion_kernel_size(kw: &Kwargs, key: &str) -> Result<Option<MotionKernelSize>> {
    Ok(match kw.nums(key)?.as_deref() {
        None => None,
        Some([k]) => Some(MotionKernelSize::Fixed(*k as i64)),
        Some([a, b]) => Some(MotionKernelSize::Range(*a as i64, *b as i64)),
        Some(_) => return Err(kw.err(key, "an odd size or a (lo, hi) range of sizes")),
    })
}
