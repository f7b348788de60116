//! Finds libtorch, embeds an rpath to it so test, example and bench binaries run
//! without `LD_LIBRARY_PATH`, and links `torch_cuda` eagerly when a CUDA build is
//! present so that `Device::Cuda(0)` works.
//!
//! With `links = "tch_dda"`, it also tells dependents where libtorch is:
//! `DEP_TCH_DDA_LIBTORCH_LIB` in their build scripts (the rpath printed by this one only
//! reaches this crate's own binaries). Docs build without libtorch (the `doc-only`
//! feature, or docs.rs).
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    println!("cargo:rerun-if-env-changed=TCH_DDA_LINK_CUDA");
    println!("cargo:rerun-if-changed=build.rs");
    generate_operator_tests();
    // `tch_dda_cuda`: libtorch has CUDA; the per-device tests then run on CUDA too.
    println!("cargo:rustc-check-cfg=cfg(tch_dda_cuda)");
    if std::env::var_os("CARGO_FEATURE_DOC_ONLY").is_some() || std::env::var_os("DOCS_RS").is_some()
    {
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let libtorch = std::env::var_os("LIBTORCH")
        .map(PathBuf::from)
        .map(|p| if p.is_relative() { manifest.join(p) } else { p })
        .unwrap_or_else(|| manifest.join(".libtorch/torch"));
    let lib = libtorch.join("lib");
    if !lib.join("libtorch_cpu.so").exists() && !lib.join("libtorch_cpu.dylib").exists() {
        panic!(
            "libtorch not found at {}: run `bash scripts/install_libtorch.sh` (or set LIBTORCH to an existing libtorch)",
            libtorch.display()
        );
    }
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // For dependents' build scripts: DEP_TCH_DDA_LIBTORCH_LIB.
    println!("cargo:libtorch_lib={}", lib.display());
    // TCH_DDA_LINK_CUDA=1: link it anyway, for a build that runs on another machine (the
    // CUDA libraries are there, not here: scripts/device_bundle.sh).
    let cross = std::env::var("TCH_DDA_LINK_CUDA").as_deref() == Ok("1");
    if lib.join("libtorch_cuda.so").exists() && (cross || cuda_runtime_present(&lib)) {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        println!("cargo:rustc-cfg=tch_dda_cuda");
    }
    compile_cpp(
        &libtorch,
        std::env::var_os("CARGO_FEATURE_CPU_KERNELS").is_some(),
    );
}

/// libtorch's C++ flags, as torch-sys uses them for its own C++: the include path, the
/// standard and the ABI.
fn libtorch_cpp(libtorch: &Path) -> cc::Build {
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let include = std::env::var_os("LIBTORCH_INCLUDE")
        .map(PathBuf::from)
        .unwrap_or_else(|| libtorch.to_path_buf())
        .join("include");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_string());
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .include(&include)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .flag_if_supported("-Wno-unused-parameter")
        .warnings(false);
    build
}

/// Compiles the C++: `csrc/generator.cpp` (draws from a generator of the caller's own, which
/// tch's C API does not take, and the error strings every shim reports with), always; with
/// the `cpu-kernels` feature (on by default) `csrc/kernels.cpp` (the fused CPU kernels with
/// their autograd nodes) and their row loops (`csrc/rows_isa.cpp`) once per instruction set:
/// the baseline, and AVX2 on x86-64 (picked at run time when the CPU has it). Each unit
/// compiles on a thread of its own; the archives are then made, and named to the linker, in
/// link order (the kernels before the row loops they call).
fn compile_cpp(libtorch: &Path, cpu_kernels: bool) {
    for file in ["generator.cpp", "error.h"] {
        println!("cargo:rerun-if-changed=csrc/{file}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let mut generator = libtorch_cpp(libtorch);
    generator.file("csrc/generator.cpp").opt_level(3);
    let mut units = vec![("tch_dda_generator".to_string(), generator, out.clone())];
    if cpu_kernels {
        for file in ["kernels.cpp", "rows.h", "rows_isa.cpp"] {
            println!("cargo:rerun-if-changed=csrc/{file}");
        }
        let x86_64 = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64");
        let mut kernels = libtorch_cpp(libtorch);
        kernels
            .file("csrc/kernels.cpp")
            // The strided fallbacks use rows.h's arithmetic too: no contraction there either.
            .flag("-ffp-contract=off")
            .opt_level(3);
        if x86_64 {
            kernels.define("DDA_HAVE_AVX2", None);
        }
        units.push(("tch_dda_kernels".to_string(), kernels, out.clone()));
        let mut sets = vec![("base", vec![])];
        if x86_64 {
            sets.push(("avx2", vec!["-mavx2"]));
        }
        for (isa, flags) in sets {
            let mut rows = cc::Build::new();
            rows.cpp(true)
                .file("csrc/rows_isa.cpp")
                .out_dir(out.join(isa))
                .flag("-std=c++17")
                .define("DDA_ISA", isa)
                // Written for the vectoriser: `omp simd` without OpenMP's runtime, and -O3 in
                // every profile (tests run the same code at the same speed).
                // -fno-trapping-math lets it if-convert (no FP exception flags are read;
                // values are unchanged); no contraction into fused multiply-adds, so every
                // instruction set (and every compiler's default) gives the same values as
                // libtorch's separate operations.
                .flag_if_supported("-fopenmp-simd")
                .flag_if_supported("-fno-trapping-math")
                .flag("-ffp-contract=off")
                .opt_level(3)
                .warnings(false);
            for flag in flags {
                rows.flag(flag);
            }
            units.push((format!("tch_dda_rows_{isa}"), rows, out.join(isa)));
        }
    }
    let objects: Vec<Vec<PathBuf>> = std::thread::scope(|s| {
        let threads: Vec<_> = units
            .iter()
            .map(|(_, build, _)| s.spawn(|| build.compile_intermediates()))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("a compiler thread panicked"))
            .collect()
    });
    for ((name, _, dir), objects) in units.iter().zip(objects) {
        cc::Build::new()
            .cpp(true)
            .out_dir(dir)
            .objects(objects)
            .compile(name);
    }
}

/// The CPU install of the PyPI wheel ships `libtorch_cuda.so` without the CUDA
/// libraries it needs; link it only when cuBLAS is there too (wheel or zip layout).
fn cuda_runtime_present(lib: &Path) -> bool {
    let has_cublas = |dir: &Path| {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("libcublas"))
            })
            .unwrap_or(false)
    };
    if has_cublas(lib) {
        return true;
    }
    let nvidia = lib.join("../../nvidia");
    std::fs::read_dir(nvidia)
        .map(|entries| entries.flatten().any(|e| has_cublas(&e.path().join("lib"))))
        .unwrap_or(false)
}

