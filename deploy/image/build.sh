#!/usr/bin/env bash
# Builds the flashable Raspberry Pi image (Pi 3, 4 and 5; arm64) from Debian's own packages:
#
#   sudo bash deploy/image/build.sh [--out DIR] [--work DIR] [--coral auto|yes|no] [--mirror URL]
#
# → DIR/edgewatch-<version>-rpi-arm64.img.xz and its .sha256 (default DIR: dist/).
#
# How: a Debian bookworm arm64 root file system made by debootstrap (the second stage runs
# under qemu-user-static), the Pi's boot firmware (raspi-firmware) and Debian's arm64 kernel,
# then deploy/install.sh run inside it as on a Pi (the aarch64 wheels from PyPI, each checked
# against deploy/requirements.lock; the models built on this machine, checked by sha256). The
# disk image is assembled from files (mkfs.vfat + mtools, mke2fs -d): no loop device and no
# mount of the image is needed. The image's first boot: see deploy/image/rootfs/usr/libexec/
# edgewatch/boot. Needs root, ~6 GB free in the work folder, the models built
# (bash models/build.sh), network access to the Debian mirror and PyPI, and on a non-arm64
# machine qemu-user-static's aarch64 handler registered with binfmt_misc.
#
# Safe to rerun: the debootstrap stage is kept in the work folder and reused while its inputs
# are the same; everything after it is rebuilt; the outputs are replaced only when complete.
# Whatever happens, the mounts it made under the work folder are undone on exit.
set -Eeuo pipefail
umask 022

readonly PROG="edgewatch image"
readonly SUITE=bookworm
readonly ARCH=arm64
# What the system needs besides what install.sh installs. dbus: hostnamectl, timedatectl and
# logind; systemd-resolved: DNS and the box's name.local; cloud-guest-utils: growpart (the
# first boot grows the root partition); openssh-server: only on while a key is supplied.
readonly BASE_PACKAGES=(
  systemd systemd-sysv udev dbus kmod iproute2 systemd-timesyncd systemd-resolved
  openssh-server cloud-guest-utils fdisk e2fsprogs dosfstools python3 python3-venv
  ca-certificates initramfs-tools zstd tzdata procps nano netbase
)
readonly KERNEL_PACKAGES=(linux-image-arm64 raspi-firmware)
# Our /etc/default/raspi-firmware is written first: a package's own copy must not replace it.
readonly KEEP_OURS=(-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
# Raised when the base stage's recipe changes, so a kept base is not reused.
readonly BASE_RECIPE=1
readonly BOOT_MIB=256
readonly NEED_WORK_GIB=6

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="$src/dist"
work="$src/.cache/image"
coral=auto
mirror=""
pip_cert=""

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
# die WHAT HOW: one line, what went wrong and what to do.
die() {
  printf '%s: error: %s — %s\n' "$PROG" "$1" "$2" >&2
  exit 1
}

usage() {
  cat <<'EOF'
usage: sudo bash deploy/image/build.sh [options]

  --out DIR              where the image and its .sha256 go (default: dist/)
  --work DIR             the build's scratch folder, kept for reruns (default: .cache/image)
  --coral auto|yes|no    the Coral runtime (libedgetpu1-std) from Coral's apt repository:
                         auto (default) = if the repository answers, else a CPU-only image
                         with a warning; yes = stop if it does not answer; no = CPU only
  --mirror URL           the Debian mirror (default: the one this machine uses)
  -h, --help             this help
EOF
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --out) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift ;;
      --work) [ $# -ge 2 ] || { usage >&2; exit 2; }; work=$2; shift ;;
      --coral) [ $# -ge 2 ] || { usage >&2; exit 2; }; coral=$2; shift ;;
      --mirror) [ $# -ge 2 ] || { usage >&2; exit 2; }; mirror=$2; shift ;;
      -h | --help) usage; exit 0 ;;
      *)
        printf '%s: error: unknown option %s — see --help\n' "$PROG" "$1" >&2
        exit 2
        ;;
    esac
    shift
  done
  case "$coral" in auto | yes | no) ;; *) die "--coral $coral" "say auto, yes or no" ;; esac
}

