//! Batched 2D and 3D filtering with border modes, shared by the blurs: one grouped convolution for
//! the whole batch (2D or 3D), whether the kernel is shared or per sample.

use crate::{Error, Result};
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
pub(crate) fn filter2d(
    op: &'static str,
    x: &Tensor,
    kernel: &Tensor,
    border: Border,
) -> Result<Tensor> {
    filter(op, x, kernel, border)
}

/// Cross-correlates every channel of `x` (B,C,D,H,W) with `kernel` (K,kd,kh,kw), K = 1
/// (shared) or B (one per sample), "same" output size.
pub(crate) fn filter3d(
    op: &'static str,
    x: &Tensor,
    kernel: &Tensor,
    border: Border,
) -> Result<Tensor> {
    filter(op, x, kernel, border)
}

/// `x` (B,C,*spatial) cross-correlated with `kernel` (K,*k), K = 1 or B: one grouped
/// convolution (2D or 3D) for the whole batch, after padding each axis by Kornia's split,
/// (k - 1) // 2 before and the rest after.
fn filter(op: &'static str, x: &Tensor, kernel: &Tensor, border: Border) -> Result<Tensor> {
    let size = x.size();
    let c = size[1];
    let ks = kernel.size();
    let (k, taps) = (ks[0], &ks[1..]);
    let n = taps.len();
    // A reflection cannot reach further than the input is long.
    if border == Border::Reflect && taps.iter().zip(&size[2..]).any(|(&t, &s)| t / 2 >= s) {
        return Err(Error::Size {
            op,
            what: "kernel size",
            size: taps.to_vec(),
            input: size[2..].to_vec(),
            allowed: "with border_type reflect, kernel_size // 2 below each side of the input (or another border_type)",
        });
    }
    // torch's pad order: last axis first, before then after.
    let pad: Vec<i64> = taps
        .iter()
        .rev()
        .flat_map(|&t| [(t - 1) / 2, t - 1 - (t - 1) / 2])
        .collect();
    let padded = border.pad(x, &pad)?;
    let mut weight_shape = vec![k, c];
    weight_shape.extend_from_slice(taps);
    let mut grouped = vec![k * c, 1];
    grouped.extend_from_slice(taps);
    let weight = kernel
        .to_kind(x.kind())
        .to_device(x.device())
        .unsqueeze(1)
        .expand(weight_shape.as_slice(), false)
        .reshape(grouped.as_slice());
    let mut input_shape = vec![-1, k * c];
    input_shape.extend_from_slice(&padded.size()[2..]);
    let input = padded.reshape(input_shape.as_slice());
    let ones = vec![1i64; n];
    let out = input.f_convolution(
        &weight,
        None::<Tensor>,
        ones.as_slice(),
        vec![0i64; n].as_slice(),
        ones.as_slice(),
        false,
        vec![0i64; n].as_slice(),
        k * c,
    )?;
    Ok(out.view(size.as_slice()))
}

/// `filter2d` with a row kernel `kx` (K,kw), then a column kernel `ky` (K,kh).
pub(crate) fn filter2d_separable(
    op: &'static str,
    x: &Tensor,
    kx: &Tensor,
    ky: &Tensor,
    border: Border,
) -> Result<Tensor> {
    let along_x = filter2d(op, x, &kx.unsqueeze(1), border)?;
    filter2d(op, &along_x, &ky.unsqueeze(2), border)
}

/// Kornia's 1D Gaussian kernels (B,k) for standard deviations `sigma` (B,1): centred on
/// `k // 2` (half a pixel further for even k), normalised to sum 1.
pub(crate) fn gaussian_kernel1d(k: i64, sigma: &Tensor) -> Result<Tensor> {
    let x = Tensor::f_arange(k, (sigma.kind(), sigma.device()))? - (k / 2) as f64;
    let x = if k % 2 == 0 { x + 0.5 } else { x };
    let dist = x.square();
    let dist = (&dist - dist.min()).view([1, k]);
    let gauss = (-dist / (sigma.square() * 2.0)).exp();
    Ok(&gauss / gauss.sum_dim_intlist([-1i64].as_slice(), true, gauss.kind()))
}
