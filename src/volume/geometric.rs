//! RandomAffine3D, RandomRotation3D and RandomPerspective3D (the 3D flips live with the
//! 2D ones in `geometric::flip`).

use super::{check_resample, dhw};
use crate::augmentation::impl_module;
use crate::checks;
use crate::geometric::{distortion_scale_var, end_and_extent};
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::constant;
use crate::range::{gate_params, uniform, Learnable, Range};
use crate::warp::{matrix3d, Resample, Sampling};
use crate::{AugSpec, Augmentation, Geometry, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Three ranges (lo, hi) in degrees, one per rotation component; Kornia's scalar `d` is
/// `[(-d, d); 3]`.
pub type AngleRanges = [(f64, f64); 3];

/// The scale of [`RandomAffine3D`] (Kornia's `scale`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale3D {
    /// One factor for all three axes (Kornia's `(lo, hi)`).
    Isotropic((f64, f64)),
    /// One range per axis x, y, z (Kornia's 3×2).
    PerAxis([(f64, f64); 3]),
}

/// Configuration of [`RandomAffine3D`]; field names follow Kornia's constructor.
/// `Default` is Kornia's defaults, with the required `degrees` set to zeros.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Affine3DConfig {
    /// Ranges of the rotation's axis-angle components (yaw, pitch, roll) in degrees, within
    /// [-360, 360].
    pub degrees: AngleRanges,
    /// Maximum translation as fractions (a, b, c) of (W, H, D): tx ~ U(-a, a)·W, ...
    pub translate: Option<(f64, f64, f64)>,
    /// Scale ranges.
    pub scale: Option<Scale3D>,
    /// Shear ranges in degrees for sxy, sxz, syx, syz, szx, szy (Kornia's 6×2; its scalar
    /// `s` is `[(-s, s); 6]`).
    pub shears: Option<[(f64, f64); 6]>,
    /// Interpolation (bilinear or nearest).
    pub resample: Resample,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// `grid_sample`'s `align_corners` (Kornia: false).
    pub align_corners: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Affine3DConfig {
    /// Kornia's `RandomAffine3D(degrees=d)`: `(-d, d)` about every axis.
    pub fn degrees(d: f64) -> Affine3DConfig {
        Affine3DConfig {
            degrees: [(-d, d); 3],
            ..Default::default()
        }
    }
}