# Undo every mount under the work folder (ours, and the /proc and /sys that debootstrap's
# second stage mounts itself), innermost first, even after a failure.
cleanup() {
  local target
  [ -d "$work" ] || return 0
  findmnt -rn -o TARGET | awk -v w="$work/" 'index($0, w) == 1' | LC_ALL=C sort -r | while IFS= read -r target; do
    umount -l -- "$target" 2>/dev/null || true
  done
}
# shellcheck disable=SC2317 # run by the ERR trap
on_error() {
  local rc=$? line=$1
  printf '%s: error: failed at line %s (exit %s) — see the messages above; fix the cause and run it again (it is safe to repeat)\n' \
    "$PROG" "$line" "$rc" >&2
  exit "$rc"
}
trap 'on_error "$LINENO"' ERR
trap cleanup EXIT
trap 'exit 130' INT TERM

bind() { mount --bind -- "$1" "$2"; } # undone by cleanup

debian_mirror() {
  if [ -n "$mirror" ]; then printf '%s' "$mirror"; return 0; fi
  local found
  found=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/* *$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
  [ -n "$found" ] || found=$(awk '$1 == "deb" && $2 ~ /debian\/?$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  printf '%s' "${found:-http://deb.debian.org/debian}"
}

free_mib() { df -P -BM "$1" | awk 'NR == 2 { sub("M", "", $4); print $4 }'; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot and file ownership in the image)" "run: sudo bash deploy/image/build.sh"
}

preflight() {
  local tool missing=()
  for tool in debootstrap chroot mkfs.vfat mcopy mke2fs sfdisk xz sha256sum; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] \
    || die "missing tools: ${missing[*]}" "apt-get install debootstrap dosfstools mtools e2fsprogs fdisk xz-utils qemu-user-static"
  if [ "$(uname -m)" != aarch64 ]; then
    local handler=/proc/sys/fs/binfmt_misc/qemu-aarch64
    if [ ! -e "$handler" ] || ! grep -qx enabled "$handler" || ! grep -q '^flags:.*F' "$handler"; then
      die "this $(uname -m) machine cannot run arm64 programs (no qemu-aarch64 binfmt_misc handler)" \
        "apt-get install qemu-user-static; then, if it is still missing (containers, CI): mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; /usr/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf"
    fi
  fi
  [ -f "$src/models/build/SHA256SUMS" ] \
    || die "no built models in $src/models/build" "build them first: bash models/build.sh"
  (cd "$src/models/build" && sha256sum --quiet --strict -c SHA256SUMS >/dev/null 2>&1) \
    || die "the models in $src/models/build do not match their SHA256SUMS" "rebuild them: bash models/build.sh"
  install -d -m 0755 "$work" "$out"
  work=$(cd "$work" && pwd)
  out=$(cd "$out" && pwd)
  local mib
  mib=$(free_mib "$work")
  [ "$mib" -ge $((NEED_WORK_GIB * 1024)) ] \
    || die "only $mib MB free in $work; the build needs ${NEED_WORK_GIB} GB" "free some space, or give another folder with --work DIR"
  mib=$(free_mib "$out")
  [ "$mib" -ge 1024 ] || die "only $mib MB free in $out; the image needs about 1 GB" "free some space, or give another folder with --out DIR"
  version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$src/app/__init__.py")
  [ -n "$version" ] || die "cannot read the version from $src/app/__init__.py" "use a complete checkout"
}

# The debootstrap stage, kept as a tarball while its recipe, packages and mirror stay the same.
base_stage() {
  local key tar="$work/base.tar" rootfs="$work/base"
  key=$(printf '%s\n' "$BASE_RECIPE" "$SUITE" "$ARCH" "$(debian_mirror)" "${BASE_PACKAGES[*]}" | sha256sum | cut -d' ' -f1)
  if [ -f "$tar" ] && [ "$(cat "$work/base.key" 2>/dev/null)" = "$key" ]; then
    say "base: reusing $tar"
    return 0
  fi
  rm -rf -- "$rootfs" "$tar" "$work/base.key"
  local started=$SECONDS include
  include=$(IFS=,; printf '%s' "${BASE_PACKAGES[*]}")
  say "base: debootstrap $SUITE $ARCH from $(debian_mirror) (first stage)"
  debootstrap --arch="$ARCH" --foreign --variant=minbase --components=main,non-free-firmware \
    --include="$include" "$SUITE" "$rootfs" "$(debian_mirror)" >"$work/debootstrap.log" 2>&1 \
    || die "debootstrap could not fetch $SUITE $ARCH (log: $work/debootstrap.log)" "check the network access to $(debian_mirror), or give --mirror URL"
  say "base: second stage, under emulation"
  chroot "$rootfs" /debootstrap/debootstrap --second-stage >>"$work/debootstrap.log" 2>&1 \
    || die "debootstrap's second stage failed (log: $work/debootstrap.log; $rootfs/debootstrap/debootstrap.log)" \
      "if it says 'Exec format error', register qemu-user-static's aarch64 handler (see --help); then run again"
  cleanup # debootstrap may leave its /proc and /sys mounted: they must not go into the tarball
  tar -C "$rootfs" --numeric-owner --xattrs --xattrs-include='*' -cf "$tar.part" .
  mv -f -- "$tar.part" "$tar"
  printf '%s\n' "$key" >"$work/base.key"
  rm -rf -- "$rootfs"
  say "base: done in $((SECONDS - started)) s"
}

in_root() { # a command inside the image's root, as on the box
  chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive ${pip_cert:+PIP_CERT="$pip_cert"} "$@"
}

system_stage() {
  rootfs="$work/rootfs"
  firmware="$work/firmware"
  rm -rf -- "$rootfs" "$firmware"
  install -d -m 0755 "$rootfs" "$firmware"
  tar -C "$rootfs" --numeric-owner --xattrs --xattrs-include='*' -xf "$work/base.tar"
  bind /proc "$rootfs/proc"
  bind /sys "$rootfs/sys"
  bind /dev "$rootfs/dev"
  bind /dev/pts "$rootfs/dev/pts"
  # raspi-firmware's kernel hook writes the kernel, initrd, device trees and config.txt to
  # /boot/firmware and refuses if it is not a mount point: this folder becomes the FAT partition.
  install -d -m 0755 "$rootfs/boot/firmware"
  bind "$firmware" "$rootfs/boot/firmware"
  # Nothing starts inside the build; the box starts it at boot.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  rm -f -- "$rootfs/etc/resolv.conf"
  cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
  # pip inside trusts what this machine trusts (a proxy's CA, say), for the build only.
  local bundle=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
  if [ -f "$bundle" ]; then
    cp -L -- "$bundle" "$rootfs/tmp/build-ca.crt"
    pip_cert=/tmp/build-ca.crt
  fi

  local m
  m=$(debian_mirror)
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $m $SUITE main non-free-firmware
deb $m $SUITE-updates main non-free-firmware
deb http://deb.debian.org/debian-security $SUITE-security main non-free-firmware
EOF
  # The Pi's boot files: the root by its label, the console on HDMI (tty0, listed last so that
  # /dev/console is the screen) and the serial port.
  cat >"$rootfs/etc/default/raspi-firmware" <<'EOF'
ROOTPART=LABEL=RASPIROOT
CONSOLES="ttyS1,115200 tty0"
EOF
  cat >"$rootfs/etc/fstab" <<'EOF'
# <file system>   <mount point>   <type>  <options>                          <dump> <pass>
LABEL=RASPIROOT   /               ext4    rw,noatime,errors=remount-ro       0      1
# The boot partition may hold authorized_keys and edgewatch.yaml: readable by root only.
LABEL=RASPIFIRM   /boot/firmware  vfat    rw,noatime,umask=0077,nofail       0      2
EOF
  printf 'edgewatch\n' >"$rootfs/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tedgewatch\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"

  say "system: kernel and Raspberry Pi firmware"
  in_root apt-get update -qq
  # The initrd is made once: under emulation each run takes minutes. The firmware's hooks go in
  # first; then, with the triggered updates held off, the kernel's own postinst makes it, and
  # raspi-firmware's kernel hook copies it with the kernel and device trees to /boot/firmware.
  local conf="$rootfs/etc/initramfs-tools/update-initramfs.conf"
  if ! in_root apt-get install -y -qq --no-install-recommends "${KEEP_OURS[@]}" raspi-firmware >"$work/apt.log" 2>&1 \
    || ! sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$conf" \
    || ! in_root apt-get install -y -qq --no-install-recommends "${KEEP_OURS[@]}" "${KERNEL_PACKAGES[@]}" >>"$work/apt.log" 2>&1; then
    die "installing ${KERNEL_PACKAGES[*]} failed (log: $work/apt.log)" "check the network access to $m; then run again"
  fi
  sed -i 's/^update_initramfs=.*/update_initramfs=yes/' "$conf"
  if [ ! -f "$firmware/config.txt" ] || ! ls "$firmware"/vmlinuz* "$firmware"/initrd.img* >/dev/null 2>&1; then
    die "raspi-firmware did not write the boot files to /boot/firmware" "see $work/apt.log"
  fi

  say "system: the image's own files (first-boot set-up, network, SSH policy)"
  cp -R --no-preserve=ownership -- "$src/deploy/image/rootfs/." "$rootfs/"
  chmod 0755 "$rootfs/usr/libexec/edgewatch/boot"

  say "system: deploy/install.sh, as on a Pi"
  local stage="$rootfs/tmp/edgewatch-src"
  install -d -m 0755 "$stage" "$stage/models"
  cp -R -- "$src/pyproject.toml" "$src/README.md" "$src/app" "$src/deploy" "$src/systemd" "$stage/"
  cp -R -- "$src/models/manifest.toml" "$src/models/labels" "$src/models/build" "$stage/models/"
  find "$stage" \( -name __pycache__ -o -name '*.pyc' \) -prune -exec rm -rf {} +
  local flags=(--no-systemd)
  case "$coral" in
    no) flags+=(--no-coral) ;;
    auto)
      if ! python3 -c 'import urllib.request as u; u.urlopen("https://packages.cloud.google.com/apt/doc/apt-key.gpg", timeout=15)' 2>/dev/null; then
        warn "Coral's apt repository (packages.cloud.google.com) does not answer: this image has NO Coral runtime and detects on the CPU (use --coral yes to require it)"
        flags+=(--no-coral)
      fi
      ;;
  esac
  if ! in_root bash /tmp/edgewatch-src/deploy/install.sh "${flags[@]}" >"$work/install.log" 2>&1; then
    tail -n 20 "$work/install.log" >&2
    die "deploy/install.sh failed inside the image (log: $work/install.log)" "see its last lines above"
  fi
  sed 's/^/  /' "$work/install.log"
  in_root /opt/edgewatch/venv/bin/edgewatch --version >/dev/null \
    || die "the installed edgewatch does not start under arm64" "see $work/install.log"

  say "system: services"
  # install.sh left the unit disabled (--no-systemd); enable what the box runs.
  in_root systemctl enable --quiet edgewatch.service edgewatch-boot.service systemd-networkd.service \
    systemd-resolved.service systemd-timesyncd.service
  # SSH stays off until the first boot finds a key (edgewatch-boot), with host keys made there.
  in_root systemctl disable --quiet ssh.service
  rm -f -- "$rootfs"/etc/ssh/ssh_host_*
  # No password for anyone: root is locked; SSH (with a key) is the way in.
  in_root passwd --lock root >/dev/null
  ln -sfn /run/systemd/resolve/stub-resolv.conf "$rootfs/etc/resolv.conf"

  # Every box makes its own machine id at its first boot.
  : >"$rootfs/etc/machine-id"
  rm -f -- "$rootfs/var/lib/dbus/machine-id"
  rm -rf -- "$stage" "$rootfs/usr/sbin/policy-rc.d" "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/root/.cache \
    "$rootfs"/tmp/* "$rootfs"/var/tmp/*
  cleanup
}

