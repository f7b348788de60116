//! Elementwise steps on a working buffer that the augmentation owns.
//!
//! When nothing needs a gradient the steps run in place on that buffer: no allocation and
//! no page faults for a fresh tensor (at 64×3×224×224, a fresh float32 tensor costs more
//! than the arithmetic). When autograd is recording they run out of place, since backward
//! needs the inputs. Both modes do the same arithmetic in the same order, so they give the
//! same numbers; the parity tests run both.

use tch::{Device, Kind, Tensor};

/// In place or out of place, decided once per call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ew {
    inplace: bool,
}

impl Ew {
    /// In place unless one of `inputs` requires a gradient.
    pub fn for_inputs(inputs: &[&Tensor]) -> Ew {
        Ew {
            inplace: !inputs.iter().any(|t| t.requires_grad()),
        }
    }

    /// `t * o`.
    pub fn mul(self, mut t: Tensor, o: &Tensor) -> Tensor {
        if self.inplace {
            let _ = t.g_mul_(o);
            t
        } else {
            t * o
        }
    }

    /// `t + o`.
    pub fn add(self, mut t: Tensor, o: &Tensor) -> Tensor {
        if self.inplace {
            let _ = t.g_add_(o);
            t
        } else {
            t + o
        }
    }

    /// `t - o`.
    pub fn sub(self, mut t: Tensor, o: &Tensor) -> Tensor {
        if self.inplace {
            let _ = t.g_sub_(o);
            t
        } else {
            t - o
        }
    }

    /// `t / o`.
    pub fn div(self, mut t: Tensor, o: &Tensor) -> Tensor {
        if self.inplace {
            let _ = t.g_div_(o);
            t
        } else {
            t / o
        }
    }

    /// `t + s`.
    pub fn add_scalar(self, mut t: Tensor, s: f64) -> Tensor {
        if self.inplace {
            let _ = t.g_add_scalar_(s);
            t
        } else {
            t + s
        }
    }

    /// `|t|`.
    pub fn abs(self, mut t: Tensor) -> Tensor {
        if self.inplace {
            let _ = t.abs_();
            t
        } else {
            t.abs()
        }
    }

    /// `t mod m` (sign of `m`, as `torch.remainder`).
    pub fn remainder(self, mut t: Tensor, m: f64) -> Tensor {
        if self.inplace {
            let _ = t.remainder_(m);
            t
        } else {
            t.remainder(m)
        }
    }

    /// `clamp(t, lo, hi)`.
    pub fn clamp(self, mut t: Tensor, lo: f64, hi: f64) -> Tensor {
        if self.inplace {
            let _ = t.clamp_(lo, hi);
            t
        } else {
            t.clamp(lo, hi)
        }
    }
}

/// A small constant on `device` without waiting for the GPU: built on the CPU, then copied
/// non-blocking (a blocking host-to-device copy synchronises with the stream first).
pub(crate) fn constant<T: tch::kind::Element>(values: &[T], kind: Kind, device: Device) -> Tensor {
    let t = Tensor::from_slice(values).to_kind(kind);
    if device == Device::Cpu {
        t
    } else {
        t.to_device_(device, kind, true, false)
    }
}

/// A copy of `x` in new storage (differentiable), so that writing into an output never
/// writes into the input: what a step that leaves its input unchanged returns.
pub(crate) fn fresh_copy(x: &Tensor) -> crate::Result<Tensor> {
    let mut out = x.f_empty_like()?;
    out.f_copy_(x)?;
    Ok(out)
}

/// A straight-through estimator: forward `out` exactly (`x - x.detach()` is zero), backward
/// the identity to `x`.
pub(crate) fn straight_through(out: Tensor, x: &Tensor) -> Tensor {
    out.detach() + (x - x.detach())
}
