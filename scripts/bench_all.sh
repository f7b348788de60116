#!/usr/bin/env bash
# The one benchmark command: tch-dda against the pipelines a user would pick instead, on this
# machine, in one run, one after the other (nothing else should run meanwhile).
#   1. cargo bench --bench paper_pipeline: the paper pipeline at four shapes, exact mode, fast
#      mode and the libtorch floor, forward and forward + backward (criterion);
#   2. cargo bench --bench families: one operator per family (benches/families.json) at
#      64x3x224x224, forward and forward + backward (criterion);
#   3. cargo bench -p tch-dda-peers: kornia-rs per image over rayon (uint8, float32) and the
#      per-sample tch loop, forward (criterion);
#   4. scripts/bench_peers.sh: Kornia 0.9 (the same families and the paper pipeline),
#      torchvision v2 (batch and per image) and Albumentations (uint8 and float32, per image);
#   5. bench_report: docs/bench/report.md (the tables) and docs/bench/report.png (the plot).
# About 20 minutes on 2 cores. Arguments are passed to bench_peers.py (e.g. --runs 10).
#
# Every process (Rust and Python) runs with glibc's allocator set as tch_dda::tune_cpu_allocator
# sets it (large blocks kept in the heap, the heap kept at its size): otherwise whether an
# image-sized tensor costs page faults depends on what the process allocated before, which
# differs between the Rust and the Python processes and from one benchmark to the next, and a
# comparison measures that instead of the operators. TCH_DDA_BENCH_ALLOCATOR=default keeps
# glibc's defaults instead. (examples/floor times the paper pipeline both ways.)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${LIBTORCH:-}" ]; then
  bash scripts/install_libtorch.sh >/dev/null
fi
if [ "${TCH_DDA_BENCH_ALLOCATOR:-tuned}" != default ]; then
  export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824
fi
# Stale results of benchmarks renamed or removed since would reach the report.
rm -rf target/criterion/paper_pipeline target/criterion/family target/criterion/peers
cargo bench --bench paper_pipeline -- 'paper_pipeline/'
cargo bench --bench families
cargo bench -p tch-dda-peers --bench rust_peers
bash scripts/bench_peers.sh --out out/bench/python.json "$@"
cargo run --release -p tch-dda-peers --bin bench_report -- --python out/bench/python.json \
  --criterion target/criterion --out docs/bench
