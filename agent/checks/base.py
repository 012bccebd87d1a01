"""What every check shares: the result type, the run context and the crash/timeout guard."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from agent.host import PLATFORM, FactsReader
from agent.host import facts as host_facts
from mamori import clock
from mamori.evidence import EVIDENCE, Evidence, Failure
from mamori.i18n import _

PASS, FAIL, NOT_APPLICABLE, ERROR = "pass", "fail", "not_applicable", "error"
STATUSES = (PASS, FAIL, NOT_APPLICABLE, ERROR)
METADATA = ("ID", "TITLE", "PLATFORMS", "INTERVAL_SECONDS", "SEVERITY", "REMEDIATION", "RULES")


@dataclass
class Result:
    """One check verdict with its evidence: what was read, from where, and what it showed."""

    status: str
    summary: str
    evidence: dict[str, Any] | Evidence = field(default_factory=dict)  # built with the check's schema
    remediation: str = ""
    check_id: str = ""
    title: str = ""
    seconds: float = 0.0
    severity: str = ""  # event severity when it differs from the check's default for this status

    def __post_init__(self) -> None:
        # Kept in its wire form: what is shown, stored and sent is exactly what the schema serialises.
        if isinstance(self.evidence, Evidence):
            self.evidence = self.evidence.as_dict()

    def payload(self, full_report: bool = False) -> dict[str, Any]:
        evidence = self.evidence.as_dict() if isinstance(self.evidence, Evidence) else self.evidence
        return {
            "check_id": self.check_id,
            "status": self.status,
            "summary": self.summary[:2000],
            "evidence_json": evidence_json(evidence),
            "remediation": self.remediation[:2000],
            "full_report": full_report,
        }


EVIDENCE_LIMIT = 60000


def evidence_json(evidence: dict[str, Any], limit: int = EVIDENCE_LIMIT) -> str:
    """Evidence as JSON of at most `limit` characters that is still valid JSON: the largest values are
    replaced by a note of their size until it fits."""
    import json

    def dump(obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)

    text = dump(evidence)
    if len(text) <= limit:
        return text
    shrunk = dict(evidence)
    for key in sorted(shrunk, key=lambda k: -len(dump(shrunk[k]))):
        value = shrunk[key]
        shrunk[key] = {
            "truncated": True,
            "items": len(value) if hasattr(value, "__len__") else None,
            "chars": len(dump(value)),
        }
        text = dump(shrunk)
        if len(text) <= limit:
            return text
    return dump({"truncated": True, "keys": sorted(evidence)[:50]})[:limit]


@dataclass
class Context:
    """Everything a check may consult. Tests point `root` at a prepared tree and `windows` at recordings."""

    settings: dict[str, Any]
    root: Path = Path("/")
    platform: str = PLATFORM
    now: datetime = field(default_factory=lambda: clock.now())
    state_dir: Path | None = None
    windows: Any = None  # agent.host.windows.Source (live) or a recorded one in tests
    segment: str = ""

    def facts(self) -> FactsReader:
        """This platform's facts reader: the only way a check learns about the machine."""
        return host_facts(self.platform, self.root, self.windows)


def title(check: ModuleType) -> str:
    """The check's TITLE (an English msgid marked with N_) in the staff's language."""
    return check.TITLE.render()


def remediation(check: ModuleType) -> str:
    return check.REMEDIATION.render()


def execute(check: ModuleType, ctx: Context, timeout: float | None = None) -> Result:
    """Run one check in a worker thread; a crash or overrun becomes an `error` result, never an exception."""
    if ctx.platform not in check.PLATFORMS:
        res = Result(
            NOT_APPLICABLE, _("not checked on {platform}").format(platform=ctx.platform), Failure(platform=ctx.platform)
        )
        return _finish(check, res, 0.0)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = check.run(ctx)
        except Exception as exc:  # noqa: BLE001 - a check's bug must not stop the agent
            box["error"] = exc
            box["trace"] = traceback.format_exc(limit=6)

    started = time.monotonic()
    worker = threading.Thread(target=work, name=f"check-{check.ID}", daemon=True)
    worker.start()
    worker.join(timeout if timeout is not None else _timeout(check))
    spent = time.monotonic() - started
    if worker.is_alive():
        res = Result(
            ERROR,
            _("the check did not finish within {spent:.0f} s").format(spent=spent),
            Failure(timeout_seconds=round(spent, 1)),
        )
    elif "error" in box:
        exc = box["error"]
        res = Result(
            ERROR,
            _("the check failed: {exc}").format(exc=exc),
            Failure(exception=type(exc).__name__, message=str(exc)[:500], traceback=box["trace"][-2000:]),
        )
    elif not isinstance(box.get("result"), Result) or box["result"].status not in STATUSES:
        res = Result(ERROR, _("the check returned no valid result"), {})
    else:
        res = _declared(check, box["result"])
    return _finish(check, res, spent)


def _timeout(check: ModuleType) -> float:
    spec = getattr(check, "SPEC", None)
    return spec.timeout_seconds if spec is not None else getattr(check, "TIMEOUT_SECONDS", 120)


def _declared(check: ModuleType, res: Result) -> Result:
    """The check's result if its evidence fits the check's schema; an evidence field no schema declares would
    reach the collector unread (or be read by no rule), so it is a bug shown as an error, never sent."""
    schema = EVIDENCE.get(check.ID)
    try:
        if schema is not None and isinstance(res.evidence, dict):
            schema.build(res.evidence)
    except TypeError as exc:
        return Result(
            ERROR,
            _("the check's evidence does not fit its schema: {exc}").format(exc=exc),
            Failure(exception="TypeError", message=str(exc)),
        )
    return res


def _finish(check: ModuleType, res: Result, spent: float) -> Result:
    res.check_id = check.ID
    res.title = title(check)
    res.seconds = round(spent, 3)
    if res.status == FAIL and not res.remediation:
        res.remediation = remediation(check)
    return res


def severity(check: ModuleType, res: Result) -> str:
    """Event severity by status: a failure carries the check's (or the result's) severity."""
    if res.severity:
        return res.severity
    return {PASS: "info", NOT_APPLICABLE: "info", ERROR: "low"}.get(res.status, check.SEVERITY)


def context(document: dict[str, Any], segment: str, state_dir: Path | None = None) -> Context:
    """The context for a run on this machine under a policy document."""
    from agent.host import data_source
    from mamori.policy import check_settings

    ctx = Context(settings=check_settings(document), segment=segment, state_dir=state_dir)
    ctx.windows = data_source(ctx.platform)
    return ctx


def enabled(checks: dict[str, ModuleType], settings: dict[str, Any], only: str | None = None) -> list[ModuleType]:
    disabled = set(settings.get("disabled", []))
    return [c for cid, c in checks.items() if (only is None or cid == only) and cid not in disabled]


def guarded(reader: Callable[[], Any], problems: list[str]) -> Any:
    """Call a reader; an OSError is noted as a problem (shown as evidence) and gives None."""
    try:
        return reader()
    except OSError as exc:
        problems.append(str(exc))
        return None
