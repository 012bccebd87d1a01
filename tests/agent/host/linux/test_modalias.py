"""Storage the kernel would bind though its class does not say so: the alias matcher and the guard's backstop."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

from agent.host.linux.modalias import Interface, StorageMatcher, interface_modalias, parse_aliases
from agent.host.linux.usb import Sysfs, Uevent
from agent.host.linux.usb_guard import Guard
from agent.usb.policy import compile_usb
from mamori import policy as policy_doc

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
# Lines in the format depmod writes; the first is usb-storage's unusual_devs entry for 090c:6000.
ALIASES = """\
alias usb:v090Cp6000d0100dc*dsc*dp*ic*isc*ip*in* usb_storage
alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb_storage
alias usb:v*p*d*dc*dsc*dp*ic08isc06ip62in* uas
alias usb:v04E6p0006d0[1-2]*dc*dsc*dp*ic*isc*ip*in* ums_usbat
alias usb:v046DpC31Cd*dc*dsc*dp*ic*isc*ip*in* usbhid
alias usb:v*p*d*dc*dsc*dp*ic03isc*ip*in* usbhid
alias pci:v00008086d*sv*sd*bc0Csc03i30* xhci_pci
"""


def _descriptors(vid: int, pid: int, bcd: int, interfaces: list[tuple[int, int, int]]) -> bytes:
    device = bytes([18, 1, 0, 2, 0, 0, 0, 64]) + struct.pack("<HHH", vid, pid, bcd) + bytes([1, 2, 3, 1])
    body = b"".join(bytes([9, 4, n, 0, 1, c, s, p, 0]) for n, (c, s, p) in enumerate(interfaces))
    config = bytes([9, 2]) + struct.pack("<H", 9 + len(body)) + bytes([len(interfaces), 1, 0, 0x80, 50])
    return device + config + body


def test_only_storage_modules_usb_patterns_are_kept():
    assert parse_aliases(ALIASES + "garbage\nalias x\n") == (
        "usb:v090Cp6000d0100dc*dsc*dp*ic*isc*ip*in*",
        "usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*",
        "usb:v*p*d*dc*dsc*dp*ic08isc06ip62in*",
        "usb:v04E6p0006d0[1-2]*dc*dsc*dp*ic*isc*ip*in*",
    )


def test_vendor_class_device_in_the_kernels_table_is_storage():
    matcher = StorageMatcher(parse_aliases(ALIASES))
    raw = _descriptors(0x090C, 0x6000, 0x0100, [(0xFF, 0xFF, 0xFF)])
    assert interface_modalias(raw[:18], Interface(0, "ff:ff:ff")) == "usb:v090Cp6000d0100dc00dsc00dp00icFFiscFFipFFin00"
    assert matcher.storage_triples(raw) == {"ff:ff:ff"}
    assert matcher.storage_triples(_descriptors(0x04E6, 0x0006, 0x0150, [(0xFF, 0, 0)])) == {"ff:00:00"}
    assert matcher.storage_triples(_descriptors(0x04E6, 0x0006, 0x0350, [(0xFF, 0, 0)])) == frozenset()
    assert matcher.storage_triples(_descriptors(0x1234, 0x5678, 0x0100, [(0xFF, 0xFF, 0xFF)])) == frozenset()
    assert matcher.storage_triples(_descriptors(0x1234, 0x5678, 0x0100, [(3, 1, 1), (8, 6, 0x50)])) == {"08:06:50"}
    assert StorageMatcher(("usb:v*;rm -rf*",)).patterns == ()  # only pattern characters are believed
    assert matcher.storage_triples(b"\x12\x01") == frozenset()  # truncated


def _tree(root: Path) -> Path:
    devices = root / "sys/bus/usb/devices"
    devices.mkdir(parents=True)
    (root / "sys/bus/usb/drivers_probe").write_text("")
    hub = devices / "usb1"
    hub.mkdir()
    for name, value in (("authorized_default", "1"), ("interface_authorized_default", "1"), ("authorized", "1")):
        (hub / name).write_text(value + "\n")
    (root / "sys/module/usbcore/parameters").mkdir(parents=True)
    (root / "sys/module/usbcore/parameters/authorized_default").write_text("-1\n")
    return devices


def _vendor_class_stick(devices: Path) -> Path:
    """090c:6000 as the kernel's unusual_devs knows it: one vendor-class interface that usb-storage claims."""
    dev = devices / "1-1"
    dev.mkdir()
    for key, value in (("idVendor", "090c"), ("idProduct", "6000"), ("serial", "VC-1"), ("authorized", "0")):
        (dev / key).write_text(value + "\n")
    (dev / "descriptors").write_bytes(_descriptors(0x090C, 0x6000, 0x0100, [(0xFF, 0xFF, 0xFF)]))
    return dev


def test_guard_keeps_unusual_storage_off_and_cuts_off_what_appears_below_it(tmp_path):
    devices = _tree(tmp_path)
    dev = _vendor_class_stick(devices)
    emitted: list[tuple[str, dict, str | None]] = []
    doc = policy_doc.validate(
        policy_doc.DEFAULTS["lgwan"]
        | {"usb": {"mode": "block", "allow": [], "temporary": [], "restore_on_exit": False}}
    )
    sysfs = Sysfs(tmp_path, matcher=StorageMatcher(parse_aliases(ALIASES)))
    guard = Guard(
        sysfs, compile_usb(doc), lambda k, p, severity=None: emitted.append((k, p, severity)), clock=lambda: NOW
    )
    guard.start()
    assert (tmp_path / "sys/module/usbcore/parameters/authorized_default").read_text() == "0"
    assert [k for k, _, _ in emitted] == ["usb.attached", "usb.blocked"]  # storage refused, though class ff
    assert (dev / "authorized").read_text() == "0\n"  # never authorized: usb-storage never sees it
    # Someone authorizes it behind the guard's back: its interface appears, then a disk.
    (dev / "authorized").write_text("1\n")
    (devices / "1-1:1.0").mkdir()
    guard.handle(Uevent("add", "/bus/usb/devices/1-1:1.0", {"SUBSYSTEM": "usb", "DEVTYPE": "usb_interface"}))
    assert (dev / "authorized").read_text() == "0"
    kind, body, severity = emitted[-1]
    assert (kind, severity) == ("usb.blocked", "critical")
    assert body["decided_by"] == "backstop: interface 1-1:1.0 appeared" and body["serial"] == "VC-1"
    (dev / "authorized").write_text("1\n")
    (dev / "host0/block/sda").mkdir(parents=True)
    guard.handle(
        Uevent(
            "add", "/bus/usb/devices/1-1/host0/block/sda", {"SUBSYSTEM": "block", "DEVTYPE": "disk", "DEVNAME": "sda"}
        )
    )
    assert (dev / "authorized").read_text() == "0" and len(emitted) == 3  # cut off again, reported once
    guard.rescan()  # a later rescan must not authorize it again
    assert (dev / "authorized").read_text() == "0" and len(emitted) == 3
    (devices / "usb2").mkdir()
    guard.handle(Uevent("add", "/bus/usb/devices/usb2", {"SUBSYSTEM": "usb", "DEVTYPE": "usb_device"}))
    assert (devices / "usb2/interface_authorized_default").read_text() == "0"  # a controller added later
    assert (devices / "usb2/authorized_default").read_text() == "0"
