"""The agent's policy cache fails closed: missing, broken or foreign policies mean the strictest mode."""

from __future__ import annotations

import json

import pytest

from agent.policy_cache import PolicyCache
from mamori import policy


def test_no_policy_means_strictest(tmp_path):
    eff = PolicyCache(tmp_path / "policy.json", "internet").current
    assert eff.source == "strictest" and eff.document["usb"]["mode"] == "block"


def test_applied_policy_survives_restart(tmp_path):
    cache = PolicyCache(tmp_path / "policy.json", "internet")
    doc = policy.DEFAULTS["internet"]
    cache.apply(policy.version_of(doc), policy.canonical(doc))
    again = PolicyCache(tmp_path / "policy.json", "internet").current
    assert again.source == "cached" and again.document == doc and again.version == policy.version_of(doc)
    assert (tmp_path / "policy.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\x00\xff" * 100,
        json.dumps({"version": "x"}).encode(),
        json.dumps({"version": "x", "document": {"schema": 1}}).encode(),
    ],
)
def test_broken_cache_means_strictest(tmp_path, content):
    (tmp_path / "policy.json").write_bytes(content)
    eff = PolicyCache(tmp_path / "policy.json", "lgwan").current
    assert eff.source == "strictest" and eff.document["usb"]["mode"] == "block" and eff.problem


def test_bad_update_keeps_previous_policy(tmp_path):
    cache = PolicyCache(tmp_path / "policy.json", "lgwan")
    good = policy.DEFAULTS["lgwan"]
    cache.apply("v1", policy.canonical(good))
    before = (tmp_path / "policy.json").read_bytes()
    for data in (
        b"{broken",
        json.dumps({**good, "usb": {"mode": "allow_everything"}}).encode(),
        policy.canonical(policy.DEFAULTS["internet"]),
    ):  # another segment's policy
        with pytest.raises(policy.PolicyError):
            cache.apply("v2", data)
        assert cache.current.version == "v1"
        assert (tmp_path / "policy.json").read_bytes() == before


def test_bad_usb_rule_in_update_keeps_previous(tmp_path):
    pdoc = policy
    cache = PolicyCache(tmp_path / "policy.json", "lgwan")
    good = json.loads(json.dumps(pdoc.DEFAULTS["lgwan"]))
    good["usb"]["allow"] = ['allow serial "S1"']
    cache.apply("v1", json.dumps(good).encode())
    bad = json.loads(json.dumps(good))
    bad["usb"]["allow"] = ["allow id 07:81"]
    with pytest.raises(pdoc.PolicyError, match="rule 1"):
        cache.apply("v2", json.dumps(bad).encode())
    assert cache.current.version == "v1" and PolicyCache(tmp_path / "policy.json", "lgwan").current.version == "v1"
