//! Mixed labels, the values below the mixing operators: which label `λ` weighs, soft
//! targets and the soft-target cross-entropy (re-exported by [`crate::mix`]).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Which label the `λ` column of a mixed-label tensor weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LambdaWeight {
    /// `λ` weighs the second label `y_perm` (MixUp; CutMix's default, `λ` = pasted area).
    Permuted,
    /// `λ` weighs the first label `y` (CutMix with `use_correct_lambda`, `λ` = kept area).
    Original,
}

/// Soft targets (B,K) from mixed labels (B,3) or (num_mix,B,3): `1 - Σλ` on `y` and `λ_k` on
/// each `y_perm_k` (with [`LambdaWeight::Original`], `λ` is first turned into `1 - λ`).
/// Exact for MixUp and for non-overlapping CutMix boxes; overlapping boxes are counted
/// twice, as in Kornia's per-mix loss. Class ids outside `[0, K)` contribute nothing (they
/// are not checked, to keep the device from synchronising).
///
/// # Errors
/// [`Error::Labels`] for a tensor that is not (B,3) or (num_mix,B,3) floating point, or a
/// `num_classes` < 1.
pub fn soft_targets(mixed: &Tensor, num_classes: i64, weight: LambdaWeight) -> Result<Tensor> {
    const OP: &str = "soft_targets";
    let shape = mixed.size();
    let ok_shape = (shape.len() == 2 || shape.len() == 3) && shape.last() == Some(&3);
    if !ok_shape || !matches!(mixed.kind(), Kind::Float | Kind::Double) {
        return Err(Error::Labels {
            op: OP,
            problem: format!(
                "have shape {shape:?} and kind {:?}; expected mixed labels: (B, 3) or (num_mix, B, 3) float rows [y, y_perm, lambda]",
                mixed.kind()
            ),
        });
    }
    if num_classes < 1 {
        return Err(Error::Labels {
            op: OP,
            problem: format!("are for num_classes = {num_classes}; expected num_classes >= 1"),
        });
    }
    let m = if shape.len() == 2 {
        mixed.unsqueeze(0)
    } else {
        mixed.shallow_clone()
    };
    let classes = Tensor::f_arange(num_classes, (m.kind(), m.device()))?;
    let one_hot = |ids: &Tensor| ids.unsqueeze(-1).eq_tensor(&classes).to_kind(m.kind());
    let lam = m.select(-1, 2);
    let lam = match weight {
        LambdaWeight::Permuted => lam,
        LambdaWeight::Original => 1.0 - lam,
    };
    let y = m.select(-1, 0).select(0, 0);
    let pasted = (one_hot(&m.select(-1, 1)) * lam.unsqueeze(-1)).sum_dim_intlist(
        [0i64].as_slice(),
        false,
        m.kind(),
    );
    let kept: Tensor = 1.0 - lam.sum_dim_intlist([0i64].as_slice(), false, m.kind());
    Ok(one_hot(&y) * kept.unsqueeze(-1) + pasted)
}

/// Mean soft-target cross-entropy `-Σ_k t_k log softmax(logits)_k` of `logits` (B,K) against
/// [`soft_targets`] of `mixed`: the loss of a MixUp or CutMix training step, differentiable
/// with respect to the logits and to `λ`.
///
/// # Errors
/// As [`soft_targets`], and [`Error::Labels`] when the logits are not (B,K) with the labels'
/// B.
pub fn mix_cross_entropy(logits: &Tensor, mixed: &Tensor, weight: LambdaWeight) -> Result<Tensor> {
    let ls = logits.size();
    let ms = mixed.size();
    if ls.len() != 2 || ms.len() < 2 || ls[0] != ms[ms.len() - 2] {
        return Err(Error::Labels {
            op: "mix_cross_entropy",
            problem: format!("of shape {ms:?} do not fit logits of shape {ls:?}; expected (B, K) logits with the labels' B"),
        });
    }
    let t = soft_targets(mixed, ls[1], weight)?.to_kind(logits.kind());
    let logp = logits.log_softmax(-1, logits.kind());
    Ok(-(t * logp)
        .sum_dim_intlist([1i64].as_slice(), false, logits.kind())
        .mean(logits.kind()))
}

/// `[y, y, 0]` rows (B,3).
pub(crate) fn unmixed_rows(labels: &Tensor, kind: Kind) -> Tensor {
    let y = labels.to_kind(kind);
    Tensor::stack(&[&y, &y, &y.zeros_like()], -1)
}
