"""USBGuard's device `hash` / `parent-hash` and interface list, computed from a device's sysfs files as USBGuard does.

Learnt from USBGuard's DeviceBase / DevicePrivate / USBDescriptorParser (no code taken): the hash is
SHA-256 over the product string, the vendor id, the product id and the serial (sysfs text, trailing
NUL/newline/CR/tab/backspace trimmed, nothing between them), then every descriptor of the `descriptors`
file, bLength bytes each, in order - except a Linux root hub's device descriptor (1d6b:0001/2/3), whose
bcdDevice (the kernel version) is hashed as 0 so a kernel update keeps the hash. It is printed as
standard base64. A device hangs off its parent's hash; a root hub's parent-hash is the SHA-256 of its
controller's sysfs path below /sys ("/devices/pci0000:00/0000:00:14.0").

Descriptors USBGuard's parser refuses (a device descriptor not 18 bytes, a configuration or interface
not 9, an endpoint not 7 or 9, a truncated one) give no hash (None): USBGuard then ignores the device,
and Mamori lets no hash rule match it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

_SIZES = {1: (18,), 2: (9,), 4: (9,), 5: (7, 9)}  # device, configuration, interface, endpoint
_ROOT_HUBS = {(0x1D6B, 0x0001), (0x1D6B, 0x0002), (0x1D6B, 0x0003)}
_TRIM = b"\0\n\r\t\b"


def sysfs_text(raw: bytes) -> str:
    """A sysfs string attribute the way USBGuard reads it: trailing \\0 \\n \\r \\t \\b cut, nothing else."""
    return raw.rstrip(_TRIM).decode("utf-8", "replace")


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def path_hash(sysfs_path: str) -> str:
    """parent-hash of a root hub: its controller's path relative to /sys, e.g. /devices/pci0000:00/0000:00:14.0."""
    return b64sha256(sysfs_path.encode("utf-8", "surrogateescape"))


@dataclass(frozen=True)
class Descriptors:
    """What USBGuard reads from a `descriptors` file: the hashed bytes and every interface type, or refusal."""

    hashed: bytes
    interface_types: tuple[str, ...]


def walk(raw: bytes) -> Descriptors | None:
    """Walk the descriptors as USBGuard's parser does; None when it would refuse them."""
    hashed = bytearray()
    types: list[str] = []
    pos = 0
    seen_device = seen_config = False
    while pos < len(raw):
        if pos + 2 > len(raw):
            return None
        length, kind = raw[pos], raw[pos + 1]
        if length < 2 or pos + length > len(raw):
            return None
        desc = raw[pos : pos + length]
        if kind in _SIZES and length not in _SIZES[kind]:
            return None
        if kind == 1:
            if seen_device:
                return None
            seen_device = True
            vendor, product = int.from_bytes(desc[8:10], "little"), int.from_bytes(desc[10:12], "little")
            if (vendor, product) in _ROOT_HUBS:
                desc = desc[:12] + b"\0\0" + desc[14:]
        elif kind == 2:
            if not seen_device:
                return None
            seen_config = True
        elif kind == 4:
            if not seen_config:
                return None
            types.append(f"{desc[5]:02x}:{desc[6]:02x}:{desc[7]:02x}")
        hashed += desc
        pos += length
    if len(hashed) < 18 or not seen_device:
        return None
    return Descriptors(bytes(hashed), tuple(types))


def device_hash(*, name: str, vendor_id: str, product_id: str, serial: str, descriptors: bytes) -> str | None:
    """USBGuard's `hash` of a device from its sysfs strings and raw `descriptors`; None if USBGuard would refuse."""
    walked = walk(descriptors)
    if walked is None or not vendor_id or not product_id:
        return None
    head = "".join((name, vendor_id, product_id, serial)).encode("utf-8", "surrogateescape")
    return b64sha256(head + walked.hashed)
