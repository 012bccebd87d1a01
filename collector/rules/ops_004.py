"""OPS-004: agent stopped by someone other than the service manager, or uninstalled."""

from collector.rules.base import N_, Flag, Param, Rule, event


def evaluate(s, params):
    reason = str(s.payload.get("reason", ""))
    if s.kind == "agent.started":
        # A start after a run that did not end cleanly: the agent was killed (kill -9) or crashed.
        if s.payload.get("previous_exit") == "unclean" and params["flag_unclean_exit"]:
            return Flag(N_("previous run ended uncleanly (killed or crashed)"), {"previous_exit": "unclean"})
        return None
    if any(reason == ok or reason.startswith(ok + ":") for ok in params["allowed_reasons"]):
        return None
    text = N_("agent stopped: {reason}", reason=reason) if reason else N_("agent stopped (no reason given)")
    return Flag(text, {"reason": reason, "spool_depth": s.payload.get("spool_depth", 0)})


RULE = Rule(
    id="OPS-004",
    title_text=N_("Agent stopped outside the service manager, or uninstalled"),
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(7)",),
    clause_g=(),
    evidence_text=N_("agent.stopped (reason) and agent.started (how the previous run ended) events"),
    remediation_text=N_("Find out who stopped the agent and why; restart it."),
    evaluate=evaluate,
    kinds=("agent.stopped", "agent.started"),
    params={
        "allowed_reasons": Param(
            ["service-stop", "system-shutdown", "upgrade"], "stop reasons that are the service manager's own"
        ),
        "flag_unclean_exit": Param(True, "flag a start after an unclean end (killed, crashed)"),
    },
)

FLAGS = [
    event("lgwan", "agent.stopped", {"reason": "signal:SIGKILL"}),
    event("lgwan", "agent.stopped", {"reason": "uninstall"}),
    event("lgwan", "agent.started", {"previous_exit": "unclean"}),
]
PASSES = [
    event("lgwan", "agent.stopped", {"reason": "service-stop"}),
    event("lgwan", "agent.started", {"previous_exit": "clean"}),
]
