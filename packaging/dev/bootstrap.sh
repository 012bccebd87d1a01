#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine for Mamori development: system packages, then .venv with the project.
# Sourced by packaging/dev/demo.sh and packaging/dev/test.sh; safe to run again (it skips what is there).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# System packages: Python with venv, PostgreSQL server binaries (the store tests start their own server).
needed=(python3 python3-venv python3-dev gcc postgresql util-linux
        qemu-system-x86 busybox-static cpio kmod e2fsprogs   # the real-kernel USB test
        udev                                                 # its systemd-udevd runs the shipped rule in the guest
        dpkg-dev apt nftables                                 # posture checks on real apt/nft state
        systemd debootstrap   # systemd: systemd-analyze verify; debootstrap: the .deb install test
        chromium fonts-noto-cjk)  # the HTML audit report is rendered and screenshotted in a test
missing=()
for pkg in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing system packages: ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Use the newest python3 >= 3.11 on PATH (Debian 12 ships 3.11).
py="${MAMORI_PYTHON:-python3}"
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "bootstrap: Python 3.11 or newer is required ($py is $("$py" --version 2>&1))" >&2; exit 1; }

venv="$repo/.venv"
stamp="$venv/.mamori-installed"
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
# Reinstall only when the project's dependency list changed.
if [ ! -f "$stamp" ] || [ "$repo/pyproject.toml" -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install -q -e "$repo[dev]"
  touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
