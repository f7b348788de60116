//! Batched 2D filtering (3D in `warp3d`) with border modes, shared by the blurs: one grouped `conv2d` for
//! the whole batch, whether the kernel is shared or per sample.

use crate::Result;
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// How the image is extended past its border before filtering (Kornia's `border_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Border {
    /// Zeros.
    Constant,
    /// Mirror without repeating the edge (Kornia's default).
    #[default]
    Reflect,
    /// Repeat the edge pixel.
    Replicate,
    /// Wrap around.
    Circular,
}

impl Border {
    fn mode(self) -> &'static str {
        match self {
            Border::Constant => "constant",
            Border::Reflect => "reflect",
            Border::Replicate => "replicate",
            Border::Circular => "circular",
        }
    }

    /// Pads `x` by `pad` (torch's order: last dimension first, before then after).
    pub(crate) fn pad(self, x: &Tensor, pad: &[i64]) -> Result<Tensor> {
        Ok(if self == Border::Constant {
            x.f_pad(pad, "constant", Some(0.0))?
        } else {
            x.f_pad(pad, self.mode(), None)?
        })
    }
}

/// Cross-correlates every channel of `x` (B,C,H,W) with `kernel` (K,kh,kw), K = 1 (shared)
/// or B (one per sample), "same" output size.
pub(crate) fn filter2d(x: &Tensor, kernel: &Tensor, border: Border) -> Result<Tensor> {
    let size = x.size();
    let (b, c, h, w) = (size[0], size[1], size[2], size[3]);
    let ks = kernel.size();
    let (k, kh, kw) = (ks[0], ks[1], ks[2]);
    // Kornia's split: (k - 1) // 2 before, the rest after.
    let (top, left) = ((kh - 1) / 2, (kw - 1) / 2);
    let pad = [left, kw - 1 - left, top, kh - 1 - top];
    let padded = border.pad(x, &pad)?;
    let kernel = kernel
        .to_kind(x.kind())
        .to_device(x.device())
        .unsqueeze(1)
        .expand([k, c, kh, kw], false);
    let kernel = kernel.reshape([k * c, 1, kh, kw]);
    let (hp, wp) = (h + kh - 1, w + kw - 1);
    let input = padded.reshape([-1, k * c, hp, wp]);
    let out = input.f_conv2d(&kernel, None::<Tensor>, [1, 1], [0, 0], [1, 1], k * c)?;
    Ok(out.view([b, c, h, w]))
}

/// `filter2d` with a row kernel `kx` (K,kw), then a column kernel `ky` (K,kh).
pub(crate) fn filter2d_separable(
    x: &Tensor,
    kx: &Tensor,
    ky: &Tensor,
    border: Border,
) -> Result<Tensor> {
    let along_x = filter2d(x, &kx.unsqueeze(1), border)?;
    filter2d(&along_x, &ky.unsqueeze(2), border)
}

/// Kornia's 1D Gaussian kernels (B,k) for standard deviations `sigma` (B,1): centred on
/// `k // 2` (half a pixel further for even k), normalised to sum 1.
pub(crate) fn gaussian_kernel1d(k: i64, sigma: &Tensor) -> Tensor {
    let x = Tensor::arange(k, (sigma.kind(), sigma.device())) - (k / 2) as f64;
    let x = if k % 2 == 0 { x + 0.5 } else { x };
    let dist = x.square();
    let dist = (&dist - dist.min()).view([1, k]);
    let gauss = (-dist / (sigma.square() * 2.0)).exp();
    &gauss / gauss.sum_dim_intlist([-1i64].as_slice(), true, gauss.kind())
}
