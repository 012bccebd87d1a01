"""Would the running kernel bind a storage driver? modules.alias patterns matched against USB modaliases."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("mamori.agent.usb.modalias")

# The kernel's storage drivers for USB: usb-storage (with its unusual_devs table), uas and the ums-* sub-drivers.
STORAGE_MODULES = ("usb_storage", "uas")
STORAGE_PREFIX = "ums_"


@dataclass(frozen=True)
class Interface:
    """One interface as the kernel's modalias names it (alternate setting 0)."""

    number: int
    triple: str  # "08:06:50"


def is_storage_module(module: str) -> bool:
    name = module.replace("-", "_")
    return name in STORAGE_MODULES or name.startswith(STORAGE_PREFIX)


def parse_aliases(text: str) -> tuple[str, ...]:
    """The `usb:` patterns of storage modules in a modules.alias file ("alias PATTERN MODULE" lines)."""
    out: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "alias" and parts[1].startswith("usb:") and is_storage_module(parts[2]):
            out.append(parts[1])
    return tuple(out)


def running_kernel_aliases(root: Path = Path("/")) -> tuple[str, ...]:
    """The storage patterns of the running kernel; none when its modules.alias cannot be read (logged)."""
    path = root / "lib/modules" / os.uname().release / "modules.alias"
    try:
        return parse_aliases(path.read_text(encoding="ascii", errors="replace"))
    except OSError as exc:
        # Class 08 still counts as storage; only vendor-class storage (unusual_devs) depends on this table.
        log.warning("cannot read %s (%s): storage is recognised by interface class only", path, exc)
        return ()


def interface_modalias(device: bytes, iface: Interface) -> str:
    """The modalias the kernel gives an interface, built from the 18-byte device descriptor."""
    vendor = device[8] | device[9] << 8
    product = device[10] | device[11] << 8
    bcd = device[12] | device[13] << 8
    cls, sub, proto = (int(x, 16) for x in iface.triple.split(":"))
    return (
        f"usb:v{vendor:04X}p{product:04X}d{bcd:04X}dc{device[4]:02X}dsc{device[5]:02X}dp{device[6]:02X}"
        f"ic{cls:02X}isc{sub:02X}ip{proto:02X}in{iface.number:02X}"
    )


def interfaces_of(raw: bytes) -> list[Interface]:
    """Interfaces (alternate setting 0) of the configuration descriptors after the device descriptor."""
    out: list[Interface] = []
    pos = 0
    while pos + 2 <= len(raw):
        length, kind = raw[pos], raw[pos + 1]
        if length < 2 or pos + length > len(raw):
            break
        if kind == 4 and length >= 9 and raw[pos + 3] == 0:
            out.append(Interface(raw[pos + 2], f"{raw[pos + 5]:02x}:{raw[pos + 6]:02x}:{raw[pos + 7]:02x}"))
        pos += length
    return out


_VALID = re.compile(r"^usb:[0-9A-Za-z*?\[\]-]+$")


class StorageMatcher:
    """Decides "the kernel would bind a storage driver here" from a modalias (class 08 always counts)."""

    def __init__(self, patterns: tuple[str, ...]):
        self.patterns = tuple(p for p in patterns if _VALID.match(p))

    def matches(self, modalias: str) -> bool:
        return any(fnmatch.fnmatchcase(modalias, p) for p in self.patterns)

    def storage_triples(self, descriptors: bytes) -> frozenset[str]:
        """The interface triples of a device (raw sysfs `descriptors`) a storage driver would claim."""
        if len(descriptors) < 18 or descriptors[1] != 1:
            return frozenset()
        device, rest = descriptors[:18], descriptors[18:]
        return frozenset(
            i.triple
            for i in interfaces_of(rest)
            if i.triple.startswith("08:") or self.matches(interface_modalias(device, i))
        )