assemble() {
  local img="$work/edgewatch.img" bootimg="$work/boot.vfat" rootimg="$work/root.ext4"
  local used_mib root_mib
  rm -f -- "$img" "$bootimg" "$rootimg"
  say "image: boot partition (FAT32, $BOOT_MIB MiB)"
  mkfs.vfat -F 32 -n RASPIFIRM -C "$bootimg" $((BOOT_MIB * 1024)) >/dev/null
  mcopy -s -p -i "$bootimg" "$firmware"/* ::/
  # Room on the first boot before the partition grows to the card: a third more than is used.
  used_mib=$(du -s -B1M "$rootfs" | cut -f1)
  root_mib=$((used_mib * 4 / 3 + 256))
  say "image: root partition (ext4, $root_mib MiB, $used_mib MiB used)"
  mke2fs -q -t ext4 -L RASPIROOT -d "$rootfs" -E root_owner=0:0 "$rootimg" "${root_mib}M" >/dev/null
  # MBR (the Pi 3's firmware reads nothing else): 4 MiB aligned, FAT32 LBA then Linux.
  local boot_start=8192 boot_sectors=$((BOOT_MIB * 2048)) root_start
  root_start=$((boot_start + boot_sectors))
  truncate -s $(((root_start + root_mib * 2048) * 512)) "$img"
  sfdisk --quiet "$img" <<EOF
label: dos
start=$boot_start, size=$boot_sectors, type=c, bootable
start=$root_start, size=$((root_mib * 2048)), type=83
EOF
  dd if="$bootimg" of="$img" bs=1M seek=$((boot_start / 2048)) conv=notrunc,sparse status=none
  dd if="$rootimg" of="$img" bs=1M seek=$((root_start / 2048)) conv=notrunc,sparse status=none
  rm -f -- "$bootimg" "$rootimg"

  local name="edgewatch-$version-rpi-$ARCH.img.xz"
  say "image: compressing to $out/$name"
  xz -T0 -6 --stdout "$img" >"$out/$name.part"
  rm -f -- "$img"
  mv -f -- "$out/$name.part" "$out/$name"
  (cd "$out" && sha256sum "$name" >"$name.sha256.part" && mv -f -- "$name.sha256.part" "$name.sha256")
  say "done: $out/$name ($(du -h --apparent-size "$out/$name" | cut -f1), $root_mib MiB root + $BOOT_MIB MiB boot) in $((SECONDS - build_started)) s"
}

main() {
  parse_args "$@"
  build_started=$SECONDS
  require_root
  # Everything runs in a mount namespace of its own: its mounts are invisible to (and safe from)
  # the rest of the machine, and the kernel drops them when the build ends, however it ends.
  if [ -z "${EDGEWATCH_IMAGE_NAMESPACE:-}" ]; then
    EDGEWATCH_IMAGE_NAMESPACE=1 exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" "$@"
  fi
  preflight
  say "building edgewatch $version for Raspberry Pi (arm64) in $work"
  base_stage
  system_stage
  assemble
}

# One line: bash reads a script as it runs, so an edit during a build cannot run half-read code.
main "$@"; exit
