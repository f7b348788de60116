#!/usr/bin/env bash
# Times Kornia 0.9 on the paper pipeline (scripts/bench_kornia.py), with the same Python that makes the
# fixtures (scripts/gen_fixtures.sh explains it; it installs torch 2.13.0 + kornia 0.9.0 if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
FIXTURES_SCRIPT=scripts/bench_kornia.py exec bash scripts/gen_fixtures.sh "$@"
