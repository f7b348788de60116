//! RandomFisheye and RandomElasticTransform: dense (per-pixel) warps.

use crate::augmentation::impl_module;
use crate::checks;
use crate::filter::{filter2d_separable, gaussian_kernel1d, Border};
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, Learnable, Range};
use crate::warp::{self, Padding, Resample, Sampling};
use crate::{AugSpec, Augmentation, DenseField, Geometry, Params, Result};
use std::borrow::Borrow;

/// `apply_transform` and `geometry_ungated` of a dense warp from its `grid` method: the image
/// is sampled on the grid, and the grid is the warp's [`DenseField`].
macro_rules! dense_warp {
    () => {
        fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
            let (grid, opts) = self.grid(&input.size(), params, input.kind(), input.device())?;
            warp::sample(input, &grid, &opts)
        }

        fn geometry_ungated(
            &self,
            shape: &[i64],
            params: &Params,
            kind: Kind,
            device: Device,
        ) -> Result<Geometry> {
            let (grid, opts) = self.grid(shape, params, kind, device)?;
            let field = DenseField::from_grid(&grid, opts.align_corners, (shape[2], shape[3]));
            Ok(Geometry::Dense(field))
        }
    };
}
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomFisheye`]; `Default` is Kornia's, with the required ranges
/// center (-0.3, 0.3) and gamma (0.9, 1.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FisheyeConfig {
    /// Range of the x centre in normalised coordinates [-1, 1].
    pub center_x: (f64, f64),
    /// Range of the y centre in normalised coordinates [-1, 1].
    pub center_y: (f64, f64),
    /// Range of the distortion exponent.
    pub gamma: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Default for FisheyeConfig {
    fn default() -> Self {
        FisheyeConfig {
            center_x: (-0.3, 0.3),
            center_y: (-0.3, 0.3),
            gamma: (0.9, 1.1),
            same_on_batch: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Fisheye distortion (Kornia's `RandomFisheye`): the sampling grid `g` (normalised,
/// corners aligned) becomes `g + g·d^gamma`, `d` the distance to the drawn centre.
///
/// Params: `center_x`, `center_y`, `gamma` (B,1).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on NaN or reversed ranges or a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomFisheye {
    cfg: FisheyeConfig,
    ranges: [Range; 3],
}

const FISHEYE: &str = "RandomFisheye";
const FISHEYE_KEYS: [&str; 3] = ["center_x", "center_y", "gamma"];
/// The ranges' domains: a centre within 10 image half-sizes and a gamma in [0, 30] keep
/// `d^gamma` (d the distance to the centre, at most about 15.6) finite in float32; a
/// negative gamma is infinite at the centre (Kornia's output is NaN there).
const FISHEYE_DOMAINS: [(f64, f64); 3] = [(-10.0, 10.0), (-10.0, 10.0), (0.0, 30.0)];

impl RandomFisheye {
    /// The sampling grid (B,H,W,2) and the sampler's options for an input of `size`.
    fn grid(
        &self,
        size: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<(Tensor, Sampling)> {
        let (b, h, w) = (size[0], size[2], size[3]);
        let get = |k: &str| -> Result<Tensor> {
            Ok(params
                .shaped(FISHEYE, k, &[b, 1])?
                .to_device(device)
                .to_kind(kind)
                .view([b, 1, 1]))
        };
        let (cx, cy, gamma) = (get("center_x")?, get("center_y")?, get("gamma")?);
        let lin = |n: i64| {
            if n == 1 {
                Tensor::full([1], -1.0, (kind, device))
            } else {
                Tensor::linspace(-1.0, 1.0, n, (kind, device))
            }
        };
        let fx = lin(w).view([1, 1, w]).expand([1, h, w], false);
        let fy = lin(h).view([1, h, 1]).expand([1, h, w], false);
        let d = ((&cx - &fx).square() + (&cy - &fy).square()).pow_tensor_scalar(0.5);
        let scale = d.pow(&gamma);
        let gx = &fx + &fx * &scale;
        let gy = &fy + &fy * &scale;
        let grid = Tensor::stack(&[gx, gy], -1);
        let opts = Sampling {
            align_corners: true,
            ..Default::default()
        };
        Ok((grid, opts))
    }

    /// Builds the augmentation; its ranges live under `path` (`&path` or `path / "name"`, as tch's layers take it).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(path: P, cfg: FisheyeConfig) -> Result<RandomFisheye> {
        let path = path.borrow();
        cfg.learnable.check("RandomFisheye", &FISHEYE_KEYS)?;
        let limits = [cfg.center_x, cfg.center_y, cfg.gamma];
        for ((key, r), domain) in FISHEYE_KEYS.into_iter().zip(limits).zip(FISHEYE_DOMAINS) {
            checks::range(FISHEYE, key, r, domain)?;
        }
        checks::probability(FISHEYE, "p", cfg.p)?;
        let ranges = [0, 1, 2].map(|i| {
            Range::new(
                path,
                FISHEYE_KEYS[i],
                limits[i],
                &cfg.learnable,
                FISHEYE_DOMAINS[i],
            )
        });
        Ok(RandomFisheye { cfg, ranges })
    }
}

impl Augmentation for RandomFisheye {
    fn range_names(&self) -> &'static [&'static str] {
        &FISHEYE_KEYS
    }

    fn ranges(&self) -> Vec<&Range> {
        self.ranges.iter().collect()
    }

    fn name(&self) -> &'static str {
        FISHEYE
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomFisheye(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        for (key, range) in FISHEYE_KEYS.into_iter().zip(&self.ranges) {
            p.insert(key, range.sample(b, same, device)?.view([b, 1]));
        }
        Ok(p)
    }

    dense_warp!();
}

/// Configuration of [`RandomElasticTransform`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElasticConfig {
    /// Gaussian kernel (height, width) smoothing the noise, odd.
    pub kernel_size: (i64, i64),
    /// Gaussian standard deviations (y, x), > 0.
    pub sigma: (f64, f64),
    /// Displacement scales (x, y) in normalised coordinates.
    pub alpha: (f64, f64),
    /// `grid_sample`'s `align_corners` (Kornia: false).
    pub align_corners: bool,
    /// Interpolation.
    pub resample: Resample,
    /// What is sampled outside the image.
    pub padding_mode: Padding,
    /// One noise field shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of transforming each sample.
    pub p: f64,
}

impl Default for ElasticConfig {
    fn default() -> Self {
        ElasticConfig {
            kernel_size: (63, 63),
            sigma: (32.0, 32.0),
            alpha: (1.0, 1.0),
            align_corners: false,
            resample: Resample::Bilinear,
            padding_mode: Padding::Zeros,
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// Elastic deformation (Kornia's `RandomElasticTransform`, Simard et al.): a uniform
/// noise field in [-1, 1]², smoothed by a Gaussian (zero border), scaled by `alpha`, added
/// to the identity grid.
///
/// Params: `noise` (B,2,H,W).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on an even kernel, a non-positive sigma, an alpha outside [-1000, 1000] or a bad `p`;
/// `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomElasticTransform {
    cfg: ElasticConfig,
}

