//! Random draws: from the [`Generator`] in scope on this thread, or from torch's global
//! generator when none is.

use crate::{Error, Result};
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_void, CStr};
use tch::{Device, Kind, Tensor};

extern "C" {
    fn dda_free_error(err: *mut c_char);
    fn dda_generator_new(device: c_int, seed: u64, err: *mut *mut c_char) -> *mut c_void;
    fn dda_generator_free(g: *mut c_void);
    fn dda_generator_get_state(g: *mut c_void, err: *mut *mut c_char) -> *mut c_void;
    fn dda_generator_set_state(g: *mut c_void, state: *mut c_void, err: *mut *mut c_char) -> c_int;
    fn dda_rand(
        g: *mut c_void,
        size: *const i64,
        ndim: usize,
        dtype: c_int,
        device: c_int,
        err: *mut *mut c_char,
    ) -> *mut c_void;
    fn dda_randn(
        g: *mut c_void,
        size: *const i64,
        ndim: usize,
        dtype: c_int,
        device: c_int,
        err: *mut *mut c_char,
    ) -> *mut c_void;
    #[allow(clippy::too_many_arguments)]
    fn dda_randint(
        g: *mut c_void,
        low: i64,
        high: i64,
        size: *const i64,
        ndim: usize,
        dtype: c_int,
        device: c_int,
        err: *mut *mut c_char,
    ) -> *mut c_void;
    fn dda_randperm(
        g: *mut c_void,
        n: i64,
        dtype: c_int,
        device: c_int,
        err: *mut *mut c_char,
    ) -> *mut c_void;
    fn dda_bernoulli(g: *mut c_void, p: *mut c_void, err: *mut *mut c_char) -> *mut c_void;
    fn dda_sample_dirichlet(
        g: *mut c_void,
        alpha: *mut c_void,
        err: *mut *mut c_char,
    ) -> *mut c_void;
    fn dda_multinomial(
        g: *mut c_void,
        probs: *mut c_void,
        n: i64,
        replacement: c_int,
        err: *mut *mut c_char,
    ) -> *mut c_void;
}

/// The shim's error string as a `String` (freed here).
pub(crate) fn take_error(err: *mut c_char) -> String {
    if err.is_null() {
        return "unknown libtorch error".into();
    }
    // SAFETY: a NUL-terminated string malloc'ed by the shim, freed once here.
    let s = unsafe { CStr::from_ptr(err) }
        .to_string_lossy()
        .into_owned();
    unsafe { dda_free_error(err) };
    s
}

fn device_code(device: Device) -> Result<c_int> {
    match device {
        Device::Cpu => Ok(-1),
        Device::Cuda(i) => Ok(i as c_int),
        other => Err(Error::Rng(format!(
            "a Generator draws on the CPU and CUDA devices, not {other:?}"
        ))),
    }
}

fn dtype_code(kind: Kind) -> Result<c_int> {
    Ok(match kind {
        Kind::Uint8 => 0,
        Kind::Int8 => 1,
        Kind::Int16 => 2,
        Kind::Int => 3,
        Kind::Int64 => 4,
        Kind::Half => 5,
        Kind::Float => 6,
        Kind::Double => 7,
        Kind::Bool => 11,
        Kind::BFloat16 => 15,
        other => return Err(Error::Rng(format!("no draws of kind {other:?}"))),
    })
}

/// One `at::Generator` (owned).
struct Handle(*mut c_void);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by dda_generator_new, freed once.
        unsafe { dda_generator_free(self.0) }
    }
}

