#!/usr/bin/env bash
# edgewatch installer for Raspberry Pi OS bookworm (arm64) and Debian 12 (amd64).
#
# Run as root from a checkout (or an unpacked release) of this repository:
#
#   sudo bash deploy/install.sh [--start] [--no-coral] [--max-frequency] [--no-openvino]
#   sudo bash deploy/install.sh --offline [--wheels DIR] [--no-systemd]   # pre-seeded image / chroot
#
# Every step checks what is already in place and changes only what differs, so the
# script is safe to run again (to upgrade from a newer checkout, or after a failure).
# It never overwrites /etc/edgewatch/config.yaml and never sets a password: the first
# password is chosen by the installer on first boot (see the end of this script).
#
# What goes where:
#   /opt/edgewatch/venv      the appliance's virtualenv (pip install of this checkout)
#   /opt/edgewatch/models    manifest.toml, labels/, build/ (+ coral/) — sha256-verified
#   /usr/share/edgewatch/models -> /opt/edgewatch/models (where the app looks by default)
#   /etc/edgewatch/config.yaml   0640 root:edgewatch, written only if absent
#   /var/lib/edgewatch       state (events, snapshots, credentials), owned by edgewatch
#   /etc/systemd/system/edgewatch.service, /etc/udev/rules.d/99-edgewatch-coral.rules,
#   /usr/lib/tmpfiles.d/edgewatch.conf
#   /opt/edgewatch/libexec/edgewatch-setup-code   the unit's root helper: the first-boot setup
#                            code on the HDMI console and in /root/edgewatch-setup-code
set -Eeuo pipefail
umask 022

readonly PROG="edgewatch install"
readonly USER_NAME="edgewatch"
readonly PREFIX="/opt/edgewatch"
readonly VENV="$PREFIX/venv"
readonly MODELS="$PREFIX/models"
readonly MODELS_LINK="/usr/share/edgewatch/models"
readonly CONF_DIR="/etc/edgewatch"
readonly CONFIG="$CONF_DIR/config.yaml"
readonly STATE_DIR="/var/lib/edgewatch"
readonly UNIT_DEST="/etc/systemd/system/edgewatch.service"
readonly UDEV_DEST="/etc/udev/rules.d/99-edgewatch-coral.rules"
readonly TMPFILES_DEST="/usr/lib/tmpfiles.d/edgewatch.conf"
readonly SETUP_HELPER_DEST="$PREFIX/libexec/edgewatch-setup-code" # the unit's ExecStartPost=/ExecStopPost=
readonly CORAL_KEY_URL="https://packages.cloud.google.com/apt/doc/apt-key.gpg"
# The key that signs packages.cloud.google.com/apt (Coral's repository is one of its suites):
# "Rapture Automatic Signing Key (cloud-rapture-signing-key-2022-03-07-08_01_01.pub)", rsa2048,
# created 2022-05-21, key id B53DC80D13EDEF05. Only this key from the downloaded file is
# trusted, and only for Coral's repository; the file also carries Google's Artifact Registry
# signer, which is not needed here. If Google rotates the key, the install stops at this step
# saying so: check the new fingerprint against Google's own statement before changing this.
readonly CORAL_KEY_FINGERPRINT="A362B822F6DEDC652817EA46B53DC80D13EDEF05"
readonly CORAL_KEYRING="/usr/share/keyrings/coral-edgetpu.gpg"
readonly CORAL_LIST="/etc/apt/sources.list.d/coral-edgetpu.list"
readonly CORAL_LINE="deb [signed-by=$CORAL_KEYRING] https://packages.cloud.google.com/apt coral-edgetpu-stable main"
readonly RUNTIME_PACKAGES=(python3 python3-venv ca-certificates)
# Every Python package the venv gets, pinned with its sha256 (runtime dependencies and what
# builds the wheel); pip installs with --require-hashes, so nothing unpinned comes in.
readonly LOCK="deploy/requirements.lock"
# On amd64 also the OpenVINO backend (detector.type: openvino), hash-pinned the same way,
# installed after $LOCK (which pins numpy for both) with --no-deps: that leaves out
# openvino-telemetry, with which `import openvino` would send usage data to Intel. Never on arm64.
readonly OPENVINO_LOCK="deploy/requirements-openvino.lock"

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
offline=0 coral=1 openvino=1 max_frequency=0 use_systemd=1 start=0 wheels=""
step="start"
changes=0
apt_updated=0
work=""

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
# die WHAT HOW: one clear line — what went wrong, then how to fix it.
die() {
  printf '%s: error: %s — %s\n' "$PROG" "$1" "$2" >&2
  exit 1
}
changed() {
  changes=$((changes + 1))
  say "$step: $*"
}
on_error() {
  local rc=$? line=$1
  printf '%s: error: step "%s" failed (line %s, exit %s) — see the messages above, fix the cause and run the installer again (every step is safe to repeat)\n' \
    "$PROG" "$step" "$line" "$rc" >&2
  exit "$rc"
}
cleanup() { if [ -n "$work" ]; then rm -rf -- "$work"; fi; }
trap 'on_error "$LINENO"' ERR
trap cleanup EXIT