impl Default for Affine3DConfig {
    fn default() -> Self {
        Affine3DConfig {
            degrees: [(0.0, 0.0); 3],
            translate: None,
            scale: None,
            shears: None,
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// The names of the six shear components, Kornia's param keys.
const SHEARS: [&str; 6] = ["sxy", "sxz", "syx", "syz", "szx", "szy"];

/// Random 3D rotation (axis-angle), translation, scale and shear about the volume's centre
/// (Kornia's `RandomAffine3D`): `[T(c) R(-angles) S T(-c) + t] · Shear_c`, zeros outside.
///
/// Params (Kornia's keys): `translations`, `center`, `scale`, `angles` (B,3) and `sxy`, `sxz`,
/// `syx`, `syz`, `szx`, `szy` (B,) in degrees; `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,D,H,W) or (C,D,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on ranges out of their domain, a bicubic `resample` or a bad `p`; `f_*`
/// forms on a bad input.
#[derive(Debug)]
pub struct RandomAffine3D {
    cfg: Affine3DConfig,
    degrees: [Range; 3],
    translate: Option<[Range; 3]>,
    scale: Option<Vec<Range>>,
    shears: Option<Vec<Range>>,
}

const AFFINE3D: &str = "RandomAffine3D";
const AXES: [&str; 3] = ["yaw", "pitch", "roll"];

fn angle_ranges(
    path: &nn::Path,
    op: &'static str,
    r: &AngleRanges,
    l: &Learnable,
) -> Result<[Range; 3]> {
    for range in r {
        checks::range(op, "degrees", *range, (-360.0, 360.0))?;
    }
    Ok([0, 1, 2].map(|i| Range::new(path, AXES[i], r[i], l, (-360.0, 360.0))))
}

/// The names of [`RandomAffine3D`]'s ranges (see [`crate::Learnable`]).
const RANDOM_AFFINE3D_RANGES: [&str; 16] = [
    "yaw",
    "pitch",
    "roll",
    "translate_x",
    "translate_y",
    "translate_z",
    "scale",
    "scale_x",
    "scale_y",
    "scale_z",
    "sxy",
    "sxz",
    "syx",
    "syz",
    "szx",
    "szy",
];

impl RandomAffine3D {
    /// Builds the augmentation; its ranges live under `path` (`&path` or `path / "name"`, as tch's layers take it).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: Affine3DConfig,
    ) -> Result<RandomAffine3D> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomAffine3D", &RANDOM_AFFINE3D_RANGES)?;
        let l = &cfg.learnable;
        let degrees = angle_ranges(path, AFFINE3D, &cfg.degrees, l)?;
        let translate = match cfg.translate {
            Some((a, b, c)) => {
                if ![a, b, c].iter().all(|v| (0.0..=1.0).contains(v)) {
                    return Err(checks::config(
                        AFFINE3D,
                        "translate",
                        format!("({a}, {b}, {c})"),
                        "fractions of (W, H, D) in [0, 1]",
                    ));
                }
                let names = ["translate_x", "translate_y", "translate_z"];
                let v = [a, b, c];
                Some(
                    [0, 1, 2]
                        .map(|i| Range::single(path, names[i], v[i], l.has(names[i]), (0.0, 1.0))),
                )
            }
            None => None,
        };
        let positive = checks::SCALE_DOMAIN;
        let scale = match &cfg.scale {
            Some(Scale3D::Isotropic(s)) => {
                checks::range(AFFINE3D, "scale", *s, positive)?;
                Some(vec![Range::new(path, "scale", *s, l, checks::SCALE_DOMAIN)])
            }
            Some(Scale3D::PerAxis(s)) => {
                let names = ["scale_x", "scale_y", "scale_z"];
                let mut v = Vec::new();
                for (i, r) in s.iter().enumerate() {
                    checks::range(AFFINE3D, "scale", *r, positive)?;
                    v.push(Range::new(path, names[i], *r, l, checks::SCALE_DOMAIN));
                }
                Some(v)
            }
            None => None,
        };
        let shears = match &cfg.shears {
            Some(s) => {
                let mut v = Vec::new();
                for (i, r) in s.iter().enumerate() {
                    checks::range(AFFINE3D, "shears", *r, (-360.0, 360.0))?;
                    v.push(Range::new(path, SHEARS[i], *r, l, (-360.0, 360.0)));
                }
                Some(v)
            }
            None => None,
        };
        check_resample(AFFINE3D, cfg.resample)?;
        checks::probability(AFFINE3D, "p", cfg.p)?;
        Ok(RandomAffine3D {
            cfg,
            degrees,
            translate,
            scale,
            shears,
        })
    }

    /// The rotation ranges (yaw, pitch, roll) in degrees.
    pub fn degrees(&self) -> &[Range; 3] {
        &self.degrees
    }

    fn warp_options(&self) -> Sampling {
        Sampling::new(self.cfg.resample, self.cfg.align_corners)
    }
}

impl Augmentation for RandomAffine3D {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_AFFINE3D_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        self.degrees
            .iter()
            .chain(self.translate.iter().flatten())
            .chain(self.scale.iter().flatten())
            .chain(self.shears.iter().flatten())
            .collect()
    }

