#!/usr/bin/env bash
# Print the path of a cached Debian 12 (bookworm) minbase chroot tarball, creating it with debootstrap if
# today's is missing. Used by the .deb install/upgrade/remove test; reruns on the same day take seconds.
# The key is the date, so the chroot's packages are at most a day old.
set -euo pipefail
mirror="${MAMORI_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mamori"
tarball="$cache/debootstrap-bookworm-minbase-$(date -u +%Y%m%d).tar"
if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/debootstrap.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  # python3.11: what the packaged virtualenv runs on; passwd (useradd) is in minbase already.
  debootstrap --variant=minbase --include=python3.11 bookworm "$work/root" "$mirror" >"$work/log" 2>&1 || {
    tail -20 "$work/log" >&2; exit 1; }
  rm -rf "$work/root/var/cache/apt/archives/"*.deb
  tar -C "$work/root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  # Keep only the newest few.
  ls -1t "$cache"/debootstrap-bookworm-minbase-*.tar 2>/dev/null | tail -n +3 | xargs -r rm -f
fi
echo "$tarball"
