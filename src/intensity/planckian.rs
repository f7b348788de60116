//! RandomPlanckianJitter.

use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::{gate_params, uniform};
use crate::{AugSpec, Augmentation, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Which illuminants (Kornia's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PlanckianMode {
    /// Black-body radiators (25 temperatures).
    #[default]
    #[serde(rename = "blackbody")]
    Blackbody,
    /// CIE D illuminants (23 temperatures).
    #[serde(rename = "CIED")]
    Cied,
}

/// RGB of black-body radiators, one row per temperature: data from Zini et al., "Planckian
/// Jitter: countering the color-crippling effects of color jitter on self-supervised
/// training" (ICLR 2023), as tabulated by Kornia 0.9.
const BLACKBODY: [[f32; 3]; 25] = [
    [0.6743, 0.4029, 0.0013],
    [0.6281, 0.4241, 0.1665],
    [0.5919, 0.4372, 0.2513],
    [0.5623, 0.4457, 0.3154],
    [0.5376, 0.4515, 0.3672],
    [0.5163, 0.4555, 0.4103],
    [0.4979, 0.4584, 0.4468],
    [0.4816, 0.4604, 0.4782],
    [0.4672, 0.4619, 0.5053],
    [0.4542, 0.4630, 0.5289],
    [0.4426, 0.4638, 0.5497],
    [0.4320, 0.4644, 0.5681],
    [0.4223, 0.4648, 0.5844],
    [0.4135, 0.4651, 0.5990],
    [0.4054, 0.4653, 0.6121],
    [0.3980, 0.4654, 0.6239],
    [0.3911, 0.4655, 0.6346],
    [0.3847, 0.4656, 0.6444],
    [0.3787, 0.4656, 0.6532],
    [0.3732, 0.4656, 0.6613],
    [0.3680, 0.4655, 0.6688],
    [0.3632, 0.4655, 0.6756],
    [0.3586, 0.4655, 0.6820],
    [0.3544, 0.4654, 0.6878],
    [0.3503, 0.4653, 0.6933],
];

/// RGB of CIE D illuminants, same source.
const CIED: [[f32; 3]; 23] = [
    [0.5829, 0.4421, 0.2288],
    [0.5510, 0.4514, 0.2948],
    [0.5246, 0.4576, 0.3488],
    [0.5021, 0.4618, 0.3941],
    [0.4826, 0.4646, 0.4325],
    [0.4654, 0.4667, 0.4654],
    [0.4502, 0.4681, 0.4938],
    [0.4364, 0.4692, 0.5186],
    [0.4240, 0.4700, 0.5403],
    [0.4127, 0.4705, 0.5594],
    [0.4023, 0.4709, 0.5763],
    [0.3928, 0.4713, 0.5914],
    [0.3839, 0.4715, 0.6049],
    [0.3757, 0.4716, 0.6171],
    [0.3681, 0.4717, 0.6281],
    [0.3609, 0.4718, 0.6380],
    [0.3543, 0.4719, 0.6472],
    [0.3480, 0.4719, 0.6555],
    [0.3421, 0.4719, 0.6631],
    [0.3365, 0.4719, 0.6702],
    [0.3313, 0.4719, 0.6766],
    [0.3263, 0.4719, 0.6826],
    [0.3217, 0.4719, 0.6882],
];

/// Configuration of [`RandomPlanckianJitter`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanckianConfig {
    /// The illuminant table.
    pub mode: PlanckianMode,
    /// Only these rows of the table.
    pub select_from: Option<Vec<usize>>,
    /// One illuminant shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of re-lighting each sample.
    pub p: f64,
}

impl Default for PlanckianConfig {
    fn default() -> Self {
        PlanckianConfig {
            mode: PlanckianMode::Blackbody,
            select_from: None,
            same_on_batch: false,
            p: 0.5,
        }
    }
}

/// Re-lights each sample with a random illuminant (Kornia's `RandomPlanckianJitter`): red
/// and blue are scaled by the illuminant's r/g and b/g ratios, then clamped.
///
/// Params: `idx` (B,) int64 rows of the (selected) table.
///
/// # Shapes
/// Input (B,3,H,W) or (3,H,W), float32 or float64 (clamped to [0, 1]); output the same.
///
/// # Errors
/// `new` fails on an empty or out-of-table `select_from` or a bad `p`; `f_*` forms on a
/// bad input or a channel count other than 3.
#[derive(Debug)]
pub struct RandomPlanckianJitter {
    cfg: PlanckianConfig,
    /// (N, 2) r/g and b/g ratios, float32.
    ratios: Vec<f32>,
}

const PLANCKIAN: &str = "RandomPlanckianJitter";

impl RandomPlanckianJitter {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        _path: P,
        cfg: PlanckianConfig,
    ) -> Result<RandomPlanckianJitter> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: PlanckianConfig) -> Result<RandomPlanckianJitter> {
        checks::probability(PLANCKIAN, "p", cfg.p)?;
        let table: &[[f32; 3]] = match cfg.mode {
            PlanckianMode::Blackbody => &BLACKBODY,
            PlanckianMode::Cied => &CIED,
        };
        let rows: Vec<[f32; 3]> = match &cfg.select_from {
            None => table.to_vec(),
            Some(sel) => {
                if sel.is_empty() || sel.iter().any(|&i| i >= table.len()) {
                    return Err(checks::config(
                        PLANCKIAN,
                        "select_from",
                        format!("{sel:?}"),
                        format!("a non-empty list of rows below {}", table.len()),
                    ));
                }
                sel.iter().map(|&i| table[i]).collect()
            }
        };
        let ratios = rows
            .iter()
            .flat_map(|r| [r[0] / r[1], r[2] / r[1]])
            .collect();
        Ok(RandomPlanckianJitter { cfg, ratios })
    }
}

impl Augmentation for RandomPlanckianJitter {
    fn name(&self) -> &'static str {
        PLANCKIAN
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomPlanckianJitter(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        checks::channels(PLANCKIAN, shape, &[3], "3 channels (RGB)")
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let n = (self.ratios.len() / 2) as f64;
        let idx = (uniform(b, same, device)? * n).to_kind(Kind::Int64);
        p.insert("idx", idx);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = input.size()[0];
        let n = (self.ratios.len() / 2) as i64;
        let idx = params
            .shaped(PLANCKIAN, "idx", &[b])?
            .to_device(input.device())
            .to_kind(Kind::Int64)
            .clamp(0, n - 1);
        let table = crate::ops::constant(&self.ratios, input.kind(), input.device()).view([n, 2]);
        let coeffs = table.index_select(0, &idx);
        let one = coeffs.narrow(1, 0, 1).ones_like();
        let scale = Tensor::cat(&[coeffs.narrow(1, 0, 1), one, coeffs.narrow(1, 1, 1)], 1)
            .view([b, 3, 1, 1]);
        Ok((input.clamp(0.0, 1.0) * scale).clamp(0.0, 1.0))
    }
}

impl_module!(RandomPlanckianJitter);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomPlanckianJitter {
    type Config = PlanckianConfig;

    fn from_kornia(kw: &Kwargs) -> Result<PlanckianConfig> {
        let mut c = PlanckianConfig::default();
        set!(c.mode = kw.enm::<PlanckianMode>("mode")?);
        c.select_from = kw
            .nums("select_from")?
            .map(|v| v.iter().map(|&x| x as usize).collect());
        common!(kw, c);
        Ok(c)
    }
}
