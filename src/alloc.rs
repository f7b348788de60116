//! The CPU allocator setting that image-sized tensors need.

/// On Linux with glibc, keeps large allocations in malloc's heap and the heap at its size
/// (`mallopt(M_MMAP_THRESHOLD, 1 GiB)` and `mallopt(M_TRIM_THRESHOLD, 1 GiB)`), so that a
/// tensor the size of a batch of images is reused from freed memory instead of being mapped
/// (or the heap grown) and faulted in page by page on every allocation. By default glibc maps
/// anything above 32 MiB afresh each time (a 64×3×224×224 float32 batch is 38.5 MB) and gives
/// the top of its heap back to the system once 2× its current mapping threshold is free, so
/// how often a process pays those page faults depends on what it allocated before. With
/// autograd recording, every step allocates its outputs, so this is most of the time of a
/// forward + backward pass on the CPU (docs/performance.md).
///
/// Process-wide and opt-in: call it once at start-up, before the training loop. The cost is
/// that freed batches stay in the process (its resident memory stays at its peak instead of
/// shrinking between steps). The environment variable
/// `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824`
/// does the same for a whole process, Python included (the benchmarks run both sides so).
/// Returns whether the setting was applied (false on other platforms and C libraries, where
/// it does nothing).
pub fn tune_cpu_allocator() -> bool {
    imp::tune()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use std::os::raw::c_int;

    extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }

    /// glibc's `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD`.
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;

    pub(super) fn tune() -> bool {
        // SAFETY: mallopt only sets one of glibc's allocator parameters; it takes the
        // allocator's own lock and is safe to call at any time from any thread.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub(super) fn tune() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_takes_the_setting() {
        let applied = super::tune_cpu_allocator();
        assert_eq!(applied, cfg!(all(target_os = "linux", target_env = "gnu")));
    }
}
