#!/usr/bin/env bash
# Runs the CUDA bundle (scripts/device_bundle.sh) on a GPU machine with PyTorch but no Rust
# toolchain, in one call, and stops itself at a time budget:
#   1. every test binary with CUDA on: the per-device tests on the CPU and on CUDA, the
#      fixture replays (Kornia parity) and the float64 gradchecks on CUDA
#      (TCH_DDA_TEST_DEVICE=cuda), and the host-sync check (every registered operator's
#      forward under CUDA's sync debug mode, in tests/behaviour.rs);
#   2. the paper pipeline on CUDA (examples/device_bench: exact, fast and the libtorch floor,
#      forward and forward + backward, five shapes; then Table 1, a ResNet18 step at 224²,
#      batch 512, with and without the pipeline in the graph), and Kornia 0.9 and
#      torchvision v2 with the same protocol (py/bench_device.py);
#      and one operator per family (benches/families.json) against Kornia; the volume
#      pipeline and MixUp + CutMix (the bench paper_pipeline's CUDA groups, criterion)
#      against Kornia (py/bench_kornia.py);
#   3. the report (py/device_report.py).
#
#   bash run_on_device.sh [--budget SECONDS] [--results DIR] [--tests NAME,...] [--skip-tests]
#                         [--skip-bench] [--families-only] [--dry-run]
#
# --budget: seconds for the whole run (default 420); the tests get 55% of it, the rest goes
#   to the benchmarks; what is still running at its share's end is stopped and reported.
# --results: where the results go (default $OUT when set, else ./device-results): summary.md,
#   results.md, results.png, ours.json, peers.json, tests.log, failures.log (at most 8 files,
#   one folder: what a device call brings back).
# --tests: only these test binaries (rerun what failed).
# --families-only: of the benchmarks, only the per-family figures.
# --dry-run: on a CPU machine (libtorch from LIBTORCH_LIB or the Python torch): the per-device
#   CUDA tests skipped, fixtures and gradchecks on the CPU, the benchmarks at two shapes on
#   the CPU with few runs, no Table 1.
set -uo pipefail
bundle=$(cd "$(dirname "$0")" && pwd)
budget=420
results=${OUT:-$PWD/device-results}
only=""
dry_run=0
skip_tests=0
skip_bench=0
families_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) budget=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --tests) only=$2; shift 2 ;;
    --skip-tests) skip_tests=1; shift ;;
    --skip-bench) skip_bench=1; shift ;;
    --families-only) families_only=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    *) echo "usage: run_on_device.sh [--budget S] [--results DIR] [--tests A,B] [--skip-tests] [--skip-bench] [--families-only] [--dry-run]" >&2; exit 2 ;;
  esac
done
start=$(date +%s)
tests_end=$((start + budget * 55 / 100))
end=$((start + budget))
left() { echo $(($1 - $(date +%s))); }
mkdir -p "$results"
summary="$results/summary.md"
: >"$results/tests.log"
: >"$results/failures.log"
: >"$results/bench.log"
rm -f "$results/ours.json" "$results/peers.json" "$results/results.md" "$results/results.png"
say() { echo "$*" | tee -a "$summary"; }

# The binaries, packed by device_bundle.sh.
if [ ! -d "$bundle/bin" ]; then
  python3 -c '
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    t.extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
' "$bundle/bin.tar.xz" "$bundle" || { echo "run_on_device: cannot unpack bin.tar.xz" >&2; exit 1; }
fi

# The binaries read their data under the path they were built in (CARGO_MANIFEST_DIR):
# point it at the bundle's copy.
build_root=$(cat "$bundle/build_root")
if [ ! -e "$build_root" ] || [ -L "$build_root" ]; then
  mkdir -p "$(dirname "$build_root")"
  ln -sfn "$bundle/root" "$build_root"
fi

# libtorch: the machine's own (its Python torch and the NVIDIA libraries beside it).
if [ -n "${LIBTORCH_LIB:-}" ]; then
  lib=$LIBTORCH_LIB
else
  lib=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
fi
nvidia=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]) + "/nvidia")' 2>/dev/null || true)
extra=""
if [ -n "$nvidia" ]; then
  extra=$(ls -d "$nvidia"/*/lib "$nvidia"/cu*/lib 2>/dev/null | sort -u | tr '\n' ':')