usage() {
  cat <<'EOF'
usage: sudo bash deploy/install.sh [options]

  --start           start (or restart) the service when the installation is done
  --no-coral        do not install the Coral Edge TPU runtime (CPU detection only)
  --max-frequency   install libedgetpu1-max instead of libedgetpu1-std (faster, runs hot)
  --no-openvino     on amd64, leave out the OpenVINO backend (~180 MB; detector.type:
                    openvino then runs on the CPU with LiteRT). arm64 never gets it
  --offline         no network: skip apt, the Coral repository and PyPI
  --wheels DIR      with --offline: install the virtualenv from the wheels in DIR
                    (pip --no-index --find-links DIR, each checked against the hashes in
                    deploy/requirements.lock, on amd64 also requirements-openvino.lock);
                    without it the venv step is skipped
  --no-systemd      for a chroot or container: install the unit, udev and tmpfiles files
                    but call neither systemctl nor udevadm nor systemd-tmpfiles
  -h, --help        this help
EOF
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --start) start=1 ;;
      --no-coral) coral=0 ;;
      --max-frequency) max_frequency=1 ;;
      --no-openvino) openvino=0 ;;
      --offline) offline=1 ;;
      --wheels)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        wheels=$2
        shift
        ;;
      --wheels=*) wheels=${1#--wheels=} ;;
      --no-systemd) use_systemd=0 ;;
      -h | --help) usage; exit 0 ;;
      *)
        printf '%s: error: unknown option %s — see --help\n' "$PROG" "$1" >&2
        usage >&2
        exit 2
        ;;
    esac
    shift
  done
  if [ -n "$wheels" ]; then
    [ -d "$wheels" ] || die "--wheels $wheels is not a directory" "give the folder that holds the wheels (pip download --require-hashes --only-binary=:all: -r deploy/requirements.lock [-r deploy/requirements-openvino.lock on amd64] -d DIR)"
    wheels=$(cd "$wheels" && pwd)
    [ "$offline" -eq 1 ] || warn "--wheels is used only with --offline; installing from PyPI"
  fi
  if [ "$max_frequency" -eq 1 ] && [ "$coral" -eq 0 ]; then
    die "--max-frequency and --no-coral contradict each other" "drop one of them"
  fi
}