/// A random stream of one's own: every draw of the crate made inside
/// [`Generator::f_scope`] on this thread comes from it, not from torch's process-wide
/// generator.
///
/// # Why a generator of one's own, and how
/// torch's default generators are shared by the whole process: two threads that each seed
/// and run their own pipeline interleave their draws, so neither reproduces its
/// single-thread output. tch's C API takes no generator, so the crate compiles a small C++
/// shim (`csrc/generator.cpp`, against the same libtorch headers torch-sys uses) that
/// creates `at::Generator`s and calls ATen's generator-taking factories (`rand`, `randn`,
/// `randint`, `randperm`, `bernoulli`, `multinomial`, `_sample_dirichlet`). This was chosen
/// over a counter-based generator written with tensor ops because the draws stay libtorch's
/// own kernels: a `Generator::new(s)` gives exactly the draws that `tch::manual_seed(s)`
/// gives the global generator, so Kornia seed-level parity carries over, every distribution
/// (Beta through Dirichlet included) is available, and CUDA draws use the device's Philox
/// generator without a host round trip.
///
/// A `Generator` holds one `at::Generator` per device it has drawn on (Kornia draws some
/// choices on the CPU, so usually the CPU's too), each seeded with the same seed, as
/// `torch.manual_seed` seeds every device. Outside any scope the global generator is used,
/// exactly as before. CUDA generators have not yet been run on a GPU.
///
/// ```
/// use tch::{nn::{Module, VarStore}, Device, Kind, Tensor};
/// use tch_dda::prelude::*;
/// use tch_dda::Generator;
///
/// let vs = VarStore::new(Device::Cpu);
/// let aug = RandomAffine::new(vs.root(), RandomAffineConfig::degrees(30.0)).unwrap();
/// let x = Tensor::rand([4, 3, 32, 32], (Kind::Float, Device::Cpu));
/// // Each thread with its own generator reproduces its single-thread output bit for bit,
/// // and `Generator::new(7)` draws what `tch::manual_seed(7)` makes the global one draw.
/// let mut rng = Generator::new(7);
/// let y = rng.scope(|| aug.forward(&x));
/// tch::manual_seed(7);
/// assert!(y.equal(&aug.forward(&x)));
/// ```
pub struct Generator {
    seed: u64,
    handles: RefCell<Vec<(Device, Handle)>>,
    error: RefCell<Option<Error>>,
}

// SAFETY: `at::Generator` is reference counted and guarded by its own mutex; the handles
// are only used by the thread that holds the `Generator` (a scope needs `&mut self`).
unsafe impl Send for Generator {}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let devices: Vec<Device> = self.handles.borrow().iter().map(|(d, _)| *d).collect();
        f.debug_struct("Generator")
            .field("seed", &self.seed)
            .field("devices", &devices)
            .finish()
    }
}

thread_local! {
    /// The generator in scope on this thread (null: torch's global one).
    static CURRENT: Cell<*const Generator> = const { Cell::new(std::ptr::null()) };
}

/// Restores the previous generator in scope, also when the scope unwinds.
struct ScopeGuard(*const Generator);

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

impl Generator {
    /// A stream seeded with `seed` on every device it draws on (as `tch::manual_seed(seed)`
    /// seeds the global ones). Device generators are created at their first draw.
    pub fn new(seed: u64) -> Generator {
        Generator {
            seed,
            handles: RefCell::new(Vec::new()),
            error: RefCell::new(None),
        }
    }

    /// The seed it was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Runs `f` with every draw of the crate on this thread taken from this generator (the
    /// global generator is untouched). Scopes nest; the previous one is restored after `f`,
    /// also when `f` panics.
    ///
    /// # Errors
    /// [`Error::Rng`] when a draw inside `f` could not use this generator (a device other
    /// than the CPU or CUDA, or CUDA without its libraries); `f`'s result is then
    /// discarded (placeholders stood in for those draws; the global generator is not
    /// drawn from).
    pub fn f_scope<R>(&mut self, f: impl FnOnce() -> R) -> Result<R> {
        let previous = CURRENT.with(|c| c.replace(self as *const Generator));
        let out = {
            let _guard = ScopeGuard(previous);
            f()
        };
        match self.error.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// [`Generator::f_scope`], panicking with the error's message.
    pub fn scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        crate::error::or_panic(self.f_scope(f))
    }

