//! RandomRain: straight drops, each a line of pixels set to 200/255.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, uniform_between};
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomRain`]; `Default` is Kornia's. The three ranges are closed
/// integer ranges: every value from `lo` to `hi` is drawn with the same probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RainConfig {
    /// Range of the number of drops per image, `0 <= lo <= hi`.
    pub number_of_drops: (i64, i64),
    /// Range of a drop's height in pixels (down the rows; the same for every drop of an
    /// image), `1 <= lo <= hi`, and below the image's height.
    pub drop_height: (i64, i64),
    /// Range of a drop's width in pixels (along the columns; negative slants it the other
    /// way, 0 is a vertical line), its absolute values below the image's width.
    pub drop_width: (i64, i64),
    /// One draw shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of raining on each sample.
    pub p: f64,
}

impl Default for RainConfig {
    fn default() -> Self {
        RainConfig {
            number_of_drops: (1000, 2000),
            drop_height: (5, 20),
            drop_width: (-5, 5),
            same_on_batch: false,
            p: 0.5,
        }
    }
}

const RAIN: &str = "RandomRain";

/// The largest magnitude of a range's ends: Kornia draws integers through float32, which
/// holds every integer up to 2^24 exactly.
const MAX_INT: i64 = (1 << 24) - 1;

/// The value a drop's pixels get, in the input's kind.
const DROP: f64 = 200.0 / 255.0;

/// Rain (Kornia's `RandomRain`): every image gets its own number of drops, all of one
/// drawn height and width; each drop is a straight line of pixels from a drawn start
/// (anywhere the whole drop fits), set to 200/255. Nothing else changes, and nothing is
/// clamped. The input gradient passes where no drop fell.
///
/// Params (Kornia's): `number_of_drops_factor`, `drop_height_factor`, `drop_width_factor`
/// (B,) int64, and `coordinates_factor` (B, M, 2): each drop's start as (row, column)
/// fractions of the admissible starts, for M drops per image (drops past an image's count
/// are unused). On the CPU, M is the largest count drawn, as in Kornia (so the same seed
/// draws Kornia's params); elsewhere it is the range's upper end, so that nothing is read
/// back from the device.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W) with 1 or 3 channels, float32 or float64; output the same.
///
/// # Errors
/// `new` fails on a reversed, negative (drops), non-positive (height) or out-of-`±(2^24-1)`
/// range, or a bad `p`; `f_*` forms on a bad input, a channel count other than 1 or 3, an
/// image not taller than `drop_height.1` or not wider than the largest `|drop_width|`
/// (checked against the ranges, so it fails on every call, not only on the draws that
/// reach the edge as in Kornia), and (on the CPU) replayed params whose drops do not fit
/// the image.
#[derive(Debug)]
pub struct RandomRain {
    cfg: RainConfig,
}

impl RandomRain {
    /// Builds the augmentation (it has no variables; `path` is taken for symmetry).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: RainConfig) -> Result<RandomRain> {
        let range = |name, (lo, hi): (i64, i64), min: i64, allowed: &str| {
            if min <= lo && lo <= hi && hi <= MAX_INT {
                Ok(())
            } else {
                Err(checks::config(RAIN, name, format!("({lo}, {hi})"), allowed))
            }
        };
        range(
            "number_of_drops",
            cfg.number_of_drops,
            0,
            "whole numbers 0 <= lo <= hi <= 2^24 - 1",
        )?;
        range(
            "drop_height",
            cfg.drop_height,
            1,
            "whole numbers 1 <= lo <= hi <= 2^24 - 1",
        )?;
        range(
            "drop_width",
            cfg.drop_width,
            -MAX_INT,
            "whole numbers -(2^24 - 1) <= lo <= hi <= 2^24 - 1",
        )?;
        checks::probability(RAIN, "p", cfg.p)?;
        Ok(RandomRain { cfg })
    }

    /// The longest line a drop of the ranges can be.
    fn longest_line(&self) -> i64 {
        let (lo, hi) = self.cfg.drop_width;
        self.cfg.drop_height.1.max(lo.abs()).max(hi.abs())
    }
}

/// `n` integers drawn uniformly from the closed range `(lo, hi)`, as Kornia draws them:
/// U(lo, hi + 1) in float32, floored, with `hi + 1` itself (a float32 rounding) folded
/// back onto `hi`.
fn closed_integers(
    n: i64,
    same_on_batch: bool,
    device: Device,
    (lo, hi): (i64, i64),
) -> Result<Tensor> {
    let drawn = uniform_between(n, same_on_batch, device, (lo as f64, hi as f64 + 1.0))?;
    Ok(drawn.floor().clamp_max(hi as f64).to_kind(Kind::Int64))
}

/// The offsets (rows or columns) of the `steps` (B,1) pixels of lines from 0 to `last`
/// (B,1), for `k` (1,L) = 0..L: torch's integer `linspace` (a float64 step, the second half
/// counted back from the end, truncated), one line per sample.
fn line_offsets(last: &Tensor, steps: &Tensor, k: &Tensor) -> Tensor {
    let last = last.to_kind(Kind::Double);
    let step = &last / (steps - 1).clamp_min(1).to_kind(Kind::Double);
    let from_start = &step * k.to_kind(Kind::Double);
    let from_end = &last - &step * (steps - 1 - k).to_kind(Kind::Double);
    let halfway = steps.divide_scalar_mode(2, "floor");
    from_start
        .where_self(&k.lt_tensor(&halfway), &from_end)
        .trunc()
        .to_kind(Kind::Int64)
}

/// The params' drops against the image (as Kornia checks them when it applies): heights
/// in 1..H, widths within ±(W-1), counts within 0..=M. Read on the host: CPU only.
fn check_drops(params: [&Tensor; 3], (h, w, m): (i64, i64, i64)) -> Result<()> {
    let [drops, heights, widths] = params;
    let outside = |t: &Tensor, lo: i64, hi: i64| {
        bool::try_from(t.lt(lo).logical_or(&t.gt(hi)).any()).unwrap_or(true)
    };
    let bad = |key: &str, allowed: String| Error::Params {
        op: RAIN,
        key: key.into(),
        problem: format!("has values outside {allowed} for an image of {h}x{w}"),
    };
    if outside(heights, 1, h - 1) {
        return Err(bad("drop_height_factor", format!("1..={}", h - 1)));
    }
    if outside(widths, -(w - 1), w - 1) {
        return Err(bad("drop_width_factor", format!("-{0}..={0}", w - 1)));
    }
    if outside(drops, 0, m) {
        return Err(bad(
            "number_of_drops_factor",
            format!("0..={m} (the drops coordinates_factor holds)"),
        ));
    }
    Ok(())
}

impl Augmentation for RandomRain {
    fn name(&self) -> &'static str {
        RAIN
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomRain(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        checks::channels(RAIN, shape, &[1, 3], "1 or 3 channels")?;
        let (lo, hi) = self.cfg.drop_width;
        let drop = [self.cfg.drop_height.1, lo.abs().max(hi.abs())];
        if shape[2] <= drop[0] || shape[3] <= drop[1] {
            return Err(Error::Size {
                op: RAIN,
                what: "the largest drop (height, |width|)",
                size: drop.to_vec(),
                input: shape[2..].to_vec(),
                allowed: "a drop strictly smaller than the image on both axes",
            });
        }
        Ok(())
    }

    /// Kornia's draws, in its order: the gate, the number of drops, the height, the width
    /// (each (B,)), then the starts (B, M, 2).
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let drops = closed_integers(b, same, device, self.cfg.number_of_drops)?;
        let height = closed_integers(b, same, device, self.cfg.drop_height)?;
        let width = closed_integers(b, same, device, self.cfg.drop_width)?;
        // Kornia sizes the starts by the largest count drawn; reading it back would stall a
        // GPU, so there the range's end sizes them.
        let m = if device == Device::Cpu {
            i64::try_from(drops.max())?
        } else {
            self.cfg.number_of_drops.1
        };
        checks::fits(RAIN, "coordinates_factor", &[b, m, 2])?;
        let n = if same { 1 } else { b };
        let starts = crate::rng::rand(&[n, m, 2], (Kind::Float, device))?;
        let starts = if same {
            starts.f_repeat([b, 1, 1])?
        } else {
            starts
        };
        p.insert("number_of_drops_factor", drops);
        p.insert("coordinates_factor", starts);
        p.insert("drop_height_factor", height);
        p.insert("drop_width_factor", width);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        self.rain(input, params, input.device() == Device::Cpu)
    }
}

impl RandomRain {
    /// The drops of `params` on `input`; `read_back`: whether values may be read to the
    /// host (the CPU), to check the params and size the lines exactly. Without it, the
    /// lines are sized by the ranges, as on a GPU.
    fn rain(&self, input: &Tensor, params: &Params, read_back: bool) -> Result<Tensor> {
        let size = input.size();
        let (b, h, w) = (size[0], size[2], size[3]);
        let device = input.device();
        let int = |key: &str| -> Result<Tensor> {
            Ok(params
                .shaped(RAIN, key, &[b])?
                .to_device(device)
                .to_kind(Kind::Int64))
        };
        let (drops, heights, widths) = (
            int("number_of_drops_factor")?,
            int("drop_height_factor")?,
            int("drop_width_factor")?,
        );
        let starts = params.require(RAIN, "coordinates_factor")?;
        let m = match starts.size()[..] {
            [sb, m, 2] if sb == b => m,
            ref s => {
                return Err(Error::Params {
                    op: RAIN,
                    key: "coordinates_factor".into(),
                    problem: format!("has shape {s:?}; expected [{b}, M, 2]"),
                })
            }
        };
        if read_back {
            check_drops([&drops, &heights, &widths], (h, w, m))?;
        }
        if m == 0 {
            return Ok(input.copy());
        }
        let starts = starts.to_device(device);
        // Each drop is a line of `steps` pixels from its start to (last_row, last_col).
        let last_row = &heights - 1;
        let last_col = &widths - widths.sign();
        let steps = heights.maximum(&widths.abs());
        // The longest line: exact on the CPU, where it is read without a wait; else the
        // ranges' longest (the params being this operator's draws).
        let longest = if read_back {
            i64::try_from(steps.max())?
        } else {
            self.longest_line()
        };
        checks::fits(RAIN, "drop pixels", &[b, m, longest])?;
        let k = Tensor::f_arange(longest, (Kind::Int64, device))?.view([1, -1]);
        let (steps, drops) = (steps.view([-1, 1]), drops.view([-1, 1]));
        let line_rows = line_offsets(&last_row.view([-1, 1]), &steps, &k);
        let line_cols = line_offsets(&last_col.view([-1, 1]), &steps, &k);
        // The starts that keep the whole line inside the image, and the column shift of a
        // line that runs leftwards.
        let rows = (-&last_row + h).view([-1, 1]);
        let cols = (-last_col.abs() + w).view([-1, 1]);
        let shift = (-&last_col).clamp_min(0).view([-1, 1]);
        let start = |axis: i64, admissible: &Tensor| {
            (starts.select(2, axis) * admissible)
                .to_kind(Kind::Int64)
                .minimum(&(admissible - 1))
        };
        let start_rows = start(0, &rows);
        let start_cols = start(1, &cols) + shift;
        // (B, M, L): every step of every drop; the padding past a line's steps and the
        // drops past an image's count do not count.
        let pixel_rows = start_rows.unsqueeze(2) + line_rows.unsqueeze(1);
        let pixel_cols = start_cols.unsqueeze(2) + line_cols.unsqueeze(1);
        let kept = Tensor::f_arange(m, (Kind::Int64, device))?
            .view([1, -1, 1])
            .lt_tensor(&drops.unsqueeze(2))
            .logical_and(&k.lt_tensor(&steps).unsqueeze(1));
        let position = pixel_rows.clamp(0, h - 1) * w + pixel_cols.clamp(0, w - 1);
        let hits = Tensor::f_zeros([b, h * w], (Kind::Int, device))?.scatter_add(
            1,
            &position.view([b, -1]),
            &kept.view([b, -1]).to_kind(Kind::Int),
        );
        let wet = hits.gt(0).view([b, 1, h, w]);
        Ok(Tensor::where_scalarself(&wet, DROP, input))
    }
}

impl_module!(RandomRain);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

/// A closed integer range `(lo, hi)`, whole numbers only, as Kornia takes it.
fn whole_pair(kw: &Kwargs, key: &str) -> Result<Option<(i64, i64)>> {
    match kw.nums(key)?.as_deref() {
        None => Ok(None),
        Some(&[lo, hi])
            if [lo, hi]
                .iter()
                .all(|v| v.fract() == 0.0 && v.abs() <= MAX_INT as f64) =>
        {
            Ok(Some((lo as i64, hi as i64)))
        }
        Some(_) => Err(kw.err(key, "a (lower, upper) pair of whole numbers")),
    }
}

impl FromKornia for RandomRain {
    type Config = RainConfig;

    fn from_kornia(kw: &Kwargs) -> Result<RainConfig> {
        let mut c = RainConfig::default();
        set!(c.number_of_drops = whole_pair(kw, "number_of_drops")?);
        set!(c.drop_height = whole_pair(kw, "drop_height")?);
        set!(c.drop_width = whole_pair(kw, "drop_width")?);
        common!(kw, c);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of torch's integer `linspace` for a few lengths and ends, by hand:
    /// the first half counted from 0, the second back from the end, truncated.
    #[test]
    fn line_offsets_follow_integer_linspace() {
        // (last, steps, expected offsets)
        let cases: [(i64, i64, &[i64]); 5] = [
            (0, 1, &[0]),
            (4, 5, &[0, 1, 2, 3, 4]),
            // step 2/3: 0, 0.67 -> 0, then from the end 2 - 2/3 = 1.33 -> 1, 2
            (2, 4, &[0, 0, 1, 2]),
            // step -2/3: 0, -0.67 -> 0, then -2 + 2/3 = -1.33 -> -1, -2
            (-2, 4, &[0, 0, -1, -2]),
            // a short line padded to 5: its values past its steps are not used
            (1, 2, &[0, 1]),
        ];
        let k = Tensor::f_arange(5, (Kind::Int64, Device::Cpu))
            .unwrap()
            .view([1, -1]);
        for (last, steps, want) in cases {
            let got = line_offsets(
                &Tensor::from_slice(&[last]).view([1, 1]),
                &Tensor::from_slice(&[steps]).view([1, 1]),
                &k,
            );
            let got: Vec<i64> = Vec::try_from(got.view([-1])).unwrap();
            assert_eq!(&got[..want.len()], want, "last {last}, {steps} steps");
        }
    }

    /// What a GPU runs, on the CPU: lines sized by the ranges, not the drawn lengths, and
    /// the starts drawn for the range's most drops (those past an image's count unused),
    /// give the same rain as the exact sizes.
    #[test]
    fn the_gpu_sizes_give_the_cpu_rain() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = RainConfig {
            number_of_drops: (2, 9),
            drop_height: (1, 6),
            drop_width: (-4, 4),
            p: 1.0,
            ..Default::default()
        };
        let rain = RandomRain::new(vs.root(), cfg).unwrap();
        tch::manual_seed(3);
        let x = Tensor::f_rand([4, 3, 12, 10], (Kind::Float, Device::Cpu)).unwrap();
        let params = rain.sample(&x.size(), Device::Cpu).unwrap();
        let exact = rain.rain(&x, &params, true).unwrap();
        assert!(!exact.equal(&x), "no drop fell");
        assert!(rain.rain(&x, &params, false).unwrap().equal(&exact));
        // The starts padded to the range's 9 drops, as drawn on a GPU.
        let starts = params.get("coordinates_factor").unwrap();
        let m = starts.size()[1];
        let extra = Tensor::f_rand([4, 9 - m, 2], (Kind::Float, Device::Cpu)).unwrap();
        let mut padded = params.clone();
        padded.insert("coordinates_factor", Tensor::cat(&[starts, &extra], 1));
        assert!(rain.rain(&x, &padded, false).unwrap().equal(&exact));
        assert!(rain.rain(&x, &padded, true).unwrap().equal(&exact));
    }

    /// Bad ranges, images too small for the drops and replayed drops that do not fit are
    /// typed errors that say what was given and what is allowed.
    #[test]
    fn bad_configs_inputs_and_params_are_typed_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let new = |cfg: RainConfig| {
            RandomRain::new(vs.root(), cfg)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let with = |f: fn(&mut RainConfig)| {
            let mut c = RainConfig::default();
            f(&mut c);
            c
        };
        assert_eq!(
            new(with(|c| c.drop_height = (0, 3))),
            "RandomRain: drop_height = (0, 3) is invalid; allowed: whole numbers 1 <= lo <= hi <= 2^24 - 1"
        );
        assert_eq!(
            new(with(|c| c.number_of_drops = (5, 4))),
            "RandomRain: number_of_drops = (5, 4) is invalid; allowed: whole numbers 0 <= lo <= hi <= 2^24 - 1"
        );
        assert!(new(with(|c| c.drop_width = (-(1 << 24), 0))).contains("drop_width"));
        assert!(new(with(|c| c.p = 1.5)).contains("p = 1.5"));
        // The defaults' drops reach 20 rows: a 20-row image is refused on every call.
        let rain = RandomRain::new(vs.root(), RainConfig::default()).unwrap();
        assert_eq!(
            rain.check_shape(&[2, 3, 20, 32]).unwrap_err().to_string(),
            "RandomRain: the largest drop (height, |width|) [20, 5] does not fit the input of \
             spatial size [20, 32]; a drop strictly smaller than the image on both axes"
        );
        assert!(rain.check_shape(&[2, 3, 21, 6]).is_ok());
        assert!(matches!(
            rain.check_shape(&[2, 2, 21, 6]),
            Err(Error::Channels { .. })
        ));
        // Replayed drops taller than the image.
        let x = Tensor::f_zeros([1, 1, 4, 4], (Kind::Float, Device::Cpu)).unwrap();
        let mut p = Params::new();
        p.insert("number_of_drops_factor", Tensor::from_slice(&[1i64]));
        p.insert("drop_height_factor", Tensor::from_slice(&[4i64]));
        p.insert("drop_width_factor", Tensor::from_slice(&[0i64]));
        p.insert(
            "coordinates_factor",
            Tensor::f_zeros([1, 1, 2], (Kind::Float, Device::Cpu)).unwrap(),
        );
        assert_eq!(
            rain.rain(&x, &p, true).unwrap_err().to_string(),
            "RandomRain: parameter `drop_height_factor` has values outside 1..=3 for an image of 4x4"
        );
        p.insert("drop_height_factor", Tensor::from_slice(&[3i64]));
        p.insert("number_of_drops_factor", Tensor::from_slice(&[2i64]));
        assert!(rain
            .rain(&x, &p, true)
            .unwrap_err()
            .to_string()
            .contains("0..=1"));
        p.insert("number_of_drops_factor", Tensor::from_slice(&[1i64]));
        // One drop of 3 rows from the top-left corner, in column 0.
        let y = rain.rain(&x, &p, true).unwrap();
        let wet: Vec<f32> = Vec::try_from(y.view([-1])).unwrap();
        let expect: Vec<f32> = (0..16)
            .map(|i| {
                if i % 4 == 0 && i < 12 {
                    DROP as f32
                } else {
                    0.0
                }
            })
            .collect();
        assert_eq!(wet, expect);
    }
}