# One field of /etc/os-release, read as data (the file is not sourced).
os_field() {
  local value
  value=$(sed -n "s/^$1=//p" /etc/os-release | head -n 1)
  value=${value#\"}
  value=${value%\"}
  printf '%s' "$value"
}

python_ok() {
  command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

apt_update() {
  if [ "$apt_updated" -eq 0 ]; then
    apt-get update -qq || die "apt-get update failed" "check the network and /etc/apt/sources.list*, then run the installer again"
    apt_updated=1
  fi
}

apt_install() {
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed" "run 'apt-get install $*' by hand to see why, fix it, then run the installer again"
}

# install_file SRC DEST MODE: copy only when the content or mode differs; return 0 if it changed.
install_file() {
  local from=$1 to=$2 mode=$3
  if [ -f "$to" ] && cmp -s "$from" "$to" && [ "$(stat -c '%a %U %G' "$to")" = "${mode#0} root root" ]; then
    return 1
  fi
  install -D -m "$mode" -o root -g root "$from" "$to"
  changed "installed $to"
  return 0
}

preflight() {
  step="preflight"
  [ "$(id -u)" -eq 0 ] || die "must run as root" "run: sudo bash deploy/install.sh $*"
  [ -r /etc/os-release ] || die "/etc/os-release is missing" "edgewatch installs on Debian 12 or Raspberry Pi OS bookworm"
  local id like codename arch
  id=$(os_field ID)
  like=$(os_field ID_LIKE)
  codename=$(os_field VERSION_CODENAME)
  case " $id $like " in
    *" debian "* | *" raspbian "*) ;;
    *) die "this is $(os_field PRETTY_NAME), not Debian or Raspberry Pi OS" "install on Debian 12 (bookworm) or Raspberry Pi OS bookworm" ;;
  esac
  [ "$codename" = "bookworm" ] \
    || die "this is $(os_field PRETTY_NAME) (${codename:-no codename}), not bookworm" "install on Debian 12 (bookworm) or Raspberry Pi OS bookworm"
  command -v dpkg >/dev/null || die "dpkg is missing" "install on Debian 12 or Raspberry Pi OS bookworm"
  arch=$(dpkg --print-architecture)
  case "$arch" in
    arm64 | amd64) ;;
    armhf) die "32-bit Raspberry Pi OS (armhf) is not supported" "flash Raspberry Pi OS (64-bit) bookworm and run the installer again" ;;
    *) die "architecture $arch is not supported" "use an arm64 (Raspberry Pi 4/5) or amd64 (x86_64) machine" ;;
  esac
  if [ ! -f "$src/pyproject.toml" ] || [ ! -d "$src/app" ]; then
    die "$src is not an edgewatch checkout (no pyproject.toml or app/)" "run deploy/install.sh from a clone or an unpacked release of edgewatch"
  fi
  [ -f "$src/$LOCK" ] || die "$src/$LOCK is missing" "use a complete checkout or release of edgewatch"
  if wants_openvino && [ ! -f "$src/$OPENVINO_LOCK" ]; then
    die "$src/$OPENVINO_LOCK is missing" "use a complete checkout or release of edgewatch, or install with --no-openvino"
  fi
  local f
  for f in edgewatch.service 99-edgewatch-coral.rules edgewatch.tmpfiles edgewatch-setup-code; do
    [ -f "$src/systemd/$f" ] || die "$src/systemd/$f is missing" "use a complete checkout or release of edgewatch"
  done
  if [ "$use_systemd" -eq 1 ] && ! command -v systemctl >/dev/null; then
    die "systemctl is missing (no systemd here)" "install on a systemd machine, or use --no-systemd in a chroot or container"
  fi
  if [ "$start" -eq 1 ] && { [ "$use_systemd" -eq 0 ] || [ ! -d /run/systemd/system ]; }; then
    die "--start needs a running systemd" "drop --start here (chroot, container, image build) and start the service after boot"
  fi
  check_source_models
  if python_ok; then
    :
  elif [ "$offline" -eq 1 ]; then
    die "python3 ≥ 3.11 is required (found: $(python3 -V 2>&1 || echo none))" "install python3 and python3-venv (apt-get install python3 python3-venv) or pre-seed them in the image"
  fi
  say "preflight: $(os_field PRETTY_NAME), $arch, installing from $src"
}