/// The per-operator tests of tests/operators.rs, written to `$OUT_DIR/operator_tests.rs`:
/// a module per Kornia class of the parity fixtures (`tests/fixtures/*.safetensors`, read
/// from their `kornia_class`), and in it one test per fixture and check, so that
/// `cargo test random_rotation` runs everything about RandomRotation and a failure names
/// the operator and the fixture. A new fixture brings its tests; nothing is listed by hand.
/// Without the fixtures (a packaged crate), the file is empty.
fn generate_operator_tests() {
    const CHECKS: [&str; 5] = [
        "parity",
        "same_draw",
        "gradcheck",
        "reproducible",
        "bad_input",
    ];
    println!("cargo:rerun-if-changed=tests/fixtures");
    let dir = Path::new("tests/fixtures");
    let mut by_class: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "safetensors") {
                continue;
            }
            let stem = path
                .file_stem()
                .expect("a file")
                .to_string_lossy()
                .to_string();
            let (class, seeded) = fixture_class(&path)
                .unwrap_or_else(|| panic!("{}: no kornia_class in its metadata", path.display()));
            by_class.entry(class).or_default().push((stem, seeded));
        }
    }
    let mut out = String::from("// Generated by build.rs from tests/fixtures: do not edit.\n");
    for (class, mut names) in by_class {
        names.sort();
        out += &format!("\n/// Kornia's `{class}`.\nmod {} {{\n", snake(&class));
        for (name, seeded) in &names {
            // A same-seed draw where the fixture recorded one.
            for check in CHECKS.iter().filter(|&&c| *seeded || c != "same_draw") {
                out += &format!(
                    "    #[test]\n    fn {name}_{check}() {{\n        super::{check}(\"{name}\");\n    }}\n"
                );
            }
        }
        out += "}\n";
    }
    let target =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("operator_tests.rs");
    // Written only when it changes, so that the tests recompile only then.
    if std::fs::read_to_string(&target).ok().as_deref() != Some(out.as_str()) {
        std::fs::write(&target, out).expect("OUT_DIR is writable");
    }
}

/// The `kornia_class` of a fixture's safetensors metadata (the JSON header after its 8-byte
/// length), and whether it holds a draw after a seed (`seedparam.` tensors).
fn fixture_class(path: &Path) -> Option<(String, bool)> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).ok()?;
    let mut header = vec![0u8; usize::try_from(u64::from_le_bytes(len)).ok()?.min(1 << 24)];
    file.read_exact(&mut header).ok()?;
    let header = String::from_utf8(header).ok()?;
    let key = "\"kornia_class\":\"";
    let start = header.find(key)? + key.len();
    let end = start + header[start..].find('"')?;
    Some((
        header[start..end].to_string(),
        header.contains("\"seedparam."),
    ))
}

/// `RandomRGBShift` -> `random_rgb_shift`, `RandomFlip3D` -> `random_flip3d`; Kornia's `V2`
/// suffix dropped.
fn snake(class: &str) -> String {
    let class = class.strip_suffix("V2").unwrap_or(class);
    let chars: Vec<char> = class.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase() || (prev.is_ascii_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}
