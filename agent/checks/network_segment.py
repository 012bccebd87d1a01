"""network_segment: the terminal sits only on its segment's registered networks and cannot reach the
other segments (NET-002, NET-003). Probes go only to the IP:port targets the policy names."""

from __future__ import annotations

import ipaddress
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec, Threshold
from mamori.evidence.network import NetworkSegment
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="network_segment",
    title=N_("Network segment isolation"),
    platforms=("linux", "windows"),
    interval_seconds=900,
    severity="high",
    rules=("NET-002", "NET-003"),
    remediation=N_(
        "Connect the terminal only to its segment's network (one active interface, a registered address) "
        "and have the network team close the path to the other segments."
    ),
    reads={
        "linux": "interfaces vs registered networks, dual-homing; TCP probes to the policy's `probe_targets` only",
        "windows": "interfaces vs registered networks, dual-homing; TCP probes to the policy's `probe_targets` only",
    },
    thresholds=(Threshold.of("max_active_interfaces"),),
    settings=(
        "networks",
        "probe_targets",
        "probe_timeout_seconds",
    ),
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()


def run(ctx: Context) -> Result:
    from agent.host import net

    networks = [ipaddress.ip_network(n, strict=False) for n in ctx.settings.get("networks", [])]
    from mamori.policy import _valid_target

    # Validated when the policy was applied; checked again because probes must never go anywhere else.
    targets = [tg for tg in ctx.settings.get("probe_targets", []) if isinstance(tg, str) and _valid_target(tg)]
    try:
        ifaces = net.interfaces()
    except (OSError, ImportError) as exc:
        return Result(ERROR, _("cannot list network interfaces: {exc}").format(exc=exc), NetworkSegment(error=str(exc)))
    active = [i for i in ifaces if i.up and any(net.is_global(a) for a in i.addresses)]
    # A USB adapter or a tethering phone is a second path even before it has an address (NET-003 counts it).
    usb = net.usb_interfaces(i.name for i in ifaces if i.name != "lo")
    counted = sorted({i.name for i in active} | set(usb))
    outside = [
        f"{i.name} {a}"
        for i in active
        for a in i.addresses
        if net.is_global(a) and networks and not any(ipaddress.ip_interface(a).ip in n for n in networks)
    ]
    probes = [net.probe(tg, float(ctx.settings["probe_timeout_seconds"])) for tg in targets[:64]]
    reached = [str(p["target"]) for p in probes if p["result"] == "connected"]
    most = int(ctx.settings["max_active_interfaces"])  # NET-003's parameter: the collector judges by the same
    evidence: dict[str, Any] = {
        "interfaces": [{"name": i.name, "up": i.up, "addresses": list(i.addresses)} for i in ifaces[:50]],
        "active": [i.name for i in active],
        "registered_networks": [str(n) for n in networks],
        "outside_registered": outside,
        "probes": probes,
        "max_active_interfaces": most,
        "usb_network": usb,
    }
    findings = []
    if reached:
        findings.append(_("other segment reachable: {reached}").format(reached=", ".join(reached)))
    if len(counted) > most:
        findings.append(_("several active interfaces (dual-homed): {interfaces}").format(interfaces=", ".join(counted)))
    if outside:
        findings.append(_("address outside the registered networks: {outside}").format(outside=", ".join(outside)))
    if findings:
        res = Result(FAIL, " / ".join(findings), NetworkSegment.build(evidence))
        if reached and ctx.segment == "mynumber":
            res.severity = "critical"
        return res
    if not networks and not targets:
        return Result(
            NOT_APPLICABLE, _("no registered networks or probe targets in the policy"), NetworkSegment.build(evidence)
        )
    blocked = _("{count} other-segment target(s) unreachable").format(count=len(probes))
    return Result(
        PASS, _("on registered networks only; {blocked}").format(blocked=blocked), NetworkSegment.build(evidence)
    )
