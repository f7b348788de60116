#!/usr/bin/env bash
# Builds and runs a throwaway crate that depends on tch-dda and tch-dda-data (path
# dependencies), the way a user's crate would: outside this repository (so none of its .cargo/config.toml applies),
# with the README's build.rs one-liner for the run-time library path, and LIBTORCH set to
# this checkout's libtorch. It shares this repository's target dir and Cargo.lock, and
# names tch-dda's dev-dependencies and test profile as its own (features and settings unify
# as in cargo test), so it compiles only itself. Passes when the binary starts, runs a
# pipeline, and loads a folder of PNG files through tch-dda-data's loader and
# augments the batch.
#
#   bash scripts/check_dependent.sh        (./run test runs it after cargo test)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
export LIBTORCH="${LIBTORCH:-$repo/.libtorch/torch}"
case "$LIBTORCH" in /*) ;; *) LIBTORCH="$repo/$LIBTORCH" ;; esac
dir="$(mktemp -d "${TMPDIR:-/tmp}/tch-dda-dependent.XXXXXX")"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<EOF
[package]
name = "dependent"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
tch-dda = { path = "$repo" }
tch-dda-data = { path = "$repo/data" }
# And tch-dda-data's dev-dependencies that tch-dda's lack (its decoder bench's).
$(sed -n '/^\[dev-dependencies\]/,/^\[/{/^\[/d;/^anyhow/d;p}' "$repo/data/Cargo.toml")
tch = ">=0.24, <0.27"
# A user's crate has dependencies of its own: here tch-dda's dev-dependencies, so that
# features unify as in ./run test's build, whose tch, torch-sys and tch-dda this reuses.
$(sed -n '/^\[dev-dependencies\]/,/^\[/{/^\[/d;p}' "$repo/Cargo.toml")

[workspace]

# The profile ./run test builds tch-dda's dependencies with (this repository's Cargo.toml),
# so that this build reuses them.
$(awk '/^\[/ { keep = ($0 ~ /^\[profile\.test/) } keep' "$repo/Cargo.toml")
EOF
# The README's build.rs for dependents, as written there.
cat > "$dir/build.rs" <<'EOF'
fn main() {
    // tch-dda says where libtorch is; embed it so the binary starts without LD_LIBRARY_PATH.
    if let Ok(lib) = std::env::var("DEP_TCH_DDA_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
EOF
cat > "$dir/src/main.rs" <<'EOF'
use tch::{nn, Device, Kind, Tensor};
use tch_dda::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let vs = nn::VarStore::new(Device::Cpu);
    let aug = Sequential::new(vs.root() / "aug", [
        AugSpec::RandomAffine(RandomAffineConfig::degrees(30.0).p(1.0)),
        AugSpec::ColorJitter(JitterConfig { learnable: Learnable::only(["brightness"]), ..JitterConfig::new(0.2, 0.2, 0.0, 0.0) }),
    ])?;
    let x = Tensor::rand([2, 3, 16, 16], (Kind::Float, Device::Cpu));
    let y = aug.f_forward(&x)?;
    // A preset and Kornia's custom-policy JSON, as the README writes them.
    let ra = RandAugment::new(vs.root() / "ra", RandAugmentConfig::new(2, 9.0))?;
    let y = ra.f_forward(&y.clamp(0.0, 1.0))?;
    let custom: AugSpec = tch_dda::serde_json::from_str(
        r#"{"AutoAugment": {"policy": [[["rotate", 0.6, 9], ["equalize", 0.8, null]]]}}"#,
    )?;
    let y = custom.build(&vs.root())?.f_forward(&y)?;
    println!("dependent ok: {:?}", y.size());

    // From files: two class folders of PNGs through tch-dda-data's loader, then the pipeline.
    let root = std::env::temp_dir().join(format!("tch-dda-dependent-{}", std::process::id()));
    for (class, k) in [("cats", 0), ("cats", 1), ("dogs", 0)] {
        std::fs::create_dir_all(root.join(class))?;
        let img = Tensor::randint(256, [3, 20 + k, 24], (Kind::Uint8, Device::Cpu));
        tch::vision::image::save(&img, root.join(class).join(format!("{k}.png")))?;
    }
    use tch_dda_data::{Dataset, Loader, LoaderConfig, Resize};
    let loader = Loader::new(Dataset::image_folder(&root)?, LoaderConfig {
        batch_size: 3,
        threads: 2,
        resize: Resize::Exact { height: 16, width: 16 },
        ..Default::default()
    })?;
    for batch in loader.epoch(0)? {
        let batch = batch?;
        let y = aug.f_forward(&(batch.images.to_kind(Kind::Float) / 255.0))?;
        println!("data ok: {:?}, labels {:?}", y.size(), batch.labels.size());
    }
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
EOF
cp "$repo/Cargo.lock" "$dir/Cargo.lock"
cd "$dir"
out="$(CARGO_TARGET_DIR="$repo/target" cargo run --quiet --offline --profile test 2>&1)" || { echo "$out" >&2; exit 1; }
echo "$out"
case "$out" in *"dependent ok: [2, 3, 16, 16]"*"data ok: [3, 3, 16, 16], labels [3]"*) ;; *) echo "check_dependent: unexpected output" >&2; exit 1 ;; esac
