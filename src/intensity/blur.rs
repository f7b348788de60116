//! RandomGaussianBlur and RandomBoxBlur.

use crate::augmentation::impl_module;
use crate::checks;
use crate::filter::{filter2d_separable, gaussian_kernel1d, Border};
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, Learnable, Range};
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Tensor};

/// Checks a kernel size and that the image is large enough for the border mode.
fn check_kernel(op: &'static str, (kh, kw): (i64, i64), odd: bool) -> Result<()> {
    if kh < 1 || kw < 1 || (odd && (kh % 2 == 0 || kw % 2 == 0)) {
        let allowed = if odd { "odd sizes >= 1" } else { "sizes >= 1" };
        return Err(checks::config(
            op,
            "kernel_size",
            format!("({kh}, {kw})"),
            allowed,
        ));
    }
    Ok(())
}

/// Reflect padding needs the image larger than half the kernel on each axis.
fn check_fits(op: &'static str, (kh, kw): (i64, i64), border: Border, shape: &[i64]) -> Result<()> {
    let need = |k: i64| {
        if border == Border::Reflect {
            k / 2 + 1
        } else {
            1
        }
    };
    if shape[2] < need(kh) || shape[3] < need(kw) {
        return Err(Error::Size {
            op,
            what: "kernel",
            size: vec![kh, kw],
            input: vec![shape[2], shape[3]],
            allowed: "reflect padding needs H, W > kernel size / 2",
        });
    }
    Ok(())
}

/// Configuration of [`RandomGaussianBlur`]; `Default` is Kornia's, with the required
/// `kernel_size = (3, 3)` and `sigma = (0.1, 2.0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianBlurConfig {
    /// Kernel (height, width), odd.
    pub kernel_size: (i64, i64),
    /// Range of the standard deviation (one per sample, both axes), > 0.
    pub sigma: (f64, f64),
    /// Border mode.
    pub border_type: Border,
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of blurring each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl GaussianBlurConfig {
    /// Kornia's `RandomGaussianBlur(kernel_size=(kh, kw), sigma=(lo, hi))`.
    pub fn new(kernel_size: (i64, i64), sigma: (f64, f64)) -> GaussianBlurConfig {
        GaussianBlurConfig {
            kernel_size,
            sigma,
            ..Default::default()
        }
    }
}

impl Default for GaussianBlurConfig {
    fn default() -> Self {
        GaussianBlurConfig {
            kernel_size: (3, 3),
            sigma: (0.1, 2.0),
            border_type: Border::Reflect,
            same_on_batch: false,
            p: 0.5,
            learnable: Learnable::None,
        }
    }
}

/// Gaussian blur with a random standard deviation per sample (Kornia's
/// `RandomGaussianBlur`), separable, one grouped convolution per axis for the batch.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on an even or non-positive kernel, a non-positive or NaN sigma range or a
/// bad `p`; `f_*` forms on a bad input or an image too small for reflect padding.
#[derive(Debug)]
pub struct RandomGaussianBlur {
    cfg: GaussianBlurConfig,
    sigma: Range,
}

const GAUSS: &str = "RandomGaussianBlur";

/// The names of [`RandomGaussianBlur`]'s ranges (see [`crate::Learnable`]).
const RANDOM_GAUSSIAN_BLUR_RANGES: [&str; 1] = ["sigma"];

impl RandomGaussianBlur {
    /// Builds the augmentation; `sigma` lives under `path`.
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: GaussianBlurConfig,
    ) -> Result<RandomGaussianBlur> {
        let path = path.borrow();
        cfg.learnable
            .check("RandomGaussianBlur", &RANDOM_GAUSSIAN_BLUR_RANGES)?;
        check_kernel(GAUSS, cfg.kernel_size, true)?;
        checks::range(GAUSS, "sigma", cfg.sigma, (f64::MIN_POSITIVE, f64::MAX))?;
        checks::probability(GAUSS, "p", cfg.p)?;
        let sigma = Range::new(
            path,
            "sigma",
            cfg.sigma,
            &cfg.learnable,
            (f32::MIN_POSITIVE as f64, checks::MAGNITUDE),
        );
        Ok(RandomGaussianBlur { cfg, sigma })
    }

    /// The sigma range.
    pub fn sigma(&self) -> &Range {
        &self.sigma
    }
}