    fn name(&self) -> &'static str {
        AFFINE3D
    }

    fn spatial_dims(&self) -> usize {
        3
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomAffine3D(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let opts = (Kind::Float, device);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let angles: Vec<Tensor> = self
            .degrees
            .iter()
            .map(|r| r.sample(b, same, device))
            .collect::<Result<_>>()?;
        let scale = match &self.scale {
            Some(r) if r.len() == 1 => r[0]
                .sample(b, same, device)?
                .unsqueeze(1)
                .f_repeat([1, 3])?,
            Some(r) => Tensor::stack(
                &r.iter()
                    .map(|r| r.sample(b, same, device))
                    .collect::<Result<Vec<_>>>()?,
                1,
            ),
            None => Tensor::f_ones([b, 3], opts)?,
        };
        let translations = match &self.translate {
            Some(t) => {
                let sizes = [shape[4], shape[3], shape[2]];
                let cols: Vec<Tensor> = (0..3)
                    .map(|i| -> Result<Tensor> {
                        // Kept in [0, 1] while it trains.
                        let max = t[i].effective(device).0 * sizes[i] as f64;
                        // In the variable's kind: a 0-dim tensor would not promote the draw.
                        Ok((uniform(b, same, device)?.to_kind(max.kind()) - 0.5) * max * 2.0)
                    })
                    .collect::<Result<_>>()?;
                Tensor::stack(&cols, 1)
            }
            None => Tensor::f_zeros([b, 3], opts)?,
        };
        p.insert("translations", translations);
        // Kornia draws W/2 - 0.5 in float32: the same value as (W-1)/2.
        p.insert(
            "center",
            voxel_center(shape, Kind::Float, device).contiguous(),
        );
        p.insert("scale", scale);
        p.insert("angles", Tensor::stack(&angles, 1));
        for (i, key) in SHEARS.iter().enumerate() {
            let s = match &self.shears {
                Some(r) => r[i].sample(b, same, device)?,
                None => Tensor::f_zeros([b], opts)?,
            };
            p.insert(*key, s);
        }
        Ok(p)
    }

    crate::geometric::warp_same_size!();

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let b = shape[0];
        let get = |k: &str, s: &[i64]| -> Result<Tensor> {
            Ok(params
                .shaped(AFFINE3D, k, s)?
                .to_device(device)
                .to_kind(kind))
        };
        let shears = SHEARS
            .iter()
            .map(|k| get(k, &[b]))
            .collect::<Result<Vec<_>>>()?;
        Ok(Geometry::affine(matrix3d::affine_matrix3d(
            &get("translations", &[b, 3])?,
            &get("center", &[b, 3])?,
            &get("scale", &[b, 3])?,
            &get("angles", &[b, 3])?,
            [
                &shears[0], &shears[1], &shears[2], &shears[3], &shears[4], &shears[5],
            ],
        )))
    }
}

/// Configuration of [`RandomRotation3D`]; `Default` is Kornia's, with zero `degrees`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rotation3DConfig {
    /// Ranges of the axis-angle components (yaw, pitch, roll) in degrees, within [-360, 360].
    pub degrees: AngleRanges,
    /// Interpolation (bilinear or nearest).
    pub resample: Resample,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// `grid_sample`'s `align_corners` (Kornia: false).
    pub align_corners: bool,
    /// Probability of rotating each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Rotation3DConfig {
    /// Kornia's `RandomRotation3D(degrees=d)`: `(-d, d)` about every axis.
    pub fn degrees(d: f64) -> Rotation3DConfig {
        Rotation3DConfig {
            degrees: [(-d, d); 3],
            ..Default::default()
        }
    }
}

impl Default for Rotation3DConfig {
    fn default() -> Self {
        Rotation3DConfig {
            degrees: [(0.0, 0.0); 3],
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Random 3D rotation about the volume's centre `((W-1)/2, (H-1)/2, (D-1)/2)` (Kornia's
/// `RandomRotation3D`): the rotation of the axis-angle vector (yaw, pitch, roll) in degrees,
/// zeros outside.
///
/// Params: `yaw`, `pitch`, `roll` (B,) in degrees; `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,D,H,W) or (C,D,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on ranges outside [-360, 360], a bicubic `resample` or a bad `p`; `f_*`
/// forms on a bad input.
#[derive(Debug)]
pub struct RandomRotation3D {
    cfg: Rotation3DConfig,
    degrees: [Range; 3],
}

const ROTATION3D: &str = "RandomRotation3D";

impl RandomRotation3D {
    /// Builds the augmentation; its ranges live under `path` (`&path` or `path / "name"`, as tch's layers take it).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: Rotation3DConfig,
    ) -> Result<RandomRotation3D> {
        let path = path.borrow();
        cfg.learnable.check("RandomRotation3D", &AXES)?;
        let degrees = angle_ranges(path, ROTATION3D, &cfg.degrees, &cfg.learnable)?;
        check_resample(ROTATION3D, cfg.resample)?;
        checks::probability(ROTATION3D, "p", cfg.p)?;
        Ok(RandomRotation3D { cfg, degrees })
    }

    /// The rotation ranges (yaw, pitch, roll) in degrees.
    pub fn degrees(&self) -> &[Range; 3] {
        &self.degrees
    }

    fn warp_options(&self) -> Sampling {
        Sampling::new(self.cfg.resample, self.cfg.align_corners)
    }
}

/// The centre `((W-1)/2, (H-1)/2, (D-1)/2)` as (B,3).
pub(crate) fn voxel_center(shape: &[i64], kind: Kind, device: Device) -> Tensor {
    let (d, h, w) = dhw(shape);
    let half = |n: i64| (n - 1) as f64 / 2.0;
    constant(&[half(w), half(h), half(d)], kind, device)
        .view([1, 3])
        .expand([shape[0], 3], false)
}

impl Augmentation for RandomRotation3D {
    fn range_names(&self) -> &'static [&'static str] {
        &AXES
    }

    fn ranges(&self) -> Vec<&Range> {
        self.degrees.iter().collect()
    }

    fn name(&self) -> &'static str {
        ROTATION3D
    }

