//! RandomShear, RandomTranslate and RandomRotation90: single-parameter affine warps.

use super::affine::center;
use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, Learnable, Range};
use crate::warp::{self, Padding, Resample, Sampling};
use crate::{AugSpec, Augmentation, Geometry, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomShear`]; `Default` is Kornia's, with the required `shear =
/// (0, 0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShearConfig {
    /// x shear range in degrees.
    pub shear: (f64, f64),
    /// y shear range in degrees (the last two entries of Kornia's 4-tuple); (0, 0) if `None`.
    pub shear_y: Option<(f64, f64)>,
    /// Interpolation.
    pub resample: Resample,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// `grid_sample`'s `align_corners` (Kornia: false).
    pub align_corners: bool,
    /// What is sampled outside the image (`Fill` fills zeros, as Kornia passes no fill).
    pub padding_mode: Padding,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl ShearConfig {
    /// Kornia's `RandomShear(shear=s)`: an x-shear in `(-s, s)` degrees.
    pub fn new(s: f64) -> ShearConfig {
        ShearConfig {
            shear: (-s, s),
            ..Default::default()
        }
    }
}

impl Default for ShearConfig {
    fn default() -> Self {
        ShearConfig {
            shear: (0.0, 0.0),
            shear_y: None,
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: false,
            padding_mode: Padding::Zeros,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Random shear about the image centre (Kornia's `RandomShear`): x-shear then y-shear,
/// Kornia's `get_shear_matrix2d`.
///
/// Params: `center` (B,2), `shear_x`, `shear_y` (B,) degrees.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a NaN, reversed or out-of-[-360, 360] range or a bad `p`; `f_*` forms on
/// a bad input.
#[derive(Debug)]
pub struct RandomShear {
    cfg: ShearConfig,
    shear_x: Range,
    shear_y: Range,
}

const SHEAR: &str = "RandomShear";

fn opts(resample: Resample, padding: Padding, align_corners: bool) -> Sampling {
    Sampling {
        resample,
        padding,
        align_corners,
        ..Default::default()
    }
}

/// The names of [`RandomShear`]'s ranges (see [`crate::Learnable`]).
const RANDOM_SHEAR_RANGES: [&str; 2] = ["shear_x", "shear_y"];

impl RandomShear {
    fn warp_options(&self) -> Sampling {
        opts(
            self.cfg.resample,
            self.cfg.padding_mode,
            self.cfg.align_corners,
        )
    }
}

/// The names of [`RandomTranslate`]'s ranges (see [`crate::Learnable`]).
const RANDOM_TRANSLATE_RANGES: [&str; 2] = ["translate_x", "translate_y"];

impl RandomTranslate {
    fn warp_options(&self) -> Sampling {
        opts(
            self.cfg.resample,
            self.cfg.padding_mode,
            self.cfg.align_corners,
        )
    }
}

impl RandomRotation90 {
    fn warp_options(&self) -> Sampling {
        opts(self.cfg.resample, Padding::Zeros, self.cfg.align_corners)
    }
}

impl RandomShear {
    /// Builds the augmentation; its ranges live under `path` (`&path` or `path / "name"`, as tch's layers take it).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(path: P, cfg: ShearConfig) -> Result<RandomShear> {
        let path = path.borrow();
        cfg.learnable.check("RandomShear", &RANDOM_SHEAR_RANGES)?;
        checks::range(SHEAR, "shear", cfg.shear, (-360.0, 360.0))?;
        let sy = cfg.shear_y.unwrap_or((0.0, 0.0));
        checks::range(SHEAR, "shear_y", sy, (-360.0, 360.0))?;
        checks::probability(SHEAR, "p", cfg.p)?;
        let shear_x = Range::new(path, "shear_x", cfg.shear, &cfg.learnable, (-360.0, 360.0));
        let shear_y = Range::new(path, "shear_y", sy, &cfg.learnable, (-360.0, 360.0));
        Ok(RandomShear {
            cfg,
            shear_x,
            shear_y,
        })
    }
}

impl Augmentation for RandomShear {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_SHEAR_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.shear_x, &self.shear_y]
    }

    fn name(&self) -> &'static str {
        SHEAR
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomShear(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        p.insert("center", center(shape, device)?);
        p.insert("shear_x", self.shear_x.sample(b, same, device)?);
        p.insert("shear_y", self.shear_y.sample(b, same, device)?);
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
            Ok(params.shaped(SHEAR, k, s)?.to_device(device).to_kind(kind))
        };
        let deg = std::f64::consts::PI / 180.0;
        let (sx, sy) = (get("shear_x", &[b])? * deg, get("shear_y", &[b])? * deg);
        Ok(Geometry::affine(warp::shear_matrix(
            &get("center", &[b, 2])?,
            &sx,
            &sy,
        )))
    }
}

/// Configuration of [`RandomTranslate`]; `Default` is Kornia's (no translation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranslateConfig {
    /// x translation range as a fraction of the width, within [-1, 1].
    pub translate_x: Option<(f64, f64)>,
    /// y translation range as a fraction of the height, within [-1, 1].
    pub translate_y: Option<(f64, f64)>,
    /// Interpolation.
    pub resample: Resample,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// `grid_sample`'s `align_corners` (Kornia: false).
    pub align_corners: bool,
    /// What is sampled outside the image.
    pub padding_mode: Padding,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Default for TranslateConfig {
    fn default() -> Self {
        TranslateConfig {
            translate_x: None,
            translate_y: None,
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: false,
            padding_mode: Padding::Zeros,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Random translation (Kornia's `RandomTranslate`).
///
/// Params: `translate_x`, `translate_y` (B,) in pixels.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a range outside [-1, 1] or a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomTranslate {
    cfg: TranslateConfig,
    x: Option<Range>,
    y: Option<Range>,
}

const TRANSLATE: &str = "RandomTranslate";

impl RandomTranslate {
    /// Builds the augmentation; its ranges live under `path` (`&path` or `path / "name"`, as tch's layers take it).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: TranslateConfig,
    ) -> Result<RandomTranslate> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomTranslate", &RANDOM_TRANSLATE_RANGES)?;
        let range = |name: &'static str, r: Option<(f64, f64)>| -> Result<Option<Range>> {
            match r {
                Some(r) => {
                    checks::range(TRANSLATE, name, r, (-1.0, 1.0))?;
                    Ok(Some(Range::new(path, name, r, &cfg.learnable, (-1.0, 1.0))))
                }
                None => Ok(None),
            }
        };
        let x = range("translate_x", cfg.translate_x)?;
        let y = range("translate_y", cfg.translate_y)?;
        checks::probability(TRANSLATE, "p", cfg.p)?;
        Ok(RandomTranslate { cfg, x, y })
    }
}

impl Augmentation for RandomTranslate {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_TRANSLATE_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        self.x.iter().chain(self.y.iter()).collect()
    }

    fn name(&self) -> &'static str {
        TRANSLATE
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomTranslate(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let draw = |r: &Option<Range>, size: i64| -> Result<Tensor> {
            Ok(match r {
                Some(r) => r.sample(b, same, device)? * size as f64,
                None => Tensor::f_zeros([b], (Kind::Float, device))?,
            })
        };
        p.insert("translate_x", draw(&self.x, shape[3])?);
        p.insert("translate_y", draw(&self.y, shape[2])?);
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
                .shaped(TRANSLATE, k, &[b])?
                .to_device(device)
                .to_kind(kind))
        };
        let (tx, ty) = (get("translate_x")?, get("translate_y")?);
        let one = tx.ones_like();
        let zero = tx.zeros_like();
        Ok(Geometry::affine(warp::affine_rows([
            &one, &zero, &tx, &zero, &one, &ty,
        ])))
    }
}

