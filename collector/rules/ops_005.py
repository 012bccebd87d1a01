"""OPS-005: an exception (例外措置) used after its expiry."""

from collector.rules.base import N_, Flag, Rule, event, parse_time


def evaluate(s, params):
    # Subject: the engine saw the excepted rule break (event or open violation) at `at`.
    until = parse_time(s.payload.get("until"))
    if until is None or s.at <= until:
        return None
    return Flag(
        N_(
            "exception #{id} for {rule} expired {until}",
            id=s.payload.get("exception_id"),
            rule=s.payload.get("rule_id"),
            until=until.date().isoformat(),
        ),
        dict(s.payload),
    )


RULE = Rule(
    id="OPS-005",
    title_text=N_("Exception used after its expiry"),
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(7)",),
    clause_g=("7.4",),
    evidence_text=N_("the expired exception and the violation that continued (or recurred) after it"),
    remediation_text=N_("Renew the exception through approval, or correct the violation."),
    evaluate=evaluate,
    state="exception",
)

FLAGS = [event("lgwan", "exception.used", {"exception_id": 3, "rule_id": "SW-001", "until": "2026-10-31T15:00:00Z"})]
PASSES = [event("lgwan", "exception.used", {"exception_id": 3, "rule_id": "SW-001", "until": "2026-12-31T15:00:00Z"})]
