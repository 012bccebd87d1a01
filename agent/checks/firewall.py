"""firewall: the host firewall filters incoming traffic by default (NET-001)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec
from agent.host.facts import FirewallFacts
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


def run(ctx: Context) -> Result:
    return verdict(ctx.facts().firewall())


def verdict(facts: FirewallFacts) -> Result:
    """Pure: the firewall facts -> the result, with NET-001's `enabled` being this very verdict."""
    if facts.unavailable:
        return Result(NOT_APPLICABLE, _("no Windows data source"), Firewall())
    if facts.profiles:
        return _profiles(facts)
    beside: dict[str, Any] = {"ufw_enabled": facts.ufw_enabled, "firewalld_installed": facts.firewalld_installed}
    if facts.nft_missing:
        # No nftables, no kernel filtering Mamori can see: NET-001 counts it as disabled, as the check does.
        return Result(
            FAIL, _("nftables (nft) is not installed: no host firewall can be read"), Firewall(enabled=False, **beside)
        )
    if facts.error == "read":
        return Result(ERROR, _("cannot read the firewall: {exc}").format(exc=facts.detail), Firewall(**beside))
    if facts.error == "nft":
        return Result(
            ERROR, _("nft list ruleset failed: {why} (run as root)").format(why=facts.detail), Firewall(**beside)
        )
    if facts.error:
        return Result(ERROR, _("unreadable nft output: {exc}").format(exc=facts.detail), Firewall(**beside))
    missing = sorted({"ipv4", "ipv6"} - set(facts.filtered))
    evidence = Firewall(
        enabled=bool(facts.input_chains) and not missing,
        input_chains=[asdict(c) for c in facts.input_chains],
        filtered=list(facts.filtered),
        source=facts.source,
        **beside,
    )
    if not facts.input_chains:
        return Result(FAIL, _("no firewall rules for incoming traffic"), evidence)
    if missing:
        return Result(
            FAIL, _("incoming {missing} traffic is not filtered by default").format(missing="/".join(missing)), evidence
        )
    chains = ", ".join(f"{c.family} {c.table}/{c.chain}" for c in facts.input_chains if c.filtering)
    return Result(PASS, _("incoming traffic denied by default ({chains})").format(chains=chains), evidence)


def _profiles(facts: FirewallFacts) -> Result:
    profiles = dict(facts.profiles)
    off = [name for name, p in profiles.items() if not p.enabled]
    allow_in = [name for name, p in profiles.items() if p.enabled and p.inbound_allowed]
    evidence = Firewall(
        profiles={name: asdict(p) for name, p in profiles.items()},
        source=facts.source,
        enabled=not off and not allow_in,
    )
    if off:
        return Result(FAIL, _("Windows Firewall is off for: {off}").format(off=", ".join(off)), evidence)
    if allow_in:
        return Result(
            FAIL,
            _("inbound connections allowed by default for: {allow_in}").format(allow_in=", ".join(allow_in)),
            evidence,
        )
    return Result(PASS, _("Windows Firewall on for all profiles"), evidence)