impl Augmentation for RandomGaussianBlur {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_GAUSSIAN_BLUR_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.sigma]
    }

    fn name(&self) -> &'static str {
        GAUSS
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomGaussianBlur(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        check_fits(GAUSS, self.cfg.kernel_size, self.cfg.border_type, shape)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        p.insert("sigma", self.sigma.sample(b, same, device)?);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = input.size()[0];
        let sigma = params
            .shaped(GAUSS, "sigma", &[b])?
            .to_device(input.device())
            .to_kind(input.kind())
            .view([b, 1]);
        let (kh, kw) = self.cfg.kernel_size;
        let kx = gaussian_kernel1d(kw, &sigma)?;
        let ky = gaussian_kernel1d(kh, &sigma)?;
        filter2d_separable(self.name(), input, &kx, &ky, self.cfg.border_type)
    }
}

/// Configuration of [`RandomBoxBlur`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BoxBlurConfig {
    /// Kernel (height, width), >= 1.
    pub kernel_size: (i64, i64),
    /// Border mode.
    pub border_type: Border,
    /// One gate shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of blurring each sample.
    pub p: f64,
}

impl Default for BoxBlurConfig {
    fn default() -> Self {
        BoxBlurConfig {
            kernel_size: (3, 3),
            border_type: Border::Reflect,
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// Mean over a (kh, kw) window (Kornia's `RandomBoxBlur`).
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same shape.
///
/// # Errors
/// `new` fails on a non-positive kernel or a bad `p`; `f_*` forms on a bad input or an
/// image too small for reflect padding.
#[derive(Debug)]
pub struct RandomBoxBlur {
    cfg: BoxBlurConfig,
}

const BOX: &str = "RandomBoxBlur";

impl RandomBoxBlur {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] for a non-positive kernel or a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: BoxBlurConfig) -> Result<RandomBoxBlur> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: BoxBlurConfig) -> Result<RandomBoxBlur> {
        check_kernel(BOX, cfg.kernel_size, false)?;
        checks::probability(BOX, "p", cfg.p)?;
        Ok(RandomBoxBlur { cfg })
    }
}

impl Augmentation for RandomBoxBlur {
    fn name(&self) -> &'static str {
        BOX
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomBoxBlur(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        check_fits(BOX, self.cfg.kernel_size, self.cfg.border_type, shape)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let p = gate_params(shape, self.cfg.p, self.cfg.same_on_batch, device)?;
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, _params: &Params) -> Result<Tensor> {
        let (kh, kw) = self.cfg.kernel_size;
        let opts = (input.kind(), input.device());
        let kx = Tensor::f_full([1, kw], 1.0 / kw as f64, opts)?;
        let ky = Tensor::f_full([1, kh], 1.0 / kh as f64, opts)?;
        filter2d_separable(self.name(), input, &kx, &ky, self.cfg.border_type)
    }
}

impl_module!(RandomGaussianBlur, RandomBoxBlur);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomGaussianBlur {
    type Config = GaussianBlurConfig;

    fn from_kornia(kw: &Kwargs) -> Result<GaussianBlurConfig> {
        let mut c = GaussianBlurConfig::default();
        set!(c.kernel_size = kw.size("kernel_size")?);
        set!(c.sigma = kw.pair("sigma")?);
        set!(c.border_type = kw.enm::<Border>("border_type")?);
        let _ = kw.flag("separable")?;
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomBoxBlur {
    type Config = BoxBlurConfig;

    fn from_kornia(kw: &Kwargs) -> Result<BoxBlurConfig> {
        let mut c = BoxBlurConfig::default();
        set!(c.kernel_size = kw.size("kernel_size")?);
        set!(c.border_type = kw.enm::<Border>("border_type")?);
        // Kornia's two box-blur implementations (separable or one 2D pass) give the
        // same mean of each window, up to float rounding: either is this blur.
        let _ = kw.flag("normalized")?;
        common!(kw, c);
        Ok(c)
    }
}
