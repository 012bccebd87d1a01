"""Linux mounts: /proc/self/mountinfo parsing and which mounted filesystems sit on removable media."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from agent.host.linux.usb import Sysfs, read_attribute

log = logging.getLogger("mamori.agent.mounts")


@dataclass(frozen=True)
class Mount:
    mount_point: str
    source: str
    fstype: str
    options: tuple[str, ...]

    @property
    def read_only(self) -> bool:
        return "ro" in self.options


@dataclass(frozen=True)
class RemovableMount:
    mount: Mount
    device_serial: str
    usb_port: str


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and len(field[i + 1 : i + 4]) == 3 and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    """proc(5) mountinfo lines; malformed lines are skipped."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 6 or len(tail) < 2:
            continue
        options = tuple(fields[5].split(",")) + tuple(tail[2].split(",") if len(tail) > 2 else ())
        mounts.append(Mount(_unescape(fields[4]), _unescape(tail[1]), tail[0], options))
    return mounts


@dataclass(frozen=True)
class RemovableDisk:
    """A USB block device (disk or partition) whose node a raw writer (`dd`) would open."""

    devnode: str
    device_serial: str
    usb_port: str


class MountTable:
    """Reads the mount table and recognises removable media: a USB-attached or `removable` block device."""

    def __init__(self, root: Path = Path("/"), sysfs: Sysfs | None = None):
        self.root = root
        self.sysfs = sysfs or Sysfs(root)

    def mounts(self) -> list[Mount]:
        try:
            text = (self.root / "proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            log.error("cannot read mountinfo: %s", exc)
            return []
        return parse_mountinfo(text)

    def removable(self) -> list[RemovableMount]:
        out = []
        for mount in self.mounts():
            if not mount.source.startswith("/dev/"):
                continue
            name = Path(mount.source).name
            block = self.root / "sys/class/block" / name
            if not block.exists():
                continue
            disk = block.resolve()
            if (disk / "partition").exists():
                disk = disk.parent
            usb = self.sysfs.usb_ancestor(block)
            if usb is None and read_attribute(disk / "removable") != "1":
                continue
            serial = read_attribute(usb / "serial") if usb is not None else ""
            out.append(RemovableMount(mount, serial, usb.name if usb is not None else ""))
        return out

    def removable_disks(self) -> list[RemovableDisk]:
        out = []
        for block in self.sysfs.block_devices():
            usb = self.sysfs.usb_ancestor(block)
            if usb is None:
                continue
            out.append(RemovableDisk(str(self.root / "dev" / block.name), read_attribute(usb / "serial"), usb.name))
        return out
