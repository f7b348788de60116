//! RandomJPEG: differentiable JPEG coding (Kornia's `jpeg_codec_differentiable`).

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::ops::constant;
use crate::range::{gate_params, Learnable, Range};
use crate::warp::{resize, Resample};
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::f64::consts::PI;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomJPEG`]; `Default` is Kornia's (`jpeg_quality = 50` read as
/// (1, 100), `p = 1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JpegConfig {
    /// Range of the JPEG quality, within [1, 100] (1: the coarsest quantisation, 100 the
    /// finest).
    pub jpeg_quality: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of coding each sample.
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the name is `jpeg_quality`).
    pub learnable: Learnable,
}

impl JpegConfig {
    /// Kornia's `RandomJPEG(jpeg_quality=(lo, hi))`.
    pub fn new(lo: f64, hi: f64) -> JpegConfig {
        JpegConfig {
            jpeg_quality: (lo, hi),
            ..Default::default()
        }
    }
}

impl Default for JpegConfig {
    fn default() -> Self {
        JpegConfig {
            jpeg_quality: (1.0, 100.0),
            same_on_batch: false,
            p: 1.0,
            learnable: Learnable::None,
        }
    }
}

const JPEG: &str = "RandomJPEG";

/// The names of [`RandomJPEG`]'s ranges (see [`crate::Learnable`]).
const RANDOM_JPEG_RANGES: [&str; 1] = ["jpeg_quality"];

/// The standard luma quantisation table (ITU T.81, Annex K).
const TABLE_Y: [f32; 64] = [
    16., 11., 10., 16., 24., 40., 51., 61., //
    12., 12., 14., 19., 26., 58., 60., 55., //
    14., 13., 16., 24., 40., 57., 69., 56., //
    14., 17., 22., 29., 51., 87., 80., 62., //
    18., 22., 37., 56., 68., 109., 103., 77., //
    24., 35., 55., 64., 81., 104., 113., 92., //
    49., 64., 78., 87., 103., 121., 120., 101., //
    72., 92., 95., 98., 112., 100., 103., 99.,
];

/// The standard chroma quantisation table (ITU T.81, Annex K).
const TABLE_C: [f32; 64] = [
    17., 18., 24., 47., 99., 99., 99., 99., //
    18., 21., 26., 66., 99., 99., 99., 99., //
    24., 26., 56., 99., 99., 99., 99., 99., //
    47., 66., 99., 99., 99., 99., 99., 99., //
    99., 99., 99., 99., 99., 99., 99., 99., //
    99., 99., 99., 99., 99., 99., 99., 99., //
    99., 99., 99., 99., 99., 99., 99., 99., //
    99., 99., 99., 99., 99., 99., 99., 99.,
];

/// JPEG compression and decompression of each image at its drawn quality, differentiable
/// with respect to the image and the quality (Kornia's `RandomJPEG`, after Reich et al.
/// 2024): YCbCr with 4:2:0 chroma subsampling, 8×8 DCT, quantisation by the standard
/// tables scaled for the quality, then the way back. Rounding and flooring are the
/// polynomial approximations `round(x) + (x - round(x))³`, so gradients pass; a quality of
/// 100 still rounds. The image is clamped to [0, 1] first and the result lies in [0, 1].
/// Sides that are not multiples of 16 are padded by repeating the edge and cropped back.
///
/// Params: `jpeg_quality` (B,), `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,3,H,W) or (3,H,W), RGB, float32 or float64; output the same.
///
/// # Errors
/// `new` fails on a range outside [1, 100], a reversed or NaN one, or a bad `p`; `f_*`
/// forms on a bad input or a channel count other than 3, and replayed qualities outside
/// [0, 100].
#[derive(Debug)]
pub struct RandomJPEG {
    cfg: JpegConfig,
    quality: Range,
}

impl RandomJPEG {
    /// Builds the augmentation; its range lives under `path`.
    ///
    /// # Errors
    /// [`Error::Config`] for a range outside [1, 100], reversed or NaN, or a `p` outside
    /// [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(path: P, cfg: JpegConfig) -> Result<RandomJPEG> {
        let path = path.borrow();
        cfg.learnable.check(JPEG, &RANDOM_JPEG_RANGES)?;
        checks::range(JPEG, "jpeg_quality", cfg.jpeg_quality, (1.0, 100.0))?;
        checks::probability(JPEG, "p", cfg.p)?;
        let quality = Range::new(
            path,
            "jpeg_quality",
            cfg.jpeg_quality,
            &cfg.learnable,
            (1.0, 100.0),
        );
        Ok(RandomJPEG { cfg, quality })
    }

    /// The quality range.
    pub fn jpeg_quality(&self) -> &Range {
        &self.quality
    }
}

