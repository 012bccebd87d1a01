"""Linux USB enforcement: kernel uevents, sysfs descriptors, (de)authorizing devices and interfaces, BLKROSET."""

from __future__ import annotations

import fcntl
import logging
import os
import select
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from agent.host.linux.modalias import StorageMatcher, running_kernel_aliases
from mamori import usbhash
from mamori.usbrules import Device

log = logging.getLogger("mamori.agent.usb.linux")

NETLINK_KOBJECT_UEVENT = 15
BLKROSET = 0x125D  # _IO(0x12, 93)
MAX_STRING = 256  # names and serials longer than this are cut: they only label events and match rules
MAX_DESCRIPTORS = 65536
MAX_UEVENT = 16384


@dataclass(frozen=True)
class Uevent:
    action: str
    devpath: str
    env: dict[str, str]

    @property
    def subsystem(self) -> str:
        return self.env.get("SUBSYSTEM", "")

    @property
    def devtype(self) -> str:
        return self.env.get("DEVTYPE", "")


def parse_uevent(data: bytes) -> Uevent | None:
    """Parse a kernel uevent datagram ("action@devpath\\0KEY=VALUE\\0..."); None for anything else.

    udev's re-broadcasts (starting with "libudev") and junk are ignored rather than trusted.
    """
    if not data or len(data) > MAX_UEVENT or data.startswith(b"libudev"):
        return None
    parts = data.split(b"\0")
    head = parts[0].decode("utf-8", "replace")
    action, sep, devpath = head.partition("@")
    if not sep or not action or not devpath.startswith("/"):
        return None
    env: dict[str, str] = {}
    for part in parts[1:]:
        key, eq, value = part.partition(b"=")
        if eq and key:
            env[key.decode("ascii", "replace")] = value.decode("utf-8", "replace")
    if env.get("ACTION", action) != action or env.get("DEVPATH", devpath) != devpath:
        return None  # inconsistent: do not act on it
    return Uevent(action, devpath, env)


class UeventSocket:
    """The kernel's uevent multicast group (no udev needed; works in an initramfs)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind((0, 1))

    def receive(self, timeout: float) -> list[Uevent]:
        """Every uevent waiting now (or arriving within timeout), parsed; bad datagrams are dropped."""
        out: list[Uevent] = []
        wait = timeout
        while True:
            ready, _, _ = select.select([self.sock], [], [], wait)
            if not ready:
                return out
            try:
                data, addr = self.sock.recvfrom(MAX_UEVENT + 1)
            except OSError as exc:  # ENOBUFS: events were lost; the caller rescans sysfs
                log.warning("uevent socket: %s; rescanning", exc)
                out.append(Uevent("rescan", "/", {}))
                continue
            wait = 0
            if addr and addr[0] != 0:
                continue  # only the kernel (port 0) is believed
            event = parse_uevent(data)
            if event is not None:
                out.append(event)

    def close(self) -> None:
        self.sock.close()


def read_attribute(path: Path) -> str:
    """A sysfs string attribute, cut to MAX_STRING; undecodable bytes replaced; missing -> ""."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_STRING + 1)
    except OSError:
        return ""
    text = raw[:MAX_STRING].decode("utf-8", "replace").strip()
    return "".join(ch for ch in text if ch.isprintable())


def read_raw(path: Path, limit: int = 4096) -> str:
    """A sysfs string as USBGuard reads it (mamori/usbhash.py): only trailing NUL/newline/CR/tab/BS cut."""
    try:
        with open(path, "rb") as handle:
            return usbhash.sysfs_text(handle.read(limit))
    except OSError:
        return ""


def parse_descriptors(raw: bytes) -> tuple[str, ...]:
    """Interface class triples ("08:06:50") from a device's raw descriptors (sysfs `descriptors`).

    The kernel keeps these even for an unauthorized device, whose interfaces do not exist in sysfs yet.
    Truncated or nonsensical descriptors end the walk; what was read before stays.
    """
    out: list[str] = []
    pos = 0
    while pos + 2 <= len(raw):
        length, kind = raw[pos], raw[pos + 1]
        if length < 2 or pos + length > len(raw):
            break
        if kind == 4 and length >= 9:  # INTERFACE
            alt = raw[pos + 3]
            triple = f"{raw[pos + 5]:02x}:{raw[pos + 6]:02x}:{raw[pos + 7]:02x}"
            if alt == 0 and triple not in out:
                out.append(triple)
        pos += length
    return tuple(out)


