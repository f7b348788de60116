//! RandomPerspective.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::constant;
use crate::range::{gate_params, Learnable, Range};
use crate::warp::{self, Resample, Sampling};
use crate::{AugSpec, Augmentation, Geometry, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// How the corners move (Kornia's `sampling_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PerspectiveSampling {
    /// Every corner moves inwards by up to `distortion_scale` of half the size.
    #[default]
    Basic,
    /// Every corner moves in or out by up to that amount.
    AreaPreserving,
}

/// Configuration of [`RandomPerspective`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerspectiveConfig {
    /// How far corners may move, as a fraction of half the width/height, in [0, 1].
    pub distortion_scale: f64,
    /// Interpolation.
    pub resample: Resample,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// `grid_sample`'s `align_corners` (Kornia: false).
    pub align_corners: bool,
    /// Probability of transforming each sample.
    pub p: f64,
    /// Corner sampling.
    pub sampling_method: PerspectiveSampling,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl PerspectiveConfig {
    /// Kornia's `RandomPerspective(distortion_scale=d)`.
    pub fn new(distortion_scale: f64) -> PerspectiveConfig {
        PerspectiveConfig {
            distortion_scale,
            ..Default::default()
        }
    }
}

impl Default for PerspectiveConfig {
    fn default() -> Self {
        PerspectiveConfig {
            distortion_scale: 0.5,
            resample: Resample::Bilinear,
            same_on_batch: false,
            align_corners: false,
            p: 0.5,
            sampling_method: PerspectiveSampling::Basic,
            learnable: Learnable::None,
        }
    }
}

/// Random projective warp: the image corners move by random offsets and the image follows
/// the homography between the two quads (Kornia's `RandomPerspective`).
///
/// Params: `start_points`, `end_points` (B,4,2) corners (x, y) top-left, top-right,
/// bottom-right, bottom-left; `batch_prob`; `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a `distortion_scale` outside [0, 1] or a bad `p`; `f_*` forms on a bad
/// input.
#[derive(Debug)]
pub struct RandomPerspective {
    cfg: PerspectiveConfig,
    distortion_scale: Range,
}

const PERSPECTIVE: &str = "RandomPerspective";

/// The names of [`RandomPerspective`]'s ranges (see [`crate::Learnable`]).
const RANDOM_PERSPECTIVE_RANGES: [&str; 1] = ["distortion_scale"];

impl RandomPerspective {
    /// Builds the augmentation; `distortion_scale` lives under `path` (trainable when
    /// `learnable`).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a `distortion_scale` outside [0, 1] or a `p` outside
    /// [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: PerspectiveConfig,
    ) -> Result<RandomPerspective> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomPerspective", &RANDOM_PERSPECTIVE_RANGES)?;
        let distortion_scale = distortion_scale_var(
            path,
            PERSPECTIVE,
            cfg.distortion_scale,
            cfg.learnable.has("distortion_scale"),
        )?;
        checks::probability(PERSPECTIVE, "p", cfg.p)?;
        Ok(RandomPerspective {
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

/// The `distortion_scale` variable of the perspective warps (2D and 3D), after checking that
/// it is in [0, 1].
pub(crate) fn distortion_scale_var(
    path: &nn::Path,
    op: &'static str,
    value: f64,
    learnable: bool,
) -> Result<Range> {
    if !(0.0..=1.0).contains(&value) {
        return Err(checks::config(
            op,
            "distortion_scale",
            value,
            "a number in [0, 1]",
        ));
    }
    Ok(Range::single(
        path,
        "distortion_scale",
        value,
        learnable,
        (0.0, 1.0),
    ))
}

/// Kornia's last source coordinate and corner-offset extent of an axis: a one-pixel axis
/// gets end 1 and no offset, so the homography stays regular.
pub(crate) fn end_and_extent(size: i64) -> (f64, f64) {
    if size == 1 {
        (1.0, 0.0)
    } else {
        ((size - 1) as f64, size as f64)
    }
}

impl Augmentation for RandomPerspective {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_PERSPECTIVE_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.distortion_scale]
    }

    fn name(&self) -> &'static str {
        PERSPECTIVE
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomPerspective(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let (x_end, x_ext) = end_and_extent(shape[3]);
        let (y_end, y_ext) = end_and_extent(shape[2]);
        let kind = self.distortion_scale.lo().kind();
        let start = constant(
            &[0.0, 0.0, x_end, 0.0, x_end, y_end, 0.0, y_end],
            kind,
            device,
        )
        .view([1, 4, 2])
        .expand([b, 4, 2], false);
        // Kept in its domain [0, 1] while it trains.
        let d = self.distortion_scale.effective(device).0;
        let factor = Tensor::stack(&[&d * x_ext / 2.0, &d * y_ext / 2.0], 0).view([1, 1, 2]);
        let u = if same {
            crate::rng::rand(&[1, 4, 2], (Kind::Float, device))?.f_repeat([b, 1, 1])?
        } else {
            crate::rng::rand(&[b, 4, 2], (Kind::Float, device))?
        }
        .to_kind(kind);
        let offset = match self.cfg.sampling_method {
            PerspectiveSampling::Basic => {
                let signs = constant(&[1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0], kind, device)
                    .view([1, 4, 2]);
                factor * u * signs
            }
            PerspectiveSampling::AreaPreserving => factor * 2.0 * (u - 0.5),
        };
        let end = &start + offset;
        p.insert("start_points", start);
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
                .shaped(PERSPECTIVE, k, &[b, 4, 2])?
                .to_device(device)
                .to_kind(kind))
        };
        Ok(Geometry::projective(warp::perspective_transform(
            &get("start_points")?,
            &get("end_points")?,
        )))
    }
}

impl_module!(RandomPerspective);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomPerspective {
    type Config = PerspectiveConfig;

    fn from_kornia(kw: &Kwargs) -> Result<PerspectiveConfig> {
        let mut c = PerspectiveConfig::default();
        set!(c.distortion_scale = kw.num("distortion_scale")?);
        set!(c.resample = kw.enm("resample")?);
        set!(c.align_corners = kw.flag("align_corners")?);
        set!(c.sampling_method = kw.enm::<PerspectiveSampling>("sampling_method")?);
        common!(kw, c);
        Ok(c)
    }
}