impl Augmentation for RandomJPEG {
    fn name(&self) -> &'static str {
        JPEG
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomJPEG(self.cfg.clone())
    }

    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_JPEG_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.quality]
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        checks::channels(JPEG, shape, &[3], "3 channels (RGB)")
    }

    /// Kornia's draws: the gate, then one quality per sample.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        p.insert("jpeg_quality", self.quality.sample(b, same, device)?);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = input.size()[0];
        let q = params.shaped(JPEG, "jpeg_quality", &[b])?;
        // Kornia refuses qualities outside [0, 100]; the check reads one flag back, on
        // the CPU only (a GPU would stall on it).
        if q.device() == Device::Cpu
            && b > 0
            && bool::try_from(q.lt(0.0).logical_or(&q.gt(100.0)).any())?
        {
            return Err(Error::Params {
                op: JPEG,
                key: "jpeg_quality".into(),
                problem: "has values outside [0, 100]".into(),
            });
        }
        if b == 0 {
            return Ok(input.shallow_clone());
        }
        let q = q.to_device(input.device()).to_kind(input.kind());
        jpeg(&input.clamp(0.0, 1.0), &q)
    }
}

impl_module!(RandomJPEG);

/// Codes (B,3,H,W) images in [0, 1] at the qualities `q` (B,).
fn jpeg(x: &Tensor, q: &Tensor) -> Result<Tensor> {
    let size = x.size();
    let (h, w) = (size[2], size[3]);
    let (hp, wp) = ((h + 15) / 16 * 16, (w + 15) / 16 * 16);
    let x = x.f_pad([0, wp - w, 0, hp - h], "replicate", None)?;
    let (kind, device) = (x.kind(), x.device());
    // Full-range YCbCr, scaled to 0..255.
    let (r, g, b) = (x.select(1, 0), x.select(1, 1), x.select(1, 2));
    let y = &r * 0.299 + &g * 0.587 + &b * 0.114;
    let cb = (&b - &y) * 0.564 + 0.5;
    let cr = (&r - &y) * 0.713 + 0.5;
    let (y, cb, cr) = (y * 255.0, cb * 255.0, cr * 255.0);
    // 4:2:0: the chroma planes at half size, antialiased as Kornia's `rescale`.
    let half = |c: &Tensor| -> Result<Tensor> {
        let c = c.unsqueeze(1);
        Ok(resize(JPEG, &c, (hp / 2, wp / 2), Resample::Bilinear, false, true)?.squeeze_dim(1))
    };
    let (cb, cr) = (half(&cb)?, half(&cr)?);
    let (basis, scale) = dct_basis(kind, device)?;
    let qscale = quality_scale(q);
    let table_y = table(&TABLE_Y, &qscale, kind, device)?;
    let table_c = table(&TABLE_C, &qscale, kind, device)?;
    // Y on its own, Cb and Cr together (as Kornia, so that the same ops meet the same
    // values).
    let code = |planes: &Tensor, table: &Tensor| -> Result<Tensor> {
        let dct = planes
            .f_sub_scalar(128.0)?
            .f_tensordot(&basis, [2, 3], [0, 1])?
            * &scale;
        let quantised = polynomial_round(&(dct / table));
        idct(&(quantised * table))
    };
    let y = unpatchify(&code(&patchify(&y)?, &table_y)?, hp, wp)?;
    let cbcr = code(
        &Tensor::f_cat(&[patchify(&cb)?, patchify(&cr)?], 1)?,
        &table_c,
    )?;
    let chunks = cbcr.chunk(2, 1);
    let up = |c: &Tensor| -> Result<Tensor> {
        let c = unpatchify(c, hp / 2, wp / 2)?.unsqueeze(1);
        Ok(resize(JPEG, &c, (hp, wp), Resample::Bilinear, false, false)?.squeeze_dim(1))
    };
    let (cb, cr) = (up(&chunks[0])?, up(&chunks[1])?);
    let ycbcr = Tensor::f_stack(&[y, cb, cr], 1)? / 255.0;
    let (y, cb, cr) = (
        ycbcr.select(1, 0),
        ycbcr.select(1, 1) - 0.5,
        ycbcr.select(1, 2) - 0.5,
    );
    // The exact inverse of the forward coefficients.
    let r = &y + &cr * 1.4025245442;
    let g = &y - &cr * 0.7144034731 - &cb * 0.3443401356;
    let b = &y + &cb * 1.7730496454;
    let rgb = Tensor::f_stack(&[r, g, b], 1)?.clamp(0.0, 1.0);
    Ok(rgb.narrow(2, 0, h).narrow(3, 0, w))
}

