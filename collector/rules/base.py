"""What a rule is: metadata (id, titles, severity per segment, clauses, texts), parameters, a pure evaluate()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mamori import evidence as schemas
from mamori.i18n import N_, Message
from mamori.labels import SEGMENTS
from mamori.thresholds import Param

__all__ = ["N_", "Param"]  # rule parameters, shared with the agent where a check applies the same threshold


@dataclass(frozen=True)
class Subject:
    """What a rule looks at: one event (or a state observation) of an agent, evaluated at time `at`.

    For check.result events `evidence` is the check's typed evidence (mamori.evidence: a rule reads only the
    fields its check's schema declares); `facts` carries context the engine looked up (e.g. how many blocks
    in the last 24 h).
    """

    segment: str
    kind: str
    payload: dict[str, Any]
    at: datetime
    event_id: str = ""
    evidence: Any = None  # a mamori.evidence.Evidence for check.result
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Flag:
    """The subject breaks the rule; message is the 検知内容, a gettext msgid shown in each reader's language."""

    message: Message
    evidence: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None  # overrides the segment's severity (e.g. escalation)

    @property
    def detail(self) -> str:
        return self.message.render("en")  # the stored text: what older readers of the row show


@dataclass(frozen=True)
class Clear:
    """The state behind an open violation of this rule has cleared (a later passing check)."""

    message: Message
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def detail(self) -> str:
        return self.message.render("en")


Outcome = Flag | Clear | None


@dataclass(frozen=True)
class Rule:
    id: str
    title_text: Message  # English msgids: the catalogue gives the Japanese (one translation mechanism)
    severity: dict[str, str]  # segment -> severity; the rule applies to these segments only
    clause_bp: tuple[str, ...]  # 基本方針 §, e.g. "BP6(3)①"
    clause_g: tuple[str, ...]  # MIC guideline 対策基準 sections; data, so a site can correct them; "[?]" = unverified
    evidence_text: Message
    remediation_text: Message
    evaluate: Callable[[Subject, dict[str, Any]], Outcome]
    kinds: tuple[str, ...] = ()  # event kinds evaluated as they are stored
    check_id: str | None = None  # for check.result rules: which posture check
    state: str | None = None  # "heartbeat" | "exception": evaluated by the scheduler only
    recheck: bool = False  # time-dependent check rule: re-evaluated on the schedule against the latest result
    params: dict[str, Param] = field(default_factory=dict)
    # Facts the rule reads from the store (collector.store.facts.FACT_READERS), given in Subject.facts; a rule
    # without any is judged before the ingest transaction, one with some inside it once they are read.
    facts: tuple[str, ...] = ()

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(s for s in SEGMENTS if s in self.severity)

    @property
    def clause(self) -> str:
        return "; ".join((*self.clause_bp, *(f"G{g}" for g in self.clause_g)))

    def title(self, lang: str) -> str:
        return self.title_text.render(lang)

    def evidence(self, lang: str) -> str:
        return self.evidence_text.render(lang)

    def remediation(self, lang: str) -> str:
        return self.remediation_text.render(lang)

    def defaults(self) -> dict[str, Any]:
        return {name: p.default for name, p in self.params.items()}


def every(severity: str) -> dict[str, str]:
    return dict.fromkeys(SEGMENTS, severity)


# --- helpers for evidence ------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from evidence (naive means UTC), or None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def days_since(value: Any, at: datetime) -> float | None:
    ts = parse_time(value)
    return None if ts is None else (at - ts).total_seconds() / 86400


def aged(days: Any, s: Subject) -> float | None:
    """An age in days the agent reported, plus the time since it reported it (for the scheduler's re-checks)."""
    if not isinstance(days, int | float) or isinstance(days, bool):
        return None
    observed = s.facts.get("observed_at") or s.at
    return days + (s.at - observed).total_seconds() / 86400


def typed_evidence(payload: dict[str, Any]) -> Any:
    """The typed evidence of a stored or received check.result payload (None for a check no schema knows)."""
    return schemas.parse(str(payload.get("check_id", "")), schemas.stored(payload))


def is_storage(payload: dict[str, Any]) -> bool:
    """Whether a UsbDevice is removable storage: mass-storage class 08, still-image/MTP 06, or marked so."""
    classes = payload.get("interface_classes") or []
    return any(str(c).startswith(("08", "06")) for c in classes) or not classes


def device_label(payload: dict[str, Any]) -> str:
    name = " ".join(x for x in (payload.get("vendor_name"), payload.get("product_name")) if x)
    ident = f"{payload.get('vendor_id', '?')}:{payload.get('product_id', '?')}"
    serial = payload.get("serial")
    return " ".join(x for x in (ident, name, f"serial={serial}" if serial else "") if x)


def check_status(subject: Subject) -> str:
    return str(subject.payload.get("status", ""))


def check_fallback(subject: Subject, detail: Message | None) -> Outcome:
    """For a check without the evidence a rule reads: fail flags, pass/not_applicable clear, error says nothing.

    Without a detail of its own the rule quotes the check's summary (the terminal's text, as it was sent)."""
    status = check_status(subject)
    if status == "fail":
        summary = str(subject.payload.get("summary", ""))
        if detail is None:
            detail = N_("check failed: {summary}", summary=summary) if summary else N_("check failed")
        return Flag(detail, {"status": status})
    if status == "pass":
        return Clear(N_("check passed"), {"status": status})
    if status == "not_applicable":
        return Clear(N_("check not applicable"), {"status": status})
    return None


# --- building subjects (used by the engine and by each rule's FLAGS / PASSES examples) ------------

EXAMPLE_AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # a Monday, 10:00 in Japan


def event(
    segment: str,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    at: datetime = EXAMPLE_AT,
    facts: dict[str, Any] | None = None,
    event_id: str = "",
) -> Subject:
    return Subject(segment=segment, kind=kind, payload=payload or {}, at=at, event_id=event_id, facts=facts or {})


def check(
    segment: str, check_id: str, status: str, evidence: dict[str, Any] | None = None, *, at: datetime = EXAMPLE_AT
) -> Subject:
    """A check.result as the collector stores it (evidence decoded at the ingest edge) and rules see it."""
    payload = {"check_id": check_id, "status": status, "evidence": evidence or {}}
    return Subject(segment=segment, kind="check.result", payload=payload, at=at, evidence=typed_evidence(payload))