system_packages() {
  step="packages"
  if [ "$offline" -eq 1 ]; then
    local pkg missing=()
    for pkg in "${RUNTIME_PACKAGES[@]}"; do installed "$pkg" || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] || warn "--offline: not installing ${missing[*]}; pre-seed them in the image"
  else
    local pkg missing=()
    for pkg in "${RUNTIME_PACKAGES[@]}"; do installed "$pkg" || missing+=("$pkg"); done
    if [ ${#missing[@]} -gt 0 ]; then
      apt_install "${missing[@]}"
      changed "installed ${missing[*]}"
    fi
  fi
  python_ok || die "python3 ≥ 3.11 is required (found: $(python3 -V 2>&1 || echo none))" \
    "Debian 12 / Raspberry Pi OS bookworm ship Python 3.11: apt-get install python3 python3-venv"
  python3 -c 'import ensurepip, venv' 2>/dev/null \
    || die "python3's venv module is incomplete" "apt-get install python3-venv (or pre-seed it in the image)"
}

# trusted_keyring KEYFILE FINGERPRINT OUT: OUT becomes a binary keyring holding only the key
# with that full fingerprint, taken from KEYFILE (armored or binary, any number of keys), or
# the installer stops. gpg works in a scratch home: the caller's keyrings are not touched.
trusted_keyring() {
  local from=$1 want=$2 out=$3 home found
  home=$(mktemp -d)
  found=$(gpg --homedir "$home" --batch --with-colons --show-keys "$from" 2>/dev/null \
    | awk -F: '$1 == "pub" { pub = 1; next } $1 == "fpr" && pub { print $10; pub = 0 }') || true
  if ! printf '%s\n' "$found" | grep -qx -- "$want"; then
    rm -rf -- "$home"
    die "the signing key from $CORAL_KEY_URL is not the one this installer trusts (expected fingerprint $want, found: ${found//$'\n'/ })" \
      "do not install from an unverified repository; use --no-coral, or check Google's current key for packages.cloud.google.com and update CORAL_KEY_FINGERPRINT in deploy/install.sh"
  fi
  if ! gpg --homedir "$home" --batch --quiet --import "$from" 2>/dev/null \
    || ! gpg --homedir "$home" --batch --export "$want" >"$out" || [ ! -s "$out" ]; then
    rm -rf -- "$home"
    die "gpg could not extract key $want" "check that gpg works (apt-get install gpg), then run the installer again"
  fi
  rm -rf -- "$home"
}

coral_runtime() {
  step="coral"
  if [ "$coral" -eq 0 ]; then
    say "coral: skipped (--no-coral); detection runs on the CPU"
    return 0
  fi
  local want=libedgetpu1-std
  if [ "$max_frequency" -eq 1 ]; then
    want=libedgetpu1-max
    warn "--max-frequency: the Edge TPU runs at its maximum clock. The USB Accelerator gets hot enough to burn (Coral's own warning); keep it ventilated and out of reach"
  fi
  if [ "$offline" -eq 1 ]; then
    installed "$want" || warn "--offline: the Coral runtime ($want) is not installed; install it from Coral's apt repository later, or detection runs on the CPU"
    return 0
  fi
  if [ ! -s "$CORAL_KEYRING" ]; then
    local tools=()
    command -v curl >/dev/null || tools+=(curl)
    command -v gpg >/dev/null || tools+=(gpg)
    [ ${#tools[@]} -eq 0 ] || apt_install "${tools[@]}"
    curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 --max-time 60 \
      -o "$work/coral-key" "$CORAL_KEY_URL" \
      || die "cannot download Coral's signing key from $CORAL_KEY_URL" "check the network (or use --no-coral), then run the installer again"
    trusted_keyring "$work/coral-key" "$CORAL_KEY_FINGERPRINT" "$work/coral.gpg"
    install -D -m 0644 -o root -g root "$work/coral.gpg" "$CORAL_KEYRING"
    changed "installed Coral's signing key ($CORAL_KEY_FINGERPRINT) as $CORAL_KEYRING"
  fi
  printf '%s\n' "$CORAL_LINE" >"$work/coral.list"
  if install_file "$work/coral.list" "$CORAL_LIST" 0644; then
    apt_updated=0 # the new repository must be read
  fi
  if ! installed "$want"; then
    if [ "$want" = libedgetpu1-max ]; then
      # The -max package asks to accept its heat warning; the flag is that consent.
      echo "libedgetpu1-max libedgetpu/accepted-eula select true" | debconf-set-selections
    fi
    apt_install "$want" # the -std and -max packages conflict: apt swaps one for the other
    changed "installed $want"
  fi
}

service_user() {
  step="user"
  local group
  for group in plugdev video; do
    if ! getent group "$group" >/dev/null; then
      groupadd --system "$group"
      changed "created group $group"
    fi
  done
  local nologin=/usr/sbin/nologin
  if ! getent passwd "$USER_NAME" >/dev/null; then
    useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell "$nologin" \
      --groups plugdev,video --comment "edgewatch appliance" "$USER_NAME"
    changed "created system user $USER_NAME (groups plugdev, video; no login shell)"
  else
    local shell home groups
    shell=$(getent passwd "$USER_NAME" | cut -d: -f7)
    home=$(getent passwd "$USER_NAME" | cut -d: -f6)
    if [ "$shell" != "$nologin" ]; then
      usermod --shell "$nologin" "$USER_NAME"
      changed "set $USER_NAME's shell to $nologin"
    fi
    if [ "$home" != "$STATE_DIR" ]; then
      usermod --home "$STATE_DIR" "$USER_NAME"
      changed "set $USER_NAME's home to $STATE_DIR"
    fi
    groups=" $(id -nG "$USER_NAME") "
    for group in plugdev video; do
      if [[ "$groups" != *" $group "* ]]; then
        usermod --append --groups "$group" "$USER_NAME"
        changed "added $USER_NAME to $group"
      fi
    done
  fi
  if [ ! -d "$STATE_DIR" ]; then
    install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$STATE_DIR"
    changed "created $STATE_DIR"
  fi
}

# Does this machine get $OPENVINO_LOCK besides $LOCK? On amd64, unless --no-openvino.
wants_openvino() {
  [ "$openvino" -eq 1 ] && [ "$(dpkg --print-architecture)" = amd64 ]
}

# A digest of what `pip install` builds from: a changed checkout (or set of locks) means a reinstall.
source_digest() {
  local files=("$LOCK")
  if wants_openvino; then files+=("$OPENVINO_LOCK"); fi
  (cd "$src" && find pyproject.toml README.md "${files[@]}" app -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

virtualenv() {
  step="venv"
  local stamp="$VENV/.edgewatch-source" digest pip_source=()
  if [ "$offline" -eq 1 ] && [ -z "$wheels" ]; then
    if [ -x "$VENV/bin/edgewatch" ]; then
      say "venv: --offline without --wheels: keeping the existing $VENV"
    else
      warn "--offline without --wheels: the virtualenv step is SKIPPED, so $VENV/bin/edgewatch does not exist yet; run the installer again with network access, or with --offline --wheels DIR"
    fi
    return 0
  fi
  digest=$(source_digest)
  if [ -x "$VENV/bin/edgewatch" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
    say "venv: $VENV is up to date"
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    install -d -m 0755 "$PREFIX"
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed" "apt-get install python3-venv, then run the installer again"
    changed "created $VENV"
  fi
  if [ "$offline" -eq 1 ]; then
    pip_source=(--no-index --find-links "$wheels")
  fi
  # pip builds in its source folder: build from a scratch copy so the checkout (maybe
  # read-only, maybe an unpacked release) is left as it was.
  mkdir -p "$work/src"
  cp -R -- "$src/pyproject.toml" "$src/README.md" "$src/app" "$work/src/"
  # First every dependency, each checked against its hash in the lock (wheels only: building
  # an sdist would fetch unhashed build tools); then edgewatch itself, built with the locked
  # setuptools and wheel (no build isolation: that would download them again, unchecked).
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$VENV/bin/pip" install --quiet --no-cache-dir \
    --require-hashes --only-binary=:all: "${pip_source[@]}" -r "$src/$LOCK" \
    || if [ "$offline" -eq 1 ]; then
      die "pip could not install the locked dependencies from the wheels in $wheels" "that folder needs every wheel of $LOCK: pip download --require-hashes --only-binary=:all: -r $LOCK -d DIR (on a machine with the same architecture and Python)"
    else
      die "pip could not install the locked dependencies into $VENV (a download failed or did not match its hash)" "check the network access to PyPI (or use --offline --wheels DIR), then run the installer again"
    fi
  if wants_openvino; then
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$VENV/bin/pip" install --quiet --no-cache-dir --no-deps \
      --require-hashes --only-binary=:all: "${pip_source[@]}" -r "$src/$OPENVINO_LOCK" \
      || die "pip could not install OpenVINO from $OPENVINO_LOCK" "${wheels:+put its wheels in $wheels too (pip download --no-deps --require-hashes --only-binary=:all: -r $OPENVINO_LOCK -d DIR), }check the network access to PyPI, or install with --no-openvino"
  fi
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$VENV/bin/pip" install --quiet --no-cache-dir \
    --no-deps --no-build-isolation --no-index "$work/src" \
    || die "pip could not build edgewatch from $src" "see pip's message above, fix the cause and run the installer again"
  "$VENV/bin/edgewatch" --version >/dev/null || die "the installed edgewatch does not start" "run $VENV/bin/edgewatch --version to see why"
  printf '%s\n' "$digest" >"$stamp"
  changed "installed $("$VENV/bin/edgewatch" --version) into $VENV"
}

# verify_models DIR: every SHA256SUMS under DIR checks out, and every .tflite is listed in one.
verify_models() {
  local dir=$1 sums sub file
  local found=0
  for sums in "$dir"/build/SHA256SUMS "$dir"/coral/SHA256SUMS; do
    [ -f "$sums" ] || continue
    found=1
    sub=$(dirname "$sums")
    (cd "$sub" && sha256sum --quiet --strict -c SHA256SUMS) >&2 || return 1
  done
  [ "$found" -eq 1 ] || return 1
  for file in "$dir"/build/*.tflite "$dir"/coral/*.tflite; do
    [ -f "$file" ] || continue
    grep -q "  \*\?$(basename "$file")\$" "$(dirname "$file")/SHA256SUMS" || {
      printf '%s: %s has no line in SHA256SUMS\n' "$PROG" "$file" >&2
      return 1
    }
  done
}

# The files of models/ that the appliance uses, relative to models/, one a line.
model_files() {
  local roots=(manifest.toml) d
  for d in labels build coral; do
    if [ -d "$src/models/$d" ]; then roots+=("$d"); fi
  done
  (cd "$src/models" && find "${roots[@]}" -type f \
    \( -name manifest.toml -o -name '*.txt' -o -name SHA256SUMS -o -name '*.tflite' \) | LC_ALL=C sort)
}

check_source_models() {
  [ -f "$src/models/build/SHA256SUMS" ] \
    || die "no built models in $src/models/build" "build them with 'bash models/build.sh' (needs network access once), or use a release that includes models/build"
  verify_models "$src/models" \
    || die "the models in $src/models do not match their SHA256SUMS (corrupt or tampered)" "rebuild them with 'bash models/build.sh' or use an intact release; the models were not installed"
}

models() {
  step="models"
  # Checked again here: the checkout may have changed since the preflight.
  check_source_models
  local files=() f same=0
  model_files >"$work/model-files" # (no process substitution: a bare chroot has no /dev/fd)
  mapfile -t files <"$work/model-files"
  if [ -d "$MODELS" ] && [ "$(find "$MODELS" -type f | wc -l)" -eq "${#files[@]}" ]; then
    same=1
    for f in "${files[@]}"; do
      cmp -s "$src/models/$f" "$MODELS/$f" || { same=0; break; }
    done
  fi
  if [ "$same" -eq 1 ] && verify_models "$MODELS" 2>/dev/null; then
    say "models: $MODELS is up to date and verified"
  else
    local stage="$PREFIX/.models.new"
    rm -rf -- "$stage"
    install -d -m 0755 "$stage"
    for f in "${files[@]}"; do
      install -D -m 0644 -o root -g root "$src/models/$f" "$stage/$f"
    done
    verify_models "$stage" || {
      rm -rf -- "$stage"
      die "the copied models in $stage do not match their SHA256SUMS" "check the disk ($PREFIX) and run the installer again; the previous models were kept"
    }
    rm -rf -- "$PREFIX/.models.old"
    if [ -d "$MODELS" ]; then mv -- "$MODELS" "$PREFIX/.models.old"; fi
    mv -- "$stage" "$MODELS"
    rm -rf -- "$PREFIX/.models.old"
    changed "installed and verified ${#files[@]} model files in $MODELS"
  fi
  # The app looks in /usr/share/edgewatch/models unless EDGEWATCH_MODELS_DIR says otherwise,
  # so `edgewatch doctor` and `detect` run by hand find the models too.
  if [ "$(readlink "$MODELS_LINK" 2>/dev/null || true)" != "$MODELS" ]; then
    if [ -e "$MODELS_LINK" ] && [ ! -L "$MODELS_LINK" ]; then
      warn "$MODELS_LINK exists and is not ours; leaving it (set EDGEWATCH_MODELS_DIR=$MODELS to use the installed models)"
    else
      install -d -m 0755 "$(dirname "$MODELS_LINK")"
      ln -sfn -- "$MODELS" "$MODELS_LINK"
      changed "linked $MODELS_LINK -> $MODELS"
    fi
  fi
}

write_config_skeleton() {
  cat <<'EOF'
## edgewatch configuration, written once by deploy/install.sh (it never overwrites this file).
## After every edit:  sudo -u edgewatch /opt/edgewatch/venv/bin/edgewatch check-config /etc/edgewatch/config.yaml
##           then:    sudo systemctl restart edgewatch
## Only `cameras` (each with a `source`) is required; every other key has a default (most
## examples below show it). Lines that start with "# " are examples: remove the "# " to use
## one. Unknown keys are errors. Secrets never go in this file: the MQTT password is read from password_file.

# node_id: garage-pi              # [a-z0-9_-]; namespaces MQTT topics; default: the host name
# timezone: Europe/London         # for rule schedules; default: the system's zone

cameras:
  front:
    ## PLACEHOLDER — replace with your camera's stream: rtsp(s)://, http(s):// MJPEG,
    ## /dev/videoN or a file. 192.0.2.10 is a documentation address that answers nothing.
    ## A camera that needs a login: rtsp://<user>:<password>@<address>:554/<path>
    source: rtsp://192.0.2.10:554/stream1
    # detect_fps: 5
    # motion: {threshold: 25, min_area: 0.001, mask: []}   # mask: polygons where motion is ignored
    # zones:
    #   porch: [[0.10, 0.55], [0.45, 0.55], [0.45, 1.0], [0.10, 1.0]]   # normalized (x, y) in 0..1

# detector:
#   type: auto                      # auto | edgetpu | cpu; auto = Edge TPU if present, else CPU
#   device: usb                     # usb | usb:N | pci | pci:N (Edge TPU only); default: the first found
#   model: null                     # coco, person (models/manifest.toml) or a .tflite path

# objects:                          # which classes are tracked, and how sure each must be
#   track: [person, vehicle, dog]   # COCO labels or groups; default: person, bicycle, car,
#                                   # motorcycle, bus, truck, bird, cat, dog, horse, sheep,
#                                   # cow, bear; and every rule's objects
#   filters:                        # per label or group; unset: the class's own defaults
#     person: {min_score: 0.5, threshold: 0.7}   # drop detections < 0.5; confirmed at median >= 0.7

# rules:
#   - name: person_at_porch
#     cameras: [front]              # default: all
#     objects: [person]             # COCO labels, or the groups vehicle and animal
#     zones: [porch]                # default: anywhere not masked
#     min_score: 0.6                # default: the object's threshold (objects.filters)
#     min_dwell: 1s
#     modes: [away, night]          # default: all modes except disarmed
#     schedule: [{days: [mon, tue, wed, thu, fri], from: "22:00", to: "06:30"}]
#     cooldown: 60s
#     severity: alert               # alert | info

# mode: away                        # home | away | night | disarmed (then switched over MQTT or the API)

## Without an mqtt section nothing is published; alerts are stored and shown on the dashboard.
# mqtt:
#   host: 192.168.1.10
#   port: 1883
#   username: edgewatch
#   password_file: /etc/edgewatch/mqtt-password   # mode 0640 root:edgewatch
#   tls: {ca_file: null}            # TLS when set
#   topic_prefix: edgewatch
#   ha_discovery: true
#   frigate_compat: false
#   snapshots: false                # opt-in: JPEG snapshots with alerts over MQTT

# api:
#   listen: 0.0.0.0:8080
#   allow: [private, loopback, link-local]   # who may connect (403 for anyone else); or CIDRs
#   trusted_proxies: []

# storage:
#   path: /var/lib/edgewatch
#   retain_days: 14
#   max_mb: 2048
EOF
}

config() {
  step="config"
  if [ ! -d "$CONF_DIR" ]; then
    install -d -m 0750 -o root -g "$USER_NAME" "$CONF_DIR"
    changed "created $CONF_DIR"
  fi
  if [ -e "$CONFIG" ]; then
    say "config: keeping the existing $CONFIG"
  else
    write_config_skeleton >"$work/config.yaml"
    install -m 0640 -o root -g "$USER_NAME" "$work/config.yaml" "$CONFIG"
    changed "wrote $CONFIG (a placeholder camera: edit it)"
  fi
  if [ ! -x "$VENV/bin/edgewatch" ]; then
    warn "$VENV/bin/edgewatch is not installed, so $CONFIG was not checked"
    return 0
  fi
  # As the service user: that also proves it can read the file.
  runuser -u "$USER_NAME" -- "$VENV/bin/edgewatch" check-config "$CONFIG" \
    || die "$CONFIG is not valid (errors above) or not readable by $USER_NAME" \
      "fix it, check with: sudo -u $USER_NAME $VENV/bin/edgewatch check-config $CONFIG — then run the installer again"
}

systemd_files() {
  step="systemd"
  local udev=0
  install_file "$src/systemd/edgewatch.service" "$UNIT_DEST" 0644 || true
  install_file "$src/systemd/99-edgewatch-coral.rules" "$UDEV_DEST" 0644 && udev=1
  install_file "$src/systemd/edgewatch.tmpfiles" "$TMPFILES_DEST" 0644 || true
  install_file "$src/systemd/edgewatch-setup-code" "$SETUP_HELPER_DEST" 0755 || true
  if [ "$use_systemd" -eq 0 ]; then
    say "systemd: --no-systemd: files installed; not calling systemctl, udevadm or systemd-tmpfiles"
    return 0
  fi
  if [ "$udev" -eq 1 ]; then
    if command -v udevadm >/dev/null && [ -S /run/udev/control ]; then
      udevadm control --reload || die "udevadm control --reload failed" "check $UDEV_DEST with: udevadm verify $UDEV_DEST"
      udevadm trigger --subsystem-match=usb --action=change || warn "udevadm trigger failed; replug the Coral USB Accelerator"
      udevadm trigger --subsystem-match=apex --action=change 2>/dev/null || true
    else
      say "systemd: udev is not running; the Coral rules apply from the next boot"
    fi
  fi
  if [ -d /run/systemd/system ]; then
    systemd-tmpfiles --create "$TMPFILES_DEST" \
      || die "systemd-tmpfiles --create $TMPFILES_DEST failed" "see the message above; the file comes from $src/systemd/edgewatch.tmpfiles"
    systemctl daemon-reload || die "systemctl daemon-reload failed" "check the unit with: systemd-analyze verify $UNIT_DEST"
  else
    say "systemd: systemd is not running here (chroot?); tmpfiles apply at the next boot, the unit is enabled for it"
  fi
  if ! systemctl is-enabled --quiet edgewatch.service 2>/dev/null; then
    systemctl enable --quiet edgewatch.service || die "systemctl enable edgewatch.service failed" "check the unit with: systemd-analyze verify $UNIT_DEST"
    changed "enabled edgewatch.service"
  fi
  if [ "$start" -eq 1 ]; then
    if systemctl is-active --quiet edgewatch.service && [ "$changes" -gt 0 ]; then
      systemctl restart edgewatch.service
      say "systemd: restarted edgewatch.service"
    elif ! systemctl is-active --quiet edgewatch.service; then
      systemctl start edgewatch.service || die "edgewatch.service did not start" "see: journalctl -u edgewatch -e"
      say "systemd: started edgewatch.service"
    fi
  fi
}

first_boot() {
  step="done"
  if [ "$changes" -eq 0 ]; then
    say "done: everything was already in place (nothing changed)"
  else
    say "done: $changes change(s)"
  fi
  cat <<EOF

Next steps
  1. Edit $CONFIG: replace the placeholder camera, add your rules
     (and an mqtt section for Home Assistant), then check it:
       sudo -u $USER_NAME $VENV/bin/edgewatch check-config $CONFIG
  2. Start it:  sudo systemctl restart edgewatch   (logs: journalctl -u edgewatch -f)
  3. Set the admin password. There is NO default password: until you set one, only
     /api/health answers. Either
       run \`sudo -u $USER_NAME $VENV/bin/edgewatch passwd --config $CONFIG\`,
     or open http://<box>:8080/login and enter the one-time setup code shown on the
     box's screen (HDMI), in /root/edgewatch-setup-code and in \`journalctl -u edgewatch\`,
     with a password of your own.
  4. Check the installation: sudo -u $USER_NAME $VENV/bin/edgewatch doctor
EOF
}

main() {
  parse_args "$@"
  cd / # the service user runs commands below; it may not be able to read the caller's folder
  preflight "$@"
  work=$(mktemp -d)
  system_packages
  coral_runtime
  service_user
  virtualenv
  models
  config
  systemd_files
  first_boot
}

# Sourcing the script (tests, the container build) defines its functions and runs nothing.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
