#!/usr/bin/env bash
# The container's base image made from Debian's own packages, with no container registry: a
# minimal Debian bookworm (debootstrap --variant=minbase) holding only python3, python3-venv and
# ca-certificates, imported into podman's local storage.
#
#   sudo bash deploy/container/base.sh [--force] [--mirror URL] [--tag TAG]
#
# Prints the image's tag (default localhost/edgewatch-base:bookworm) on stdout, and does nothing
# else when that image exists already (--force makes it again). The mirror is the one this
# machine's apt uses for bookworm (/etc/apt/sources.list.d/*.sources or sources.list), else
# http://deb.debian.org/debian. Then build the appliance on it (the Dockerfile's header says more):
#
#   podman build --format docker --build-arg BASE_IMAGE=localhost/edgewatch-base:bookworm -t edgewatch .
set -Eeuo pipefail

readonly PROG="edgewatch base"
readonly SUITE=bookworm
readonly INCLUDE=python3,python3-venv,ca-certificates
readonly FALLBACK_MIRROR=http://deb.debian.org/debian
readonly IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

tag=localhost/edgewatch-base:$SUITE
mirror=""
force=0
work=""

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
# die WHAT HOW: one clear line — what went wrong, then how to fix it.
die() {
  printf '%s: error: %s — %s\n' "$PROG" "$1" "$2" >&2
  exit 1
}

usage() {
  cat >&2 <<EOF
usage: sudo bash deploy/container/base.sh [--force] [--mirror URL] [--tag TAG]
  --force       make the image again even if TAG exists
  --mirror URL  the Debian mirror (default: the one apt uses here for $SUITE, else $FALLBACK_MIRROR)
  --tag TAG     the image's name (default: $tag)
EOF
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --force) force=1 ;;
      --mirror | --tag)
        if [ $# -lt 2 ] || [ -z "$2" ]; then
          usage
          die "$1 needs a value" "see the usage above"
        fi
        if [ "$1" = --mirror ]; then mirror=$2; else tag=$2; fi
        shift
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      *)
        usage
        printf '%s: error: unknown option %s\n' "$PROG" "$1" >&2
        exit 2
        ;;
    esac
    shift
  done
}

# debian_mirror: the first mirror apt uses for $SUITE (one-line or deb822 sources), else the fallback.
debian_mirror() {
  local file found=""
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    found=$(sed -e 's/#.*//' -e 's/\[[^]]*\]//g' "$file" \
      | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }')
    [ -z "$found" ] || break
  done
  if [ -z "$found" ]; then
    for file in /etc/apt/sources.list.d/*.sources; do
      [ -f "$file" ] || continue
      # deb822: paragraphs of "Key: value"; the URIs of a paragraph whose Suites name $SUITE.
      found=$(sed -e 's/#.*//' "$file" | awk -v suite="$SUITE" '
        function done_paragraph() { if (deb && hit && uri != "") { print uri; exit } deb = 0; hit = 0; uri = "" }
        /^[[:space:]]*$/ { done_paragraph(); next }
        tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
        tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
        tolower($1) == "uris:" { uri = $2 }
        END { done_paragraph() }')
      [ -z "$found" ] || break
    done
  fi
  printf '%s\n' "${found:-$FALLBACK_MIRROR}"
}

# cleanup: unmount whatever debootstrap left mounted in the tree (it mounts /proc and /sys while it
# configures packages, and may not get to unmount them when it fails), then remove the tree.
cleanup() {
  local status=$? mounts
  [ -n "$work" ] && [ -d "$work" ] || return "$status"
  mounts=$(awk -v top="$work/" 'index($2, top) == 1 { print $2 }' /proc/self/mounts | sort -r)
  if [ -n "$mounts" ]; then
    while IFS= read -r point; do umount -l -- "$point" || true; done <<<"$mounts"
  fi
  rm -rf --one-file-system -- "$work"
  [ "$status" -eq 0 ] || say "failed; removed the unfinished tree $work"
  return "$status"
}

main() {
  parse_args "$@"
  [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and podman import)" "run: sudo bash deploy/container/base.sh"
  command -v debootstrap >/dev/null || die "debootstrap is not installed" "run: apt-get install debootstrap"
  command -v podman >/dev/null || die "podman is not installed" "run: apt-get install podman"

  if [ "$force" -eq 0 ] && podman image exists "$tag"; then
    say "$tag exists already (--force makes it again)"
    printf '%s\n' "$tag"
    return 0
  fi

  local replaced=""
  replaced=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null) || replaced=""
  [ -n "$mirror" ] || mirror=$(debian_mirror)
  work=$(mktemp -d /var/tmp/edgewatch-base.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local root="$work/rootfs" started=$SECONDS
  say "debootstrap $SUITE (minbase + $INCLUDE) from $mirror"
  if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    die "debootstrap failed (the log's end is above)" "check that $mirror serves $SUITE (or pass --mirror URL), then run this again"
  fi

  # Nothing of this machine's or of the package download goes into the image: apt's lists and
  # caches, debootstrap's logs, the host's resolver and name (podman provides both at run time).
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/tmp/* "$root"/var/tmp/*
  find "$root/var/log" -type f -delete
  rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
  mkdir -p "$root/var/lib/apt/lists/partial"

  tar -C "$root" --numeric-owner --xattrs -c . \
    | podman import --quiet \
      --change "ENV PATH=$IMAGE_PATH" \
      --change "ENV LANG=C.UTF-8" \
      --change 'CMD ["/bin/bash"]' \
      --change "LABEL org.opencontainers.image.description=\"Debian $SUITE minbase + $INCLUDE, from $mirror\"" \
      --message "debootstrap --variant=minbase --include=$INCLUDE $SUITE $mirror" \
      - "$tag" >/dev/null \
    || die "podman import failed" "check 'podman info', then run this again"
  podman image exists "$tag" || die "podman import reported success but $tag is not there" "check 'podman images', then run this again"
  # The image --force replaced, unless images built on it still need it.
  if [ -n "$replaced" ] && [ "$replaced" != "$(podman image inspect --format '{{.Id}}' "$tag")" ]; then
    podman rmi "$replaced" >/dev/null 2>&1 || true
  fi
  say "made $tag in $((SECONDS - started)) s"
  printf '%s\n' "$tag"
}

main "$@"
