"""The host firewall on Linux: nftables' input-hook chains (`nft -j list ruleset`), ufw and firewalld beside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.host.facts import FirewallFacts, InputChain
from agent.host.sysio import HostIOError, read_or_none, run, which

FAMILIES = {"inet": {"ipv4", "ipv6"}, "ip": {"ipv4"}, "ip6": {"ipv6"}}
COMMAND_TIMEOUT = 15.0


def input_filtering(ruleset: dict[str, Any]) -> dict[str, Any]:
    """From `nft -j list ruleset`: the input-hook chains and whether each one ends in drop/reject."""
    items = ruleset.get("nftables", []) if isinstance(ruleset, dict) else []
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    last_rule: dict[tuple[str, str, str], list[Any]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("chain"), dict):
            c = item["chain"]
            if c.get("hook") == "input" and c.get("type", "filter") == "filter":
                chains[(c.get("family", ""), c.get("table", ""), c.get("name", ""))] = c
        elif isinstance(item.get("rule"), dict):
            r = item["rule"]
            last_rule[(r.get("family", ""), r.get("table", ""), r.get("chain", ""))] = r.get("expr") or []
    covered: set[str] = set()
    found = []
    for key, chain in chains.items():
        final = last_rule.get(key, [])
        unconditional_deny = (
            bool(final)
            and all(isinstance(e, dict) and set(e) <= {"drop", "reject", "counter", "log"} for e in final)
            and any("drop" in e or "reject" in e for e in final)
        )
        filtering = chain.get("policy") == "drop" or unconditional_deny
        found.append(
            {
                "family": key[0],
                "table": key[1],
                "chain": key[2],
                "policy": chain.get("policy", "accept"),
                "ends_in_deny": unconditional_deny,
                "filtering": filtering,
            }
        )
        if filtering:
            covered |= FAMILIES.get(key[0], set())
    return {"input_chains": found, "filtered": sorted(covered)}


def read(root: Path) -> FirewallFacts:
    ufw = read_or_none(root / "etc/ufw/ufw.conf", 65536)
    beside: dict[str, Any] = {"firewalld_installed": (root / "usr/sbin/firewalld").exists()}
    if ufw is not None:
        beside["ufw_enabled"] = "ENABLED=yes" in ufw.text.replace(" ", "")
    nft = which("nft", root)
    if nft is None:
        return FirewallFacts(nft_missing=True, **beside)
    try:
        done = run([str(nft), "-j", "list", "ruleset"], timeout=COMMAND_TIMEOUT)
    except HostIOError as exc:
        return FirewallFacts(error="read", detail=str(exc), **beside)
    if done.returncode != 0:
        return FirewallFacts(error="nft", detail=done.stderr.strip()[:200], **beside)
    try:
        ruleset = json.loads(done.stdout or "{}")
    except ValueError as exc:
        return FirewallFacts(error="output", detail=str(exc), **beside)
    found = input_filtering(ruleset)
    return FirewallFacts(
        source="nft -j list ruleset",
        input_chains=tuple(InputChain(**c) for c in found["input_chains"]),
        filtered=tuple(found["filtered"]),
        **beside,
    )