    /// The state of its generator for `device` (created if needed), a uint8 tensor as
    /// `torch.Generator.get_state()`: save it to resume the stream later.
    ///
    /// # Errors
    /// [`Error::Rng`] for a device it cannot draw on.
    pub fn f_state(&self, device: Device) -> Result<Tensor> {
        // SAFETY: a live generator.
        self.with_handle(device, |g, err| {
            Ok(unsafe { dda_generator_get_state(g, err) })
        })
    }

    /// Restores a state from [`Generator::f_state`] for `device`.
    ///
    /// # Errors
    /// [`Error::Rng`] for a device it cannot draw on or a state libtorch refuses (nothing
    /// changes then).
    pub fn f_set_state(&self, device: Device, state: &Tensor) -> Result<()> {
        let g = self.handle(device)?;
        let mut err = std::ptr::null_mut();
        let state = state.to_device(Device::Cpu).contiguous();
        // SAFETY: a live generator; the shim reads the tensor and keeps no reference.
        let rc = unsafe { dda_generator_set_state(g, state.as_ptr() as *mut c_void, &mut err) };
        if rc != 0 {
            return Err(Error::Rng(take_error(err)));
        }
        Ok(())
    }

    /// `torch.randperm(n, generator=g)`: a permutation of `0..n` (int64) drawn from this
    /// generator on `device`, advancing its stream. Equal to PyTorch's draw from a generator
    /// seeded alike (`DistributedSampler`'s shuffle is `randperm` seeded with
    /// `seed + epoch`).
    ///
    /// # Errors
    /// [`Error::Rng`] for a device it cannot draw on; [`Error::Config`] for a negative `n`,
    /// [`Error::TooLarge`] past [`crate::MAX_TENSOR_BYTES`] (nothing is drawn then).
    pub fn f_randperm(&mut self, n: i64, device: Device) -> Result<Tensor> {
        if n < 0 {
            return Err(Error::Config {
                op: "Generator::f_randperm",
                name: "n",
                value: n.to_string(),
                allowed: "0 or more".into(),
            });
        }
        crate::checks::fits("Generator::f_randperm", "permutation", &[n])?;
        self.f_scope(|| randperm(n, (Kind::Int64, device)))?
    }

    /// `torch.rand(size, generator=g)`: uniform values in `[0, 1)` (float32) drawn from this
    /// generator on `device`, advancing its stream.
    ///
    /// # Errors
    /// [`Error::Rng`] for a device it cannot draw on; [`Error::Config`] for a negative side,
    /// [`Error::TooLarge`] for a size no machine holds (nothing is drawn then).
    pub fn f_rand(&mut self, size: &[i64], device: Device) -> Result<Tensor> {
        if let Some(side) = size.iter().find(|&&s| s < 0) {
            return Err(Error::Config {
                op: "Generator::f_rand",
                name: "size",
                value: format!("{size:?} (a side of {side})"),
                allowed: "sides of 0 or more".into(),
            });
        }
        crate::checks::fits("Generator::f_rand", "uniform draws", size)?;
        self.f_scope(|| rand(size, (Kind::Float, device)))?
    }

    fn handle(&self, device: Device) -> Result<*mut c_void> {
        let code = device_code(device)?;
        let mut handles = self.handles.borrow_mut();
        if let Some((_, h)) = handles.iter().find(|(d, _)| *d == device) {
            return Ok(h.0);
        }
        let mut err = std::ptr::null_mut();
        // SAFETY: plain FFI call; a null return comes with an error string.
        let g = unsafe { dda_generator_new(code, self.seed, &mut err) };
        if g.is_null() {
            return Err(Error::Rng(format!(
                "no generator for {device:?}: {}",
                take_error(err)
            )));
        }
        handles.push((device, Handle(g)));
        Ok(g)
    }

