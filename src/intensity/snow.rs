//! RandomSnow: lightens the darker pixels in HLS space, as snow cover.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, uniform_between, Learnable, Range};
use crate::{AugSpec, Augmentation, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::f64::consts::PI;
use tch::{nn, Device, Tensor};

/// Configuration of [`RandomSnow`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnowConfig {
    /// Range of the lightness threshold, within [0, 1]: pixels whose HLS lightness is below
    /// it are snowed on.
    pub snow_coefficient: (f64, f64),
    /// Range of the factor their lightness is multiplied by, at least 1.
    pub brightness: (f64, f64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of snowing on each sample.
    pub p: f64,
    /// Which ranges are trainable variables (`brightness`; see [`crate::Learnable`]). The
    /// threshold only selects pixels: no gradient reaches it, so it is not a variable.
    pub learnable: Learnable,
}

impl Default for SnowConfig {
    fn default() -> Self {
        SnowConfig {
            snow_coefficient: (0.5, 0.5),
            brightness: (2.0, 2.0),
            same_on_batch: false,
            p: 1.0,
            learnable: Learnable::None,
        }
    }
}

const SNOW: &str = "RandomSnow";

/// The names of [`RandomSnow`]'s ranges (see [`crate::Learnable`]).
const SNOW_RANGES: [&str; 1] = ["brightness"];

/// Snow (Kornia's `RandomSnow`): in HLS space, the lightness of every pixel darker than a
/// drawn threshold is multiplied by a drawn brightness factor (clamped to 1); then back to
/// RGB, clamped.
///
/// Params: `snow_coefficient` (B,), `brightness` (B,).
///
/// # Shapes
/// Input (B,3,H,W) or (3,H,W), float32 or float64 (clamped to [0, 1]); output the same.
///
/// # Errors
/// `new` fails on a threshold outside [0, 1], a brightness below 1, a reversed range or a
/// bad `p`; `f_*` forms on a bad input or a channel count other than 3.
#[derive(Debug)]
pub struct RandomSnow {
    cfg: SnowConfig,
    brightness: Range,
}

impl RandomSnow {
    /// Builds the augmentation; its ranges live under `path`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(path: P, cfg: SnowConfig) -> Result<RandomSnow> {
        let path = path.borrow();
        cfg.learnable.check(SNOW, &SNOW_RANGES)?;
        checks::range(SNOW, "snow_coefficient", cfg.snow_coefficient, (0.0, 1.0))?;
        checks::range(SNOW, "brightness", cfg.brightness, (1.0, checks::MAGNITUDE))?;
        checks::probability(SNOW, "p", cfg.p)?;
        let brightness = Range::new(
            path,
            "brightness",
            cfg.brightness,
            &cfg.learnable,
            (1.0, checks::MAGNITUDE),
        );
        Ok(RandomSnow { cfg, brightness })
    }
}

/// Kornia's `rgb_to_hls` of a (B,3,H,W) image: hue in radians in [0, 2π), lightness,
/// saturation, with its float operations and its guards against zero denominators.
fn rgb_to_hls(image: &Tensor) -> Tensor {
    const EPS: f64 = 1e-8;
    let (maxc, imax) = image.max_dim(-3, false);
    let minc = image.amin([-3], false);
    let l = &maxc + &minc;
    let s = &maxc - &minc;
    let ones = s.ones_like();
    let chroma = ones.where_self(&s.eq(0.0), &(&s + EPS));
    let light = l.where_self(&l.lt(1.0), &(2.0 - &l));
    let saturation_den = ones.where_self(&light.eq(0.0), &(&light + EPS));
    let s = s / saturation_den;
    let l = l / 2.0;
    let (r, g, b) = (
        image.select(-3, 0),
        image.select(-3, 1),
        image.select(-3, 2),
    );
    let is = |k: i64| imax.eq(k).to_kind(image.kind());
    let h = ((&g - &b) / &chroma).remainder(6.0) * is(0);
    let h = h + ((&b - &r) / &chroma + 2.0) * is(1);
    let h = h + ((&r - &g) / &chroma + 4.0) * is(2);
    let h = h * (PI / 3.0);
    let h = h.masked_fill(&h.ge(2.0 * PI), 0.0);
    Tensor::stack(&[h, l, s], -3)
}