class Sysfs:
    """The USB part of sysfs; `root` is "/" on a real machine, a prepared tree in unit tests."""

    def __init__(self, root: Path = Path("/"), matcher: StorageMatcher | None = None):
        self.root = root
        self.devices = root / "sys/bus/usb/devices"
        # usbcore's default for every host controller registered from now on (hot-added PCI, docks).
        self.core_default = root / "sys/module/usbcore/parameters/authorized_default"
        self._matcher = matcher

    @property
    def matcher(self) -> StorageMatcher:
        # Read the kernel's alias table on first use: a listing of a folder without sysfs must not warn about it.
        if self._matcher is None:
            self._matcher = StorageMatcher(running_kernel_aliases(self.root))
        return self._matcher

    def present(self) -> bool:
        return self.devices.is_dir()

    def root_hubs(self) -> list[Path]:
        return sorted(p for p in self._entries() if p.name.startswith("usb"))

    def usb_devices(self) -> list[Path]:
        """Every non-root-hub device ("1-2", "1-2.3"); interfaces ("1-2:1.0") are not devices."""
        return sorted(p for p in self._entries() if not p.name.startswith("usb") and ":" not in p.name)

    def interfaces(self, device: Path) -> list[Path]:
        return sorted(p for p in self._entries() if p.name.startswith(device.name + ":"))

    def _entries(self) -> list[Path]:
        try:
            return list(self.devices.iterdir())
        except OSError:
            return []

    def from_devpath(self, devpath: str) -> Path:
        return self.root / "sys" / devpath.lstrip("/")

    def describe(self, path: Path) -> Device | None:
        """The device's identity from sysfs; None when it is gone or not a USB device."""
        vendor = read_attribute(path / "idVendor").lower()
        product = read_attribute(path / "idProduct").lower()
        if not vendor:
            return None
        try:
            with open(path / "descriptors", "rb") as handle:
                raw = handle.read(MAX_DESCRIPTORS)
        except OSError:
            raw = b""
        interfaces = parse_descriptors(raw[18:] if raw[1:2] == b"\x01" else raw)
        name_raw, serial_raw = read_raw(path / "product"), read_raw(path / "serial")
        walked = usbhash.walk(raw)
        # USBGuard's own hash and parent-hash, so a `usbguard generate-policy` file names devices here too.
        connect = "" if path.name.startswith("usb") else read_raw(path / "port/connect_type")
        return Device(
            vendor_id=vendor,
            product_id=product,
            name=read_attribute(path / "product"),
            serial=read_attribute(path / "serial"),
            port=path.name,
            interfaces=interfaces,
            hash=self.usbguard_hash(path, vendor, product, name_raw, serial_raw, raw) or "",
            parent_hash=self.parent_hash(path),
            connect_type=connect,
            interface_types=walked.interface_types if walked else (),
            name_raw=name_raw,
            serial_raw=serial_raw,
        )

    @staticmethod
    def usbguard_hash(path: Path, vendor: str, product: str, name: str, serial: str, raw: bytes) -> str | None:
        return usbhash.device_hash(
            name=name,
            vendor_id=read_raw(path / "idVendor") or vendor,
            product_id=read_raw(path / "idProduct") or product,
            serial=serial,
            descriptors=raw,
        )

    def parent_hash(self, path: Path) -> str:
        """USBGuard's parent-hash: the parent device's hash, or for a root hub the hash of its controller's path."""
        try:
            real = path.resolve()
            sysroot = (self.root / "sys").resolve()
            parent = real.parent
            devtype = next(
                (line[8:] for line in read_raw(parent / "uevent", 8192).splitlines() if line.startswith("DEVTYPE=")), ""
            )
            if devtype == "usb_device":
                try:
                    with open(parent / "descriptors", "rb") as handle:
                        raw = handle.read(MAX_DESCRIPTORS)
                except OSError:
                    return ""
                return (
                    self.usbguard_hash(parent, "", "", read_raw(parent / "product"), read_raw(parent / "serial"), raw)
                    or ""
                )
            return usbhash.path_hash("/" + str(parent.relative_to(sysroot)))
        except (OSError, ValueError):
            return ""

    def _descriptors(self, path: Path) -> bytes:
        try:
            with open(path / "descriptors", "rb") as handle:
                return handle.read(MAX_DESCRIPTORS)
        except OSError:
            return b""

    def kernel_storage(self, path: Path) -> frozenset[str]:
        """Interface triples of the device that the running kernel's storage drivers would bind."""
        return self.matcher.storage_triples(self._descriptors(path))

    def interface_is_storage(self, iface: Path) -> bool:
        """An existing interface a storage driver would bind: by class, or by the kernel's alias table."""
        cls = self.interface_class(iface)
        return cls.startswith(("08:", "06:")) or self.matcher.matches(read_attribute(iface / "modalias"))

    def root_hub_of(self, path: Path) -> Path:
        return self.devices / ("usb" + path.name.split("-")[0])

    def vendor_name(self, path: Path) -> str:
        return read_attribute(path / "manufacturer")

    def interface_class(self, iface: Path) -> str:
        parts = [read_attribute(iface / f) for f in ("bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol")]
        return ":".join(p.lower() for p in parts)

    def is_authorized(self, path: Path) -> bool:
        return read_attribute(path / "authorized") == "1"

    def write(self, path: Path, value: str) -> bool:
        """Write a sysfs attribute; a device that vanished meanwhile is not an error worth more than a log."""
        try:
            with open(path, "w") as handle:
                handle.write(value)
            return True
        except OSError as exc:
            log.warning("cannot write %s to %s: %s", value, path, exc)
            return False

    def set_authorized(self, path: Path, on: bool) -> bool:
        return self.write(path / "authorized", "1" if on else "0")

    def probe(self, iface: Path) -> bool:
        """Ask the kernel to bind a driver to a freshly authorized interface (it does not retry by itself)."""
        if (iface / "driver").exists():
            return True
        return self.write(self.root / "sys/bus/usb/drivers_probe", iface.name)

    def default_deny(self) -> dict[str, tuple[str, str]]:
        """Deny new devices and interfaces on every root hub; returns the previous values to restore."""
        previous: dict[str, tuple[str, str]] = {}
        if self.core_default.exists():
            # First, so a controller that registers while we walk the hubs is born denying.
            previous[""] = (read_attribute(self.core_default), "")
            self.write(self.core_default, "0")
        for hub in self.root_hubs():
            previous[hub.name] = (
                read_attribute(hub / "authorized_default"),
                read_attribute(hub / "interface_authorized_default"),
            )
            self.deny_hub(hub)
        return previous

    def deny_hub(self, hub: Path) -> None:
        """Deny by default on one root hub (usbcore's parameter does not cover interfaces of new hubs)."""
        for name in ("authorized_default", "interface_authorized_default"):
            if read_attribute(hub / name) != "0":
                self.write(hub / name, "0")

    def restore_defaults(self, previous: dict[str, tuple[str, str]]) -> None:
        if "" in previous and self.core_default.exists():
            self.write(self.core_default, previous[""][0] or "-1")
        for hub in self.root_hubs():
            dev, iface = previous.get(hub.name, ("1", "1"))
            self.write(hub / "authorized_default", dev or "1")
            self.write(hub / "interface_authorized_default", iface or "1")

    def usb_ancestor(self, block_syspath: Path) -> Path | None:
        """The USB device a block device hangs off, found by walking up its real sysfs path."""
        try:
            path = block_syspath.resolve()
        except OSError:
            return None
        for parent in path.parents:
            if (parent / "idVendor").exists() and ":" not in parent.name:
                return parent
        return None

    def block_devices(self) -> list[Path]:
        """Every disk and partition in /sys/class/block."""
        try:
            return sorted((self.root / "sys/class/block").iterdir())
        except OSError:
            return []


def set_block_read_only(devnode: Path) -> bool:
    """BLKROSET on a block device node: from now on the kernel refuses writes and rw mounts."""
    try:
        fd = os.open(devnode, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        log.error("cannot open %s to make it read-only: %s", devnode, exc)
        return False
    try:
        fcntl.ioctl(fd, BLKROSET, struct.pack("i", 1))
        return True
    except OSError as exc:
        log.error("BLKROSET on %s failed: %s", devnode, exc)
        return False
    finally:
        os.close(fd)
