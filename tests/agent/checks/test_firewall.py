"""firewall: real nftables rulesets loaded in a network namespace made for the test; Windows registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.checks import base, firewall
from agent.host.linux import firewall as linux_firewall
from agent.host.windows import host as windows
from tests.agent.checks.conftest import in_netns, make_ctx

DATA = Path(__file__).parent / "data"
INET_DROP = """table inet filter {
  chain input { type filter hook input priority 0; policy drop; ct state established,related accept; iif lo accept; }
}"""
IPV4_ONLY = """table ip filter {
  chain input { type filter hook input priority 0; policy drop; iif lo accept; }
}"""
FIREWALLD_STYLE = """table inet firewalld {
  chain filter_INPUT { type filter hook input priority 10; policy accept; ct state established,related accept;
    iifname "lo" accept; tcp dport 22 accept; reject with icmpx admin-prohibited; }
}"""
ACCEPT_ALL = """table inet filter {
  chain input { type filter hook input priority 0; policy accept; }
}"""


def load(ruleset: str) -> str:
    return f"nft -f - <<'EOF'\n{ruleset}\nEOF"


@pytest.mark.parametrize(
    ("ruleset", "status", "words"),
    [
        (INET_DROP, "pass", "inet filter/input"),
        (FIREWALLD_STYLE, "pass", "firewalld/filter_INPUT"),
        (IPV4_ONLY, "fail", "ipv6"),
        (ACCEPT_ALL, "fail", "ipv4/ipv6"),
        ("", "fail", "no firewall rules"),
    ],
)
def test_nftables_rulesets(ruleset, status, words):
    res = in_netns(load(ruleset) if ruleset else "true", "firewall")
    assert res["status"] == status, res
    assert words in res["summary"]


def test_missing_nft_fails(tmp_path):
    res = base.execute(firewall, make_ctx("lgwan", tmp_path))
    assert res.status == "fail" and "not installed" in res.summary


def test_nft_refusing_is_an_error(tmp_path):
    nft = tmp_path / "usr/sbin/nft"
    nft.parent.mkdir(parents=True)
    nft.write_text("#!/bin/sh\necho 'Operation not permitted' >&2\nexit 1\n")
    nft.chmod(0o755)
    res = base.execute(firewall, make_ctx("lgwan", tmp_path))
    assert res.status == "error" and "root" in res.summary


def test_hostile_nft_json_is_handled():
    assert linux_firewall.input_filtering({"nftables": [1, "x", {"chain": "bad"}, {"rule": {"expr": None}}]}) == {
        "input_chains": [],
        "filtered": [],
    }
    assert linux_firewall.input_filtering([]) == {"input_chains": [], "filtered": []}


@pytest.mark.parametrize(
    ("files", "status"),
    [
        (["firewall_all_on.reg"], "pass"),
        (["firewall_all_on.reg", "firewall_gpo_public_off.reg"], "fail"),
    ],
)
def test_windows_profiles(files, status):
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    ctx.windows = windows.RegFileSource([(DATA / "windows" / f).read_text(encoding="utf-16") for f in files])
    res = base.execute(firewall, ctx)
    assert res.status == status, res.summary
    if status == "fail":
        assert "public" in res.summary and res.evidence["profiles"]["public"]["set_by"] == "policy"


def test_windows_without_source():
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    assert base.execute(firewall, ctx).status == "not_applicable"


def test_verdict_is_a_pure_function_of_the_facts():
    from agent.host.facts import FirewallFacts, FirewallProfile, InputChain

    v4 = InputChain("ip", "filter", "INPUT", "drop", False, True)
    only_v4 = firewall.verdict(FirewallFacts(source="nft -j list ruleset", input_chains=(v4,), filtered=("ipv4",)))
    assert only_v4.status == "fail" and only_v4.evidence["enabled"] is False and "ipv6" in only_v4.summary
    on = FirewallProfile(enabled=True, inbound_allowed=False, set_by="policy")
    assert firewall.verdict(FirewallFacts(source="registry", profiles=(("domain", on),))).status == "pass"
    assert firewall.verdict(FirewallFacts(nft_missing=True)).evidence == {"enabled": False}