/// (B,H,W) -> (B, H/8·W/8, 8, 8), blocks in row-major order.
fn patchify(x: &Tensor) -> Result<Tensor> {
    let s = x.size();
    Ok(x.f_reshape([s[0], s[1] / 8, 8, s[2] / 8, 8])?
        .permute([0, 1, 3, 2, 4])
        .f_reshape([s[0], -1, 8, 8])?)
}

/// The inverse of [`patchify`] for an (h, w) plane.
fn unpatchify(x: &Tensor, h: i64, w: i64) -> Result<Tensor> {
    let b = x.size()[0];
    Ok(x.f_reshape([b, h / 8, w / 8, 8, 8])?
        .permute([0, 1, 3, 2, 4])
        .f_reshape([b, h, w])?)
}

/// The forward DCT's (8,8,8,8) basis `cos((2x+1)uπ/16)·cos((2y+1)vπ/16)` and its (8,8)
/// orthonormal scale `α(u)α(v)/4`.
fn dct_basis(kind: Kind, device: Device) -> Result<(Tensor, Tensor)> {
    let i = Tensor::f_arange(8, (kind, device))?;
    let freq = ((&i * 2.0 + 1.0).unsqueeze(1) * i.unsqueeze(0)) * (PI / 16.0);
    let b1 = freq.cos();
    let basis = b1.view([8, 1, 8, 1]) * b1.view([1, 8, 1, 8]);
    let alpha = alpha(kind, device);
    Ok((basis, alpha.outer(&alpha) * 0.25))
}

/// `α(0) = 1/√2`, `α(k) = 1` otherwise.
fn alpha(kind: Kind, device: Device) -> Tensor {
    // Kornia's 1/(2**0.5), to the last bit in float64.
    let a = 1.0 / 2f64.sqrt();
    constant(&[a, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], kind, device)
}

/// The inverse DCT of (B,N,8,8) coefficients, back to 0..255.
fn idct(x: &Tensor) -> Result<Tensor> {
    let (kind, device) = (x.kind(), x.device());
    let i = Tensor::f_arange(8, (kind, device))?;
    // basis[u, x] = cos((2x+1)uπ/16), in Kornia's order of operations.
    let basis = ((&i * 2.0 + 1.0).unsqueeze(0) * i.unsqueeze(1)) * PI / 16.0;
    let basis = basis.cos();
    let alpha = alpha(kind, device);
    let x = x * alpha.outer(&alpha);
    let tmp = x.f_matmul(&basis)?;
    let out = tmp.transpose(-1, -2).f_matmul(&basis)?.transpose(-1, -2);
    Ok(out * 0.25 + 128.0)
}

/// `round(x) + (x - round(x))³`: rounds, with a gradient.
fn polynomial_round(x: &Tensor) -> Tensor {
    let r = x.round();
    &r + (x - &r).pow_tensor_scalar(3)
}

/// `floor(x) + (x - 1/2 - floor(x))³`: floors (to within 1/8), with a gradient.
fn polynomial_floor(x: &Tensor) -> Tensor {
    let f = x.floor();
    &f + (x - 0.5 - &f).pow_tensor_scalar(3)
}

/// The quantisation tables' scale for each quality (B,) (libjpeg's `5000/q` below 50,
/// `200 - 2q` above; a quality of 0 counts as 1).
fn quality_scale(q: &Tensor) -> Tensor {
    let q = q.ones_like().where_self(&q.eq(0.0), q);
    let s = (q.reciprocal() * 5000.0).where_self(&q.lt(50.0), &(q.g_mul_scalar(-2.0) + 200.0));
    polynomial_floor(&s)
}

/// Kornia's soft clipping of the scaled table into [1, 255]: beyond a bound, the bound
/// plus 0.02·(1 - e^{-excess}).
fn soft_clip(x: &Tensor, lo: f64, hi: f64) -> Tensor {
    let over = x - hi;
    let above = (over.clamp_min(0.0).neg().exp() - 1.0) * -0.02 + hi;
    let x = above.where_self(&over.gt(0.0), x);
    let under = &x - lo;
    let below = (under.clamp_max(0.0).exp() - 1.0) * 0.02 + lo;
    below.where_self(&under.lt(0.0), &x)
}

