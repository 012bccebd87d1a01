"""Uevent and descriptor parsing, and the guard against a prepared sysfs tree (malformed devices included)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.host.linux.usb import Sysfs, Uevent, parse_descriptors, parse_uevent
from agent.host.linux.usb_guard import Guard
from agent.usb.policy import compile_usb
from mamori import events
from mamori import policy as policy_doc

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def _device_descriptor() -> bytes:
    return bytes([18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x81, 0x07, 0x81, 0x55, 0, 1, 1, 2, 3, 1])


def _descriptors(*interfaces: tuple[int, int, int], alt_dup: bool = False) -> bytes:
    body = b""
    for n, (c, s, p) in enumerate(interfaces):
        body += bytes([9, 4, n, 0, 1, c, s, p, 0]) + bytes([7, 5, 0x81, 2, 0, 2, 0])
        if alt_dup:
            body += bytes([9, 4, n, 1, 1, 0xFF, 0, 0, 0])
    config = bytes([9, 2]) + struct.pack("<H", 9 + len(body)) + bytes([len(interfaces), 1, 0, 0x80, 50])
    return _device_descriptor() + config + body


def test_parse_uevent_kernel_message():
    data = (
        b"add@/devices/pci0000:00/0000:00:02.0/usb1/1-1\0ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:02.0/"
        b"usb1/1-1\0SUBSYSTEM=usb\0DEVTYPE=usb_device\0PRODUCT=46f4/1/0\0SEQNUM=1234\0"
    )
    ev = parse_uevent(data)
    assert ev is not None and ev.action == "add" and ev.subsystem == "usb" and ev.devtype == "usb_device"
    assert ev.env["SEQNUM"] == "1234"


def test_parse_uevent_rejects_junk_and_udev_and_inconsistent():
    assert parse_uevent(b"") is None
    assert parse_uevent(b"libudev\0\xfe\xed\xca\xfe" + b"x" * 100) is None
    assert parse_uevent(b"no-at-sign\0A=B") is None
    assert parse_uevent(b"add@relative\0") is None
    assert parse_uevent(b"add@/x\0ACTION=remove\0") is None
    assert parse_uevent(b"add@/x\0" + b"A=" + b"y" * 20000) is None  # oversized
    ev = parse_uevent(b"add@/x\0NAME=\xff\xfe\0=novalue\0noequals\0")
    assert ev is not None and ev.env == {"NAME": "\ufffd\ufffd"}


def test_parse_descriptors_interfaces_and_truncation():
    raw = _descriptors((8, 6, 0x50), (3, 1, 1), alt_dup=True)
    assert parse_descriptors(raw) == ("08:06:50", "03:01:01")
    assert parse_descriptors(raw[:30]) == ()  # the first interface is cut: nothing invented
    assert parse_descriptors(b"\x00\x04" + raw) == ()  # zero length ends the walk
    assert parse_descriptors(b"\xff" * 7) == ()


def _tree(root: Path) -> Path:
    devices = root / "sys/bus/usb/devices"
    devices.mkdir(parents=True)
    (root / "sys/bus/usb/drivers_probe").write_text("")
    hub = devices / "usb1"
    hub.mkdir()
    for name, value in (
        ("authorized_default", "1"),
        ("interface_authorized_default", "1"),
        ("idVendor", "1d6b"),
        ("idProduct", "0002"),
        ("authorized", "1"),
    ):
        (hub / name).write_text(value + "\n")
    return devices


def _add_device(
    devices: Path, name: str, attrs: dict[str, bytes], interfaces: list[tuple[int, int, int]], authorized: str = "0"
) -> Path:
    dev = devices / name
    dev.mkdir()
    for key, value in attrs.items():
        (dev / key).write_bytes(value)
    (dev / "descriptors").write_bytes(_descriptors(*interfaces))
    (dev / "authorized").write_text(authorized + "\n")
    for n, (c, s, p) in enumerate(interfaces):
        iface = devices / f"{name}:1.{n}"
        iface.mkdir()
        for key, value in (("bInterfaceClass", c), ("bInterfaceSubClass", s), ("bInterfaceProtocol", p)):
            (iface / key).write_text(f"{value:02x}\n")
        (iface / "authorized").write_text("1\n")
    return dev


def _policy(mode: str, allow: list[str] | None = None, temporary: list[dict] | None = None):
    doc = policy_doc.DEFAULTS["lgwan"] | {
        "usb": {"mode": mode, "allow": allow or [], "temporary": temporary or [], "restore_on_exit": False}
    }
    return compile_usb(policy_doc.validate(doc))


def test_guard_denies_by_default_and_handles_malformed_devices(tmp_path):
    devices = _tree(tmp_path)
    _add_device(
        devices,
        "1-1",
        {
            "idVendor": b"0781\n",
            "idProduct": b"5581\n",
            "product": b"\xff\xfeStick\x00\x07\n",
            "manufacturer": b"M" * 100000,
        },
        [(8, 6, 0x50)],
    )  # no serial, junk names
    _add_device(
        devices,
        "1-2",
        {"idVendor": b"046d\n", "idProduct": b"c31c\n", "serial": b"K" * 5000},
        [(3, 1, 1), (8, 6, 0x50)],
        authorized="1",
    )  # composite, already authorized before the agent
    (devices / "1-3").mkdir()  # a device that vanished half-way: no attributes at all
    emitted: list[tuple[str, dict]] = []
    guard = Guard(Sysfs(tmp_path), _policy("block"), lambda k, p: emitted.append((k, p)), clock=lambda: NOW)
    guard.start()
    assert (devices / "usb1/authorized_default").read_text() == "0"
    assert (devices / "usb1/interface_authorized_default").read_text() == "0"
    assert (devices / "1-1/authorized").read_text().strip() == "0"  # storage only: stays off
    assert (devices / "1-2/authorized").read_text().strip() == "1"
    assert (devices / "1-2:1.0/authorized").read_text().strip() == "1"  # keyboard keeps working
    assert (devices / "1-2:1.1/authorized").read_text().strip() == "0"  # its storage interface is cut
    assert (tmp_path / "sys/bus/usb/drivers_probe").read_text() == "1-2:1.0"
    kinds = [k for k, _ in emitted]
    assert kinds.count("usb.attached") == 2 and kinds.count("usb.blocked") == 2
    for kind, body in emitted:
        events.encode(kind, body, seq=1)  # every payload fits the contract
        assert len(body["product_name"]) <= 256 and len(body["serial"]) <= 256 and len(body["vendor_name"]) <= 256
    stick = next(p for k, p in emitted if p["port"] == "1-1")
    assert stick["serial"] == "" and "Stick" in stick["product_name"] and "\x07" not in stick["product_name"]
    guard.handle(Uevent("add", "/devices/pci0000:00/usb1/1-9", {"SUBSYSTEM": "usb", "DEVTYPE": "usb_device"}))
    guard.stop(restore_defaults=True)
    assert (devices / "usb1/authorized_default").read_text() == "1"


def test_guard_temporary_permission_expires_offline(tmp_path):
    devices = _tree(tmp_path)
    _add_device(devices, "1-1", {"idVendor": b"0781\n", "idProduct": b"5581\n", "serial": b"SER1\n"}, [(8, 6, 0x50)])
    clock = {"now": NOW}
    emitted: list[tuple[str, dict]] = []
    temp = [{"id": "T-7", "serial": "SER1", "until": (NOW + timedelta(minutes=30)).isoformat(), "reason": "r"}]
    guard = Guard(
        Sysfs(tmp_path),
        _policy("block", temporary=temp),
        lambda k, p: emitted.append((k, p)),
        clock=lambda: clock["now"],
    )
    guard.start()
    assert (devices / "1-1/authorized").read_text().strip() == "1"
    assert emitted[-1][0] == "usb.allowed" and emitted[-1][1]["decided_by"].startswith("temporary T-7")
    clock["now"] = NOW + timedelta(minutes=29)
    guard.tick()
    assert (devices / "1-1/authorized").read_text().strip() == "1"
    clock["now"] = NOW + timedelta(minutes=30)
    guard.tick()
    assert (devices / "1-1/authorized").read_text().strip() == "0"
    assert emitted[-1][0] == "usb.blocked" and emitted[-1][1]["decided_by"] == "mode:block"


def test_random_datagrams_never_crash_the_parsers():
    import random

    rng = random.Random(7)
    for _ in range(500):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        for data in (blob, b"add@/devices/x\0" + blob, b"remove@/devices/" + blob):
            ev = parse_uevent(data)
            assert ev is None or isinstance(ev, Uevent)
        assert all(len(t) == 8 for t in parse_descriptors(blob))
