//! Fused CPU kernels (`csrc/kernels.cpp`, their row loops in `csrc/rows.h`) for the steps
//! whose libtorch composition is many passes over the image, or many small ops. Each kernel
//! computes what the composition computes, in the same float operations (bit for bit, or
//! within one rounding where the doc says so); the hue, ColorJitter, resized-crop and
//! fast-mode colour map kernels carry their own autograd node, the others run only where
//! there is no graph to record. They take
//! float32 and float64 CPU tensors (made contiguous); every other input (CUDA above all)
//! keeps the composition, and [`kernel_path_scope`] (one thread, for a scope) or
//! [`set_fused_cpu_kernels`] (the process-wide default) turns them off. The cargo feature
//! `cpu-kernels` (on by default) compiles them; without it every step composes libtorch ops.
//! An error a kernel raises on an input it took is returned as [`crate::Error::Torch`] (it
//! names the kernel), never hidden behind the composition.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use tch::{Device, Kind, Tensor};

#[cfg(feature = "cpu-kernels")]
extern "C" {
    fn dda_hue_rotate(x: *mut c_void, turns: *mut c_void, err: *mut *mut c_char) -> *mut c_void;
    fn dda_jitter(
        x: *mut c_void,
        factors: *mut c_void,
        steps: *const c_int,
        n_steps: c_int,
        err: *mut *mut c_char,
    ) -> *mut c_void;
    fn dda_color_map(x: *mut c_void, params: *mut c_void, err: *mut *mut c_char) -> *mut c_void;
    fn dda_grid(
        p: *mut c_void,
        q: *mut c_void,
        projective: c_int,
        err: *mut *mut c_char,
    ) -> *mut c_void;
    fn dda_inverse3x3(m: *mut c_void, err: *mut *mut c_char) -> *mut c_void;
    fn dda_resample(
        x: *mut c_void,
        ys: *mut c_void,
        xs: *mut c_void,
        err: *mut *mut c_char,
    ) -> *mut c_void;
    fn dda_cpu_kernels_isa() -> *const c_char;
}

/// Built without the `cpu-kernels` feature: no kernel is compiled, [`fused_cpu_kernels`] is
/// false, so nothing calls these (each would report an error, never a value).
#[cfg(not(feature = "cpu-kernels"))]
#[allow(clippy::missing_safety_doc)]
mod absent {
    use std::ffi::{c_char, c_int, c_void};
    type Err = *mut *mut c_char;
    fn none() -> *mut c_void {
        std::ptr::null_mut()
    }
    pub(super) unsafe fn dda_hue_rotate(_: *mut c_void, _: *mut c_void, _: Err) -> *mut c_void {
        none()
    }
    pub(super) unsafe fn dda_jitter(
        _: *mut c_void,
        _: *mut c_void,
        _: *const c_int,
        _: c_int,
        _: Err,
    ) -> *mut c_void {
        none()
    }
    pub(super) unsafe fn dda_color_map(_: *mut c_void, _: *mut c_void, _: Err) -> *mut c_void {
        none()
    }
    pub(super) unsafe fn dda_grid(_: *mut c_void, _: *mut c_void, _: c_int, _: Err) -> *mut c_void {
        none()
    }
    pub(super) unsafe fn dda_inverse3x3(_: *mut c_void, _: Err) -> *mut c_void {
        none()
    }
    pub(super) unsafe fn dda_resample(
        _: *mut c_void,
        _: *mut c_void,
        _: *mut c_void,
        _: Err,
    ) -> *mut c_void {
        none()
    }
    pub(super) unsafe fn dda_cpu_kernels_isa() -> *const c_char {
        c"none".as_ptr()
    }
}
#[cfg(not(feature = "cpu-kernels"))]
use absent::*;

/// The instruction set the fused CPU kernels run with: `"avx2"` where the CPU has it (x86-64),
/// else `"base"`; `ATEN_CPU_CAPABILITY=default` in the environment (libtorch's own switch,
/// read once) keeps the baseline; `"none"` in a build without the `cpu-kernels` feature.
/// Every set gives the same values and image gradients; the
/// per-sample sums of a backward pass (the gradients of ColorJitter's factors and of the
/// fast mode's colour map) are added in the vector width's order, so they may differ in
/// the last bits between sets.
pub fn cpu_kernels_isa() -> &'static str {
    // SAFETY: the shim returns a pointer to a static NUL-terminated string.
    let s = unsafe { std::ffi::CStr::from_ptr(dda_cpu_kernels_isa()) };
    s.to_str().unwrap_or("base")
}

