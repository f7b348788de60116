//! Mixing augmentations that change labels as well as images: RandomMixUp, RandomCutMix and
//! PatchMix (Kornia's `RandomMixUpV2`, `RandomCutMixV2` and `PatchMix`), and the
//! soft-target cross-entropy that turns their label tensors into a loss.
//!
//! Labels go in as integer class ids (B,) and come out as Kornia's tensors, in the image's
//! float kind: MixUp `(B, 3)` rows `[y, y_perm, λ]`, CutMix `(num_mix, B, 3)`, PatchMix
//! `(B, 3)` (Kornia's PatchMix takes no labels: these are ours). In all, by
//! default, `λ` is the weight of the *second* (pasted or blended-in) label
//! ([`LambdaWeight::Permuted`]); CutMix's `use_correct_lambda` makes it the weight of the
//! first one ([`LambdaWeight::Original`]), as in the CutMix paper.

mod mosaic;
mod patch;
mod transplant;

pub use crate::augmentation::MixAugmentation;
pub use crate::labels::{mix_cross_entropy, soft_targets, LambdaWeight};
pub use mosaic::{MosaicConfig, RandomMosaic};
pub use patch::{PatchMix, PatchMixConfig};
pub use transplant::{RandomTransplantation, RandomTransplantation3D, TransplantConfig};

use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::labels::unmixed_rows;

use crate::augmentation::impl_module;
use crate::checks;
use crate::ops::constant;
use crate::range::{gate, Learnable, Range};
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomMixUp`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixUpConfig {
    /// Range of the mixing weight λ, within [0, 1].
    pub lambda_val: (f64, f64),
    /// One λ shared by the batch (the pairing is still a random permutation).
    pub same_on_batch: bool,
    /// Probability of mixing the batch (one draw for the whole batch).
    pub p: f64,
    /// Which ranges are trainable variables: none, all, or those named (see
    /// [`crate::Learnable`]; the names are in docs/operators.md's table).
    pub learnable: Learnable,
}

impl Default for MixUpConfig {
    fn default() -> Self {
        MixUpConfig {
            lambda_val: (0.0, 1.0),
            same_on_batch: false,
            p: 1.0,
            learnable: Learnable::None,
        }
    }
}

/// MixUp (Kornia's `RandomMixUpV2`): `x·(1 - λ) + x[perm]·λ` with a random permutation of the
/// batch and `λ ~ U(lambda_val)` per sample; labels `[y, y[perm], λ]` (B,3).
///
/// Params: `mixup_pairs` (B,) int64, `mixup_lambdas` (B,), `batch_prob`,
/// `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; labels (B,) integer.
///
/// # Errors
/// `new` fails on a `lambda_val` outside [0, 1] or a bad `p`; the `f_*` forms on a bad
/// input or bad labels.
///
/// # Example
/// ```no_run
/// use tch_dda::{mix_cross_entropy, MixAugmentation, MixUpConfig, RandomMixUp};
/// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let mixup = RandomMixUp::new(&(vs.root() / "mixup"), MixUpConfig::default()).unwrap();
/// let x = tch::Tensor::rand([8, 3, 32, 32], (tch::Kind::Float, tch::Device::Cpu));
/// let y = tch::Tensor::from_slice(&[0i64, 1, 2, 3, 4, 5, 6, 7]);
/// let (x, labels) = mixup.forward_with_labels(&x, &y);
/// let logits = tch::Tensor::randn([8, 10], (tch::Kind::Float, tch::Device::Cpu));
/// let loss = mixup.f_cross_entropy(&logits, &labels).unwrap();
/// ```
#[derive(Debug)]
pub struct RandomMixUp {
    cfg: MixUpConfig,
    lambda: Range,
}

const MIXUP: &str = "RandomMixUp";

/// The names of [`RandomMixUp`]'s ranges (see [`crate::Learnable`]).
const RANDOM_MIX_UP_RANGES: [&str; 1] = ["lambda_val"];

impl RandomMixUp {
    /// Builds the augmentation; `lambda_val` lives under `path`.
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(path: P, cfg: MixUpConfig) -> Result<RandomMixUp> {
        let path = path.borrow();
        cfg.learnable.check("RandomMixUp", &RANDOM_MIX_UP_RANGES)?;
        checks::range(MIXUP, "lambda_val", cfg.lambda_val, (0.0, 1.0))?;
        checks::probability(MIXUP, "p", cfg.p)?;
        let lambda = Range::new(
            path,
            "lambda_val",
            cfg.lambda_val,
            &cfg.learnable,
            (0.0, 1.0),
        );
        Ok(RandomMixUp { cfg, lambda })
    }

    /// The λ range.
    pub fn lambda_val(&self) -> &Range {
        &self.lambda
    }
}

