"""firewall: the host firewall filters incoming traffic by default (NET-001)."""

from __future__ import annotations

import json
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec
from mamori.evidence.protection import Firewall
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="firewall",
    title=N_("Host firewall"),
    platforms=("linux", "windows"),
    interval_seconds=1800,
    severity="medium",
    rules=("NET-001",),
    remediation=N_(
        "Enable the host firewall with a default-deny policy for incoming traffic (nftables/ufw/firewalld; "
        "Windows Defender Firewall on the domain, private and public profiles)."
    ),
    reads={
        "linux": "`nft -j list ruleset` input hooks (ufw, firewalld, iptables-nft included)",
        "windows": "Windows Firewall profiles",
    },
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()
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
        unconditional_deny = bool(final) and all(isinstance(e, dict) and set(e) <= {"drop", "reject", "counter", "log"}
                                                 for e in final) and any("drop" in e or "reject" in e for e in final)
        filtering = chain.get("policy") == "drop" or unconditional_deny
        found.append({"family": key[0], "table": key[1], "chain": key[2], "policy": chain.get("policy", "accept"),
                      "ends_in_deny": unconditional_deny, "filtering": filtering})
        if filtering:
            covered |= FAMILIES.get(key[0], set())
    return {"input_chains": found, "filtered": sorted(covered)}


def run(ctx: Context) -> Result:
    if ctx.platform == "windows":
        return _windows(ctx)
    from agent.host.sysio import HostIOError, read_or_none, which
    from agent.host.sysio import run as run_cmd

    nft = which("nft", ctx.root)
    evidence: dict[str, Any] = {}
    ufw = read_or_none(ctx.root / "etc/ufw/ufw.conf", 65536)
    if ufw is not None:
        evidence["ufw_enabled"] = "ENABLED=yes" in ufw.text.replace(" ", "")
    evidence["firewalld_installed"] = (ctx.root / "usr/sbin/firewalld").exists()
    if nft is None:
        # No nftables, no kernel filtering Mamori can see: NET-001 counts it as disabled, as the check does.
        return Result(FAIL, _("nftables (nft) is not installed: no host firewall can be read"),
                      Firewall(enabled=False, **evidence))
    try:
        done = run_cmd([str(nft), "-j", "list", "ruleset"], timeout=COMMAND_TIMEOUT)
    except HostIOError as exc:
        return Result(ERROR, _("cannot read the firewall: {exc}").format(exc=exc),
                      Firewall.build(evidence))
    if done.returncode != 0:
        why = done.stderr.strip()[:200]
        return Result(ERROR, _("nft list ruleset failed: {why} (run as root)").format(why=why),
                      Firewall.build(evidence))
    try:
        ruleset = json.loads(done.stdout or "{}")
    except ValueError as exc:
        return Result(ERROR, _("unreadable nft output: {exc}").format(exc=exc),
                      Firewall.build(evidence))
    evidence.update(input_filtering(ruleset))
    evidence["source"] = "nft -j list ruleset"
    missing = sorted({"ipv4", "ipv6"} - set(evidence["filtered"]))
    # What NET-001 reads: the check's own verdict, so the rule and the check never disagree.
    evidence["enabled"] = bool(evidence["input_chains"]) and not missing
    if not evidence["input_chains"]:
        return Result(FAIL, _("no firewall rules for incoming traffic"),
                      Firewall.build(evidence))
    if missing:
        return Result(FAIL, _("incoming {missing} traffic is not filtered by default").format(
                                missing='/'.join(missing)),
                      Firewall.build(evidence))
    chains = ", ".join(f"{c['family']} {c['table']}/{c['chain']}" for c in evidence["input_chains"] if c["filtering"])
    return Result(PASS, _("incoming traffic denied by default ({chains})").format(chains=chains),
                  Firewall.build(evidence))


def _windows(ctx: Context) -> Result:
    from agent.host.windows import host as windows

    if ctx.windows is None:
        return Result(NOT_APPLICABLE, _("no Windows data source"), Firewall())
    profiles = windows.firewall_profiles(ctx.windows)
    off = [name for name, p in profiles.items() if not p["enabled"]]
    allow_in = [name for name, p in profiles.items() if p["enabled"] and p["inbound_allowed"]]
    evidence = {"profiles": profiles, "source": "registry", "enabled": not off and not allow_in}
    if off:
        return Result(FAIL, _("Windows Firewall is off for: {off}").format(off=', '.join(off)),
                      Firewall.build(evidence))
    if allow_in:
        return Result(FAIL, _("inbound connections allowed by default for: {allow_in}").format(
                                allow_in=', '.join(allow_in)),
                      Firewall.build(evidence))
    return Result(PASS, _("Windows Firewall on for all profiles"),
                  Firewall.build(evidence))
