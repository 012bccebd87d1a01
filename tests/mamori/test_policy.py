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
        assert doc["usb"] == {"mode": "block", "allow": []}
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