/// ColorJitter's steps for [`jitter`]: the codes of `csrc/rows.h`.
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

static FUSED: AtomicBool = AtomicBool::new(true);

thread_local! {
    /// This thread's scoped choice ([`kernel_path_scope`]), over the process-wide default.
    static SCOPED: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Which computation the CPU steps run: the fused kernels, or the composition of libtorch
/// ops that every other device runs. Both give the same values within float rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPath {
    /// The fused CPU kernels where they take the input (the default).
    Fused,
    /// libtorch compositions only, as on CUDA: differentiable any number of times.
    Composed,
}

/// Sets the process-wide default path: the fused CPU kernels on (the default) or off;
/// returns the previous default. A thread inside a [`kernel_path_scope`] keeps its scope's
/// path whatever the default is. Off, every step composes libtorch ops, as on other devices:
/// within one float32 rounding of the kernels' values, slower, and differentiable any number
/// of times. The kernels' graph nodes are differentiable once: a backward pass with
/// `create_graph` (a gradient of a gradient, as a gradient penalty through augmentations
/// takes) fails with an error that names this switch. Set it (or open a scope) before the
/// forward pass whose graph is differentiated twice.
///
/// Prefer [`kernel_path_scope`] in code that shares a process with other work (a library, a
/// test): the default is read by every thread that has no scope.
pub fn set_fused_cpu_kernels(on: bool) -> bool {
    FUSED.swap(on, Ordering::Relaxed)
}

/// Whether the fused CPU kernels are on for the calling thread: its scope's path
/// ([`kernel_path_scope`]), else the process-wide default ([`set_fused_cpu_kernels`]).
/// Always false in a build without the `cpu-kernels` feature (no kernel is compiled; every
/// step composes libtorch ops, as on CUDA).
pub fn fused_cpu_kernels() -> bool {
    cfg!(feature = "cpu-kernels")
        && SCOPED
            .with(Cell::get)
            .unwrap_or_else(|| FUSED.load(Ordering::Relaxed))
}

/// The kernel path for the calling thread until the returned guard is dropped (also when a
/// panic unwinds past it); scopes nest, each restoring the path it found. Other threads and
/// the process-wide default are untouched, so tests and threads cannot flip each other's
/// path. The guard cannot be sent to another thread.
///
/// ```no_run
/// use tch_dda::{kernel_path_scope, KernelPath};
/// let _composed = kernel_path_scope(KernelPath::Composed);
/// // Forward passes on this thread now run the libtorch compositions (as on CUDA).
/// ```
pub fn kernel_path_scope(path: KernelPath) -> KernelPathScope {
    let on = path == KernelPath::Fused;
    let previous = SCOPED.with(|s| s.replace(Some(on)));
    KernelPathScope {
        previous,
        _not_send: std::marker::PhantomData,
    }
}

