"""OPS-003: a gap in the event sequence, spool overflow or corruption, a cut event, refused batches, tampering."""

from collector.rules.base import N_, Flag, Rule, event


def evaluate(s, params):
    p = s.payload
    if s.kind == "sequence.gap":
        detail = N_("events {first}..{last} missing", first=p.get("first_missing"), last=p.get("last_missing"))
    elif s.kind == "spool.overflow" and p.get("reason") == "disk full":
        detail = N_(
            "disk full: {count} events not recorded between {first} and {last}",
            count=p.get("dropped", "?"),
            first=p.get("first_lost_at", "?"),
            last=p.get("last_lost_at", "?"),
        )
    elif s.kind == "spool.overflow":
        detail = N_("spool overflow: {count} events dropped", count=p.get("dropped", "?"))
    elif s.kind == "batch.refused":
        detail = N_(
            "{count} batches in a row refused by the collector, events not stored: {error}",
            count=p.get("consecutive", "?"),
            error=p.get("error", ""),
        )
    elif s.kind == "spool.corrupt":
        detail = N_("spool corrupt: {error}", error=p.get("error", ""))
    elif s.kind == "event.oversize":  # the agent's own event outside the bounds, replaced so delivery goes on
        detail = N_(
            "{kind} event cut by the agent: {field} {size} over the limit of {limit} (payload sha256 {sha})",
            kind=p.get("original_kind", "?"),
            field=p.get("field", "?"),
            size=p.get("size", "?"),
            limit=p.get("limit", "?"),
            sha=p.get("payload_sha256", "?"),
        )
    else:  # the agent's own words for what was tampered with, quoted as sent
        detail = N_("tamper: {what} {detail}", what=p.get("what", "?"), detail=p.get("detail", ""))
    return Flag(detail, {"kind": s.kind, **p})


RULE = Rule(
    id="OPS-003",
    title_text=N_("Event sequence gap, spool overflow, or agent/policy tampering"),
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(7)",),
    clause_g=("7.1",),
    evidence_text=N_(
        "sequence.gap and batch.refused (recorded by the collector), spool.overflow, spool.corrupt, "
        "event.oversize, agent.tamper events"
    ),
    remediation_text=N_("Examine the terminal's agent and logs for tampering."),
    evaluate=evaluate,
    kinds=("sequence.gap", "batch.refused", "spool.overflow", "spool.corrupt", "event.oversize", "agent.tamper"),
)

FLAGS = [
    event("lgwan", "sequence.gap", {"first_missing": 5, "last_missing": 9}),
    event("mynumber", "agent.tamper", {"what": "policy_cache", "detail": "signature mismatch"}),
    event("internet", "spool.overflow", {"dropped": 120, "capacity": 100000}),
    event("lgwan", "batch.refused", {"consecutive": 3, "error": "malformed event"}),
    event(
        "mynumber",
        "event.oversize",
        {
            "original_kind": "media.write",
            "field": "media_write.path",
            "size": 9000,
            "limit": 4096,
            "payload_sha256": "ab" * 32,
        },
    ),
]
PASSES = [event("lgwan", "agent.started", {"previous_exit": "clean"})]
