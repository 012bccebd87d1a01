"""USBGuard's own `generate-policy` on the real kernel under qemu, imported into Mamori: the named stick only.

Debian's usbguard binaries (and their libraries) are unpacked on the host, which the guest sees over 9p;
inside the guest `usbguard generate-policy` reads the real sysfs of a plugged qemu usb-storage stick. The
file goes through `mamori-collector devices import` (a real process), the policy the collector pushes is
applied to the real guard, and then that stick gets a block device while a second stick with the same id
and name but another serial is refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.usb import qemu_kit
from tests.agent.usb.test_kernel_qemu import VM, WORKTREE, _skip_reason

PACKAGES = ("usbguard", "libusbguard1", "libqb100", "libprotobuf32", "libsodium23", "libumockdev0", "libpcap0.8")
NAMED, OTHER = "USBG-NAMED-0001", "USBG-OTHER-0002"

pytestmark = pytest.mark.timeout(600)


def usbguard_root() -> Path | None:
    """Debian's usbguard unpacked under the cache (the guest sees the host's /), fetched once with apt-get."""
    if os.environ.get("MAMORI_USBGUARD_ROOT"):
        return Path(os.environ["MAMORI_USBGUARD_ROOT"])
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mamori-qemu" / "usbguard"
    if (root / "usr/bin/usbguard").exists():
        return root
    with tempfile.TemporaryDirectory(prefix="mamori-usbguard-") as tmp:
        os.chmod(tmp, 0o755)  # apt's sandbox user writes the download
        for name in PACKAGES:
            if subprocess.run(["apt-get", "download", name], cwd=tmp, capture_output=True).returncode != 0:
                return None
        for deb in Path(tmp).glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root if (root / "usr/bin/usbguard").exists() else None


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    kernel, initrd = qemu_kit.build()
    with tempfile.TemporaryDirectory(prefix="mamori-qemu-") as tmp:
        work = Path(tmp)
        for name in ("named", "other"):
            with open(work / f"{name}.img", "wb") as f:
                f.truncate(16 << 20)
        guest = qemu_kit.Guest(kernel, initrd, WORKTREE, work)
        try:
            guest.wait_ready()
            yield VM(guest, work)
        finally:
            guest.close()


def _collector(datadir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(WORKTREE)}
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", "--data-dir", str(datadir), "--lang", "en", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=WORKTREE,
        timeout=120,
    )


def test_usbguard_generate_policy_imported_allows_the_named_stick_only(vm: VM, tmp_path: Path) -> None:
    root = usbguard_root()
    if root is None:
        pytest.skip("Debian's usbguard packages cannot be downloaded here (apt-get download usbguard ...)")
    vm.call("start", usb={"mode": "allowlist", "allow": []})
    vm.plug_stick("named", NAMED, "named")
    blocked = vm.wait("usb.blocked for the named stick", lambda: vm.events("usb.blocked", NAMED))
    lib = root / "usr/lib/x86_64-linux-gnu"
    run = vm.call("sh", cmd=f"LD_LIBRARY_PATH={lib} {root}/usr/bin/usbguard generate-policy 2>/dev/null")
    assert run["rc"] == 0, run
    lines = [line for line in run["out"].splitlines() if line.startswith("allow ")]
    named = [line for line in lines if f'serial "{NAMED}"' in line]
    assert len(named) == 1 and ' hash "' in named[0] and ' parent-hash "' in named[0], lines
    # The agent computed the very line usbguard printed: same hash, parent-hash, interfaces, connect type.
    assert blocked[-1]["rule"] == named[0]
    policy_file = tmp_path / "rules.conf"
    policy_file.write_text(run["out"], encoding="utf-8")
    datadir = tmp_path / "collector"
    assert _collector(datadir, "init", "--host", "127.0.0.1").returncode == 0
    imported = _collector(datadir, "devices", "import", str(policy_file), "--segment", "lgwan")
    assert imported.returncode == 0 and f"Imported {len(lines)} rule(s)" in imported.stdout, imported.stderr

    from collector.cli.common import engine
    from collector.config import DataDir
    from collector.policies import current_policy
    from mamori import policy as policy_doc

    db = engine(DataDir(datadir))
    allow = policy_doc.parse(current_policy(db, "lgwan", "", "")[1])["usb"]["allow"]
    db.dispose()
    assert allow == lines
    vm.unplug("named")
    vm.call("policy", usb={"mode": "allowlist", "allow": allow})
    vm.plug_stick("named", NAMED, "named")
    found = vm.wait("the named stick's block device", lambda: vm.block_of(NAMED))
    vm.plug_stick("other", OTHER, "other")
    vm.wait("usb.blocked for the other stick", lambda: vm.events("usb.blocked", OTHER))
    time.sleep(2.5)  # longer than usb-storage needs to scan a disk it was allowed to see
    state = vm.call("state")
    assert vm.block_of(OTHER) is None and [b["usb"] for b in state["block"]] == [found["usb"]]
    number = allow.index(named[0]) + 1
    assert vm.events("usb.allowed", NAMED)[-1]["decided_by"] == f"rule {number}: {named[0]}"
    other = vm.events("usb.blocked", OTHER)[-1]
    assert other["decided_by"] == "mode:allowlist (no rule matched)"
    assert other["product_name"] == vm.events("usb.allowed", NAMED)[-1]["product_name"]  # same id and name
    vm.unplug("other")
    vm.unplug("named")