/// The guard of [`kernel_path_scope`]: restores the calling thread's previous path on drop.
#[derive(Debug)]
#[must_use = "the path applies only while the guard lives"]
pub struct KernelPathScope {
    previous: Option<bool>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for KernelPathScope {
    fn drop(&mut self) {
        SCOPED.with(|s| s.set(self.previous));
    }
}

/// What a kernel gives: its result (`Some`), `None` where it does not take the input (the
/// caller composes libtorch ops instead), or the error the kernel raised on an input it
/// took (an allocation that failed, a second derivative asked of a graph node), which the
/// caller reports: a kernel error never falls back to the composition silently.
pub(crate) type Fused = crate::Result<Option<Tensor>>;

/// The tensor a shim returned (a `new at::Tensor`, owned by tch from here), or the error it
/// raised (null with a message), named after the kernel and with the way to the composition.
fn owned(kernel: &str, out: *mut c_void, err: *mut c_char) -> Fused {
    if out.is_null() {
        let message = crate::rng::take_error(err);
        return Err(crate::Error::Torch(tch::TchError::Torch(format!(
            "the fused CPU kernel `{kernel}` failed: {message} (kernel_path_scope(KernelPath::Composed) runs the libtorch composition instead)"
        ))));
    }
    // SAFETY: a non-null result of a shim is a `new at::Tensor`; tch takes ownership.
    Ok(Some(unsafe { Tensor::from_ptr(out.cast()) }))
}

/// Whether the fused kernels may take `x`: a non-empty float32/float64 CPU tensor, with the
/// kernels on.
fn eligible(x: &Tensor) -> bool {
    fused_cpu_kernels()
        && x.device() == Device::Cpu
        && matches!(x.kind(), Kind::Float | Kind::Double)
        && x.numel() > 0
}

/// The hue of a (B,3,H,W) image rotated by `turns` (B,) of a turn, by the fused kernel; `None`
/// when the kernel does not take this input (the caller composes libtorch ops instead).
pub(crate) fn hue_rotate(x: &Tensor, turns: &Tensor) -> Fused {
    let size = x.size();
    if !eligible(x)
        || size.len() != 4
        || size[1] != 3
        || turns.size() != [size[0]]
        || turns.device() != Device::Cpu
    {
        return Ok(None);
    }
    let x = x.contiguous();
    let turns = turns.to_kind(x.kind()).contiguous();
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
    owned("hue_rotate", out, err)
}

/// ColorJitter (torchvision's flavour) on a (B,3,H,W) image by the fused kernel: `steps` (the
/// input clamp first, then the drawn steps) with `factors` (B,4): brightness, contrast,
/// saturation, hue turns. One pass before contrast's mean and one after it; with a graph to
/// record, one graph node whose backward gives the gradients of the image and the factors
/// in two passes. `None` when the kernel does not take this input (the caller composes
/// libtorch ops instead).
pub(crate) fn jitter(x: &Tensor, factors: &Tensor, steps: &[JitterStep]) -> Fused {
    let size = x.size();
    if !eligible(x)
        || size.len() != 4
        || size[1] != 3
        || factors.size() != [size[0], 4]
        || factors.device() != Device::Cpu
        || steps.first() != Some(&JitterStep::Clamp)
        || steps.len() > 5
    {
        return Ok(None);
    }
    let x = x.contiguous();
    let factors = factors.to_kind(x.kind()).contiguous();
    let codes: Vec<c_int> = steps.iter().map(|&s| s as c_int).collect();
    let mut err = std::ptr::null_mut();
    // SAFETY: live `torch::Tensor`s and a slice for the duration of the call; the shim
    // returns a `new at::Tensor` that tch takes ownership of, or null with an error string.
    let out = unsafe {
        dda_jitter(
            x.as_ptr() as *mut c_void,
            factors.as_ptr() as *mut c_void,
            codes.as_ptr(),
            codes.len() as c_int,
            &mut err,
        )
    };
    owned("jitter", out, err)
}

/// A (B,C,H,W) image resampled bilinearly on a separable grid by the fused kernel: output
/// pixel (i, j) of sample `b` reads the image at row `ys[b, i]` and column `xs[b, j]` (pixel
/// coordinates, clamped into the image as border padding does), what `grid_sampler` with
/// `align_corners` and border padding computes on the grid of those coordinates, within
/// float rounding. One pass per plane; with a graph to record, one graph node whose backward
/// is one pass per plane too (the image's gradient; the coordinates get none and must not
/// require one). `None` when the kernel does not take this input (the caller composes
/// libtorch ops instead).
pub(crate) fn resample(x: &Tensor, ys: &Tensor, xs: &Tensor) -> Fused {
    let size = x.size();
    let coords = |t: &Tensor| {
        t.dim() == 2 && t.size()[0] == size[0] && t.device() == Device::Cpu && !t.requires_grad()
    };
    if !eligible(x) || size.len() != 4 || !coords(ys) || !coords(xs) {
        return Ok(None);
    }
    let x = x.contiguous();
    let ys = ys.to_kind(x.kind()).contiguous();
    let xs = xs.to_kind(x.kind()).contiguous();
    let mut err = std::ptr::null_mut();
    // SAFETY: live `torch::Tensor`s for the call; the shim returns a `new at::Tensor` that
    // tch takes ownership of, or null with an error string.
    let out = unsafe {
        dda_resample(
            x.as_ptr() as *mut c_void,
            ys.as_ptr() as *mut c_void,
            xs.as_ptr() as *mut c_void,
            &mut err,
        )
    };
    owned("resample", out, err)
}

/// The fast mode's colour map by the fused kernel: per sample `b` and pixel,
/// `y_c = clamp(Σ_k M[b,c,k]·x_k + bias[b,c], lo[b,c], hi[b,c])` for a (B,3,…) image `x`,
/// with `matrix` (B,3,3), `bias`, and `bounds` `(lo, hi)` (B,3; `None`: no clamp). One pass;
/// with a graph to record, one graph node whose backward is one pass too (the image
/// gradient, and the per-sample sums of the gradients of the matrix, bias and bounds, with
/// libtorch's clamp subgradients). `None` when the kernel does not take this input (the
/// caller composes libtorch ops instead).
pub(crate) fn color_map(
    x: &Tensor,
    matrix: &Tensor,
    bias: &Tensor,
    bounds: Option<(&Tensor, &Tensor)>,
) -> Fused {
    let size = x.size();
    let b = size[0];
    if !eligible(x)
        || size.len() < 3
        || size[1] != 3
        || matrix.size() != [b, 3, 3]
        || bias.size() != [b, 3]
        || bounds.is_some_and(|(lo, hi)| lo.size() != [b, 3] || hi.size() != [b, 3])
        || [matrix, bias]
            .into_iter()
            .chain(bounds.into_iter().flat_map(|(lo, hi)| [lo, hi]))
            .any(|t| t.device() != Device::Cpu)
    {
        return Ok(None);
    }
    let x = x.contiguous();
    let kind = x.kind();
    let (lo, hi) = match bounds {
        Some((lo, hi)) => (lo.to_kind(kind), hi.to_kind(kind)),
        None => (
            Tensor::full([b, 3], f64::NEG_INFINITY, (kind, Device::Cpu)),
            Tensor::full([b, 3], f64::INFINITY, (kind, Device::Cpu)),
        ),
    };
    let params = Tensor::cat(
        &[
            matrix.reshape([b, 9]).to_kind(kind),
            bias.to_kind(kind),
            lo,
            hi,
        ],
        1,
    )
    .contiguous();
    let mut err = std::ptr::null_mut();
    // SAFETY: both pointers are live `torch::Tensor`s for the call; the shim returns a `new
    // at::Tensor` that tch takes ownership of, or null with an error string.
    let out = unsafe {
        dda_color_map(
            x.as_ptr() as *mut c_void,
            params.as_ptr() as *mut c_void,
            &mut err,
        )
    };
    owned("color_map", out, err)
}

/// Whether the kernels that run without a graph take `t`: a float CPU tensor that does not
/// require a gradient, with the kernels on.
pub(crate) fn takes(t: &Tensor) -> bool {
    eligible(t) && !t.requires_grad()
}

/// A sampling grid from its two parts, by the fused kernel: `p` (R, m) the terms of every
/// output axis but the last, per row of pixels; `q` (B, W, m) the last axis's term, per
/// sample and pixel; R a multiple of B. Affine (`m` = n coordinates):
/// `out[r, w, :] = p[r, :] + q[r / (R/B), w, :]`, the same values as the broadcast `add`.
/// Projective (`m` = n + 1,
/// homogeneous): that sum's first n coordinates times the reciprocal of its last (1 where
/// its magnitude is at most 1e-8). Returns (R, W, n); `None` when the kernel does not take
/// these inputs (a graph to record, another device, another kind).
pub(crate) fn grid(p: &Tensor, q: &Tensor, projective: bool) -> Fused {
    let (ps, qs) = (p.size(), q.size());
    if !takes(p)
        || !takes(q)
        || p.kind() != q.kind()
        || ps.len() != 2
        || qs.len() != 3
        || ps[1] != qs[2]
        || ps[1] < if projective { 2 } else { 1 }
        || ps[0] % qs[0] != 0
    {
        return Ok(None);
    }
    let (p, q) = (p.contiguous(), q.contiguous());
    let mut err = std::ptr::null_mut();
    // SAFETY: both pointers are live `torch::Tensor`s for the call; the shim returns a `new
    // at::Tensor` that tch takes ownership of, or null with an error string.
    let out = unsafe {
        dda_grid(
            p.as_ptr() as *mut c_void,
            q.as_ptr() as *mut c_void,
            c_int::from(projective),
            &mut err,
        )
    };
    owned("grid", out, err)
}

/// Inverses of a batch (…,3,3) of matrices by the adjugate, in one call: the float operations
/// of [`crate::geometry::inverse3x3`]'s composition (about fifty small ops), so the same
/// values. `None` when the kernel does not take `m` (a graph to record, another device or
/// kind, another shape).
pub(crate) fn inverse3x3(m: &Tensor) -> Fused {
    let size = m.size();
    if !takes(m) || size.len() < 2 || size[size.len() - 2..] != [3, 3] {
        return Ok(None);
    }
    let m = m.contiguous();
    let mut err = std::ptr::null_mut();
    // SAFETY: a live `torch::Tensor` for the call; the shim returns a `new at::Tensor` that
    // tch takes ownership of, or null with an error string.
    let out = unsafe { dda_inverse3x3(m.as_ptr() as *mut c_void, &mut err) };
    owned("inverse3x3", out, err)
}

#[cfg(test)]
#[cfg(feature = "cpu-kernels")]
mod tests {
    use super::*;

