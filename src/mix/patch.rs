//! PatchMix: a square patch of each image replaced by the same patch of its partner.

use super::{LambdaWeight, MixAugmentation};
use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::labels::unmixed_rows;
use crate::range::gate;
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`PatchMix`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatchMixConfig {
    /// Parameter of the symmetric Beta(α, α) of Kornia's `lam`, which is drawn (so that
    /// the random stream stays Kornia's) and recorded, but blends nothing (> 0).
    pub alpha: f64,
    /// The patch's side in pixels, at least 1 and at most the image's shorter side.
    pub patch_size: i64,
    /// One patch corner for the whole batch (the pairing is still drawn per sample).
    pub same_on_batch: bool,
    /// Probability of mixing the batch (one draw for the whole batch).
    pub p: f64,
}

impl Default for PatchMixConfig {
    fn default() -> Self {
        PatchMixConfig {
            alpha: 1.0,
            patch_size: 16,
            same_on_batch: false,
            p: 1.0,
        }
    }
}

const PATCHMIX: &str = "PatchMix";

/// PatchMix (Kornia's `PatchMix`): under a random pairing of the batch (a sample may draw
/// itself), each image's `patch_size` square at a drawn corner is replaced by the same
/// square of its partner. Masks are pasted with the images; boxes and keypoints cannot go
/// through (each output image holds parts of two). Labels, which Kornia's PatchMix does not
/// take, come out as CutMix's: `(B, 3)` rows `[y, y_pair, λ]`, λ the pasted fraction of the
/// image (the weight of the partner's label, [`LambdaWeight::Permuted`]; a sample paired
/// with itself gets `[y, y, λ]`, all its own label, as its pixels are).
///
/// Params (Kornia's): `mix_pairs` (B,) int64, `patch_coords` (B, 2) int64 top-left corners
/// (x, y), `lam` (B,) (unused), `batch_prob` (B,), `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; output the same.
///
/// # Errors
/// `new` fails on `alpha <= 0`, `patch_size < 1` or a bad `p`; `f_*` forms on a bad input
/// or an image smaller than the patch.
#[derive(Debug)]
pub struct PatchMix {
    cfg: PatchMixConfig,
}

impl PatchMix {
    /// Builds the augmentation (it has no variables; `path` is taken for symmetry).
    ///
    /// # Errors
    /// [`crate::Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: PatchMixConfig) -> Result<PatchMix> {
        if !checks::f32_positive(cfg.alpha) {
            return Err(checks::config(
                PATCHMIX,
                "alpha",
                cfg.alpha,
                "a finite number > 0, as float32",
            ));
        }
        if cfg.patch_size < 1 {
            return Err(checks::config(
                PATCHMIX,
                "patch_size",
                cfg.patch_size,
                "a side length >= 1",
            ));
        }
        checks::probability(PATCHMIX, "p", cfg.p)?;
        Ok(PatchMix { cfg })
    }

    /// Each sample's patch (B,1,H,W) and its partners, from validated params.
    fn patch(&self, params: &Params, shape: &[i64], device: Device) -> Result<(Tensor, Tensor)> {
        let (b, h, w) = (shape[0], shape[2], shape[3]);
        let pairs = params
            .shaped(PATCHMIX, "mix_pairs", &[b])?
            .to_device(device);
        let corners = params
            .shaped(PATCHMIX, "patch_coords", &[b, 2])?
            .to_device(device)
            .to_kind(Kind::Int64);
        let s = self.cfg.patch_size;
        let inside = |axis: i64, n: i64| -> Result<Tensor> {
            let at = Tensor::f_arange(n, (Kind::Int64, device))?.view([1, -1]);
            let from = corners.select(1, axis).view([-1, 1]);
            Ok(at.ge_tensor(&from).logical_and(&at.lt_tensor(&(from + s))))
        };
        let rows = inside(1, h)?.view([b, 1, h, 1]);
        let cols = inside(0, w)?.view([b, 1, 1, w]);
        Ok((rows.logical_and(&cols), pairs.to_kind(Kind::Int64)))
    }
}

impl Augmentation for PatchMix {
    fn as_mix(&self) -> Option<&dyn MixAugmentation> {
        Some(self)
    }

    /// Pastes the masks with the same patches and pairs as the images.
    fn apply_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        _how: &crate::MaskSampling,
    ) -> Result<Tensor> {
        self.apply_transform(mask, params)
    }

    fn name(&self) -> &'static str {
        PATCHMIX
    }

    fn spec(&self) -> AugSpec {
        AugSpec::PatchMix(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (1.0, self.cfg.p)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let s = self.cfg.patch_size;
        if shape[2] < s || shape[3] < s {
            return Err(Error::Size {
                op: PATCHMIX,
                what: "patch (patch_size, patch_size)",
                size: vec![s, s],
                input: shape[2..].to_vec(),
                allowed: "a patch_size of at most the image's shorter side",
            });
        }
        Ok(())
    }

    /// Kornia's draws, in its order: the batch gate, the pairing (the argsort of a uniform
    /// draw, per sample whatever `same_on_batch`), the unused Beta(α, α), then the corner's
    /// row and column, each uniform over the corners that keep the patch inside.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let opts = (Kind::Float, device);
        let mut p = Params::new();
        p.insert("batch_prob", gate(b, 1.0, self.cfg.p, same, device)?);
        p.insert("forward_input_shape", Tensor::from_slice(shape));
        let pairs = crate::rng::rand(&[b], opts)?.argsort(0, false);
        let n = if same { 1 } else { b };
        // Beta(α, α) through Dirichlet([α, α]), as torch.distributions.Beta draws it.
        let lam = crate::rng::sample_dirichlet(&Tensor::f_full([n, 2], self.cfg.alpha, opts)?)?
            .select(-1, 0)
            .f_repeat([b / n])?;
        let corner = |side: i64| -> Result<Tensor> {
            let u = crate::rng::rand(&[n], opts)?.f_repeat([b / n])?;
            Ok((u * (side - self.cfg.patch_size + 1) as f64)
                .floor()
                .to_kind(Kind::Int64))
        };
        let y = corner(shape[2])?;
        let x = corner(shape[3])?;
        p.insert("mix_pairs", pairs);
        p.insert("patch_coords", Tensor::stack(&[x, y], 1));
        p.insert("lam", lam);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let (patch, pairs) = self.patch(params, &input.size(), input.device())?;
        let partners = input.f_index_select(0, &pairs)?;
        Ok(partners.where_self(&patch, input))
    }
}

