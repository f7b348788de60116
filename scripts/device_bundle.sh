#!/usr/bin/env bash
# Builds the CUDA bundle on this (CPU) machine: everything a GPU machine with PyTorch but no
# Rust toolchain needs to run the crate's tests and benchmarks on CUDA in one call of
# scripts/run_on_device.sh (docs/performance.md, CUDA, says how to run there).
#
#   bash scripts/device_bundle.sh [--out DIR] [--dry-run]
#
# - libtorch: the PyPI torch 2.11.0 wheel (no dependencies: the CUDA libraries are the GPU
#   machine's own), which tch 0.24 is built for; kept in $TCH_DDA_DEVICE_ROOT/t211.
# - the build: a scratch copy of this checkout at $TCH_DDA_DEVICE_ROOT/src (main's Cargo.lock
#   is left alone) with `cargo update -p tch --precise 0.24.0`, built in release with
#   TCH_DDA_LINK_CUDA=1 (build.rs then links libtorch_cuda.so as NEEDED and sets the
#   `tch_dda_cuda` cfg, so the per-device tests run on CUDA too) and
#   --allow-shlib-undefined (the CUDA libraries libtorch_cuda.so needs are not here).
#   The target folder stays there, so the next build is incremental.
# - the bundle (DIR, default out/device): bin.tar.xz (every integration test binary, the
#   bench paper_pipeline and the examples device_bench, floor, presets, fused_geometry and
#   annotations, stripped; xz
#   shares what the binaries have in common: ~127 MB packs to ~11 MB), root/ (the files the
#   binaries read at run time: fixtures, assets, README.md, docs/, src/ for tests/allocations.rs, benches/families.json),
#   whl/ (Kornia 0.9 and kornia-rs for Python 3.12), py/ (the Python timings and the
#   report) and run_on_device.sh. The binaries read their data under the build root's path
#   (cargo's CARGO_MANIFEST_DIR), which run_on_device.sh links to root/ on the GPU machine.
#   Of the criterion benches, paper_pipeline (it has CUDA groups; run_on_device.sh runs its
#   volume and mixing ones) is in, families (the CPU's) is not: device_bench times the
#   families on the device.
# --dry-run: then runs `run_on_device.sh --dry-run` here (on the CPU: the CUDA steps skipped;
#   results in out/device-results).
#
# Prints how long it took and how big the bundle is; fails over 60 MB (a device call
# carries 64 MiB at most).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/out/device"
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    *) echo "usage: device_bundle.sh [--out DIR] [--dry-run]" >&2; exit 2 ;;
  esac
done
start=$(date +%s)
# A fixed path: the binaries carry it (CARGO_MANIFEST_DIR), run_on_device.sh recreates it.
root=${TCH_DDA_DEVICE_ROOT:-/tmp/tch-dda-device}
torch=2.11.0
tch=0.24.0
mkdir -p "$root"

# 1. libtorch 2.11 (the wheel alone, ~1.2 GB unpacked; once).
if [ ! -f "$root/t211/installed-$torch" ]; then
  echo "device_bundle: installing torch $torch (no dependencies) into $root/t211" >&2
  rm -rf "$root/t211"
  python3 -m venv "$root/t211"
  "$root/t211/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "torch==$torch" >&2
  touch "$root/t211/installed-$torch"