/// Kornia's `Bernoulli(1.0).sample((n,))` "batch probabilities" of the mix generators: all
/// ones, but drawn, so the RNG stream matches Kornia's.
fn ones_drawn(n: i64, same_on_batch: bool, device: Device) -> Result<Tensor> {
    let m = if same_on_batch { 1 } else { n };
    let ones = crate::rng::bernoulli(&Tensor::f_ones([m], (Kind::Float, device))?)?;
    Ok(if same_on_batch {
        ones.f_repeat([n])?
    } else {
        ones
    })
}

impl Augmentation for RandomMixUp {
    fn range_names(&self) -> &'static [&'static str] {
        &RANDOM_MIX_UP_RANGES
    }

    fn ranges(&self) -> Vec<&Range> {
        vec![&self.lambda]
    }

    fn as_mix(&self) -> Option<&dyn MixAugmentation> {
        Some(self)
    }

    fn apply_mask(
        &self,
        _mask: &Tensor,
        _params: &Params,
        _how: &crate::MaskSampling,
    ) -> Result<Tensor> {
        Err(Error::Annotation {
            op: MIXUP,
            what: "mask",
            problem: "cannot go through MixUp: it blends whole images, and a blended mask has no labels (CutMix pastes masks)".into(),
        })
    }

    fn name(&self) -> &'static str {
        MIXUP
    }

    fn kornia_name(&self) -> &'static str {
        "RandomMixUpV2"
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomMixUp(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (1.0, self.cfg.p)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = Params::new();
        p.insert("batch_prob", gate(b, 1.0, self.cfg.p, same, device)?);
        let ones = ones_drawn(b, same, device)?;
        let pairs = crate::rng::randperm(b, (Kind::Int64, device))?;
        let lambdas = self.lambda.sample(b, same, device)? * ones;
        p.insert("mixup_pairs", pairs);
        p.insert("mixup_lambdas", lambdas);
        p.insert("forward_input_shape", Tensor::from_slice(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = input.size()[0];
        let pairs = params
            .shaped(MIXUP, "mixup_pairs", &[b])?
            .to_device(input.device());
        let lam = params
            .factor(MIXUP, "mixup_lambdas", input)?
            .view([-1, 1, 1, 1]);
        let other = input.f_index_select(0, &pairs)?;
        Ok(input * (1.0 - &lam) + other * lam)
    }
}

impl MixAugmentation for RandomMixUp {
    fn lambda_weight(&self) -> LambdaWeight {
        LambdaWeight::Permuted
    }

    fn mix_labels(&self, labels: &Tensor, params: &Params, kind: Kind) -> Result<Tensor> {
        let b = labels.size()[0];
        let pairs = params
            .shaped(MIXUP, "mixup_pairs", &[b])?
            .to_device(labels.device());
        let lam = params
            .shaped(MIXUP, "mixup_lambdas", &[b])?
            .to_device(labels.device())
            .to_kind(kind);
        let y = labels.to_kind(kind);
        let other = labels.f_index_select(0, &pairs)?.to_kind(kind);
        Ok(Tensor::stack(&[y, other, lam], -1))
    }

    fn unmixed_labels(&self, labels: &Tensor, kind: Kind) -> Tensor {
        unmixed_rows(labels, kind)
    }
}

/// Configuration of [`RandomCutMix`]; `Default` is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CutMixConfig {
    /// How many boxes are pasted into each image.
    pub num_mix: i64,
    /// Clamp (min, max) within [0, 1] of the Beta-drawn λ; the box side is
    /// `floor(sqrt(1 - λ)·side)`, so a larger clamp gives a smaller box (min < 1).
    pub cut_size: (f64, f64),
    /// Parameter of the symmetric Beta(β, β) that λ is drawn from (> 0).
    pub beta: f64,
    /// One box size and place per mix for the whole batch.
    pub same_on_batch: bool,
    /// Probability of mixing the batch (one draw for the whole batch).
    pub p: f64,
    /// Return `λ = 1 - pasted area` (the weight of the original label, as in the CutMix
    /// paper) instead of Kornia's default `λ = pasted area`.
    pub use_correct_lambda: bool,
}

impl Default for CutMixConfig {
    fn default() -> Self {
        CutMixConfig {
            num_mix: 1,
            cut_size: (0.0, 1.0),
            beta: 1.0,
            same_on_batch: false,
            p: 1.0,
            use_correct_lambda: false,
        }
    }
}

