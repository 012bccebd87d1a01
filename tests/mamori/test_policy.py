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
    assert policy.usb_network(policy.DEFAULTS["mynumber"]) == "block"
    assert all(policy.usb_network(doc) == "audit" for seg, doc in policy.DEFAULTS.items() if seg != "mynumber")
    # A policy stored before usb.network existed gets its segment's default.
    assert policy.usb_network({"segment": "mynumber", "usb": {"mode": "audit"}}) == "block"
    assert policy.usb_network({"segment": "lgwan", "usb": {"mode": "block"}}) == "audit"


def test_strictest_blocks_everything():
    for seg in (*policy.SEGMENTS, "garbage"):
        doc = policy.strictest(seg)
        # usb.network keeps the segment's default: blocking a USB NIC could cut a terminal off from its collector.
        network = "audit" if seg in ("lgwan", "internet") else "block"
        assert doc["usb"] == {
            "mode": "block",
            "allow": [],
            "temporary": [],
            "restore_on_exit": False,
            "network": network,
        }
        assert policy.validate(doc)


def test_version_is_stable_and_content_sensitive():
    a = policy.DEFAULTS["lgwan"]
    assert policy.version_of(a) == policy.version_of(json.loads(json.dumps(a)))
    b = json.loads(json.dumps(a))
    b["usb"]["mode"] = "audit"
    assert policy.version_of(a) != policy.version_of(b)


@pytest.mark.parametrize(
    "mutate,fragment",
    [
        (lambda d: d.update(schema=2), "schema"),
        (lambda d: d.update(segment="dmz"), "segment"),
        (lambda d: d["usb"].update(mode="allow_all"), "usb.mode"),
        (lambda d: d["usb"].update(allow="everything"), "usb.allow"),
        (lambda d: d["usb"].update(network="allow"), "usb.network"),
        (lambda d: d.update(extra=1), "unknown key"),
        (lambda d: d["checks"].update(x=1) or d.update(checks=[]), "checks"),
    ],
)
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
        checks = policy.check_settings(policy.DEFAULTS[seg])
        assert checks["screen_lock_max_minutes"] == 10
        assert (checks["patch_max_age_days"], checks["patch_critical_max_age_days"]) == (30, 14)
        assert checks["package_lists_max_age_days"] == 7 and checks["reboot_max_days"] == 7
        assert checks["signature_max_age_days"] == 3 and checks["clock_max_offset_seconds"] == 60
    assert policy.strictest("lgwan")["checks"]["mfa_required"] is True


def test_check_settings_fill_missing_thresholds_from_the_segment():
    doc = {
        "schema": 1,
        "segment": "lgwan",
        "usb": {"mode": "audit"},
        "rules": {"PAT-001": {"days": 10}},
        "checks": {"probe_timeout_seconds": 1},
    }
    merged = policy.check_settings(policy.validate(doc))
    assert merged["patch_max_age_days"] == 10 and merged["reboot_max_days"] == 7
    assert merged["mfa_required"] is False and merged["probe_timeout_seconds"] == 1


def test_a_threshold_is_one_knob_the_rule_parameter():
    # The check on the terminal reads the very parameter the collector's rule judges with.
    from collector.rules import RULES
    from mamori import thresholds

    for key, (rule_id, name) in thresholds.CHECK_SETTINGS.items():
        assert RULES[rule_id].params[name] is thresholds.PARAMS[rule_id][name], key
        assert key not in policy.DEFAULTS["lgwan"]["checks"]
        doc = {"schema": 1, "segment": "lgwan", "usb": {"mode": "audit"}, "checks": {key: 5}}
        with pytest.raises(policy.PolicyError, match=rf"^checks\.{key}: set it as rules\.{rule_id}\.{name}"):
            policy.validate(doc)
    doc = {"schema": 1, "segment": "lgwan", "usb": {"mode": "audit"}, "rules": {"AUT-003": {"max_minutes": 0}}}
    with pytest.raises(policy.PolicyError, match=r"^rules\.AUT-003\.max_minutes: must be at least 1"):
        policy.validate(doc)


def test_documents_of_the_earlier_layout_are_upgraded_not_refused():
    old = {
        "schema": 1,
        "segment": "lgwan",
        "usb": {"mode": "audit"},
        "checks": {"screen_lock_max_minutes": 5, "patch_max_age_days": 20, "networks": ["10.0.0.0/8"]},
        "rules": {"PAT-001": {"days": 25}},
    }
    doc = policy.parse(json.dumps(old).encode())
    assert doc["checks"] == {"networks": ["10.0.0.0/8"]}
    assert doc["rules"] == {"AUT-003": {"max_minutes": 5}, "PAT-001": {"days": 25}}  # the rules value wins
    assert policy.check_settings(doc)["screen_lock_max_minutes"] == 5


@pytest.mark.parametrize(
    ("checks", "field"),
    [
        ({"probe_timeout_seconds": 0}, "checks.probe_timeout_seconds"),
        ({"probe_timeout_seconds": True}, "checks.probe_timeout_seconds"),
        ({"software_forbidden": "winny"}, "checks.software_forbidden"),
        ({"software_forbidden": [""]}, "checks.software_forbidden"),
        ({"networks": ["10.0.0.0/33"]}, "checks.networks"),
        ({"probe_targets": ["intranet.example:443"]}, "checks.probe_targets"),
        ({"probe_targets": ["10.0.0.1:0"]}, "checks.probe_targets"),
        ({"screenlock": 10}, "checks"),
    ],
)
def test_bad_check_settings_are_rejected_naming_the_field(checks, field):
    doc = {"schema": 1, "segment": "mynumber", "usb": {"mode": "block"}, "checks": checks}
    with pytest.raises(policy.PolicyError) as err:
        policy.validate(doc)
    assert str(err.value).startswith(field + ":")


def test_good_check_settings_are_accepted():
    doc = {
        "schema": 1,
        "segment": "mynumber",
        "usb": {"mode": "block"},
        "checks": {
            "networks": ["10.20.0.0/16", "fd00::/8"],
            "probe_targets": ["10.30.0.1:443", "[fd00::1]:22"],
            "probe_timeout_seconds": 5,
            "software_forbidden": ["winny*"],
            "disabled": ["software"],
        },
        "rules": {"OPS-001": {"max_offset_seconds": 5}, "SW-001": {"permitted": ["libreoffice*"]}},
    }
    assert policy.validate(doc) == doc