fi
libtorch=$("$root/t211/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/torch
[ -f "$libtorch/lib/libtorch_cuda.so" ] || { echo "device_bundle: no libtorch_cuda.so in $libtorch" >&2; exit 1; }

# 2. The scratch copy: this checkout's tracked and untracked files (not target/, .libtorch/,
#    out/), with tch 0.24 in its own lock. Laid anew each time (a file git no longer lists
#    must not build); a file whose content is unchanged keeps its previous copy's time, so
#    that cargo rebuilds only what changed (tar's own times are the checkout's, which can be
#    older than the last build: cargo would take a changed file for an unchanged one).
src="$root/src"
rm -rf "$src.new"
mkdir -p "$src.new" "$src"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$repo" && tar --null -T - -cf -) | tar -xmf - -C "$src.new"
python3 -c '
import filecmp, os, shutil, sys
old, new = sys.argv[1], sys.argv[2]
for top, _, files in os.walk(new):
    for f in files:
        n = os.path.join(top, f)
        o = os.path.join(old, os.path.relpath(n, new))
        if os.path.isfile(o) and filecmp.cmp(o, n, shallow=False):
            shutil.copystat(o, n)
' "$src" "$src.new"
rm -rf "$src"
mv "$src.new" "$src"
cp -p "$repo/Cargo.lock" "$src/Cargo.lock"
(cd "$src" && cargo update --quiet -p tch --precise "$tch")

# 3. The build: the integration tests and the examples, in release (one profile: the
#    dependencies are built once).
export LIBTORCH="$libtorch" TCH_DDA_LINK_CUDA=1 CARGO_TARGET_DIR="$root/target"
export RUSTFLAGS="-C link-arg=-Wl,--allow-shlib-undefined"
cd "$src"
examples="device_bench floor presets fused_geometry annotations"
cargo test --release --no-run --tests --message-format=json-render-diagnostics >"$root/build.json"
cargo build --release $(printf -- '--example %s ' $examples) --bench paper_pipeline \
  --message-format=json-render-diagnostics >>"$root/build.json"

# 4. The bundle.
rm -rf "$out"
mkdir -p "$out/bin/tests" "$out/bin/examples" "$out/bin/benches" "$out/root" "$out/whl" "$out/py"
python3 - "$root/build.json" "$out" $examples <<'EOF'
import json, shutil, sys
log, out, wanted = sys.argv[1], sys.argv[2], set(sys.argv[3:])
copied = []
for line in open(log):
    msg = json.loads(line)
    if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
        continue
    kinds, name, test = msg["target"]["kind"], msg["target"]["name"], msg["profile"]["test"]
    if kinds == ["test"]:
        dest = f"{out}/bin/tests/{name}"
    elif kinds == ["example"] and name in wanted and not test:
        dest = f"{out}/bin/examples/{name}"
    elif kinds == ["bench"]:  # built by `cargo build --bench`: profile.test is set
        dest = f"{out}/bin/benches/{name}"
    else:
        continue  # the library's unit tests: the CPU kernels', run by ./run test
    shutil.copy(msg["executable"], dest)
    copied.append(dest)
missing = wanted - {d.rsplit("/", 1)[1] for d in copied if "/examples/" in d}
if missing:
    sys.exit(f"device_bundle: examples not built: {sorted(missing)}")
print(f"device_bundle: {len(copied)} binaries", file=sys.stderr)
EOF
strip "$out"/bin/*/*
for f in "$out"/bin/*/*; do
  readelf -d "$f" | grep -q 'NEEDED.*libtorch_cuda.so' ||
    { echo "device_bundle: $f does not need libtorch_cuda.so (Cuda::is_available() would be false)" >&2; exit 1; }
done
unpacked=$(du -sm "$out/bin" | cut -f1)
(cd "$out" && tar -cf - bin | xz -9 -T0 >bin.tar.xz && rm -rf bin)
# The files the binaries read at run time, under the build root's layout.
(cd "$src" && cp -r --parents tests/fixtures assets benches/families.json README.md docs src "$out/root/")
cp "$repo/scripts/run_on_device.sh" "$out/"
cp "$repo/scripts/bench_device.py" "$repo/scripts/kornia_kwargs.py" "$repo/scripts/device_report.py" \
  "$repo/scripts/bench_kornia.py" "$out/py/"
echo "$src" >"$out/build_root"
git -C "$repo" describe --always --dirty >"$out/commit"
# Kornia 0.9 and kornia-rs for the GPU machine's Python 3.12 (it has no network).
if [ ! -f "$root/whl/.done" ]; then
  rm -rf "$root/whl"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$root/whl" \
    kornia==0.9.0 kornia-rs >&2
  touch "$root/whl/.done"
fi
cp "$root"/whl/*.whl "$out/whl/"

size=$(du -sm "$out" | cut -f1)
echo "device_bundle: $out, ${size} MB (binaries ${unpacked} MB unpacked), built in $(($(date +%s) - start)) s"
if [ "$size" -ge 60 ]; then
  echo "device_bundle: the bundle is ${size} MB, over 60 MB" >&2
  exit 1
fi
if [ "$dry_run" = 1 ]; then
  # The binaries need libtorch_cuda.so's libraries to load, even on a CPU: torch 2.11 with its
  # dependencies (~3 GB, once), and Kornia 0.9 and torchvision 0.26 (torch 2.11's) for the
  # Python timings, all in the scratch venv, whose python3 the dry run uses.
  if [ ! -f "$root/t211/dry-run-$torch" ]; then
    echo "device_bundle: installing torch $torch's CUDA libraries, Kornia and torchvision for the dry run" >&2
    "$root/t211/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$torch" \
      torchvision==0.26.0 kornia==0.9.0 >&2
    touch "$root/t211/dry-run-$torch"
  fi
  PATH="$root/t211/bin:$PATH" bash "$out/run_on_device.sh" --dry-run --results "$repo/out/device-results"
  # What the dry run unpacked would travel too: the bundle stays packed.
  rm -rf "$out/bin"
fi
