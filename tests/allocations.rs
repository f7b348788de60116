//! No allocation whose size a caller chooses goes through a panicking tch call: every
//! size-taking constructor (`Tensor::zeros`, `ones`, `full`, `empty`, `linspace`, `arange`,
//! `eye`, ...) and size-multiplying method (`repeat`, `repeat_interleave_self_int`,
//! `constant_pad_nd`, `new_*`) in the crate's sources is its fallible `f_` form, whose
//! error the caller gets as `Error::Torch`, or is on the allow-list below with the reason
//! its size cannot come from a caller. Random draws go through `crate::rng`, whose
//! functions are fallible. Unit-test modules are not scanned.
//!
//! This is a text check, as `cargo clippy`'s `disallowed_methods` cannot tell the crate's
//! own constructors apart from tch's; it reads `src/` from the repository.

use std::path::{Path, PathBuf};

/// (file, the call's line as written, trimmed, why its size cannot come from a caller).
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "src/annotations/visible.rs",
        "let t = (Tensor::arange(k, (p.kind(), p.device())) / k as f64).view([1, 1, 1, k, 1]);",
        "k is DENSE_EDGE_POINTS, a constant 8",
    ),
    (
        "src/annotations/visible.rs",
        "let idx = Tensor::arange(2 * v, (Kind::Int64, p.device()));",
        "2v candidate vertices of a region that exists (v is 4 plus 4 per step, 8x after a dense step)",
    ),
    (
        "src/auto/mod.rs",
        "let t = Tensor::linspace(lo, hi, 11, (Kind::Float, Device::Cpu));",
        "a constant 11 levels",
    ),
    (
        "src/container/color.rs",
        "matrix: Tensor::eye(c, (kind, device)).expand([b, c, c], false),",
        "c channels of an input that exists (expand is a view)",
    ),
    (
        "src/container/color.rs",
        "bias: Tensor::zeros([b, c], (kind, device)),",
        "(B, C) of an input that exists: at most its element count",
    ),
    (
        "src/container/color.rs",
        "let eye = Tensor::eye(c, (kind, device)).expand([b, c, c], false);",
        "c channels of an input that exists (expand is a view)",
    ),
    (
        "src/geometric/distort.rs",
        "Tensor::full([1], -1.0, (kind, device))",
        "a constant size 1",
    ),
    (
        "src/geometric/distort.rs",
        "Tensor::linspace(-1.0, 1.0, n, (kind, device))",
        "n is the height or width of an input that exists",
    ),
    (
        "src/geometry/field.rs",
        "let xs = Tensor::arange(w, (kind, device))",
        "the width of a dense field that exists",
    ),
    (
        "src/geometry/field.rs",
        "let ys = Tensor::arange(h, (kind, device))",
        "the height of a dense field that exists",
    ),
    (
        "src/geometry/mod.rs",
        "matrix: Tensor::eye(n, (kind, device)).expand([batch, n, n], false),",
        "n is 3 or 4 (expand is a view)",
    ),
    (
        "src/geometry/mod.rs",
        "let eye = Tensor::eye(n, (self.matrix.kind(), self.matrix.device()));",
        "n is 3 or 4",
    ),
    (
        "src/intensity/color.rs",
        "let eye = Tensor::eye(3, (kind, device)).unsqueeze(0);",
        "a constant 3 × 3",
    ),
    (
        "src/intensity/color.rs",
        "let ones = Tensor::full([1, 3, 3], 1.0 / 3.0, (kind, device));",
        "a constant 3 × 3",
    ),
    (
        "src/intensity/equalize.rs",
        "let histo = Tensor::zeros([n, 256], (kind, device)).scatter_add(1, &index, &scaled.ones_like());",
        "n = B·C planes of an input that exists, 256 bins each",
    ),
    (
        "src/intensity/equalize.rs",
        "let bins = Tensor::arange(256, (Kind::Int64, device)).view([1, 256]);",
        "a constant 256 bins",
    ),
    (
        "src/intensity/motion.rs",
        "let offsets = Tensor::arange(k, (Kind::Double, dev)) - centre;",
        "k is the side of a motion kernel that exists",
    ),
    (
        "src/intensity/motion.rs",
        "let weights = kernel.reshape([b, -1]).constant_pad_nd([1, 0]);",
        "one element more than a kernel that exists",
    ),
    (
        "src/kernels.rs",
        "Tensor::full([b, 3], f64::NEG_INFINITY, (kind, Device::Cpu)),",
        "(B, 3) bounds for an image batch that exists",
    ),
    (
        "src/kernels.rs",
        "Tensor::full([b, 3], f64::INFINITY, (kind, Device::Cpu)),",
        "(B, 3) bounds for an image batch that exists",
    ),
    (
        "src/volume/intensity.rs",
        "let offsets = Tensor::arange(k, (Kind::Double, dev)) - centre;",
        "k is the side of a motion kernel that exists",
    ),
    (
        "src/geometry/mod.rs",
        "let eye = Tensor::eye(n + 1, (t.kind(), t.device())).expand([b, n + 1, n + 1], false);",
        "n is 2 or 3 (expand is a view)",
    ),
    (
        "src/geometry/mod.rs",
        "let mask = Tensor::zeros([1, n + 1, n + 1], (t.kind(), t.device()));",
        "n is 2 or 3",
    ),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

const CONSTRUCTORS: &[&str] = &[
    "zeros",
    "ones",
    "full",
    "empty",
    "linspace",
    "logspace",
    "arange",
    "arange_start",
    "arange_start_step",
    "eye",
    "eye_m",
    "rand",
    "randn",
    "randint",
    "randint_low",
    "randperm",
];
const METHODS: &[&str] = &[
    "repeat",
    "repeat_interleave_self_int",
    "constant_pad_nd",
    "new_zeros",
    "new_ones",
    "new_full",
    "new_empty",
];

/// The panicking size-taking calls on `line`, by name.
fn panicking_calls(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for name in CONSTRUCTORS {
        if line.contains(&format!("Tensor::{name}(")) {
            found.push(format!("Tensor::{name}"));
        }
    }
    for name in METHODS {
        if line.contains(&format!(".{name}(")) {
            found.push(format!(".{name}"));
        }
    }
    found
}

#[test]
fn no_caller_sized_allocation_can_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    files.sort();
    let mut offending = Vec::new();
    let mut used = vec![false; ALLOWED.len()];
    let mut scanned = 0;
    for file in &files {
        let rel = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.starts_with("#[cfg(test)]") || trimmed.starts_with("#[cfg(all(test, ") {
                break;
            }
            if trimmed.starts_with("//") {
                continue;
            }
            scanned += 1;
            for call in panicking_calls(trimmed) {
                match ALLOWED
                    .iter()
                    .position(|(f, l, _)| *f == rel && *l == trimmed)
                {
                    Some(k) => used[k] = true,
                    None => offending.push(format!("{rel}:{}: {call} in `{trimmed}`", i + 1)),
                }
            }
        }
    }
    assert!(scanned > 10_000, "scanned only {scanned} lines of src/");
    let stale: Vec<_> = ALLOWED
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|((f, l, _), _)| format!("{f}: `{l}`"))
        .collect();
    assert!(
        offending.is_empty(),
        "panicking allocations (use the f_ form, or allow-list them with the reason):\n{}",
        offending.join("\n")
    );
    assert!(
        stale.is_empty(),
        "allow-list entries that match nothing:\n{}",
        stale.join("\n")
    );
}
