#!/usr/bin/env bash
# Installs libtorch for tch-dda into .libtorch/ (ignored by git), once.
#
# The version is the PyPI torch wheel that matches the tch release pinned in
# Cargo.lock (tch 0.26 -> torch 2.13.0, tch 0.24 -> torch 2.11.0).
#   CPU (default): the wheel with --no-deps, plus the CUDA runtime and CUPTI
#                  wheels that libtorch_cpu.so links against, at the versions the
#                  wheel pins (~550 MB for 2.13).
#   CUDA:          TCH_DDA_CUDA=1 installs the wheel with all its dependencies.
# Set LIBTORCH to an existing libtorch to skip this script entirely.
# Prints the libtorch directory on its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.libtorch"

tch_version=$(awk '/^name = "tch"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' "$root/Cargo.lock" 2>/dev/null || true)
case "$tch_version" in
  0.26.* | "") torch=2.13.0 ;;
  0.24.*) torch=2.11.0 ;;
  *) echo "install_libtorch.sh: no known torch wheel for tch $tch_version (known: 0.24, 0.26)" >&2; exit 1 ;;
esac
flavour=cpu
[ "${TCH_DDA_CUDA:-0}" = 1 ] && flavour=cuda
stamp="$dest/installed-$torch-$flavour"

if [ ! -f "$stamp" ]; then
  echo "installing torch $torch ($flavour) into $dest (one time, ~550 MB for CPU)" >&2
  rm -rf "$dest"
  python3 -m venv "$dest/venv"
  pip="$dest/venv/bin/pip"
  "$pip" install --quiet --disable-pip-version-check --upgrade pip >&2 || true
  if [ "$flavour" = cuda ]; then
    "$pip" install --quiet --disable-pip-version-check "torch==$torch" >&2
  else
    "$pip" install --quiet --disable-pip-version-check --no-deps "torch==$torch" >&2
    # libtorch_cpu.so links the CUDA runtime and CUPTI: install the versions this torch
    # wheel pins (its cuda-toolkit requirement), in a second call since --no-deps would
    # drop the extras' packages.
    site=$("$dest/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    pin=$(sed -n 's/^Requires-Dist: cuda-toolkit\[[^]]*\]\(==[0-9.]*\).*/\1/p' "$site"/torch-"$torch".dist-info/METADATA | head -n 1)
    [ -n "$pin" ] || { echo "install_libtorch.sh: no cuda-toolkit pin in torch $torch's metadata" >&2; exit 1; }
    "$pip" install --quiet --disable-pip-version-check "cuda-toolkit[cudart,cupti]$pin" >"$dest/pip.log" 2>&1 \
      || { cat "$dest/pip.log" >&2; exit 1; }
  fi
  site=$("$dest/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  # A fixed path for .cargo/config.toml (LIBTORCH), whatever the python version.
  ln -sfn "$site/torch" "$dest/torch"
  touch "$stamp"
fi
echo "$dest/torch"
