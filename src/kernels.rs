//! Fused CPU kernels (`csrc/kernels.cpp`) for the steps whose libtorch composition is many
//! passes over the image. Each kernel computes what the composition computes, in the same
//! float operations, and carries its own autograd node; it is used for contiguous float32
//! and float64 CPU tensors, and every other input (CUDA above all) keeps the composition.

use std::ffi::{c_char, c_int, c_void};
use tch::{Device, Kind, Tensor};

extern "C" {
    fn dda_hue_rotate(x: *mut c_void, turns: *mut c_void, err: *mut *mut c_char) -> *mut c_void;
    fn dda_jitter_steps(
        x: *mut c_void,
        out: *mut c_void,
        scalars: *mut c_void,
        steps: *const c_int,
        n_steps: c_int,
        err: *mut *mut c_char,
    ) -> c_int;
}

/// ColorJitter's steps for [`jitter_steps`]: the codes of `csrc/kernels.cpp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum JitterStep {
    /// `clamp(x·f)`.
    Brightness = 0,
    /// `clamp(x·f + shift)`.
    Contrast = 1,
    /// `clamp(x·f + (1-f)·gray)`.
    Saturation = 2,
    /// The hue rotation of [`hue_rotate`].
    Hue = 3,
    /// `clamp(x)` to [0, 1].
    Clamp = 4,
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

/// ColorJitter's `steps` (torchvision's flavour), without a graph, on a (B,3,H,W) image `x`
/// into `out` (a contiguous tensor of the same shape and kind; it may be `x` itself, then in
/// place), one pass over the image whatever the number of steps. `scalars` is (B,6):
/// brightness, contrast, contrast's shift, saturation, 1 - saturation, hue turns. `false`
/// when the kernel does not take this input (the caller composes libtorch ops instead).
pub(crate) fn jitter_steps(
    x: &Tensor,
    out: &Tensor,
    scalars: &Tensor,
    steps: &[JitterStep],
) -> bool {
    let size = x.size();
    if !eligible(x)
        || size.len() != 4
        || size[1] != 3
        || out.size() != size
        || out.kind() != x.kind()
        || out.device() != Device::Cpu
        || !out.is_contiguous()
        || scalars.size() != [size[0], 6]
    {
        return false;
    }
    let x = x.contiguous();
    let scalars = scalars
        .to_kind(x.kind())
        .to_device(Device::Cpu)
        .contiguous();
    let codes: Vec<c_int> = steps.iter().map(|&s| s as c_int).collect();
    let mut err = std::ptr::null_mut();
    // SAFETY: live `torch::Tensor`s and a slice for the duration of the call; the shim
    // writes only into `out` and reports failure with an error string.
    let rc = unsafe {
        dda_jitter_steps(
            x.as_ptr() as *mut c_void,
            out.as_ptr() as *mut c_void,
            scalars.as_ptr() as *mut c_void,
            codes.as_ptr(),
            codes.len() as c_int,
            &mut err,
        )
    };
    if rc != 0 {
        let _ = crate::rng::take_error(err);
        return false;
    }
    true
}
