"""Policy documents: segment defaults, validation, and the strictest fallback."""

from __future__ import annotations

import json

import pytest

from mamori import policy


def test_segment_defaults_follow_the_rule_catalogue():
    assert policy.DEFAULTS["mynumber"]["usb"]["mode"] == "block"
    assert policy.DEFAULTS["mynumber"]["checks"]["mfa_required"] is True
    assert policy.DEFAULTS["lgwan"]["usb"]["mode"] == "allowlist"
    assert policy.DEFAULTS["internet"]["usb"]["mode"] == "allowlist"
    for doc in policy.DEFAULTS.values():
        assert policy.validate(doc) == doc


def test_strictest_blocks_everything():
    for seg in (*policy.SEGMENTS, "garbage"):
        doc = policy.strictest(seg)
        assert doc["usb"] == {"mode": "block", "allow": [], "temporary": [], "restore_on_exit": False}
        assert policy.validate(doc)


def test_version_is_stable_and_content_sensitive():
    a = policy.DEFAULTS["lgwan"]
    assert policy.version_of(a) == policy.version_of(json.loads(json.dumps(a)))
    b = json.loads(json.dumps(a))
    b["usb"]["mode"] = "audit"
    assert policy.version_of(a) != policy.version_of(b)


@pytest.mark.parametrize("mutate,fragment", [
    (lambda d: d.update(schema=2), "schema"),
    (lambda d: d.update(segment="dmz"), "segment"),
    (lambda d: d["usb"].update(mode="allow_all"), "usb.mode"),
    (lambda d: d["usb"].update(allow="everything"), "usb.allow"),
    (lambda d: d.update(extra=1), "unknown key"),
    (lambda d: d["checks"].update(x=1) or d.update(checks=[]), "checks"),
])
def test_invalid_documents_are_rejected(mutate, fragment):
    doc = json.loads(json.dumps(policy.DEFAULTS["lgwan"]))
    mutate(doc)
    with pytest.raises(policy.PolicyError, match=fragment):
        policy.validate(doc)


@pytest.mark.parametrize("data", [b"", b"{", b"\xff\xfe", b"[]", b"null"])
def test_unparseable_bytes_are_rejected(data):
    with pytest.raises(policy.PolicyError):
        policy.parse(data)


def test_check_thresholds_default_per_rules_md():
    for seg in policy.SEGMENTS:
        checks = policy.DEFAULTS[seg]["checks"]
        assert checks["screen_lock_max_minutes"] == 10
        assert (checks["patch_max_age_days"], checks["patch_critical_max_age_days"]) == (30, 14)
        assert checks["package_lists_max_age_days"] == 7 and checks["reboot_max_days"] == 7
        assert checks["signature_max_age_days"] == 3 and checks["clock_max_offset_seconds"] == 60
    assert policy.strictest("lgwan")["checks"]["mfa_required"] is True


def test_check_settings_fill_missing_thresholds_from_the_segment():
    doc = {"schema": 1, "segment": "lgwan", "usb": {"mode": "audit"}, "checks": {"patch_max_age_days": 10}}
    merged = policy.check_settings(policy.validate(doc))
    assert merged["patch_max_age_days"] == 10 and merged["reboot_max_days"] == 7
    assert merged["mfa_required"] is False


@pytest.mark.parametrize(("checks", "field"), [
    ({"screen_lock_max_minutes": 0}, "checks.screen_lock_max_minutes"),
    ({"screen_lock_max_minutes": 5.5}, "checks.screen_lock_max_minutes"),
    ({"patch_max_age_days": True}, "checks.patch_max_age_days"),
    ({"clock_max_offset_seconds": "60"}, "checks.clock_max_offset_seconds"),
    ({"software_forbidden": "winny"}, "checks.software_forbidden"),
    ({"software_permitted": [""]}, "checks.software_permitted"),
    ({"networks": ["10.0.0.0/33"]}, "checks.networks"),
    ({"probe_targets": ["intranet.example:443"]}, "checks.probe_targets"),
    ({"probe_targets": ["10.0.0.1:0"]}, "checks.probe_targets"),
    ({"screenlock": 10}, "checks"),
])
def test_bad_check_settings_are_rejected_naming_the_field(checks, field):
    doc = {"schema": 1, "segment": "mynumber", "usb": {"mode": "block"}, "checks": checks}
    with pytest.raises(policy.PolicyError) as err:
        policy.validate(doc)
    assert str(err.value).startswith(field + ":")


def test_good_check_settings_are_accepted():
    doc = {"schema": 1, "segment": "mynumber", "usb": {"mode": "block"}, "checks": {
        "networks": ["10.20.0.0/16", "fd00::/8"], "probe_targets": ["10.30.0.1:443", "[fd00::1]:22"],
        "clock_max_offset_seconds": 5, "software_permitted": ["libreoffice*"], "disabled": ["software"]}}
    assert policy.validate(doc) == doc
