"""NET-003: terminal on a network not registered for its segment, or dual-homed (several active NICs)."""

from collector.rules.base import N_, Clear, Flag, Rule, check
from mamori.thresholds import PARAMS

# Reads mamori.evidence.NetworkSegment: active (interfaces up with a global address), outside_registered and
# usb_network (USB adapters and tethering phones: a second path even without an address).


def evaluate(s, params):
    ev = s.evidence
    if ev.active is None:
        return None  # interfaces could not be listed
    outside = ev.outside_registered or []
    usb = ev.usb_network or []
    counted = sorted(set(ev.active) | set(usb))
    many = len(counted) > params["max_active_interfaces"]
    facts = {"active": ev.active, "outside_registered": outside, "usb_network": usb}
    if outside and many:
        return Flag(
            N_("network not registered for the segment; {count} active network interfaces", count=len(counted)), facts
        )
    if outside:
        return Flag(N_("network not registered for the segment"), facts)
    if many and usb:
        return Flag(N_("{count} network interfaces, USB: {usb}", count=len(counted), usb=", ".join(usb)), facts)
    if many:
        return Flag(N_("{count} active network interfaces", count=len(counted)), facts)
    return Clear(N_("on a registered network, single-homed"), facts)


RULE = Rule(
    id="NET-003",
    title_text=N_("Terminal on an unregistered network, or dual-homed"),
    severity={"mynumber": "critical", "lgwan": "critical", "internet": "critical"},
    clause_bp=("BP6(3)",),
    clause_g=(),
    evidence_text=N_("check.result (network_segment): attached networks, active interfaces"),
    remediation_text=N_("Connect the terminal to its registered network only; disable extra NICs and wireless."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="network_segment",
    params=PARAMS["NET-003"],
)

FLAGS = [
    check("lgwan", "network_segment", "fail", {"active": ["eth0", "wlan0"], "outside_registered": []}),
    check("lgwan", "network_segment", "fail", {"active": ["eth0"], "outside_registered": ["eth0 192.0.2.10/24"]}),
    check(
        "mynumber", "network_segment", "fail", {"active": ["eth0"], "outside_registered": [], "usb_network": ["usb0"]}
    ),
]
PASSES = [
    check("lgwan", "network_segment", "pass", {"active": ["eth0"], "outside_registered": []}),
    check(
        "lgwan", "network_segment", "pass", {"active": ["usb0"], "outside_registered": [], "usb_network": ["usb0"]}
    ),  # the only NIC is a USB one
    check("lgwan", "network_segment", "error", {"error": "no netlink"}),
]
