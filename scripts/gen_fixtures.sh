#!/usr/bin/env bash
# Regenerates tests/fixtures/*.safetensors from Kornia 0.9.0 (scripts/gen_fixtures.py; args are passed on).
# Python: $FIXTURES_PY, else .libtorch/venv if its torch imports (it is the CUDA wheel installed --no-deps
# for libtorch, so usually not), else .venv-fixtures with the full PyPI torch 2.13.0 (~5 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${FIXTURES_PY:-.libtorch/venv/bin/python}
if ! "$py" -c 'import torch' 2>/dev/null; then
  py=.venv-fixtures/bin/python; [ -x "$py" ] || python3 -m venv .venv-fixtures
  "$py" -c 'import torch' 2>/dev/null || "$py" -m pip install -q torch==2.13.0; fi
"$py" -c 'import kornia, safetensors; assert kornia.__version__ == "0.9.0"' 2>/dev/null || "$py" -m pip install -q \
  --no-deps kornia==0.9.0 kornia-rs typing-extensions sympy networkx jinja2 fsspec filelock numpy safetensors mpmath markupsafe
exec "$py" "${FIXTURES_SCRIPT:-scripts/gen_fixtures.py}" "$@"