    fn spatial_dims(&self) -> usize {
        3
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomRotation3D(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        for (i, r) in self.degrees.iter().enumerate() {
            p.insert(AXES[i], r.sample(b, same, device)?);
        }
        Ok(p)
    }

    crate::geometric::warp_same_size!();

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let b = shape[0];
        let angles = AXES
            .iter()
            .map(|k| {
                Ok(params
                    .shaped(ROTATION3D, k, &[b])?
                    .to_device(device)
                    .to_kind(kind))
            })
            .collect::<Result<Vec<_>>>()?;
        let angles = Tensor::stack(&angles, 1);
        let center = voxel_center(shape, kind, device);
        Ok(Geometry::affine(matrix3d::projective_transform(
            &center,
            &angles,
            &center.ones_like(),
        )))
    }
}

/// Configuration of [`RandomPerspective3D`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Perspective3DConfig {
    /// How far each corner may move, as a fraction of half the side, in [0, 1].
    pub distortion_scale: f64,
    /// Interpolation (bilinear or nearest).
    pub resample: Resample,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// `grid_sample`'s `align_corners` (Kornia: false).
    pub align_corners: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Default for Perspective3DConfig {
    fn default() -> Self {
        Perspective3DConfig {
            distortion_scale: 0.5,
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Random 3D projective warp (Kornia's `RandomPerspective3D`): each of the eight corners
/// moves inwards by up to `distortion_scale · side / 2` per axis, and the volume is warped by
/// the homography taking the corners to their new places.
///
/// Params: `start_points`, `end_points` (B,8,3) corners (x, y, z), front face first;
/// `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,D,H,W) or (C,D,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a `distortion_scale` outside [0, 1], a bicubic `resample` or a bad `p`;
/// `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomPerspective3D {
    cfg: Perspective3DConfig,
    distortion_scale: Range,
}

const PERSPECTIVE3D: &str = "RandomPerspective3D";

/// The names of [`RandomPerspective3D`]'s ranges (see [`crate::Learnable`]).
const RANDOM_PERSPECTIVE3D_RANGES: [&str; 1] = ["distortion_scale"];

impl RandomPerspective3D {
    /// Builds the augmentation; `distortion_scale` lives under `path`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: Perspective3DConfig,
    ) -> Result<RandomPerspective3D> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomPerspective3D", &RANDOM_PERSPECTIVE3D_RANGES)?;
        let distortion_scale = distortion_scale_var(
            path,
            PERSPECTIVE3D,
            cfg.distortion_scale,
            cfg.learnable.has("distortion_scale"),
        )?;
        check_resample(PERSPECTIVE3D, cfg.resample)?;
        checks::probability(PERSPECTIVE3D, "p", cfg.p)?;
        Ok(RandomPerspective3D {
            cfg,
            distortion_scale,
        })
    }

    /// The distortion scale (a 0-dim float32 tensor, trainable when learnable).
    pub fn distortion_scale(&self) -> &Tensor {
        self.distortion_scale.lo()
    }

    fn warp_options(&self) -> Sampling {
        Sampling::new(self.cfg.resample, self.cfg.align_corners)
    }
}

/// The signs that move each corner inwards.
#[rustfmt::skip]
const INWARDS: [f64; 24] = [
    1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0,
    1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0,
];

impl Augmentation for RandomPerspective3D {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_PERSPECTIVE3D_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.distortion_scale]
    }

    fn name(&self) -> &'static str {
        PERSPECTIVE3D
    }

    fn spatial_dims(&self) -> usize {
        3
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomPerspective3D(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let (d, h, w) = dhw(shape);
        let ((xe, xx), (ye, yx), (ze, zx)) =
            (end_and_extent(w), end_and_extent(h), end_and_extent(d));
        #[rustfmt::skip]
        let start = [
            0.0, 0.0, 0.0, xe, 0.0, 0.0, xe, ye, 0.0, 0.0, ye, 0.0,
            0.0, 0.0, ze, xe, 0.0, ze, xe, ye, ze, 0.0, ye, ze,
        ];
        let start = constant(&start, Kind::Float, device)
            .view([1, 8, 3])
            .expand([b, 8, 3], false);
        // Kept in its domain [0, 1] while it trains (the identity for a valid fixed value).
        let ds = self.distortion_scale.effective(device).0;
        let factor = Tensor::stack(&[&ds * (xx / 2.0), &ds * (yx / 2.0), &ds * (zx / 2.0)], 0)
            .view([1, 1, 3]);
        let rand = if same {
            crate::rng::rand(&[1, 8, 3], (Kind::Float, device))?.f_repeat([b, 1, 1])?
        } else {
            crate::rng::rand(&[b, 8, 3], (Kind::Float, device))?
        };
        let inwards = constant(&INWARDS, Kind::Float, device).view([1, 8, 3]);
        let end = &start + factor * rand * inwards;
        p.insert("start_points", start.contiguous());
        p.insert("end_points", end);
        Ok(p)
    }

    crate::geometric::warp_same_size!();

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let b = shape[0];
        let get = |k: &str| -> Result<Tensor> {
            Ok(params
                .shaped(PERSPECTIVE3D, k, &[b, 8, 3])?
                .to_device(device)
                .to_kind(kind))
        };
        let (mut start, mut end) = (get("start_points")?, get("end_points")?);
        if shape[4] == 1 {
            // A one-voxel width makes corners 0, 1, 2 collinear in x; Kornia reorders them
            // so the solved corners stay independent.
            let order: &[i64] = if shape[2] > 1 {
                &[0, 4, 7, 3, 1, 5, 6, 2]
            } else {
                &[0, 3, 2, 1, 4, 7, 6, 5]
            };
            let idx = constant(order, Kind::Int64, device);
            start = start.index_select(1, &idx);
            end = end.index_select(1, &idx);
        }
        Ok(Geometry::projective(matrix3d::perspective_transform3d(
            &start, &end,
        )))
    }
}

