"""The pure decision: every mode, composite devices, 一時許可 expiry, bad policies fail closed."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from agent.usb.policy import compile_usb, decide, strictest
from mamori import policy as policy_doc
from mamori.usbrules import Device

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
STICK = Device("0781", "5581", "Cruzer", "SER-OK", "1-2", ("08:06:50",))
OTHER = Device("0781", "5581", "Cruzer", "SER-NO", "1-2", ("08:06:50",))
KBD = Device("046d", "c31c", "Keyboard", "", "1-3", ("03:01:01",))
CARD = Device("04e6", "5116", "Smart card reader", "", "1-5", ("0b:00:00",))
HUB = Device("05e3", "0610", "Hub", "", "1-6", ("09:00:00",))
COMBO = Device("0930", "6545", "Keyboard with card slot", "C1", "1-4", ("03:01:01", "08:06:50"))
PHONE = Device("04e8", "6860", "Galaxy", "P1", "1-7", ("06:01:01",))


def usb(mode, allow=(), temporary=()):
    doc = policy_doc.DEFAULTS["lgwan"] | {
        "usb": {"mode": mode, "allow": list(allow), "temporary": list(temporary), "restore_on_exit": False}
    }
    return compile_usb(policy_doc.validate(doc))


@pytest.mark.parametrize("mode", policy_doc.USB_MODES)
def test_non_storage_always_allowed(mode):
    pol = usb(mode, ["block id *:*"])
    for dev in (KBD, CARD, HUB):
        d = decide(dev, pol, NOW)
        assert all(v == "allow" for _, v in d.interfaces) and d.device_allowed


def test_block_mode_blocks_storage_and_mtp_even_when_a_rule_allows():
    pol = usb("block", ['allow serial "SER-OK"'])
    for dev in (STICK, PHONE):
        d = decide(dev, pol, NOW)
        assert d.storage == "block" and d.decided_by == "mode:block" and not d.device_allowed


def test_composite_loses_only_storage_interface():
    d = decide(COMBO, usb("block"), NOW)
    assert dict(d.interfaces) == {"03:01:01": "allow", "08:06:50": "block"}
    assert d.device_allowed


def test_allowlist_first_matching_rule_decides():
    pol = usb("allowlist", ['block serial "SER-NO"', "allow id 0781:5581"])
    ok, no = decide(STICK, pol, NOW), decide(OTHER, pol, NOW)
    assert ok.storage == "allow" and ok.decided_by == "rule 2: allow id 0781:5581"
    assert no.storage == "block" and no.decided_by.startswith("rule 1: block")
    assert decide(PHONE, pol, NOW).decided_by == "mode:allowlist (no rule matched)"


def test_read_only_mode_grants_read_only():
    pol = usb("read_only", ['allow serial "SER-OK"'])
    assert decide(STICK, pol, NOW).storage == "read_only"
    assert decide(OTHER, pol, NOW).storage == "block"
    assert dict(decide(COMBO, pol, NOW).interfaces)["03:01:01"] == "allow"


def test_audit_allows_and_names_the_rule():
    pol = usb("audit", ['block serial "SER-NO"'])
    assert decide(OTHER, pol, NOW).storage == "allow"
    assert decide(OTHER, pol, NOW).decided_by.startswith("rule 1")
    assert decide(STICK, pol, NOW).decided_by == "mode:audit"


def test_temporary_permission_expires_by_the_clock():
    until = NOW + timedelta(hours=2)
    temp = {"id": "T-1", "serial": "SER-OK", "until": until.isoformat(), "reason": "転出届の受領"}
    pol = usb("block", temporary=[temp])
    d = decide(STICK, pol, NOW)
    assert d.storage == "allow" and d.decided_by.startswith("temporary T-1")
    assert decide(OTHER, pol, NOW).storage == "block"
    assert decide(STICK, pol, until).storage == "block"  # expired exactly at `until`, no collector needed
    assert pol.next_expiry(NOW) == until and pol.next_expiry(until) is None
    assert decide(STICK, usb("read_only", temporary=[temp]), NOW).storage == "read_only"


def test_temporary_with_vendor_product_must_match_them():
    temp = {"id": "T-2", "serial": "SER-OK", "until": (NOW + timedelta(1)).isoformat(), "vendor_id": "0930"}
    assert decide(STICK, usb("block", temporary=[temp]), NOW).storage == "block"


def test_no_serial_never_matches_a_temporary_permission():
    temp = {"id": "T-3", "serial": "X", "until": (NOW + timedelta(1)).isoformat()}
    assert (
        decide(Device("0781", "5581", interfaces=("08:06:50",)), usb("block", temporary=[temp]), NOW).storage == "block"
    )


@pytest.mark.parametrize(
    "change,where",
    [
        (lambda u: u.update(allow=["allow id nope"]), "usb.allow"),
        (lambda u: u.update(temporary=[{"id": "1", "serial": "S", "until": "2026-04-01T09:00"}]), "until"),
        (lambda u: u.update(temporary=[{"id": "1", "serial": "S", "until": "tomorrow"}]), "until"),
        (lambda u: u.update(temporary=[{"id": "1", "until": "2026-04-01T09:00+09:00"}]), "serial"),
        (lambda u: u.update(temporary="all"), "usb.temporary"),
        (lambda u: u.update(restore_on_exit="yes"), "restore_on_exit"),
    ],
)
def test_bad_usb_policy_refused(change, where):
    doc = json.loads(json.dumps(policy_doc.DEFAULTS["lgwan"]))
    change(doc["usb"])
    with pytest.raises(policy_doc.PolicyError, match=where):
        compile_usb(policy_doc.validate(doc))


def test_strictest_is_block():
    assert decide(STICK, strictest(), NOW).storage == "block"
    assert decide(STICK, compile_usb(policy_doc.strictest("lgwan")), NOW).storage == "block"


def test_usb_network_block_refuses_only_the_network_interfaces():
    nic = Device("0b95", "1790", interfaces=("02:06:00", "0a:00:00"))
    phone = Device("18d1", "4ee2", interfaces=("06:01:01", "e0:01:03", "0a:00:00"))
    doc = policy_doc.DEFAULTS["mynumber"]
    blocked = decide(nic, compile_usb(doc), NOW)
    assert blocked.interfaces == (("02:06:00", "block"), ("0a:00:00", "allow"))
    assert blocked.event_kind == "usb.blocked" and blocked.decided_by == "usb.network: block"
    assert decide(phone, compile_usb(doc), NOW).event_kind == "usb.blocked"  # MTP and RNDIS, both refused
    audited = decide(nic, compile_usb(policy_doc.DEFAULTS["lgwan"]), NOW)
    assert audited.event_kind == "usb.allowed" and all(v == "allow" for _, v in audited.interfaces)
    assert decide(KBD, compile_usb(doc), NOW).event_kind == "usb.allowed"