/// CutMix (Kornia's `RandomCutMixV2`): `num_mix` times, a box of each image is replaced by
/// the same box of its partner under a random pairing; labels `[y, y_pair, λ]` per mix,
/// (num_mix, B, 3), with λ the pasted area fraction (or `1 -` it with
/// `use_correct_lambda`, see [`LambdaWeight`]). Later boxes overwrite earlier ones, each
/// taken from the unmixed batch, as in Kornia.
///
/// Params: `mix_pairs` (num_mix,B) int64, `crop_src` (num_mix,B,4,2) box corners (x, y),
/// `image_shape` (2,) (H, W), `batch_prob`, `forward_input_shape`. The boxes are discrete, so
/// no gradient reaches `cut_size` or `beta`; the input gets the gradient of the pixels it
/// keeps and of the pixels pasted from it.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64; labels (B,) integer.
///
/// # Errors
/// `new` fails on `num_mix < 1`, a `cut_size` outside [0, 1] or with min = 1, `beta <= 0`
/// or a bad `p`; the `f_*` forms on a bad input or bad labels.
#[derive(Debug)]
pub struct RandomCutMix {
    cfg: CutMixConfig,
}

const CUTMIX: &str = "RandomCutMix";

impl RandomCutMix {
    /// Builds the augmentation (it has no variables).
    ///
    /// # Errors
    /// [`Error::Config`] as described on the type.
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: CutMixConfig) -> Result<RandomCutMix> {
        Self::from_config(cfg)
    }

    /// Builds it without a VarStore: it has no variables.
    ///
    /// # Errors
    /// As `new`.
    pub fn from_config(cfg: CutMixConfig) -> Result<RandomCutMix> {
        if cfg.num_mix < 1 {
            return Err(checks::config(
                CUTMIX,
                "num_mix",
                cfg.num_mix,
                "an integer >= 1",
            ));
        }
        checks::range(CUTMIX, "cut_size", cfg.cut_size, (0.0, 1.0))?;
        if cfg.cut_size.0 >= 1.0 {
            return Err(checks::config(
                CUTMIX,
                "cut_size",
                format!("{:?}", cfg.cut_size),
                "a minimum below 1 (at 1 the box is empty)",
            ));
        }
        if !checks::f32_positive(cfg.beta) {
            return Err(checks::config(
                CUTMIX,
                "beta",
                cfg.beta,
                "a finite number > 0",
            ));
        }
        checks::probability(CUTMIX, "p", cfg.p)?;
        Ok(RandomCutMix { cfg })
    }

    /// The (num_mix,B,H,W) box masks of `crop_src`.
    fn masks(&self, params: &Params, b: i64, (h, w): (i64, i64), device: Device) -> Result<Tensor> {
        let m = self.cfg.num_mix;
        let boxes = params
            .shaped(CUTMIX, "crop_src", &[m, b, 4, 2])?
            .to_device(device)
            .to_kind(Kind::Float);
        let corner = |i: i64, j: i64| boxes.select(2, i).select(-1, j).view([m, b, 1, 1]);
        let xs = Tensor::f_arange(w, (Kind::Float, device))?.view([1, 1, 1, w]);
        let ys = Tensor::f_arange(h, (Kind::Float, device))?.view([1, 1, h, 1]);
        let inx = xs
            .ge_tensor(&corner(0, 0))
            .logical_and(&xs.le_tensor(&corner(2, 0)));
        let iny = ys
            .ge_tensor(&corner(0, 1))
            .logical_and(&ys.le_tensor(&corner(2, 1)));
        Ok(inx.logical_and(&iny))
    }
}

impl Augmentation for RandomCutMix {
    fn as_mix(&self) -> Option<&dyn MixAugmentation> {
        Some(self)
    }