const ELASTIC: &str = "RandomElasticTransform";

impl RandomElasticTransform {
    /// The sampling grid (B,H,W,2) and the sampler's options for an input of `size`.
    fn grid(
        &self,
        size: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<(Tensor, Sampling)> {
        let (b, h, w) = (size[0], size[2], size[3]);
        let noise = params
            .shaped(ELASTIC, "noise", &[b, 2, h, w])?
            .to_device(device)
            .to_kind(kind);
        let (kh, kw) = self.cfg.kernel_size;
        let (sy, sx) = self.cfg.sigma;
        let kx = gaussian_kernel1d(kw, &Tensor::f_full([1, 1], sx, (kind, device))?)?;
        let ky = gaussian_kernel1d(kh, &Tensor::f_full([1, 1], sy, (kind, device))?)?;
        let smooth = |c: i64| {
            filter2d_separable(ELASTIC, &noise.narrow(1, c, 1), &kx, &ky, Border::Constant)
        };
        let disp_x = smooth(0)? * self.cfg.alpha.0;
        let disp_y = smooth(1)? * self.cfg.alpha.1;
        let disp = Tensor::cat(&[disp_x, disp_y], 1).permute([0, 2, 3, 1]);
        let identity = Tensor::f_eye(2, (kind, device))?
            .f_pad([0, 1], "constant", Some(0.0))?
            .unsqueeze(0);
        let grid = Tensor::affine_grid_generator(&identity, [1, 1, h, w], self.cfg.align_corners);
        let opts = Sampling {
            resample: self.cfg.resample,
            padding: self.cfg.padding_mode,
            align_corners: self.cfg.align_corners,
            ..Default::default()
        };
        Ok((grid + disp, opts))
    }

    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: ElasticConfig,
    ) -> Result<RandomElasticTransform> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: ElasticConfig) -> Result<RandomElasticTransform> {
        let (kh, kw) = cfg.kernel_size;
        if kh < 1 || kw < 1 || kh % 2 == 0 || kw % 2 == 0 {
            return Err(checks::config(
                ELASTIC,
                "kernel_size",
                format!("({kh}, {kw})"),
                "odd sizes >= 1",
            ));
        }
        if !(checks::f32_positive(cfg.sigma.0) && checks::f32_positive(cfg.sigma.1)) {
            return Err(checks::config(
                ELASTIC,
                "sigma",
                format!("{:?}", cfg.sigma),
                "positive finite numbers (as float32)",
            ));
        }
        if !(cfg.alpha.0.abs() <= 1e3 && cfg.alpha.1.abs() <= 1e3) {
            return Err(checks::config(
                ELASTIC,
                "alpha",
                format!("{:?}", cfg.alpha),
                "numbers in [-1000, 1000] (displacements in normalised coordinates)",
            ));
        }
        checks::probability(ELASTIC, "p", cfg.p)?;
        Ok(RandomElasticTransform { cfg })
    }
}

