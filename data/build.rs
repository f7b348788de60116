fn main() {
    // tch-dda says where libtorch is (its `links` metadata): embed it, so that the tests,
    // examples and benches start without LD_LIBRARY_PATH (as the README tells dependents).
    if let Ok(lib) = std::env::var("DEP_TCH_DDA_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_DDA_LIBTORCH_LIB");
}