    /// Pastes the masks with the same boxes and pairs as the images.
    fn apply_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        _how: &crate::MaskSampling,
    ) -> Result<Tensor> {
        self.apply_transform(mask, params)
    }

    fn name(&self) -> &'static str {
        CUTMIX
    }

    fn kornia_name(&self) -> &'static str {
        "RandomCutMixV2"
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomCutMix(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (1.0, self.cfg.p)
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same, m) = (shape[0], self.cfg.same_on_batch, self.cfg.num_mix);
        let (h, w) = (shape[2] as f64, shape[3] as f64);
        let opts = (Kind::Float, device);
        let mut p = Params::new();
        p.insert("batch_prob", gate(b, 1.0, self.cfg.p, same, device)?);
        let n = b * m;
        let ones = ones_drawn(n, same, device)?;
        let pairs = crate::rng::rand(&[m, b], opts)?.argsort(1, false);
        // Beta(β, β) through Dirichlet([β, β]), as torch.distributions.Beta draws it.
        let beta = |k: i64| -> Result<Tensor> {
            Ok(
                crate::rng::sample_dirichlet(&Tensor::f_full([k, 2], self.cfg.beta, opts)?)?
                    .select(-1, 0),
            )
        };
        let lam = if same {
            beta(m)?.f_repeat_interleave_self_int(b, 0, None)?
        } else {
            beta(n)?
        };
        let (lo, hi) = self.cfg.cut_size;
        let lam: Tensor = lam.clamp(lo as f32 as f64, hi as f32 as f64);
        let rate = (-&lam + 1.0).sqrt() * ones;
        let cut_h: Tensor = (&rate * h).floor();
        let cut_w: Tensor = (&rate * w).floor();
        let start = || -> Result<Tensor> {
            if same {
                Ok(crate::rng::rand(&[m], opts)?.f_repeat_interleave_self_int(b, 0, None)?)
            } else {
                crate::rng::rand(&[n], opts)
            }
        };
        let (xs, ys) = (start()?, start()?);
        let x0 = (xs * (w - &cut_w + 1.0)).floor().minimum(&(-&cut_w + w));
        let y0 = (ys * (h - &cut_h + 1.0)).floor().minimum(&(-&cut_h + h));
        let x1 = &x0 + &cut_w - 1.0;
        let y1 = &y0 + &cut_h - 1.0;
        let corners = Tensor::stack(
            &[
                Tensor::stack(&[&x0, &y0], -1),
                Tensor::stack(&[&x1, &y0], -1),
                Tensor::stack(&[&x1, &y1], -1),
                Tensor::stack(&[&x0, &y1], -1),
            ],
            -2,
        )
        .view([m, b, 4, 2])
        .floor();
        p.insert("mix_pairs", pairs);
        p.insert("crop_src", corners);
        p.insert("image_shape", constant(&[h, w], Kind::Float, device));
        p.insert("forward_input_shape", Tensor::from_slice(shape));
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let size = input.size();
        let (b, m) = (size[0], self.cfg.num_mix);
        let device = input.device();
        let pairs = params
            .shaped(CUTMIX, "mix_pairs", &[m, b])?
            .to_device(device);
        let masks = self.masks(params, b, (size[2], size[3]), device)?;
        let mut out = input.shallow_clone();
        for i in 0..m {
            let other = input.f_index_select(0, &pairs.get(i))?;
            out = other.where_self(&masks.get(i).unsqueeze(1), &out);
        }
        Ok(out)
    }
}

impl MixAugmentation for RandomCutMix {
    fn lambda_weight(&self) -> LambdaWeight {
        if self.cfg.use_correct_lambda {
            LambdaWeight::Original
        } else {
            LambdaWeight::Permuted
        }
    }

    fn mix_labels(&self, labels: &Tensor, params: &Params, kind: Kind) -> Result<Tensor> {
        let (b, m) = (labels.size()[0], self.cfg.num_mix);
        let device = labels.device();
        let pairs = params
            .shaped(CUTMIX, "mix_pairs", &[m, b])?
            .to_device(device);
        let boxes = params
            .shaped(CUTMIX, "crop_src", &[m, b, 4, 2])?
            .to_device(device)
            .to_kind(kind);
        let shape = params
            .shaped(CUTMIX, "image_shape", &[2])?
            .to_device(device)
            .to_kind(kind);
        // Box sides (x, then y) from the far and near corners, `far - near + 1`.
        let side =
            |j: i64| boxes.select(2, 2).select(-1, j) - boxes.select(2, 0).select(-1, j) + 1.0;
        let area = side(0) * side(1) / (shape.get(0) * shape.get(1));
        let lam = if self.cfg.use_correct_lambda {
            1.0 - area
        } else {
            area
        };
        let y = labels.to_kind(kind).view([1, b]).expand([m, b], false);
        let other = labels.f_take(&pairs)?.to_kind(kind);
        Ok(Tensor::stack(&[y, other, lam], -1))
    }

    fn unmixed_labels(&self, labels: &Tensor, kind: Kind) -> Tensor {
        let rows = unmixed_rows(labels, kind);
        let b = rows.size()[0];
        rows.unsqueeze(0).expand([self.cfg.num_mix, b, 3], false)
    }
}

impl_module!(RandomMixUp, RandomCutMix);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomMixUp {
    type Config = MixUpConfig;
    const KORNIA_ALIASES: &'static [&'static str] = &["RandomMixUpV2"];

    fn from_kornia(kw: &Kwargs) -> Result<MixUpConfig> {
        let mut c = MixUpConfig::default();
        set!(c.lambda_val = kw.pair("lambda_val")?);
        let _ = kw.get("data_keys");
        common!(kw, c);
        Ok(c)
    }
}

impl FromKornia for RandomCutMix {
    type Config = CutMixConfig;
    const KORNIA_ALIASES: &'static [&'static str] = &["RandomCutMixV2"];

    fn from_kornia(kw: &Kwargs) -> Result<CutMixConfig> {
        let mut c = CutMixConfig::default();
        set!(c.num_mix = kw.int("num_mix")?);
        set!(c.cut_size = kw.pair("cut_size")?);
        set!(c.beta = kw.num("beta")?);
        set!(c.use_correct_lambda = kw.flag("use_correct_lambda")?);
        let _ = kw.get("data_keys");
        common!(kw, c);
        Ok(c)
    }
}
