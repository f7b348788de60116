#!/usr/bin/env bash
# Times Kornia 0.9, torchvision v2 and Albumentations on the CPU (scripts/bench_peers.py; args are passed on) and
# writes out/bench/python.json. Python: .venv-fixtures (see scripts/gen_fixtures.sh) with torch 2.13.0 and kornia
# 0.9.0; the peers are installed there if missing, torchvision --no-deps and the rest pinned to the torch/numpy/kornia
# already there so that pip replaces none of them.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv-fixtures/bin/python; [ -x "$py" ] || python3 -m venv .venv-fixtures
"$py" -c 'import torch' 2>/dev/null || "$py" -m pip install -q torch==2.13.0
"$py" -c 'import kornia; assert kornia.__version__ == "0.9.0"' 2>/dev/null || "$py" -m pip install -q \
  --no-deps kornia==0.9.0 kornia-rs typing-extensions sympy networkx jinja2 fsspec filelock numpy mpmath markupsafe
if ! NO_ALBUMENTATIONS_UPDATE=1 "$py" -c 'import torchvision, albumentations, cv2, PIL
assert torchvision.__version__.split("+")[0] == "0.28.0" and albumentations.__version__ == "2.0.8"' 2>/dev/null; then
  pins=$(mktemp)
  "$py" -m pip freeze | grep -iE '^(torch|numpy|kornia)==' >"$pins"
  "$py" -m pip install -q --no-deps torchvision==0.28.0
  "$py" -m pip install -q -c "$pins" pillow albumentations==2.0.8 opencv-python-headless==5.0.0.93
  rm -f "$pins"
fi
export NO_ALBUMENTATIONS_UPDATE=1
exec "$py" scripts/bench_peers.py "$@"