    fn with_handle(
        &self,
        device: Device,
        call: impl FnOnce(*mut c_void, *mut *mut c_char) -> Result<*mut c_void>,
    ) -> Result<Tensor> {
        let g = self.handle(device)?;
        let mut err = std::ptr::null_mut();
        let t = call(g, &mut err)?;
        if t.is_null() {
            return Err(Error::Rng(take_error(err)));
        }
        // SAFETY: a `new at::Tensor` from the shim; tch takes ownership.
        Ok(unsafe { Tensor::from_ptr(t.cast()) })
    }
}

/// Draws with the generator in scope (`own`), or with the global generator (`global`)
/// when none is. A failed draw from the generator in scope is recorded for the scope to
/// report and replaced by `placeholder` (valid values of the right shape, drawn from no
/// generator: the global stream stays untouched), so that the computation finishes; its
/// result is discarded. An allocation that fails (a size that does not fit in memory) is an
/// `Err` on either path.
fn draw(
    device: Device,
    own: impl FnOnce(*mut c_void, *mut *mut c_char) -> Result<*mut c_void>,
    global: impl FnOnce() -> std::result::Result<Tensor, tch::TchError>,
    placeholder: impl FnOnce() -> std::result::Result<Tensor, tch::TchError>,
) -> Result<Tensor> {
    let current = CURRENT.with(|c| c.get());
    if current.is_null() {
        return Ok(global()?);
    }
    // SAFETY: set by `f_scope` from a `&mut Generator` that outlives the scope, on this
    // thread; only shared references are made from it here.
    let gen = unsafe { &*current };
    match gen.with_handle(device, own) {
        Ok(t) => Ok(t),
        Err(e) => {
            gen.error.borrow_mut().get_or_insert(e);
            Ok(placeholder()?)
        }
    }
}

/// The shim's sized factories (`dda_rand`, `dda_randn`).
type SizedDraw = unsafe extern "C" fn(
    *mut c_void,
    *const i64,
    usize,
    c_int,
    c_int,
    *mut *mut c_char,
) -> *mut c_void;

/// A sized draw from the generator in scope (`shim`) or the global one (`global`).
fn sized(
    size: &[i64],
    (kind, device): (Kind, Device),
    shim: SizedDraw,
    global: impl FnOnce() -> std::result::Result<Tensor, tch::TchError>,
) -> Result<Tensor> {
    draw(
        device,
        |g, err| {
            let (dt, dev) = (dtype_code(kind)?, device_code(device)?);
            // SAFETY: `size` outlives the call.
            Ok(unsafe { shim(g, size.as_ptr(), size.len(), dt, dev, err) })
        },
        global,
        || Tensor::f_zeros(size, (kind, device)),
    )
}

/// `Tensor::rand(size, opts)` from the generator in scope.
pub(crate) fn rand(size: &[i64], opts: (Kind, Device)) -> Result<Tensor> {
    sized(size, opts, dda_rand, || Tensor::f_rand(size, opts))
}

/// `Tensor::randn(size, opts)` from the generator in scope.
pub(crate) fn randn(size: &[i64], opts: (Kind, Device)) -> Result<Tensor> {
    sized(size, opts, dda_randn, || Tensor::f_randn(size, opts))
}

/// `Tensor::randint_low(low, high, size, opts)` from the generator in scope.
pub(crate) fn randint(
    low: i64,
    high: i64,
    size: &[i64],
    (kind, device): (Kind, Device),
) -> Result<Tensor> {
    draw(
        device,
        |g, err| {
            let (dt, dev) = (dtype_code(kind)?, device_code(device)?);
            // SAFETY: `size` outlives the call.
            Ok(unsafe { dda_randint(g, low, high, size.as_ptr(), size.len(), dt, dev, err) })
        },
        || Tensor::f_randint_low(low, high, size, (kind, device)),
        || Tensor::f_full(size, low, (kind, device)),
    )
}