/// Configuration of [`RandomRotation90`]; `Default` is Kornia's, with the required
/// `times = (0, 0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rotation90Config {
    /// Range of the number of quarter turns, within [-3, 3] (drawn, then rounded).
    pub times: (f64, f64),
    /// Interpolation.
    pub resample: Resample,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// `grid_sample`'s `align_corners` (Kornia: true).
    pub align_corners: bool,
    /// Probability of transforming each sample.
    pub p: f64,
}

impl Default for Rotation90Config {
    fn default() -> Self {
        Rotation90Config {
            times: (0.0, 0.0),
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: true,
            p: 0.5,
        }
    }
}

/// Rotates by a random number of quarter turns about the centre, keeping the size
/// (Kornia's `RandomRotation90`).
///
/// Params: `times` (B,) float32 (rounded when applied).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a range outside [-3, 3] or a bad `p`; `f_*` forms on a bad input.
#[derive(Debug)]
pub struct RandomRotation90 {
    cfg: Rotation90Config,
    times: Range,
}

const ROT90: &str = "RandomRotation90";

impl RandomRotation90 {
    /// Builds the augmentation (its range is not learnable: it is rounded).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: Rotation90Config,
    ) -> Result<RandomRotation90> {
        let path = path.borrow();
        checks::range(ROT90, "times", cfg.times, (-3.0, 3.0))?;
        checks::probability(ROT90, "p", cfg.p)?;
        let times = Range::new(path, "times", cfg.times, &Learnable::None, (-3.0, 3.0));
        Ok(RandomRotation90 { cfg, times })
    }
}

impl Augmentation for RandomRotation90 {
    fn ranges(&self) -> Vec<&Range> {
        vec![&self.times]
    }

    fn name(&self) -> &'static str {
        ROT90
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomRotation90(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        p.insert("times", self.times.sample(b, same, device)?);
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
        let times = params
            .shaped(ROT90, "times", &[shape[0]])?
            .round()
            .to_device(device)
            .to_kind(kind);
        let c = center(shape, device)?.to_kind(kind);
        Ok(Geometry::affine(warp::rotation_matrix(
            &c,
            &(times * 90.0),
            &c.ones_like(),
        )))
    }
}

impl_module!(RandomShear, RandomTranslate, RandomRotation90);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomShear {
    type Config = ShearConfig;

    fn from_kornia(kw: &Kwargs) -> Result<ShearConfig> {
        let mut c = ShearConfig::default();
        let (x, y) = kw.shear("shear")?;
        set!(c.shear = x);
        c.shear_y = y;
        set!(c.resample = kw.enm("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.padding_mode = kw.enm::<Padding>("padding_mode")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomTranslate {
    type Config = TranslateConfig;

    fn from_kornia(kw: &Kwargs) -> Result<TranslateConfig> {
        let mut c = TranslateConfig {
            translate_x: kw.range("translate_x", 0.0, -1.0)?,
            translate_y: kw.range("translate_y", 0.0, -1.0)?,
            ..Default::default()
        };
        set!(c.resample = kw.enm("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.padding_mode = kw.enm::<Padding>("padding_mode")?);
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomRotation90 {
    type Config = Rotation90Config;

    fn from_kornia(kw: &Kwargs) -> Result<Rotation90Config> {
        let mut c = Rotation90Config::default();
        set!(c.times = kw.pair("times")?);
        set!(c.resample = kw.enm("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        common!(kw, c);
        Ok(c)
    }
}
