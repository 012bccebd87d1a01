"""Boot Debian's own kernel under qemu (TCG) with a busybox initramfs, the host's root shared over 9p.

The kernel and modules come from the distribution's linux-image package (`apt-get download`,
`dpkg-deb -x`); the initramfs holds busybox-static and the modules for xHCI, usb-storage, sd,
HID, 9p/virtio, ext4 and overlay, and the kernel's own modules.alias (`depmod -b` on the unpacked
package, which ships none), laid over the host's lib directory so the guest's agent reads it at
/lib/modules/<release>/modules.alias as on an installed terminal. Both are cached under
~/.cache/mamori-qemu keyed by the package version and this file's build recipe, so reruns start at once.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

WANTED_MODULES = (
    "virtio_pci",
    "9pnet_virtio",
    "9p",
    "xhci_pci",
    "usb_storage",
    "sd_mod",
    "usbhid",
    "hid_generic",
    "cdc_ether",  # usb-net: a two-interface device whose driver claims its data interface
    "crc32c_generic",
    "ext4",  # ext4 asks for crc32c at mount time; no modprobe here
    "overlay",
)  # lays the guest kernel's modules.alias over the host's read-only lib directory

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /host
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.load); do insmod /mods/$m.ko 2>/dev/null || echo "insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host || poweroff -f
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mount -t tmpfs tmp /host/tmp
mount -t tmpfs run /host/run
mount -t tmpfs media /host/media
# The host runs another kernel (or none of its modules are installed): show the guest kernel's alias table at
# /lib/modules/<release>/ in the chroot, the host's own lib directory underneath, both read-only.
LIB=/host/lib
[ -L $LIB ] && LIB=/host/$(readlink /host/lib)
mount -t overlay -o ro,lowerdir=/modtree:$LIB modtree $LIB || echo "mamori-guest: no modules.alias overlay"
WT=$(sed -n 's/.*mamori.wt=\([^ ]*\).*/\1/p' /proc/cmdline)
# The checkout may live under /tmp (CI clones there), which is a fresh tmpfs in the guest: make the mount point.
mkdir -p /host$WT 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose repo /host$WT || poweroff -f
echo "mamori-guest: ready"
chroot /host /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp PYTHONDONTWRITEBYTECODE=1 \
  $WT/.venv/bin/python -c "import os, sys; os.chdir('$WT'); sys.path[:0] = ['$WT']; \
import tests.agent.usb.guest_driver as g; g.main('/dev/ttyS1')"
echo "mamori-guest: driver exited $?"
poweroff -f
"""