/// `Tensor::randperm(n, opts)` from the generator in scope.
pub(crate) fn randperm(n: i64, (kind, device): (Kind, Device)) -> Result<Tensor> {
    draw(
        device,
        |g, err| {
            let (dt, dev) = (dtype_code(kind)?, device_code(device)?);
            Ok(unsafe { dda_randperm(g, n, dt, dev, err) })
        },
        || Tensor::f_randperm(n, (kind, device)),
        || Tensor::f_arange(n, (kind, device)),
    )
}

/// `p.bernoulli()` from the generator in scope.
pub(crate) fn bernoulli(p: &Tensor) -> Result<Tensor> {
    draw(
        p.device(),
        // SAFETY: the shim reads `p` and keeps no reference.
        |g, err| Ok(unsafe { dda_bernoulli(g, p.as_ptr() as *mut c_void, err) }),
        || p.f_bernoulli(),
        || p.f_zeros_like(),
    )
}

/// `alpha.internal_sample_dirichlet()` from the generator in scope.
pub(crate) fn sample_dirichlet(alpha: &Tensor) -> Result<Tensor> {
    draw(
        alpha.device(),
        // SAFETY: the shim reads `alpha` and keeps no reference.
        |g, err| Ok(unsafe { dda_sample_dirichlet(g, alpha.as_ptr() as *mut c_void, err) }),
        || alpha.f_internal_sample_dirichlet(),
        || alpha.f_div(&alpha.f_sum_dim_intlist(-1, true, None)?),
    )
}

/// `probs.multinomial(n, replacement)` from the generator in scope.
pub(crate) fn multinomial(probs: &Tensor, n: i64, replacement: bool) -> Result<Tensor> {
    draw(
        probs.device(),
        // SAFETY: the shim reads `probs` and keeps no reference.
        |g, err| {
            Ok(unsafe {
                dda_multinomial(
                    g,
                    probs.as_ptr() as *mut c_void,
                    n,
                    c_int::from(replacement),
                    err,
                )
            })
        },
        || probs.f_multinomial(n, replacement),
        || {
            let mut size = probs.size();
            *size.last_mut().unwrap_or(&mut 0) = n;
            Tensor::f_zeros(size.as_slice(), (Kind::Int64, probs.device()))
        },
    )
}

/// The unit tests' hold on torch's global stream: a test that draws from it holds it shared
/// ([`drawing`]), one that checks where the stream stands holds it alone.
#[cfg(test)]
pub(crate) static GLOBAL_STREAM: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Held by a unit test while it draws from torch's global stream (see [`GLOBAL_STREAM`]).
#[cfg(test)]
pub(crate) fn drawing() -> std::sync::RwLockReadGuard<'static, ()> {
    GLOBAL_STREAM.read().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A draw the generator cannot make (a kind the shim has no code for) makes the scope
    /// an `Err`, and the stand-in draws leave the global stream where it was.
    #[test]
    fn a_failed_draw_is_the_scopes_error_and_leaves_the_global_stream() {
        // No other test may draw meanwhile.
        let _alone = GLOBAL_STREAM.write().unwrap_or_else(|e| e.into_inner());
        tch::manual_seed(4);
        let expected = Tensor::rand([3], (Kind::Float, Device::Cpu));
        tch::manual_seed(4);
        let mut g = Generator::new(1);
        let r = g.f_scope(|| {
            let ok = rand(&[2], (Kind::Float, Device::Cpu)).unwrap();
            let bad = rand(&[2], (Kind::ComplexFloat, Device::Cpu)).unwrap();
            (ok.size(), bad.size())
        });
        assert!(
            matches!(r, Err(Error::Rng(ref m)) if m.contains("ComplexFloat")),
            "{r:?}"
        );
        assert!(Tensor::rand([3], (Kind::Float, Device::Cpu)).equal(&expected));
        // The error was taken: the next scope is clean.
        assert!(g.f_scope(|| rand(&[1], (Kind::Float, Device::Cpu))).is_ok());
    }
}