impl_module!(RandomAffine3D, RandomRotation3D, RandomPerspective3D);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomAffine3D {
    type Config = Affine3DConfig;

    fn from_kornia(kw: &Kwargs) -> Result<Affine3DConfig> {
        let mut c = Affine3DConfig::default();
        set!(c.degrees = kw.angles("degrees")?);
        c.translate = match kw.nums("translate")?.as_deref() {
            None => None,
            Some([a, b, d]) => Some((*a, *b, *d)),
            Some(_) => return Err(kw.err("translate", "three fractions (x, y, z)")),
        };
        c.scale = match kw.pairs("scale") {
            Ok(Some(p)) if p.len() == 3 => Some(Scale3D::PerAxis([p[0], p[1], p[2]])),
            _ => kw.pair("scale")?.map(Scale3D::Isotropic),
        };
        c.shears = match kw.pairs("shears") {
            Ok(Some(p)) if p.len() == 6 => Some([p[0], p[1], p[2], p[3], p[4], p[5]]),
            _ => kw.range("shears", 0.0, f64::MIN)?.map(|r| [r; 6]),
        };
        set!(c.resample = kw.enm::<Resample>("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomRotation3D {
    type Config = Rotation3DConfig;

    fn from_kornia(kw: &Kwargs) -> Result<Rotation3DConfig> {
        let mut c = Rotation3DConfig::default();
        set!(c.degrees = kw.angles("degrees")?);
        set!(c.resample = kw.enm::<Resample>("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomPerspective3D {
    type Config = Perspective3DConfig;

    fn from_kornia(kw: &Kwargs) -> Result<Perspective3DConfig> {
        let mut c = Perspective3DConfig::default();
        set!(c.distortion_scale = kw.num("distortion_scale")?);
        set!(c.resample = kw.enm::<Resample>("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        common!(kw, c);
        Ok(c)
    }
}