    /// The 3×3 inverse equals the composition bit for bit, batched and not.
    #[test]
    fn the_kernel_inverse_equals_the_composition() {
        let _draws = crate::rng::drawing();
        for kind in [Kind::Float, Kind::Double] {
            for shape in [vec![3i64, 3], vec![5, 3, 3], vec![2, 4, 3, 3]] {
                let m = Tensor::randn(shape.as_slice(), (kind, Device::Cpu));
                let got = inverse3x3(&m)
                    .unwrap()
                    .expect("the kernel takes this input");
                let want = crate::geometry::inverse3x3_composed(&m);
                assert!(got.equal(&want), "{kind:?} {shape:?}");
            }
        }
        let m = Tensor::randn([2, 3, 3], (Kind::Float, Device::Cpu));
        assert!(inverse3x3(&m.set_requires_grad(true)).unwrap().is_none());
        assert!(inverse3x3(&m.narrow(2, 0, 2)).unwrap().is_none());
    }

    /// An error the kernel raises on an input it took comes back as a typed error that names
    /// the kernel, the message and the way to the composition; nothing falls back silently.
    /// (The checked entry point never passes these steps, so the shim is called directly.)
    #[test]
    fn a_kernels_error_is_reported_not_replaced_by_the_composition() {
        let x = Tensor::rand([1, 3, 4, 4], (Kind::Float, Device::Cpu));
        let factors = Tensor::ones([1, 4], (Kind::Float, Device::Cpu));
        let steps = [JitterStep::Brightness as c_int]; // not the input clamp first
        let mut err = std::ptr::null_mut();
        // SAFETY: live tensors and a slice for the call, as in `jitter`.
        let out = unsafe {
            dda_jitter(
                x.as_ptr() as *mut c_void,
                factors.as_ptr() as *mut c_void,
                steps.as_ptr(),
                1,
                &mut err,
            )
        };
        let e = owned("jitter", out, err).expect_err("the shim refuses these steps");
        let message = e.to_string();
        assert!(matches!(e, crate::Error::Torch(_)), "{message}");
        for part in ["`jitter`", "the input clamp", "KernelPath::Composed"] {
            assert!(message.contains(part), "{part:?} missing from {message}");
        }
    }