def _run(*cmd: str, cwd: Path | None = None) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def missing_tools() -> str:
    """Why this machine cannot run the test, or "" when it can."""
    for tool in ("qemu-system-x86_64", "apt-get", "apt-cache", "dpkg-deb", "modinfo", "depmod", "cpio", "busybox"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (packaging/dev/bootstrap.sh installs it)"
    busybox = Path("/bin/busybox")
    if not busybox.exists() or b"ld-linux" in busybox.read_bytes()[:4096]:
        return "busybox-static is not installed (a dynamically linked busybox cannot run in the initramfs)"
    return ""


def kernel_package() -> tuple[str, str]:
    """The linux-image package the amd64 meta-package points at, and its candidate version."""
    deps = _run("apt-cache", "depends", "linux-image-amd64")
    name = next(line.split()[-1] for line in deps.splitlines() if "Depends:" in line and "linux-image-" in line)
    policy = _run("apt-cache", "policy", name)
    version = next(line.split()[-1] for line in policy.splitlines() if "Candidate:" in line)
    return name, version


def _module_index(root: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in root.rglob("*.ko*"):
        index[path.name.split(".ko")[0].replace("-", "_")] = path
    return index


def _load_order(index: dict[str, Path]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        deps = _run("modinfo", "-F", "depends", str(index[name])).strip()
        for dep in filter(None, deps.split(",")):
            visit(dep.replace("-", "_"))
        order.append(name)

    for name in WANTED_MODULES:
        visit(name)
    return order


def _modules_alias(tree: Path, dest: Path) -> str:
    """Copy the kernel's modules.alias (generated with depmod when the package has none) to dest/<release>/."""
    moddir = next(
        p
        for base in ("lib/modules", "usr/lib/modules")
        if (tree / base).is_dir()
        for p in (tree / base).iterdir()
        if p.is_dir()
    )
    release = moddir.name
    alias = moddir / "modules.alias"
    if not alias.exists():
        # Debian generates it in the package's postinst; -b works on the unpacked tree, never the host's.
        base = tree if moddir.parent == tree / "lib/modules" else tree / "usr"
        _run("depmod", "-b", str(base), release)
    (dest / release).mkdir(parents=True)
    shutil.copy2(alias, dest / release / "modules.alias")
    return release


def build(cache_root: Path | None = None) -> tuple[Path, Path]:
    """(vmlinuz, initramfs) for the current Debian kernel package, built once per version and recipe."""
    cache_root = cache_root or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mamori-qemu"
    try:
        name, version = kernel_package()
    except (StopIteration, subprocess.CalledProcessError):
        # A machine whose package lists were never fetched (bootstrap only updates when it installs).
        _run("apt-get", "update", "-qq")
        name, version = kernel_package()
    recipe = hashlib.sha256((INIT + repr(WANTED_MODULES)).encode()).hexdigest()[:12]
    out = cache_root / f"{name}_{version}_{recipe}"
    kernel, initrd = out / "vmlinuz", out / "initramfs.cpio.gz"
    if kernel.exists() and initrd.exists():
        return kernel, initrd
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mamori-kbuild-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # apt's sandbox user must be able to write the download
        _run("apt-get", "download", f"{name}={version}", cwd=work)
        deb = next(work.glob("*.deb"))
        tree = work / "x"
        _run("dpkg-deb", "-x", str(deb), str(tree))
        vmlinuz = next((tree / "boot").glob("vmlinuz-*"))
        index = _module_index(tree / "lib/modules")
        order = _load_order(index)
        root = work / "initramfs"
        (root / "bin").mkdir(parents=True)
        (root / "mods").mkdir()
        shutil.copy2("/bin/busybox", root / "bin/busybox")
        for mod in order:
            src = index[mod]
            data = src.read_bytes()
            if src.name.endswith(".xz") or src.name.endswith(".zst"):
                raise RuntimeError(f"compressed module {src.name}: teach qemu_kit to unpack it")
            (root / "mods" / f"{mod}.ko").write_bytes(data)
        (root / "modules.load").write_text("\n".join(order) + "\n")
        release = _modules_alias(tree, root / "modtree/modules")
        (root / "release").write_text(release + "\n")
        (root / "init").write_text(INIT)
        os.chmod(root / "init", 0o755)
        files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
        archive = subprocess.run(
            ["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files, check=True, capture_output=True
        ).stdout
        tmp_initrd = initrd.with_suffix(".tmp")
        tmp_initrd.write_bytes(gzip.compress(archive, 1))
        shutil.copy2(vmlinuz, kernel.with_suffix(".tmp"))
        kernel.with_suffix(".tmp").rename(kernel)
        tmp_initrd.rename(initrd)
    return kernel, initrd


class Qmp:
    """A minimal QMP client: commands in, replies out, asynchronous events kept for wait_event()."""

    def __init__(self, path: Path, timeout: float = 30):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(str(path))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rwb")
        self.events: list[dict[str, Any]] = []
        self._read()  # greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        line = self.file.readline()
        if not line:
            raise ConnectionError("QMP closed")
        return json.loads(line)

    def execute(self, command: str, **arguments: Any) -> Any:
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.file.write(json.dumps(msg).encode() + b"\n")
        self.file.flush()
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError(f"QMP {command}: {reply['error']}")
            return reply.get("return")

    def wait_event(self, name: str, device_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev["event"] == name and ev.get("data", {}).get("device") == device_id:
                    self.events.remove(ev)
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {name} for {device_id}")
            self.execute("query-status")  # drains pending events
            time.sleep(0.1)

    def close(self) -> None:
        self.sock.close()


class Guest:
    """A running VM: QMP for hot-plug, a JSON-lines control channel to the guest driver."""

    def __init__(self, kernel: Path, initrd: Path, worktree: Path, workdir: Path):
        self.workdir = workdir
        self.console = workdir / "console.log"
        qmp_path, ctl_path = workdir / "qmp.sock", workdir / "ctl.sock"
        cmd = [
            "qemu-system-x86_64",
            "-accel",
            "tcg",
            "-m",
            "768",
            "-smp",
            "1",
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
            "-kernel",
            str(kernel),
            "-initrd",
            str(initrd),
            "-append",
            f"console=ttyS0 panic=-1 quiet loglevel=4 mamori.wt={worktree}",
            "-serial",
            f"file:{self.console}",
            "-chardev",
            f"socket,id=ctl,path={ctl_path},server=on,wait=off",
            "-device",
            "isa-serial,chardev=ctl",
            "-qmp",
            f"unix:{qmp_path},server=on,wait=off",
            "-device",
            "qemu-xhci,id=xhci",
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs",
            f"local,path={worktree},mount_tag=repo,security_model=none,readonly=on,multidevs=remap",
            "-nic",
            "none",
        ]
        with open(workdir / "qemu.err", "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        self.qmp = Qmp(qmp_path)
        self.ctl = socket.socket(socket.AF_UNIX)
        self.ctl.connect(str(ctl_path))
        self.ctl_file = self.ctl.makefile("rwb")
        self.ctl.settimeout(300)

    def wait_ready(self, timeout: float = 240) -> None:
        """Block until the guest driver says hello (the kernel booted, 9p mounted, Python started)."""
        self.ctl.settimeout(timeout)
        while True:
            line = self.ctl_file.readline()
            if not line:
                raise ConnectionError(f"guest never became ready; console:\n{self.tail()}")
            if line.strip().lstrip(b"\0") == b'{"ready": true}':
                return

    def call(self, op: str, timeout: float = 120, **args: Any) -> Any:
        """One request to the guest driver; raises with the guest's error text."""
        self.ctl.settimeout(timeout)
        self.ctl_file.write(json.dumps({"op": op, **args}).encode() + b"\n")
        self.ctl_file.flush()
        while True:
            line = self.ctl_file.readline()
            if not line:
                raise ConnectionError(f"guest closed the control channel; console:\n{self.tail()}")
            line = line.strip().lstrip(b"\0")
            if not line.startswith(b"{"):
                continue  # the tty may echo or emit noise before the driver set raw mode
            reply = json.loads(line)
            if reply.get("error"):
                raise RuntimeError(f"guest {op}: {reply['error']}")
            return reply.get("result")

    def tail(self, n: int = 4000) -> str:
        try:
            return self.console.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def close(self) -> None:
        try:
            self.qmp.execute("quit")
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
