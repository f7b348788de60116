//! RandomAffine and RandomRotation.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::constant;
use crate::params::typed_params;
use crate::range::{gate, Learnable, Range};
use crate::warp::{self, Padding, Resample, Sampling};
use crate::{AugSpec, Augmentation, Geometry, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomAffine`]; field names follow Kornia's constructor.
///
/// `Default` is Kornia's defaults, with the required `degrees` set to `(0, 0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomAffineConfig {
    /// Rotation range in degrees, `(lo, hi)`; Kornia's scalar `d` is `(-d, d)`.
    pub degrees: (f64, f64),
    /// Maximum translation as a fraction of (width, height): tx ~ U(-a, a)·W, ty ~ U(-b, b)·H.
    pub translate: Option<(f64, f64)>,
    /// Scale range, one factor for both axes (Kornia's 2-tuple).
    pub scale: Option<(f64, f64)>,
    /// Separate y scale range (the last two entries of Kornia's 4-tuple).
    pub scale_y: Option<(f64, f64)>,
    /// x shear range in degrees (Kornia's scalar `s` is `(-s, s)`).
    pub shear: Option<(f64, f64)>,
    /// y shear range in degrees (the last two entries of Kornia's 4-tuple).
    pub shear_y: Option<(f64, f64)>,
    /// Interpolation.
    pub resample: Resample,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// `grid_sample`'s `align_corners` (Kornia: false for RandomAffine).
    pub align_corners: bool,
    /// What is sampled outside the image.
    pub padding_mode: Padding,
    /// Per-channel (or single) value for `padding_mode = Fill`.
    pub fill_value: Option<Vec<f64>>,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl RandomAffineConfig {
    /// Kornia's `RandomAffine(degrees=d)`: rotation in `(-d, d)`, every other option
    /// Kornia's default.
    pub fn degrees(d: f64) -> RandomAffineConfig {
        RandomAffineConfig {
            degrees: (-d, d),
            ..Default::default()
        }
    }

    /// Kornia's `translate=(a, b)`: up to `a·W` and `b·H` pixels either way.
    pub fn translate(self, a: f64, b: f64) -> RandomAffineConfig {
        RandomAffineConfig {
            translate: Some((a, b)),
            ..self
        }
    }

    /// Kornia's 2-value `scale=(lo, hi)`: one factor for both axes.
    pub fn scale(self, lo: f64, hi: f64) -> RandomAffineConfig {
        RandomAffineConfig {
            scale: Some((lo, hi)),
            ..self
        }
    }

    /// Kornia's scalar `shear=s`: an x-shear in `(-s, s)` degrees.
    pub fn shear(self, s: f64) -> RandomAffineConfig {
        RandomAffineConfig {
            shear: Some((-s, s)),
            ..self
        }
    }

    /// With probability `p` per sample.
    pub fn p(self, p: f64) -> RandomAffineConfig {
        RandomAffineConfig { p, ..self }
    }
}

impl Default for RandomAffineConfig {
    fn default() -> Self {
        RandomAffineConfig {
            degrees: (0.0, 0.0),
            translate: None,
            scale: None,
            scale_y: None,
            shear: None,
            shear_y: None,
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: false,
            padding_mode: Padding::Zeros,
            fill_value: None,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

typed_params!(
    /// Parameters of [`RandomAffine`], with Kornia's keys and units.
    AffineParams, "RandomAffine" {
        /// (B,2) translation in pixels.
        translations,
        /// (B,2) rotation centre ((W-1)/2, (H-1)/2).
        center,
        /// (B,2) scale (x, y).
        scale,
        /// (B,) rotation in degrees (positive turns clockwise on screen).
        angle,
        /// (B,) x shear in degrees.
        shear_x,
        /// (B,) y shear in degrees.
        shear_y,
    }
);

/// Random rotation, translation, scale and shear (Kornia's `RandomAffine`).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on an invalid config ([`crate::Error::Config`]); `f_*` forms on a bad input.
///
/// # Example
/// ```no_run
/// use tch_dda::{AugmentationExt, RandomAffine, RandomAffineConfig};
/// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let aug = RandomAffine::new(
///     &(vs.root() / "affine"),
///     RandomAffineConfig { degrees: (-30.0, 30.0), translate: Some((0.1, 0.1)), p: 1.0, ..Default::default() },
/// ).unwrap();
/// let x = tch::Tensor::rand([4, 3, 32, 32], (tch::Kind::Float, tch::Device::Cpu));
/// let (y, params) = aug.forward_with_params(&x);
/// assert_eq!(y.size(), x.size());
/// assert_eq!(aug.apply(&x, &params).size(), x.size());
/// ```
#[derive(Debug)]
pub struct RandomAffine {
    cfg: RandomAffineConfig,
    degrees: Range,
    translate: Option<(Range, Range)>,
    scale: Option<(Range, Option<Range>)>,
    shear: Option<(Range, Range)>,
}

const AFFINE: &str = "RandomAffine";

/// The names of [`RandomAffine`]'s ranges (see [`crate::Learnable`]).
const RANDOM_AFFINE_RANGES: [&str; 7] = [
    "degrees",
    "translate_x",
    "translate_y",
    "scale",
    "scale_y",
    "shear_x",
    "shear_y",
];

impl RandomAffine {
    /// Builds the augmentation; its ranges live under `path` (`&path` or `path / "name"`, as tch's layers take it).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for NaN or reversed ranges, non-positive scales, a `p`
    /// outside [0, 1] or a non-finite fill.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: RandomAffineConfig,
    ) -> Result<RandomAffine> {
        let path = path.borrow();
        cfg.learnable.check("RandomAffine", &RANDOM_AFFINE_RANGES)?;
        checks::range(AFFINE, "degrees", cfg.degrees, (-360.0, 360.0))?;
        if let Some((a, b)) = cfg.translate {
            if !(0.0..=1.0).contains(&a) || !(0.0..=1.0).contains(&b) {
                return Err(checks::config(
                    AFFINE,
                    "translate",
                    format!("({a}, {b})"),
                    "fractions of the width and height in [0, 1]",
                ));
            }
        }
        if let Some(s) = cfg.scale {
            checks::range(AFFINE, "scale", s, checks::SCALE_DOMAIN)?;
        }
        if let Some(s) = cfg.scale_y {
            checks::range(AFFINE, "scale_y", s, checks::SCALE_DOMAIN)?;
            if cfg.scale.is_none() {
                return Err(checks::config(
                    AFFINE,
                    "scale_y",
                    format!("{s:?}"),
                    "scale_y only together with scale",
                ));
            }
        }
        if let Some(s) = cfg.shear {
            checks::range(AFFINE, "shear", s, (-360.0, 360.0))?;
        }
        if let Some(s) = cfg.shear_y {
            checks::range(AFFINE, "shear_y", s, (-360.0, 360.0))?;
        }
        checks::probability(AFFINE, "p", cfg.p)?;
        if let Some(f) = &cfg.fill_value {
            checks::finite(AFFINE, "fill_value", f)?;
        }
        let l = &cfg.learnable;
        let degrees = Range::new(path, "degrees", cfg.degrees, l, (-360.0, 360.0));
        let translate = cfg.translate.map(|(a, b)| {
            (
                Range::new(path, "translate_x", (-a, a), l, (-1.0, 1.0)),
                Range::new(path, "translate_y", (-b, b), l, (-1.0, 1.0)),
            )
        });
        let scale = cfg.scale.map(|s| {
            (
                Range::new(path, "scale", s, l, checks::SCALE_DOMAIN),
                cfg.scale_y
                    .map(|sy| Range::new(path, "scale_y", sy, l, checks::SCALE_DOMAIN)),
            )
        });
        let shear = (cfg.shear.is_some() || cfg.shear_y.is_some()).then(|| {
            (
                Range::new(
                    path,
                    "shear_x",
                    cfg.shear.unwrap_or((0.0, 0.0)),
                    l,
                    (-360.0, 360.0),
                ),
                Range::new(
                    path,
                    "shear_y",
                    cfg.shear_y.unwrap_or((0.0, 0.0)),
                    l,
                    (-360.0, 360.0),
                ),
            )
        });
        Ok(RandomAffine {
            cfg,
            degrees,
            translate,
            scale,
            shear,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RandomAffineConfig {
        &self.cfg
    }

    /// The rotation range (degrees).
    pub fn degrees(&self) -> &Range {
        &self.degrees
    }

    fn warp_options(&self) -> Sampling {
        Sampling {
            resample: self.cfg.resample,
            padding: self.cfg.padding_mode,
            align_corners: self.cfg.align_corners,
            fill: self.cfg.fill_value.clone(),
        }
    }
}

/// Kornia's rotation centre ((W-1)/2, (H-1)/2), repeated (B,2), float32.
pub(crate) fn center(shape: &[i64], device: Device) -> Result<Tensor> {
    let (h, w) = (shape[2] as f32, shape[3] as f32);
    Ok(
        constant(&[w / 2.0 - 0.5, h / 2.0 - 0.5], Kind::Float, device)
            .view([1, 2])
            .f_repeat([shape[0], 1])?,
    )
}

/// Kornia's `forward_input_shape` (int64, on the CPU as in Kornia).
pub(crate) fn input_shape_tensor(shape: &[i64]) -> Tensor {
    Tensor::from_slice(shape)
}

impl Augmentation for RandomAffine {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_AFFINE_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        let mut v = vec![&self.degrees];
        if let Some((x, y)) = &self.translate {
            v.extend([x, y]);
        }
        if let Some((s, sy)) = &self.scale {
            v.push(s);
            v.extend(sy);
        }
        if let Some((x, y)) = &self.shear {
            v.extend([x, y]);
        }
        v
    }

    fn name(&self) -> &'static str {
        AFFINE
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomAffine(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        match &self.cfg.fill_value {
            Some(f)
                if self.cfg.padding_mode == Padding::Fill
                    && f.len() != 1
                    && f.len() as i64 != shape[1] =>
            {
                Err(crate::Error::Channels {
                    op: AFFINE,
                    expected: format!(
                        "{} channels, one per fill_value (or a single fill_value)",
                        f.len()
                    ),
                    got: shape[1],
                    shape: shape.to_vec(),
                })
            }
            _ => Ok(()),
        }
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let opts = (Kind::Float, device);
        let batch_prob = gate(b, self.cfg.p, 1.0, same, device)?;
        let angle = self.degrees.sample(b, same, device)?;
        let scale = match &self.scale {
            Some((s, sy)) => {
                let sx = s.sample(b, same, device)?;
                let sy = match sy {
                    Some(sy) => sy.sample(b, same, device)?,
                    None => sx.shallow_clone(),
                };
                Tensor::stack(&[sx, sy], 1)
            }
            None => Tensor::f_ones([b, 2], opts)?,
        };
        let translations = match &self.translate {
            Some((tx, ty)) => {
                let tx = tx.sample(b, same, device)? * shape[3] as f64;
                let ty = ty.sample(b, same, device)? * shape[2] as f64;
                Tensor::stack(&[tx, ty], 1)
            }
            None => Tensor::f_zeros([b, 2], opts)?,
        };
        let (shear_x, shear_y) = match &self.shear {
            Some((sx, sy)) => (sx.sample(b, same, device)?, sy.sample(b, same, device)?),
            None => (Tensor::f_zeros([b], opts)?, Tensor::f_zeros([b], opts)?),
        };
        let mut p: Params = AffineParams {
            translations,
            center: center(shape, device)?,
            scale,
            angle,
            shear_x,
            shear_y,
            batch_prob,
        }
        .into();
        p.insert("forward_input_shape", input_shape_tensor(shape));
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
        let get = |k: &str, shape: &[i64]| -> Result<Tensor> {
            Ok(params
                .shaped(AFFINE, k, shape)?
                .to_device(device)
                .to_kind(kind))
        };
        Ok(Geometry::affine(warp::affine_matrix(
            &get("translations", &[b, 2])?,
            &get("center", &[b, 2])?,
            &get("scale", &[b, 2])?,
            &get("angle", &[b])?,
            &get("shear_x", &[b])?,
            &get("shear_y", &[b])?,
        )))
    }
}

/// Configuration of [`RandomRotation`]; `Default` is Kornia's, with `degrees = (0, 0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomRotationConfig {
    /// Rotation range in degrees (positive turns counter-clockwise on screen).
    pub degrees: (f64, f64),
    /// Interpolation.
    pub resample: Resample,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// `grid_sample`'s `align_corners` (Kornia: true for RandomRotation).
    pub align_corners: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl RandomRotationConfig {
    /// Kornia's `RandomRotation(degrees=d)`: a rotation in `(-d, d)`.
    pub fn degrees(d: f64) -> RandomRotationConfig {
        RandomRotationConfig {
            degrees: (-d, d),
            ..Default::default()
        }
    }
}

impl Default for RandomRotationConfig {
    fn default() -> Self {
        RandomRotationConfig {
            degrees: (0.0, 0.0),
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: true,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

typed_params!(
    /// Parameters of [`RandomRotation`].
    RotationParams, "RandomRotation" {
        /// (B,) rotation in degrees.
        degrees,
    }
);

/// Random rotation about the image centre, zero padding (Kornia's `RandomRotation`).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on an invalid config; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomRotation {
    cfg: RandomRotationConfig,
    degrees: Range,
}

const ROTATION: &str = "RandomRotation";

/// The names of [`RandomRotation`]'s ranges (see [`crate::Learnable`]).
const RANDOM_ROTATION_RANGES: [&str; 1] = ["degrees"];

impl RandomRotation {
    /// Builds the augmentation; `degrees` lives under `path`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a NaN or reversed range or a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: RandomRotationConfig,
    ) -> Result<RandomRotation> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomRotation", &RANDOM_ROTATION_RANGES)?;
        checks::range(ROTATION, "degrees", cfg.degrees, (-360.0, 360.0))?;
        checks::probability(ROTATION, "p", cfg.p)?;
        let degrees = Range::new(
            path,
            "degrees",
            cfg.degrees,
            &cfg.learnable,
            (-360.0, 360.0),
        );
        Ok(RandomRotation { cfg, degrees })
    }

    /// The rotation range (degrees).
    pub fn degrees(&self) -> &Range {
        &self.degrees
    }

    fn warp_options(&self) -> Sampling {
        Sampling::new(self.cfg.resample, self.cfg.align_corners)
    }
}

impl Augmentation for RandomRotation {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_ROTATION_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.degrees]
    }

    fn name(&self) -> &'static str {
        ROTATION
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomRotation(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let batch_prob = gate(b, self.cfg.p, 1.0, same, device)?;
        let degrees = self.degrees.sample(b, same, device)?;
        let mut p: Params = RotationParams {
            degrees,
            batch_prob,
        }
        .into();
        p.insert("forward_input_shape", input_shape_tensor(shape));
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
        let deg = params
            .shaped(ROTATION, "degrees", &[b])?
            .to_device(device)
            .to_kind(kind);
        let c = center(shape, device)?.to_kind(kind);
        Ok(Geometry::affine(warp::rotation_matrix(
            &c,
            &deg,
            &c.ones_like(),
        )))
    }
}

impl_module!(RandomAffine, RandomRotation);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomAffine {
    type Config = RandomAffineConfig;

    fn from_kornia(kw: &Kwargs) -> Result<RandomAffineConfig> {
        let mut c = RandomAffineConfig::default();
        set!(c.degrees = kw.range("degrees", 0.0, -360.0)?);
        c.translate = kw.pair("translate")?;
        match kw.nums("scale")?.as_deref() {
            None => {}
            Some([a, b]) => c.scale = Some((*a, *b)),
            Some([a, b, x, y]) => {
                c.scale = Some((*a, *b));
                c.scale_y = Some((*x, *y));
            }
            Some(_) => return Err(kw.err("scale", "2 or 4 numbers")),
        }
        (c.shear, c.shear_y) = kw.shear("shear")?;
        set!(c.resample = kw.enm("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.padding_mode = kw.enm("padding_mode")?);
        c.fill_value = kw.nums("fill_value")?;
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomRotation {
    type Config = RandomRotationConfig;

    fn from_kornia(kw: &Kwargs) -> Result<RandomRotationConfig> {
        let mut c = RandomRotationConfig::default();
        set!(c.degrees = kw.range("degrees", 0.0, -360.0)?);
        set!(c.resample = kw.enm("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        common!(kw, c);
        Ok(c)
    }
}
