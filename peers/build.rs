//! The run-time path to libtorch for this crate's binaries (the README's build.rs for
//! dependents of tch-dda).
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_DDA_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
