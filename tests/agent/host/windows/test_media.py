"""Windows media control against a registry and WMI fake fed with recorded values."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from agent.host.windows.media import (
    CDROM,
    DISK,
    POLICY_KEY,
    USBSTOR_KEY,
    WPD,
    WindowsMediaControl,
    parse_pnp,
)
from agent.usb.policy import compile_usb
from mamori import policy as policy_doc
from tests.agent.host.winfakes import FakePnp, recorded_pnp, recorded_registry

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
STICK = "USB\\VID_0781&PID_5567\\4C530001230927117325"
NOSERIAL = "USB\\VID_058F&PID_6387\\6&2C3A9F1B&0&2"
PHONE_MTP = "USB\\VID_04E8&PID_6860&MI_00\\7&1F2E3D4C&0&0000"


def _doc(mode, allow=(), temporary=()):
    doc = json.loads(json.dumps(policy_doc.DEFAULTS["lgwan"]))
    doc["usb"].update(mode=mode, allow=list(allow), temporary=list(temporary))
    return policy_doc.validate(doc)


def _deny(reg, guid):
    return tuple(reg.get(f"{POLICY_KEY}\\{guid}", n) == 1 for n in ("Deny_Read", "Deny_Write", "Deny_Execute"))


def test_recorded_registry_parses():
    reg = recorded_registry()
    assert reg.get(USBSTOR_KEY, "Start") == 3
    assert reg.get(f"{POLICY_KEY}\\{DISK}", "Deny_Write") == 1
    assert reg.get(USBSTOR_KEY + "\\Enum", "0") == STICK


def test_parse_recorded_pnp():
    devices = {d.instance_id: d for d in parse_pnp(recorded_pnp().records)}
    stick = devices[STICK].device
    assert (stick.vendor_id, stick.product_id, stick.serial) == ("0781", "5567", "4C530001230927117325")
    assert stick.interfaces == ("08:06:50",) and stick.name == "SanDisk Cruzer Blade USB Device"
    assert devices[NOSERIAL].device.serial == ""  # a made-up instance id is not a serial number
    kbd = devices["USB\\VID_046D&PID_C534\\5&2B1E0F3A&0&1"].device
    assert kbd.interfaces == ("03:01:01", "03:01:02")
    phone = devices["USB\\VID_04E8&PID_6860\\R5CW20ABCDE"]
    assert phone.device.interfaces == ("06:01:01",) and phone.disabled == {PHONE_MTP}
    assert "USB\\ROOT_HUB30\\4&1A2B3C4D&0&0" not in devices


@pytest.mark.parametrize(
    "junk",
    [None, "text", 5, [None, 3, "x", {"DeviceID": 7}, {"Name": "no id"}], {"DeviceID": "USB\\VID_ZZZZ&PID_1\\x"}],
)
def test_parse_pnp_survives_junk(junk):
    assert parse_pnp(junk) == []


def test_single_object_json():
    one = recorded_pnp().records[1]
    assert [d.instance_id for d in parse_pnp(one)] == [STICK]


def test_block_disables_driver_denies_every_class_and_present_storage():
    reg, pnp, emitted = recorded_registry(), recorded_pnp(), []
    control = WindowsMediaControl(lambda k, p: emitted.append((k, p)), reg, pnp, clock=lambda: NOW)
    control.apply(_doc("block"))
    assert reg.get(USBSTOR_KEY, "Start") == 4
    for guid in (DISK, CDROM, *WPD):
        assert _deny(reg, guid) == (True, True, True)
    disabled = {i for i, on in pnp.calls if not on}
    assert disabled == {STICK, NOSERIAL, PHONE_MTP}  # the phone loses only its MTP interface
    blocked = [p for k, p in emitted if k == "usb.blocked"]
    assert {p["serial"] for p in blocked} == {"4C530001230927117325", "", "R5CW20ABCDE"}
    assert all(p["decided_by"] == "mode:block" and p["mode"] == "block" for p in blocked)
    allowed = {p["vendor_id"] for k, p in emitted if k == "usb.allowed"}
    assert allowed == {"046d", "04e6"}  # keyboard and smart-card reader keep working
    emitted.clear()
    control.sync()
    assert emitted == []  # nothing changed, nothing reported again


def test_allowlist_keeps_driver_disables_only_unapproved():
    reg, pnp = recorded_registry(), recorded_pnp()
    rule = 'allow id 0781:5567 serial "4C530001230927117325"'
    WindowsMediaControl(lambda k, p: None, reg, pnp, clock=lambda: NOW).apply(_doc("allowlist", [rule]))
    assert reg.get(USBSTOR_KEY, "Start") == 3
    assert _deny(reg, DISK) == (False, False, False)  # the recorded Deny_Write is removed
    assert _deny(reg, CDROM) == (True, True, True) and _deny(reg, WPD[0]) == (True, True, True)
    assert {i for i, on in pnp.calls if not on} == {NOSERIAL, PHONE_MTP}


def test_read_only_through_deny_write():
    reg, pnp = recorded_registry(), recorded_pnp()
    rule = 'allow serial "4C530001230927117325"'
    WindowsMediaControl(lambda k, p: None, reg, pnp, clock=lambda: NOW).apply(_doc("read_only", [rule]))
    assert reg.get(USBSTOR_KEY, "Start") == 3 and _deny(reg, DISK) == (False, True, False)


def test_temporary_permission_enables_a_disabled_phone_then_expires():
    reg, pnp = recorded_registry(), recorded_pnp()
    clock = {"now": NOW}
    temp = {"id": "T1", "serial": "R5CW20ABCDE", "until": (NOW + timedelta(hours=1)).isoformat()}
    control = WindowsMediaControl(lambda k, p: None, reg, pnp, clock=lambda: clock["now"])
    control.apply(_doc("block", temporary=[temp]))
    assert (PHONE_MTP, True) in pnp.calls and _deny(reg, WPD[0]) == (False, False, False)
    assert reg.get(USBSTOR_KEY, "Start") == 3
    clock["now"] = NOW + timedelta(hours=1)
    control.sync()
    assert reg.get(USBSTOR_KEY, "Start") == 4 and (PHONE_MTP, False) in pnp.calls


def test_audit_denies_nothing_and_restore_on_exit():
    reg = recorded_registry()
    control = WindowsMediaControl(lambda k, p: None, reg, FakePnp([]), clock=lambda: NOW)
    control.apply(_doc("block"))
    doc = _doc("audit")
    control.apply(doc)
    assert reg.get(USBSTOR_KEY, "Start") == 3 and all(_deny(reg, g) == (False,) * 3 for g in (DISK, CDROM, *WPD))
    control.apply(_doc("block"))
    control.stop()
    assert reg.get(USBSTOR_KEY, "Start") == 4  # restore_on_exit is false: the block stays after the agent stops
    doc = _doc("block")
    doc["usb"]["restore_on_exit"] = True
    control.apply(doc)
    control.stop()
    assert reg.get(USBSTOR_KEY, "Start") == 3 and _deny(reg, DISK) == (False,) * 3


def test_compile_shared_with_linux():
    assert compile_usb(_doc("block")).mode == "block"


def test_policy_no_longer_applied_is_reported_once_and_its_return_too():
    class Flaky:
        broken = False

        def entities(self):
            if self.broken:
                raise OSError("WMI is not answering")
            return []

        def set_enabled(self, instance_id, enabled):
            return True

    emitted, pnp = [], Flaky()
    control = WindowsMediaControl(
        lambda k, p: emitted.append((k, p)), recorded_registry(), pnp, clock=lambda: NOW, interval=0.02
    )
    control.start(_doc("block"))

    def states():
        return [json.loads(p["evidence_json"]) for k, p in emitted if p.get("check_id") == "media_control"]

    pnp.broken = True
    _wait(lambda: states())
    time.sleep(0.2)  # several failed syncs: still one report
    pnp.broken = False
    _wait(lambda: len(states()) == 2)
    control.stop()
    got = states()
    assert [(s["active"], s["mode"]) for s in got] == [(False, "block"), (True, "block")]
    assert "policy not applied" in got[0]["reason"] and "WMI is not answering" in got[0]["reason"]


def _wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
