"""NET-003: terminal on a network not registered for its segment, or dual-homed (several active NICs)."""

from collector.rules.base import Clear, Flag, Param, Rule, check

# Check "network_segment" evidence: "registered_network" (bool: the address / gateway belongs to the
# networks registered for the terminal's segment) and "active_interfaces" (int), "networks" (list).


def evaluate(s, params):
    registered, nics = s.evidence.get("registered_network"), s.evidence.get("active_interfaces")
    if isinstance(s.evidence.get("active"), list):  # the network_segment check: names of active interfaces
        nics = len(s.evidence["active"])
    if isinstance(s.evidence.get("outside_registered"), list):
        registered = not s.evidence["outside_registered"]
    if registered is None and not isinstance(nics, int):
        return None
    problems = []
    if registered is False:
        problems.append("network not registered for the segment")
    if isinstance(nics, int) and nics > params["max_active_interfaces"]:
        problems.append(f"{nics} active network interfaces")
    facts = {"registered_network": registered, "active_interfaces": nics,
             "outside_registered": s.evidence.get("outside_registered", [])}
    return Flag("; ".join(problems), facts) if problems else Clear("on a registered network, single-homed", facts)


RULE = Rule(
    id="NET-003",
    title_ja="登録外のネットワークへの接続、または複数ネットワークへの同時接続",
    title_en="Terminal on an unregistered network, or dual-homed",
    severity={"mynumber": "critical", "lgwan": "critical", "internet": "critical"},
    clause_bp=("BP6(3)",), clause_g=(),
    evidence_ja="check.result (network_segment): 接続先ネットワーク、有効なNIC数",
    evidence_en="check.result (network_segment): attached networks, active interfaces",
    remediation_ja="端末を所定のネットワークのみに接続し、余分なNIC・無線を無効にしてください。",
    remediation_en="Connect the terminal to its registered network only; disable extra NICs and wireless.",
    evaluate=evaluate, kinds=("check.result",), check_id="network_segment",
    params={"max_active_interfaces": Param(1, "active network interfaces allowed at once", 1, 8)},
)

FLAGS = [check("lgwan", "network_segment", "fail", {"registered_network": True, "active_interfaces": 2}),
         check("internet", "network_segment", "fail", {"registered_network": False, "active_interfaces": 1})]
PASSES = [check("lgwan", "network_segment", "pass", {"registered_network": True, "active_interfaces": 1})]
FLAGS.append(check("lgwan", "network_segment", "fail", {"active": ["eth0", "wlan0"], "outside_registered": []}))
FLAGS.append(check("lgwan", "network_segment", "fail", {"active": ["eth0"],
                                                        "outside_registered": ["eth0 192.0.2.10/24"]}))
PASSES.append(check("lgwan", "network_segment", "pass", {"active": ["eth0"], "outside_registered": []}))
