#!/usr/bin/env bash
# The long fuzz run: tests/fuzz.rs for a time budget instead of its fixed 2,000 cases.
#
#   bash scripts/fuzz.sh [SECONDS=600] [SEED=1]
#
# Prints the case count, how many configs, inputs and corrupted params were refused, and
# every failure (a panic, an untyped error, a non-finite output for a finite input, a
# replay that differs, a modified input) with the JSON and input that caused it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
seed="${2:-1}"
[ -n "${LIBTORCH:-}" ] || bash scripts/install_libtorch.sh >/dev/null
FUZZ_SECONDS="$seconds" FUZZ_SEED="$seed" cargo test --test fuzz -- --nocapture 2>&1 |
    grep -v '^\s*[0-9]*: \|^\s*at '