/// Kornia's `hls_to_rgb` of a (B,3,H,W) image.
fn hls_to_rgb(image: &Tensor) -> Tensor {
    let (kind, device) = (image.kind(), image.device());
    let h = image.narrow(-3, 0, 1) * (6.0 / PI);
    let l = image.narrow(-3, 1, 1);
    let s = image.narrow(-3, 2, 1);
    let a = &s * l.minimum(&(1.0 - &l));
    let offsets = crate::ops::constant(&[0.0, 8.0, 4.0], kind, device).view([3, 1, 1]);
    let k = (h + offsets).remainder(12.0);
    let mink = (&k - 3.0).minimum(&(9.0 - &k)).clamp(-1.0, 1.0);
    l.addcmul(&(-a), &mink)
}

impl Augmentation for RandomSnow {
    fn name(&self) -> &'static str {
        SNOW
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomSnow(self.cfg.clone())
    }

    fn range_names(&self) -> &'static [&'static str] {
        &SNOW_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.brightness]
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        checks::channels(SNOW, shape, &[3], "3 channels (RGB)")
    }

    /// Kornia's draws, in its order: the threshold, then the brightness, each (B,).
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let threshold = uniform_between(b, same, device, self.cfg.snow_coefficient)?;
        p.insert("snow_coefficient", threshold);
        p.insert("brightness", self.brightness.sample(b, same, device)?);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let coefficient = params.factor(SNOW, "snow_coefficient", input)?;
        let brightness = params.factor(SNOW, "brightness", input)?;
        let hls = rgb_to_hls(&input.clamp(0.0, 1.0));
        // Only the lightness of the pixels below the threshold.
        let dark = hls
            .narrow(1, 1, 1)
            .lt_tensor(&coefficient)
            .to_kind(input.kind());
        let zeros = dark.zeros_like();
        let mask = Tensor::cat(&[&zeros, &dark, &zeros], 1);
        let lit = (&hls * &mask * brightness).clamp(0.0, 1.0);
        let hls = &hls * (1.0 - &mask) + lit;
        Ok(hls_to_rgb(&hls).clamp(0.0, 1.0))
    }
}

impl_module!(RandomSnow);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomSnow {
    type Config = SnowConfig;

    fn from_kornia(kw: &Kwargs) -> Result<SnowConfig> {
        let mut c = SnowConfig::default();
        set!(c.snow_coefficient = kw.range("snow_coefficient", 0.5, 0.0)?);
        set!(c.brightness = kw.pair("brightness")?);
        common!(kw, c);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Primaries and grays through HLS and back: the hue, lightness and saturation of known
    /// colours, and the round trip.
    #[test]
    fn hls_of_known_colours_and_back() {
        let rgb = Tensor::from_slice(&[
            1.0f64, 0.0, 0.0, // red
            0.0, 1.0, 0.0, // green
            0.0, 0.0, 1.0, // blue
            0.5, 0.5, 0.5, // gray
            0.25, 0.5, 0.75, // a blue-ish
        ])
        .view([5, 3])
        .transpose(0, 1)
        .view([1, 3, 1, 5]);
        let hls = rgb_to_hls(&rgb);
        let h: Vec<f64> = Vec::try_from(hls.select(1, 0).view([-1])).unwrap();
        let l: Vec<f64> = Vec::try_from(hls.select(1, 1).view([-1])).unwrap();
        let s: Vec<f64> = Vec::try_from(hls.select(1, 2).view([-1])).unwrap();
        let want_h = [0.0, 2.0 * PI / 3.0, 4.0 * PI / 3.0, 0.0, 7.0 * PI / 6.0];
        let want_l = [0.5, 0.5, 0.5, 0.5, 0.5];
        let want_s = [1.0, 1.0, 1.0, 0.0, 0.5];
        for i in 0..5 {
            assert!((h[i] - want_h[i]).abs() < 1e-6, "h {i}: {}", h[i]);
            assert!((l[i] - want_l[i]).abs() < 1e-6, "l {i}: {}", l[i]);
            assert!((s[i] - want_s[i]).abs() < 1e-6, "s {i}: {}", s[i]);
        }
        let back = hls_to_rgb(&hls);
        assert!((back - &rgb).abs().max().double_value(&[]) < 1e-6);
    }
}