/// Each sample's (B,1,8,8) quantisation table: `table · scale`, offset and clipped to
/// [1, 255] and floored, as libjpeg builds it.
fn table(base: &[f32; 64], qscale: &Tensor, kind: Kind, device: Device) -> Result<Tensor> {
    let t = constant(base, kind, device).view([1, 1, 8, 8]);
    let scaled = t * qscale.view([-1, 1, 1, 1]);
    Ok(polynomial_floor(&soft_clip(
        &((scaled + 50.0) / 100.0),
        1.0,
        255.0,
    )))
}

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomJPEG {
    type Config = JpegConfig;

    fn from_kornia(kw: &Kwargs) -> Result<JpegConfig> {
        let mut c = JpegConfig::default();
        set!(c.jpeg_quality = kw.range("jpeg_quality", 50.0, 1.0)?);
        common!(kw, c);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DCT pair is orthonormal: the inverse of the forward transform is the identity
    /// (up to rounding), so quantisation alone loses information.
    #[test]
    fn the_dct_pair_inverts() {
        let x = Tensor::f_rand([2, 3, 8, 8], (Kind::Double, Device::Cpu)).unwrap() * 255.0;
        let (basis, scale) = dct_basis(Kind::Double, Device::Cpu).unwrap();
        let dct = (&x - 128.0).tensordot(&basis, [2, 3], [0, 1]) * scale;
        let back = idct(&dct).unwrap();
        let err = f64::try_from((back - &x).abs().max()).unwrap();
        assert!(err < 1e-9, "round trip error {err}");
    }

    /// The scale follows libjpeg's two branches; at quality 100 the table is a step of about
    /// 0.12 everywhere.
    #[test]
    fn quality_scales_follow_libjpeg() {
        let q = Tensor::from_slice(&[0.0f64, 1.0, 25.0, 50.0, 75.0, 100.0]);
        let s: Vec<f64> = Vec::try_from(quality_scale(&q)).unwrap();
        // floor(5000/q) or floor(200 - 2q), then the polynomial's (-1/2)³ offset on whole
        // numbers.
        let expect = [5000.0, 5000.0, 200.0, 100.0, 50.0, 0.0].map(|v: f64| v - 0.125);
        for (a, e) in s.iter().zip(expect) {
            assert!((a - e).abs() < 1e-9, "{s:?}");
        }
        let t = table(
            &TABLE_Y,
            &quality_scale(&Tensor::from_slice(&[100.0f64])),
            Kind::Double,
            Device::Cpu,
        )
        .unwrap();
        // By hand: scale -1/8, so an entry t gives (50 - t/8)/100 in (0.34, 0.49), soft-clipped
        // to 1 + 0.02(e^{x-1} - 1) in (0.990, 0.992), whose polynomial floor (x - 1/2)³ lies
        // in (0.1179, 0.1192): a step far finer than 1 (Kornia's quality 100).
        let (lo, hi) = (
            f64::try_from(t.min()).unwrap(),
            f64::try_from(t.max()).unwrap(),
        );
        assert!(lo > 0.1179 && hi < 0.1192, "{lo} {hi}");
    }

    #[test]
    fn bad_configs_inputs_and_params_are_typed_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let err = |cfg: JpegConfig| RandomJPEG::new(vs.root(), cfg).unwrap_err().to_string();
        assert!(err(JpegConfig::new(0.0, 50.0)).contains("jpeg_quality = (0, 50)"));
        assert!(err(JpegConfig::new(60.0, 50.0)).contains("jpeg_quality"));
        assert!(err(JpegConfig::new(10.0, 101.0)).contains("jpeg_quality"));
        let op = RandomJPEG::new(vs.root(), JpegConfig::default()).unwrap();
        assert!(matches!(
            op.check_shape(&[2, 1, 8, 8]),
            Err(Error::Channels { .. })
        ));
        let x = Tensor::f_rand([2, 3, 8, 8], (Kind::Float, Device::Cpu)).unwrap();
        let mut p = Params::new();
        p.insert("jpeg_quality", Tensor::from_slice(&[50.0f32, 101.0]));
        assert_eq!(
            op.apply_transform(&x, &p).unwrap_err().to_string(),
            "RandomJPEG: parameter `jpeg_quality` has values outside [0, 100]"
        );
    }
}
