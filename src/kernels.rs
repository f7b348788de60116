//! Fused CPU kernels (`csrc/kernels.cpp`) for the steps whose libtorch composition is many
//! passes over the image. Each kernel computes what the composition computes, in the same
//! float operations, and carries its own autograd node; it is used for contiguous float32
//! and float64 CPU tensors, and every other input (CUDA above all) keeps the composition.

use std::ffi::{c_char, c_void};
use tch::{Device, Kind, Tensor};

extern "C" {
    fn dda_hue_rotate(x: *mut c_void, turns: *mut c_void, err: *mut *mut c_char) -> *mut c_void;
}

/// Whether the fused kernels may take `x`: a non-empty float32/float64 CPU tensor.
fn eligible(x: &Tensor) -> bool {
    x.device() == Device::Cpu && matches!(x.kind(), Kind::Float | Kind::Double) && x.numel() > 0
}

/// The hue of a (B,3,H,W) image rotated by `turns` (B,) of a turn, by the fused kernel; `None`
/// when the kernel does not take this input (the caller composes libtorch ops instead).
pub(crate) fn hue_rotate(x: &Tensor, turns: &Tensor) -> Option<Tensor> {
    let size = x.size();
    if !eligible(x) || size.len() != 4 || size[1] != 3 || turns.size() != [size[0]] {
        return None;
    }
    let x = x.contiguous();
    let turns = turns.to_kind(x.kind()).to_device(Device::Cpu).contiguous();
    let mut err = std::ptr::null_mut();
    // SAFETY: both pointers are live `torch::Tensor`s for the call; the shim returns a `new
    // at::Tensor` that tch takes ownership of, or null with an error string.
    let out = unsafe {
        dda_hue_rotate(
            x.as_ptr() as *mut c_void,
            turns.as_ptr() as *mut c_void,
            &mut err,
        )
    };
    if out.is_null() {
        // Not expected for these inputs; the composition gives the same values.
        let _ = crate::rng::take_error(err);
        return None;
    }
    // SAFETY: a `new at::Tensor` from the shim; tch takes ownership.
    Some(unsafe { Tensor::from_ptr(out.cast()) })
}