impl Augmentation for RandomElasticTransform {
    fn name(&self) -> &'static str {
        ELASTIC
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomElasticTransform(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, h, w) = (shape[0], shape[2], shape[3]);
        let same = self.cfg.same_on_batch;
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let noise = if same {
            crate::rng::rand(&[1, 2, h, w], (Kind::Float, device))?.expand([b, 2, h, w], false)
        } else {
            crate::rng::rand(&[b, 2, h, w], (Kind::Float, device))?
        };
        p.insert("noise", noise * 2.0 - 1.0);
        Ok(p)
    }

    dense_warp!();
}

/// Configuration of [`RandomThinPlateSpline`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThinPlateSplineConfig {
    /// Control points move by up to this much (normalised coordinates), in [0, 1000]
    /// (beyond, the spline's kernel overflows float32; past 2 the image has left the frame).
    pub scale: f64,
    /// `grid_sample`'s `align_corners` (Kornia: false).
    pub align_corners: bool,
    /// What is sampled outside the image.
    pub padding_mode: Padding,
    /// One deformation shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of transforming each sample.
    pub p: f64,
}

impl Default for ThinPlateSplineConfig {
    fn default() -> Self {
        ThinPlateSplineConfig {
            scale: 0.2,
            align_corners: false,
            padding_mode: Padding::Zeros,
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// Thin-plate-spline warp through five control points (the corners and the centre) moved
/// by uniform noise (Kornia's `RandomThinPlateSpline`). The spline is solved in float64
/// with `linalg_solve_ex` (no error check, so no host synchronisation).
///
/// Params: `src`, `dst` (B,5,2) control points in normalised coordinates.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a negative or non-finite scale or a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomThinPlateSpline {
    cfg: ThinPlateSplineConfig,
}

const TPS: &str = "RandomThinPlateSpline";

impl RandomThinPlateSpline {
    /// The sampling grid (B,H,W,2) and the sampler's options for an input of `size`.
    fn grid(
        &self,
        size: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<(Tensor, Sampling)> {
        let (b, h, w) = (size[0], size[2], size[3]);
        let get = |k: &str| -> Result<Tensor> {
            Ok(params
                .shaped(TPS, k, &[b, 5, 2])?
                .to_device(device)
                .to_kind(kind))
        };
        // Kornia solves the spline taking `dst` to `src` (the sampling direction).
        let (centres, targets) = (get("dst")?, get("src")?);
        let src_points = targets.shallow_clone();
        let n = 5;
        let k = tps_kernel(&pair_sq_dist(&centres, &targets));
        let p = Tensor::cat(
            &[
                Tensor::f_ones([b, n, 1], (kind, device))?,
                centres.shallow_clone(),
            ],
            -1,
        );
        let zeros3 = Tensor::f_zeros([b, 3, 3], (kind, device))?;
        let top = Tensor::cat(&[k, p.shallow_clone()], -1);
        let bottom = Tensor::cat(&[p.transpose(1, 2), zeros3.shallow_clone()], -1);
        let l = Tensor::cat(&[top, bottom], 1);
        let rhs = Tensor::cat(&[targets, zeros3.narrow(2, 0, 2)], 1);
        let (weights, _info) = Tensor::f_linalg_solve_ex(
            &l.to_kind(Kind::Double),
            &rhs.to_kind(Kind::Double),
            true,
            false,
        )?;
        let weights = weights.to_kind(kind);
        let kernel_w = weights.narrow(1, 0, n);
        let affine_w = weights.narrow(1, n, 3);
        let xs = warp::base_coords(w, self.cfg.align_corners, kind, device)?
            .view([1, w])
            .expand([h, w], false);
        let ys = warp::base_coords(h, self.cfg.align_corners, kind, device)?
            .view([h, 1])
            .expand([h, w], false);
        let coords = Tensor::stack(&[xs, ys], -1)
            .view([1, h * w, 2])
            .expand([b, h * w, 2], false);
        // Kornia evaluates the basis around `src` (its `kernel_centers`).
        let kd = tps_kernel(&pair_sq_dist(&coords, &src_points));
        let warped = kd.matmul(&kernel_w)
            + coords.matmul(&affine_w.narrow(1, 1, 2))
            + affine_w.narrow(1, 0, 1);
        let grid = warped.view([b, h, w, 2]);
        let opts = Sampling {
            resample: Resample::Bilinear,
            padding: self.cfg.padding_mode,
            align_corners: self.cfg.align_corners,
            ..Default::default()
        };
        Ok((grid, opts))
    }

    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: ThinPlateSplineConfig,
    ) -> Result<RandomThinPlateSpline> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: ThinPlateSplineConfig) -> Result<RandomThinPlateSpline> {
        if !(0.0..=1000.0).contains(&cfg.scale) {
            return Err(checks::config(
                TPS,
                "scale",
                cfg.scale,
                "a number in [0, 1000]",
            ));
        }
        checks::probability(TPS, "p", cfg.p)?;
        Ok(RandomThinPlateSpline { cfg })
    }
}

/// Squared distances (B,N,M) between point sets (B,N,2) and (B,M,2), clamped at 0.
fn pair_sq_dist(a: &Tensor, b: &Tensor) -> Tensor {
    let a2 = a
        .square()
        .sum_dim_intlist([-1i64].as_slice(), true, a.kind());
    let b2 = b
        .square()
        .sum_dim_intlist([-1i64].as_slice(), true, b.kind())
        .transpose(1, 2);
    (a.matmul(&b.transpose(1, 2)) * -2.0 + a2 + b2).clamp_min(0.0)
}

/// The TPS radial basis `0.5·d²·log(d²)` (0 at d = 0).
fn tps_kernel(d2: &Tensor) -> Tensor {
    let pos = d2.gt(0.0);
    let safe = d2.where_self(&pos, &d2.ones_like());
    (d2 * safe.log() * 0.5).where_self(&pos, &d2.zeros_like())
}

impl Augmentation for RandomThinPlateSpline {
    fn name(&self) -> &'static str {
        TPS
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomThinPlateSpline(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let opts = (Kind::Float, device);
        let src = crate::ops::constant(
            &[-1.0f32, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 0.0, 0.0],
            Kind::Float,
            device,
        )
        .view([1, 5, 2])
        .expand([b, 5, 2], false);
        let noise = if self.cfg.scale == 0.0 {
            Tensor::f_zeros([b, 5, 2], opts)?
        } else {
            let s = self.cfg.scale as f32 as f64;
            let u = if same {
                crate::rng::rand(&[1, 5, 2], opts)?.expand([b, 5, 2], false)
            } else {
                crate::rng::rand(&[b, 5, 2], opts)?
            };
            u * (2.0 * s) - s
        };
        p.insert("dst", &src + noise);
        p.insert("src", src);
        Ok(p)
    }