fi
export LD_LIBRARY_PATH="$lib:$extra${LD_LIBRARY_PATH:-}"

{
  echo "# tch-dda on $(hostname): $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "bundle commit $(cat "$bundle/commit" 2>/dev/null), budget ${budget} s$([ $dry_run = 1 ] && echo ', dry run (CPU)')"
  echo
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/GPU: /'
  python3 -c 'import torch; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, available {torch.cuda.is_available()}")' 2>&1
  echo
} >"$summary"
cat "$summary"

# Kornia 0.9 and kornia-rs from the bundle (no network there).
if python3 -c 'import kornia' 2>/dev/null; then
  say "Kornia: the machine's own ($(python3 -c 'import kornia; print(kornia.__version__)'))"
elif [ -d "$bundle/whl" ] && ls "$bundle"/whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/tch-dda-site "$bundle"/whl/*.whl >/dev/null 2>&1 &&
    export PYTHONPATH=/tmp/tch-dda-site${PYTHONPATH:+:$PYTHONPATH} ||
    say "Kornia wheels did not install: Kornia is left out"
fi

# 1. The tests.
if [ $skip_tests = 0 ]; then
  say "## Tests"
  say ""
  # --show-output: the PARITY, GRADCHECK and HOSTSYNC lines of passing tests too.
  # reliability's sizes_that_do_not_fit_in_memory_are_errors_not_panics is the CPU's and
  # assumes the host refuses a 480 GB allocation; the GPU machine (128 GB) took over a
  # minute in it without an answer, so it is left out there.
  if [ $dry_run = 1 ]; then
    export TCH_DDA_TEST_DEVICE=cpu
    skip=(--show-output --skip ::cuda --skip no_forward_waits_for_the_device)
  else
    export TCH_DDA_TEST_DEVICE=cuda
    skip=(--show-output --skip sizes_that_do_not_fit_in_memory_are_errors_not_panics)
  fi
  say "| binary | passed | failed | ignored | seconds | status |"
  say "|---|---|---|---|---|---|"
  failed_bins=()
  for bin in "$bundle"/bin/tests/*; do
    name=$(basename "$bin" | sed 's/-[0-9a-f]\{16\}$//')
    if [ -n "$only" ] && ! echo ",$only," | grep -q ",$name,"; then
      continue
    fi
    t=$(left $tests_end)
    if [ "$t" -le 5 ]; then
      say "| $name | – | – | – | – | not run (the tests' time is up) |"
      failed_bins+=("$name")
      continue
    fi
    log="$results/tmp-$name.log"
    s=$(date +%s)
    (cd "$bundle/root" && timeout --kill-after=5 "$t" "$bin" "${skip[@]}" >"$log" 2>&1)
    rc=$?
    secs=$(($(date +%s) - s))
    passed=$(grep -o '[0-9]* passed' "$log" | awk '{s+=$1} END {print s+0}')
    nfail=$(grep -o '[0-9]* failed' "$log" | awk '{s+=$1} END {print s+0}')
    ignored=$(grep -o '[0-9]* ignored' "$log" | awk '{s+=$1} END {print s+0}')
    case $rc in
      0) status=ok ;;
      124 | 137) status="stopped at the time budget" ;;
      *) status="exit $rc" ;;
    esac
    say "| $name | $passed | $nfail | $ignored | $secs | $status |"
    { echo "===== $name (exit $rc, ${secs} s)"; cat "$log"; } >>"$results/tests.log"
    if [ $rc != 0 ]; then
      failed_bins+=("$name")
      { echo "===== $name (exit $rc)"; grep -A30 -- "---- \|^failures:\|panicked\|error" "$log" | head -400; } >>"$results/failures.log"
    fi
    rm -f "$log"
  done
  say ""
  if [ ${#failed_bins[@]} = 0 ]; then
    say "All test binaries passed."
  else
    say "Failed or not run: ${failed_bins[*]} (rerun with --tests $(IFS=,; echo "${failed_bins[*]}"))."
  fi
  say ""
  # The host-sync check's lines (tests/behaviour.rs prints one per operator).
  if grep -q '^HOSTSYNC' "$results/tests.log"; then
    waits=$(grep -c '^HOSTSYNC.*waits' "$results/tests.log")
    say "Host-sync check: $(grep -c '^HOSTSYNC' "$results/tests.log") forwards under CUDA's sync debug mode, $waits waited for the device."
    grep '^HOSTSYNC.*waits' "$results/tests.log" | sed 's/^/    /' | tee -a "$summary"
    say ""
  fi
fi

# 2. The benchmarks.
if [ $skip_bench = 0 ]; then
  say "## Benchmarks"
  say ""
  args=(--families "$bundle/root/benches/families.json")
  if [ $dry_run = 1 ]; then
    args+=(--device cpu --runs 3 --shapes quick)
    ours_args=(--no-table1)
  else
    args+=(--device cuda --runs 20 --shapes all)
    ours_args=(--steps 10)
  fi
  py_args=()
  if [ $families_only = 1 ]; then
    ours_args=(--no-table1 --no-pipeline)
    py_args=(--no-pipeline)
  fi
  t=$(left $end)
  if [ "$t" -gt 10 ]; then
    (cd "$bundle/root" && timeout --kill-after=5 $((t * 6 / 10)) "$bundle/bin/examples/device_bench" \
      "${args[@]}" "${ours_args[@]}" --out "$results/ours.json") >>"$results/bench.log" 2>&1 ||
      say "device_bench: exit $? (see bench.log)"
  fi
  t=$(left $end)
  if [ "$t" -gt 10 ]; then
    timeout --kill-after=5 $((t - 5)) python3 "$bundle/py/bench_device.py" "${args[@]}" "${py_args[@]}" \
      --out "$results/peers.json" >>"$results/bench.log" 2>&1 ||
      say "bench_device.py: exit $? (see bench.log)"
  fi
  # Volumes and mixing: criterion's groups on the device, then Kornia's (same pipelines).
  if [ $families_only = 0 ]; then
    if [ $dry_run = 1 ]; then
      groups='^(volume_pipeline|mix)/'
      kornia_args=(--device cpu --runs 2)
    else
      groups='^(volume_pipeline_cuda|mix_cuda)/'
      kornia_args=(--device cuda --runs 15)
    fi
    t=$(left $end)
    if [ "$t" -gt 10 ]; then
      (cd "$bundle/root" && timeout --kill-after=5 $((t * 6 / 10)) "$bundle/bin/benches/paper_pipeline" \
        --bench "$groups") >"$results/criterion.tmp" 2>&1 || say "paper_pipeline bench: exit $? (see bench.log)"
      cat "$results/criterion.tmp" >>"$results/bench.log"
    fi
    t=$(left $end)
    if [ "$t" -gt 10 ]; then
      timeout --kill-after=5 $((t - 5)) python3 "$bundle/py/bench_kornia.py" "${kornia_args[@]}" \
        >"$results/kornia.tmp" 2>&1 || say "bench_kornia.py: exit $? (see bench.log)"
      cat "$results/kornia.tmp" >>"$results/bench.log"
    fi
    {
      echo "## Volumes and mixing"
      echo
      echo "tch-dda (criterion: [low median high] of its samples):"
      echo
      # criterion puts a long name on a line of its own, above its time.
      awk '/time:/ { if ($1 == "time:") print "    " prev " " $0; else print "    " $0 } { prev = $1 }' \
        "$results/criterion.tmp" 2>/dev/null
      echo
      echo "Kornia (median of synchronised calls):"
      echo
      grep -E '^(volume_pipeline|mix)/' "$results/kornia.tmp" 2>/dev/null | sed 's/^/    /'
      echo
    } >>"$summary"
    rm -f "$results/criterion.tmp" "$results/kornia.tmp"
  fi
  python3 "$bundle/py/device_report.py" --ours "$results/ours.json" --peers "$results/peers.json" \
    --out "$results" >/dev/null 2>>"$results/bench.log" || say "device_report.py failed (see bench.log)"
  [ -f "$results/results.md" ] && cat "$results/results.md" >>"$summary"
  cat "$results/bench.log"
fi
say ""
say "Took $(($(date +%s) - start)) s of a ${budget} s budget."