impl MixAugmentation for PatchMix {
    fn lambda_weight(&self) -> LambdaWeight {
        LambdaWeight::Permuted
    }

    fn mix_labels(&self, labels: &Tensor, params: &Params, kind: Kind) -> Result<Tensor> {
        let b = labels.size()[0];
        let device = labels.device();
        let pairs = params
            .shaped(PATCHMIX, "mix_pairs", &[b])?
            .to_device(device);
        // The pasted share of the image, from the recorded input shape (on the labels'
        // device: nothing is read back).
        let shape = params
            .shaped(PATCHMIX, "forward_input_shape", &[4])?
            .to_device(device)
            .to_kind(kind);
        let s = self.cfg.patch_size as f64;
        let area = (shape.get(2) * shape.get(3)).reciprocal() * (s * s);
        let y = labels.to_kind(kind);
        let other = labels.f_take(&pairs)?.to_kind(kind);
        let lam = y.zeros_like() + area;
        Ok(Tensor::stack(&[y, other, lam], -1))
    }

    fn unmixed_labels(&self, labels: &Tensor, kind: Kind) -> Tensor {
        unmixed_rows(labels, kind)
    }
}

impl_module!(PatchMix);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for PatchMix {
    type Config = PatchMixConfig;

    fn from_kornia(kw: &Kwargs) -> Result<PatchMixConfig> {
        let mut c = PatchMixConfig::default();
        set!(c.alpha = kw.num("alpha")?);
        set!(c.patch_size = kw.int("patch_size")?);
        let _ = kw.get("data_keys");
        common!(kw, c);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AugmentationExt;

    /// The patch of a drawn corner is the partner's, everything else the sample's own, and
    /// the labels weigh the partner by the patch's share of the image.
    #[test]
    fn a_patch_comes_from_the_partner_and_labels_weigh_it() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = PatchMixConfig {
            patch_size: 2,
            ..Default::default()
        };
        let mix = PatchMix::new(vs.root(), cfg).unwrap();
        // Image i is filled with i.
        let x = Tensor::f_arange(3, (Kind::Float, Device::Cpu))
            .unwrap()
            .view([3, 1, 1, 1])
            .expand([3, 1, 4, 5], false)
            .contiguous();
        let mut p = Params::new();
        p.insert("batch_prob", Tensor::from_slice(&[1.0f32, 1.0, 1.0]));
        p.insert("forward_input_shape", Tensor::from_slice(&[3i64, 1, 4, 5]));
        p.insert("mix_pairs", Tensor::from_slice(&[2i64, 0, 1]));
        // (x, y) corners.
        p.insert(
            "patch_coords",
            Tensor::from_slice(&[0i64, 0, 3, 2, 1, 1]).view([3, 2]),
        );
        let y = mix.f_apply(&x, &p).unwrap();
        let at = |i: i64, r: i64, c: i64| y.double_value(&[i, 0, r, c]);
        assert_eq!((at(0, 0, 0), at(0, 1, 1), at(0, 2, 2)), (2.0, 2.0, 0.0));
        assert_eq!((at(1, 2, 3), at(1, 3, 4), at(1, 1, 3)), (0.0, 0.0, 1.0));
        assert_eq!((at(2, 1, 1), at(2, 2, 2), at(2, 0, 0)), (1.0, 1.0, 2.0));
        // 4 of 20 pixels come from the partner.
        let labels = Tensor::from_slice(&[7i64, 8, 9]);
        let (_, mixed, _) = mix.f_forward_with_labels_and_params(&x, &labels).unwrap();
        assert_eq!(mixed.size(), [3, 3]);
        let rows = mix.mix_labels(&labels, &p, Kind::Float).unwrap();
        let rows: Vec<f32> = Vec::try_from(rows.view([-1])).unwrap();
        assert_eq!(rows, [7.0, 9.0, 0.2, 8.0, 7.0, 0.2, 9.0, 8.0, 0.2]);
    }

    #[test]
    fn bad_configs_and_small_images_are_typed_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let err = |cfg: PatchMixConfig| {
            PatchMix::new(vs.root(), cfg)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(PatchMixConfig {
                patch_size: 0,
                ..Default::default()
            }),
            "PatchMix: patch_size = 0 is invalid; allowed: a side length >= 1"
        );
        assert!(err(PatchMixConfig {
            alpha: 0.0,
            ..Default::default()
        })
        .contains("alpha = 0"));
        let mix = PatchMix::new(vs.root(), PatchMixConfig::default()).unwrap();
        assert_eq!(
            mix.check_shape(&[2, 3, 15, 32]).unwrap_err().to_string(),
            "PatchMix: patch (patch_size, patch_size) [16, 16] does not fit the input of spatial \
             size [15, 32]; a patch_size of at most the image's shorter side"
        );
    }
}
