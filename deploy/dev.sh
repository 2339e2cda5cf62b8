#!/usr/bin/env bash
# One entry point for a fresh Debian 12 / Raspberry Pi OS machine:
#   bash deploy/dev.sh run    set everything up, then run the appliance (demo without --config)
#   bash deploy/dev.sh test   set everything up, then lint, type-check and run the test suite
# Set-up is idempotent: system packages, the virtualenv (.venv), Python dependencies, the
# dashboard's type checker (node_modules) and the offline-built models are each skipped when
# already in place.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
venv="$root/.venv"

say() { printf 'edgewatch: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

system_packages() {
  # Keep in step with .ci/run, which installs the same list on CI machines.
  grep -v '^#' "$root/deploy/packages-dev.txt" | tr -s ' \n' ' '
}

installed_packages() {
  # Installed packages and the names they provide: NodeSource's nodejs provides (and conflicts
  # with) Debian's npm, which apt must then not be asked for.
  dpkg-query -W -f='${db:Status-Abbrev}|${Package}, ${Provides}\n' 2>/dev/null | awk -F'|' '
    $1 ~ /^.i/ {
      n = split($2, names, ",")
      for (i = 1; i <= n; i++) {
        sub(/^ +/, "", names[i]); sub(/ .*/, "", names[i])  # "npm (= 9.2)" -> "npm"
        if (names[i] != "") print names[i]
      }
    }'
}

install_system_packages() {
  local missing=() have
  have=$(installed_packages)
  for pkg in $(system_packages); do
    grep -qxF -- "$pkg" <<<"$have" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
    sudo=(sudo)
  fi
  say "installing system packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python() {
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$python is $("$python" -V 2>&1); edgewatch needs Python 3.11 or newer"
  local stamp="$venv/.installed"
  if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ -x "$venv/bin/edgewatch" ]; then
    return 0
  fi
  say "creating the virtualenv and installing dependencies"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -e ".[dev]"
  # On x86_64 the dev extras bring OpenVINO (detector.type: openvino) and, as its dependency,
  # openvino-telemetry, with which `import openvino` sends usage data to Intel: the app refuses
  # to import OpenVINO while it is there, and OpenVINO runs without it (deploy/requirements-openvino.in).
  "$venv/bin/pip" uninstall --quiet --yes openvino-telemetry 2>/dev/null || true
  touch "$stamp"
}

install_node_modules() {
  # tsc for the dashboard's ES modules: exactly the TypeScript package-lock.json pins, no
  # install scripts run. npm ci starts node_modules afresh, so the stamp inside it says done.
  local stamp="$root/node_modules/.installed"
  if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ -x "$root/node_modules/.bin/tsc" ]; then
    return 0
  fi
  command -v npm >/dev/null || die "npm is missing (Debian packages nodejs and npm, in deploy/packages-dev.txt)"
  say "installing the dashboard's type checker (npm ci)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  touch "$stamp"
}

build_models() {
  PYTHON="$python" bash "$root/models/build.sh"
}

build_demo() {
  # The demo camera: a person walking through a garage, made from real photos (once).
  local clip="$root/.cache/demo/walk.mp4"
  [ -f "$clip" ] && return 0
  say "making the demo camera's clip"
  mkdir -p "$(dirname "$clip")"
  "$venv/bin/python" -m app.demo.clip "$clip" --seconds 20 >/dev/null
}

setup() {
  install_system_packages
  install_python
  install_node_modules
  build_models
}

case "${1:-}" in
  run)
    shift
    setup
    build_demo
    exec "$venv/bin/edgewatch" run "$@"
    ;;
  test)
    shift
    setup
    "$venv/bin/ruff" check .
    "$venv/bin/ruff" format --check .
    "$venv/bin/mypy"
    "$root/node_modules/.bin/tsc" --noEmit -p tsconfig.json # the dashboard's modules (// @ts-check)
    exec "$venv/bin/pytest" "$@"
    ;;
  setup)
    setup
    ;;
  *)
    echo "usage: bash deploy/dev.sh run [--config FILE] | test [pytest args] | setup" >&2
    exit 2
    ;;
esac