    dense_warp!();
}

impl_module!(RandomFisheye, RandomElasticTransform, RandomThinPlateSpline);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomFisheye {
    type Config = FisheyeConfig;

    fn from_kornia(kw: &Kwargs) -> Result<FisheyeConfig> {
        let mut c = FisheyeConfig::default();
        set!(c.center_x = kw.pair("center_x")?);
        set!(c.center_y = kw.pair("center_y")?);
        set!(c.gamma = kw.pair("gamma")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomElasticTransform {
    type Config = ElasticConfig;

    fn from_kornia(kw: &Kwargs) -> Result<ElasticConfig> {
        let mut c = ElasticConfig::default();
        set!(c.kernel_size = kw.size("kernel_size")?);
        set!(c.sigma = kw.pair("sigma")?);
        set!(c.alpha = kw.pair("alpha")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.resample = kw.enm("resample")?);
        set!(c.padding_mode = kw.enm::<Padding>("padding_mode")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomThinPlateSpline {
    type Config = ThinPlateSplineConfig;

    fn from_kornia(kw: &Kwargs) -> Result<ThinPlateSplineConfig> {
        let mut c = ThinPlateSplineConfig::default();
        set!(c.scale = kw.num("scale")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.padding_mode = kw.enm::<Padding>("padding_mode")?);
        common!(kw, c);
        Ok(c)
    }
}