    #[test]
    fn the_kernels_run_with_the_widest_instruction_set_the_cpu_has() {
        let baseline = std::env::var("ATEN_CPU_CAPABILITY").as_deref() == Ok("default");
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        let want = if avx2 && !baseline { "avx2" } else { "base" };
        assert_eq!(cpu_kernels_isa(), want);
    }

    /// The grid's output-sized pass equals its libtorch composition bit for bit: the
    /// broadcast add (affine), then the division by the last coordinate (projective), for 2D
    /// and 3D coordinates, at sizes whose split between threads falls inside a pixel.
    #[test]
    fn the_kernel_grid_equals_the_broadcast_composition() {
        let _draws = crate::rng::drawing();
        for kind in [Kind::Float, Kind::Double] {
            for (b, rows, w, n) in [
                (1, 1, 1, 2),
                (3, 37, 129, 2),
                (2, 7 * 11, 257, 3),
                (1, 224, 224, 2),
                // Odd halves: two threads split the work inside a pixel.
                (1, 1, 16401, 2),
                (1, 3667, 3, 3),
            ] {
                let opts = (kind, Device::Cpu);
                for projective in [false, true] {
                    let m = if projective { n + 1 } else { n };
                    let p = Tensor::randn([b * rows, m], opts);
                    let q = Tensor::randn([b, w, m], opts);
                    if projective {
                        // Each sample's first pixel at w = 0 exactly.
                        let w0 = p.view([b, rows, m]).narrow(1, 0, 1).select(2, n);
                        q.narrow(1, 0, 1).select(2, n).copy_(&-w0);
                    }
                    let sum =
                        (p.view([b, rows, 1, m]) + q.view([b, 1, w, m])).reshape([b * rows, w, m]);
                    let want = if projective {
                        let last = sum.narrow(-1, n, 1);
                        let ok = last.abs().gt(1e-8);
                        let scale = last
                            .where_self(&ok, &last.ones_like())
                            .reciprocal()
                            .where_self(&ok, &last.ones_like());
                        sum.narrow(-1, 0, n) * scale
                    } else {
                        sum
                    };
                    let got = grid(&p, &q, projective)
                        .unwrap()
                        .expect("the kernel takes this input");
                    assert!(
                        got.equal(&want),
                        "{kind:?} b={b} rows={rows} w={w} n={n} projective={projective}"
                    );
                }
            }
        }
        // What it does not take: a graph to record, mismatched shapes, another kind.
        let p = Tensor::randn([4, 2], (Kind::Float, Device::Cpu));
        let q = Tensor::randn([2, 3, 2], (Kind::Float, Device::Cpu));
        assert!(grid(&p.set_requires_grad(true), &q, false)
            .unwrap()
            .is_none());
        assert!(grid(&p, &q.narrow(2, 0, 1), false).unwrap().is_none());
        assert!(grid(&p.narrow(0, 0, 3), &q, false).unwrap().is_none());
        assert!(grid(&p.to_kind(Kind::Half), &q, false).unwrap().is_none());
    }

