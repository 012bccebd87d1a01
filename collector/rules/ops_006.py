"""OPS-006: an agent's certificate expires soon (default within 30 days) or has expired without renewal."""

from datetime import timedelta

from collector.rules.base import EXAMPLE_AT, N_, Clear, Flag, Param, Rule, event, parse_time


def evaluate(s, params):
    # Subject: the certificate on record for the agent (agents.cert_not_after), renewed or not.
    not_after = parse_time(s.payload.get("not_after"))
    if not_after is None:
        return None
    days = (not_after - s.at).total_seconds() / 86400
    facts = {"not_after": not_after.isoformat(), "serial": s.payload.get("serial", "")}
    if days <= 0:
        return Flag(N_("certificate expired {days} days ago without renewal", days=round(-days, 1)), facts)
    if days < params["days"]:
        return Flag(N_("certificate expires in {days} days", days=round(days, 1)), facts)
    return Clear(N_("certificate valid for {days} more days", days=round(days)), facts)


RULE = Rule(
    id="OPS-006",
    title_text=N_("Certificate expiring soon or expired"),
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(7)",),
    clause_g=(),
    evidence_text=N_("the agent certificate on record at the collector (serial and expiry)"),
    remediation_text=N_(
        "Check that the agent reaches the collector so it renews itself; an expired terminal "
        "must be enrolled again with a new token."
    ),
    evaluate=evaluate,
    state="certificate",
    params={"days": Param(30, "days before expiry from which an unrenewed certificate is flagged", 1, 365)},
)

FLAGS = [
    event("lgwan", "state.certificate", {"not_after": (EXAMPLE_AT + timedelta(days=10)).isoformat()}),
    event("lgwan", "state.certificate", {"not_after": (EXAMPLE_AT - timedelta(days=2)).isoformat()}),
]
PASSES = [event("lgwan", "state.certificate", {"not_after": (EXAMPLE_AT + timedelta(days=300)).isoformat()})]
