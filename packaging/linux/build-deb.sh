#!/usr/bin/env bash
# Build the mamori-agent and mamori-collector .deb packages (Debian 12 / Ubuntu 22.04+ with python3.11).
#
#   bash packaging/linux/build-deb.sh [--out DIR] [--version VERSION] [agent|collector ...]
#
# Each package holds a self-contained virtualenv under /opt/mamori/<component>, created with the same
# interpreter path the target has (/usr/bin/python3.11 from Debian's python3.11 package, which the package
# depends on), plus the systemd unit, the default config and maintainer scripts. Needs dpkg-deb and
# python3-venv; pip fetches the dependencies (or takes them from its cache).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/packaging/linux"
out="$repo/dist"
version=""
components=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    agent|collector) components+=("$1"); shift ;;
    *) echo "usage: $0 [--out DIR] [--version VERSION] [agent|collector ...]" >&2; exit 2 ;;
  esac
done
[ ${#components[@]} -gt 0 ] || components=(agent collector)
python="${MAMORI_DEB_PYTHON:-/usr/bin/python3.11}"
[ -x "$python" ] || { echo "build-deb: $python missing (apt-get install python3.11 python3-venv)" >&2; exit 1; }
pyver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
[ -n "$version" ] || version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml" | head -1)"
arch="$(dpkg --print-architecture)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# One wheel of the project for both packages.
"$python" -m pip wheel -q --no-deps -w "$work/wheels" "$repo" >/dev/null 2>"$work/wheel.log" || {
  cat "$work/wheel.log" >&2; exit 1; }
wheel="$(ls "$work"/wheels/mamori-*.whl)"

build() {
  local comp="$1" pkg="mamori-$1"
  local stage="$work/$pkg" prefix="/opt/mamori/$1"
  local venv="$stage$prefix"
  mkdir -p "$stage/DEBIAN"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --no-compile "mamori[$comp] @ file://$wheel" 2>"$work/$comp-pip.log" || {
    cat "$work/$comp-pip.log" >&2; exit 1; }
  # pip and setuptools are not needed at run time; one distribution holds both programs: drop the other.
  "$venv/bin/python" -m pip uninstall -q -y pip setuptools >/dev/null 2>&1 || true
  local other=collector
  [ "$comp" = collector ] && other=agent
  rm -rf "$venv/lib/python$pyver/site-packages/$other" "$venv/bin/mamori-$other"
  # The venv was created in the staging folder: point scripts and pyvenv.cfg at the installed path.
  grep -rlI --null -F "$stage" "$venv/bin" "$venv/pyvenv.cfg" | xargs -0 -r sed -i "s|$stage||g"
  # Bytecode with the installed paths in tracebacks (the agent starts faster with it).
  "$venv/bin/python" -m compileall -q -j 0 -s "$stage" -p / "$venv/lib/python$pyver/site-packages" >/dev/null
  install -d "$stage/lib/systemd/system" "$stage/usr/bin" "$stage/usr/share/doc/$pkg"
  install -m 0644 "$here/$pkg.service" "$stage/lib/systemd/system/"
  printf 'Mamori %s\nLicense: Apache-2.0\n' "$comp" > "$stage/usr/share/doc/$pkg/copyright"
  case "$comp" in
    agent)
      ln -s "$prefix/bin/mamori-agent" "$stage/usr/bin/mamori-agent"
      # Deny-by-default before the agent runs: at boot (usbcore option, also in the initramfs) and on every
      # root hub that appears later (udev).
      install -d "$stage/lib/udev/rules.d" "$stage/lib/modprobe.d"
      install -m 0644 "$here/70-mamori-usb.rules" "$stage/lib/udev/rules.d/"
      install -m 0644 "$here/mamori-usb.conf" "$stage/lib/modprobe.d/"
      install -d "$stage/etc/mamori"
      install -m 0644 "$repo/packaging/config/agent.toml" "$stage/etc/mamori/agent.toml"
      echo /etc/mamori/agent.toml > "$stage/DEBIAN/conffiles"
      ;;
    collector)
      install -m 0755 "$here/mamori-collector.wrapper" "$stage/usr/bin/mamori-collector"
      install -d "$stage/usr/share/$pkg"
      install -m 0644 "$repo/packaging/config/collector.toml" "$stage/usr/share/$pkg/collector.toml.example"
      ;;
  esac
  for script in preinst postinst prerm postrm; do
    if [ -f "$here/debian/$pkg.$script" ]; then
      install -m 0755 "$here/debian/$pkg.$script" "$stage/DEBIAN/$script"
    fi
  done
  local size
  size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
  local description
  case "$comp" in
    agent) description="Mamori endpoint agent
 Blocks removable storage, runs posture checks and streams events to a Mamori
 collector over mutual TLS. Runs as the mamori-agent systemd service." ;;
    collector) description="Mamori collector
 Receives agent events over mutual TLS, stores them (SQLite or PostgreSQL) and
 serves the staff CLI. Runs as the mamori-collector systemd service (user mamori)." ;;
  esac
  cat > "$stage/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: Mamori developers <mamori@localhost>
Section: admin
Priority: optional
Installed-Size: $size
Depends: python$pyver, passwd, util-linux
Description: $description
EOF
  dpkg-deb --root-owner-group -Zgzip -z1 --build "$stage" "$out/${pkg}_${version}_${arch}.deb" >/dev/null
  echo "$out/${pkg}_${version}_${arch}.deb"
}

for comp in "${components[@]}"; do
  build "$comp"
done