    /// The fused colour map equals the batched matmul and clamp it replaces, within one
    /// rounding (the matmul's own order of additions), clamps to infinite bounds included;
    /// a NaN stays a NaN, as with libtorch's clamp.
    #[test]
    fn the_kernel_colour_map_equals_the_matmul_and_clamp() {
        let _draws = crate::rng::drawing();
        for (kind, tol) in [(Kind::Float, 1e-5), (Kind::Double, 1e-12)] {
            for shape in [vec![4i64, 3, 17, 19], vec![2, 3, 5, 6, 7]] {
                let opts = (kind, Device::Cpu);
                let b = shape[0];
                let x = Tensor::rand(shape.as_slice(), opts) * 2.0 - 0.5;
                let matrix = Tensor::randn([b, 3, 3], opts);
                let bias = Tensor::randn([b, 3], opts);
                let lo = Tensor::rand([b, 3], opts) - 1.0;
                let hi = Tensor::rand([b, 3], opts) + 0.5;
                // Sample 0 unbounded (a gated step's bounds).
                let _ = lo.get(0).fill_(f64::NEG_INFINITY);
                let _ = hi.get(0).fill_(f64::INFINITY);
                let mut view = vec![1i64; shape.len()];
                view[0] = b;
                view[1] = 3;
                let want = bias
                    .unsqueeze(-1)
                    .baddbmm(&matrix, &x.reshape([b, 3, -1]), 1, 1)
                    .view(shape.as_slice())
                    .clamp_tensor(
                        Some(&lo.view(view.as_slice())),
                        Some(&hi.view(view.as_slice())),
                    );
                let got = color_map(&x, &matrix, &bias, Some((&lo, &hi)))
                    .unwrap()
                    .expect("the kernel takes this input");
                assert_eq!(got.size(), shape);
                let err = (&got - &want).abs().max().double_value(&[]);
                assert!(err <= tol, "{kind:?} {shape:?}: {err}");
                // A non-contiguous input is read as it is laid out.
                let xt = x.transpose(-1, -2);
                let got_t = color_map(&xt, &matrix, &bias, Some((&lo, &hi)))
                    .unwrap()
                    .unwrap();
                assert!(got_t.equal(&got.transpose(-1, -2).contiguous()));
            }
        }
        let opts = (Kind::Float, Device::Cpu);
        let x = Tensor::full([1, 3, 2, 2], f64::NAN, opts);
        let m = Tensor::eye(3, opts).unsqueeze(0);
        let z = Tensor::zeros([1, 3], opts);
        let one = Tensor::ones([1, 3], opts);
        let y = color_map(&x, &m, &z, Some((&z, &one))).unwrap().unwrap();
        assert!(bool::try_from(y.isnan().all()).unwrap());
        assert!(color_map(&x.narrow(1, 0, 2), &m, &z, Some((&z, &one)))
            .unwrap()
            .is_none());
        assert!(color_map(&x, &m.narrow(1, 0, 2), &z, Some((&z, &one)))
            .unwrap()
            .is_none());
    }
    /// The colour map as a graph node: its gradients (image, matrix, bias, bounds) equal the
    /// composition's (batched matmul then `clamp_tensor`, with libtorch's subgradients:
    /// a value on a bound passes its gradient on, crossed bounds give theirs to `hi`), with
    /// and without bounds, with only the image requiring a gradient, in both dtypes.
    #[test]
    fn the_kernel_colour_map_node_has_the_compositions_gradients() {
        let _draws = crate::rng::drawing();
        for (kind, tol) in [(Kind::Float, 2e-5), (Kind::Double, 1e-12)] {
            for shape in [vec![4i64, 3, 17, 19], vec![2, 3, 5, 6, 7]] {
                for (bounded, params_grad) in [(true, true), (false, true), (true, false)] {
                    let opts = (kind, Device::Cpu);
                    let b = shape[0];
                    let x = Tensor::rand(shape.as_slice(), opts) * 2.0 - 0.5;
                    let matrix = Tensor::randn([b, 3, 3], opts);
                    let bias = Tensor::randn([b, 3], opts) * 0.3;
                    let lo = Tensor::rand([b, 3], opts) - 1.0;
                    let hi = Tensor::rand([b, 3], opts) + 0.5;
                    // Sample 1: some pixels exactly on the bounds (x = 0 gives z = bias),
                    // and channel 2's bounds crossed.
                    let _ = x.get(1).narrow(-1, 0, 2).zero_();
                    bias.get(1)
                        .narrow(0, 0, 1)
                        .copy_(&lo.get(1).narrow(0, 0, 1));
                    bias.get(1)
                        .narrow(0, 1, 1)
                        .copy_(&hi.get(1).narrow(0, 1, 1));
                    let _ = lo.get(1).narrow(0, 2, 1).fill_(0.4);
                    let _ = hi.get(1).narrow(0, 2, 1).fill_(-0.2);
                    let leaves: Vec<Tensor> = [&x, &matrix, &bias, &lo, &hi]
                        .iter()
                        .enumerate()
                        .map(|(k, t)| t.detach().set_requires_grad(k == 0 || params_grad))
                        .collect();
                    let [x, matrix, bias, lo, hi] = &leaves[..] else {
                        unreachable!()
                    };
                    let w = Tensor::randn(shape.as_slice(), opts);
                    let mut view = vec![1i64; shape.len()];
                    view[0] = b;
                    view[1] = 3;
                    let z = bias
                        .unsqueeze(-1)
                        .baddbmm(matrix, &x.reshape([b, 3, -1]), 1, 1)
                        .view(shape.as_slice());
                    let want = if bounded {
                        z.clamp_tensor(
                            Some(&lo.view(view.as_slice())),
                            Some(&hi.view(view.as_slice())),
                        )
                    } else {
                        z
                    };
                    let bounds = bounded.then_some((lo, hi));
                    let got = color_map(x, matrix, bias, bounds)
                        .unwrap()
                        .expect("the kernel takes this input");
                    assert!(got.requires_grad());
                    let err = (&got - &want).abs().max().double_value(&[]);
                    assert!(
                        err <= tol,
                        "{kind:?} {shape:?} bounded={bounded}: values {err}"
                    );
                    let inputs: Vec<&Tensor> = if params_grad {
                        if bounded {
                            vec![x, matrix, bias, lo, hi]
                        } else {
                            vec![x, matrix, bias]
                        }
                    } else {
                        vec![x]
                    };
                    let grads = |y: &Tensor| {
                        Tensor::run_backward(&[(y * &w).sum(kind)], &inputs, false, false)
                    };
                    let (gw, gg) = (grads(&want), grads(&got));
                    for (k, (a, e)) in gg.iter().zip(&gw).enumerate() {
                        let scale = 1.0 + e.abs().max().double_value(&[]);
                        let err = (a - e).abs().max().double_value(&[]);
                        assert!(
                            err <= tol * scale,
                            "{kind:?} {shape:?} bounded={bounded} input {k}: {err} (scale {scale})"
                        );
                    }
                }
            }
        }
    }
    /// The separable resampling equals `grid_sampler` (bilinear, border padding, corners
    /// aligned) on the grid of its rows and columns, within float rounding (the grid's
    /// normalised coordinates round on the way), in values and image gradients: exact
    /// integer coordinates, the last pixel, one-pixel axes and a non-contiguous input
    /// included.
    #[test]
    fn the_kernel_resample_equals_grid_sampler_on_a_separable_grid() {
        let _draws = crate::rng::drawing();
        for (kind, tol) in [(Kind::Float, 2e-5), (Kind::Double, 1e-12)] {
            for (b, c, h, w, ho, wo) in [
                (3i64, 3i64, 11i64, 13i64, 7i64, 9i64),
                (2, 1, 1, 5, 4, 1),
                (1, 4, 6, 6, 6, 6),
            ] {
                let opts = (kind, Device::Cpu);
                let x = Tensor::rand([b, c, h, w], opts);
                let ys = Tensor::rand([b, ho], opts) * (h - 1) as f64;
                let xs = Tensor::rand([b, wo], opts) * (w - 1) as f64;
                let _ = ys.narrow(1, 0, 1).fill_(0.0);
                let _ = ys.narrow(1, ho - 1, 1).fill_((h - 1) as f64);
                let _ = xs.narrow(1, wo - 1, 1).fill_((w - 1) as f64);
                let _ = xs.narrow(1, 0, 1).fill_((w / 2) as f64);
                let norm = |v: &Tensor, n: i64| {
                    if n == 1 {
                        v.zeros_like()
                    } else {
                        v * (2.0 / (n - 1) as f64) - 1.0
                    }
                };
                let gx = norm(&xs, w).view([b, 1, wo]).expand([b, ho, wo], false);
                let gy = norm(&ys, h).view([b, ho, 1]).expand([b, ho, wo], false);
                let grid = Tensor::stack(&[gx, gy], -1);
                let leaf = x.detach().set_requires_grad(true);
                let want = leaf.grid_sampler(&grid, 0, 1, true);
                let got = resample(&leaf, &ys, &xs)
                    .unwrap()
                    .expect("the kernel takes this input");
                assert!(got.requires_grad());
                let err = (&got - &want).abs().max().double_value(&[]);
                assert!(err <= tol, "{kind:?} {:?}: values {err}", x.size());
                let wgt = Tensor::randn(want.size().as_slice(), opts);
                let grad = |y: &Tensor| {
                    Tensor::run_backward(&[(y * &wgt).sum(kind)], &[&leaf], false, false).remove(0)
                };
                let (gw, gg) = (grad(&want), grad(&got));
                let err = (&gg - &gw).abs().max().double_value(&[]);
                assert!(
                    err <= tol * 10.0,
                    "{kind:?} {:?}: gradients {err}",
                    x.size()
                );
                // Read as laid out, without a graph.
                let xt = x.transpose(2, 3).contiguous().transpose(2, 3);
                let got_t = resample(&xt, &ys, &xs).unwrap().unwrap();
                assert!(!got_t.requires_grad());
                assert!(got_t.allclose(&got.detach(), 0.0, 0.0, false));
            }
        }
        let opts = (Kind::Float, Device::Cpu);
        let x = Tensor::rand([2, 3, 4, 4], opts);
        let c = || Tensor::rand([2, 3], opts);
        assert!(resample(&x, &c(), &c()).unwrap().is_some());
        assert!(resample(&x, &c().set_requires_grad(true), &c())
            .unwrap()
            .is_none());
        assert!(resample(&x, &c().narrow(0, 0, 1), &c()).unwrap().is_none());
        assert!(resample(&x, &c(), &c().view([2, 3, 1])).unwrap().is_none());
        assert!(resample(&x.to_kind(Kind::Half), &c(), &c())
            .unwrap()
            .is_none());
    }
}
