"""os_support: the operating system release still receives security updates (PAT-004)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec
from agent.host.facts import OsReleaseFacts
from mamori.evidence.updates import OsSupport
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="os_support",
    title=N_("OS support period"),
    platforms=("linux", "windows"),
    interval_seconds=86400,
    severity="high",
    rules=("PAT-004",),
    remediation=N_("Upgrade the terminal to a supported operating system release before its support ends."),
    reads={
        "linux": "os-release against `agent/checks/data/os_support.json`",
        "windows": "the Windows build against `agent/checks/data/os_support.json`",
    },
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()
TABLE = Path(__file__).parent / "data" / "os_support.json"
WARN_DAYS = 180


def table() -> dict:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def run(ctx: Context) -> Result:
    return verdict(ctx.facts().os_release(), table(), ctx.now.date())


def verdict(facts: OsReleaseFacts, data: dict, today: date) -> Result:
    """Pure: the release, the support table and today's date -> the result."""
    release, ends, note = _lookup(facts, data)
    if release is None:
        return Result(
            ERROR, _("cannot identify the operating system: {note}").format(note=note), OsSupport(problem=note)
        )
    evidence: dict[str, Any] = {"release": release, "end_of_support": ends, "note": note, "table": str(TABLE)}
    if ends is None:
        return Result(
            NOT_APPLICABLE,
            _("{release} is not in the support table").format(release=release),
            OsSupport.build(evidence),
        )
    end = date.fromisoformat(ends)
    left = (end - today).days
    evidence["days_left"] = left
    if left < 0:
        return Result(
            FAIL,
            _("{release}: security support ended on {ends}").format(release=release, ends=ends),
            OsSupport.build(evidence),
        )
    soon = _(" (ends in {left} days)").format(left=left) if left <= WARN_DAYS else ""
    return Result(
        PASS,
        _("{release}: supported until {ends}{soon}").format(release=release, ends=ends, soon=soon),
        OsSupport.build(evidence),
    )


def _lookup(facts: OsReleaseFacts, data: dict) -> tuple[str | None, str | None, str]:
    """(what staff see, end of support or None, note): the note is the problem when the release is unknown."""
    if facts.problem:
        return None, None, facts.problem
    if facts.family == "windows":
        return _windows(facts, data["windows"])
    releases = data["linux"].get(facts.os_id, {})
    entry = releases.get(facts.version) or releases.get(facts.version.split(".")[0])
    return facts.label, (entry[0] if entry else None), (entry[1] if entry else "")


def _windows(facts: OsReleaseFacts, data: dict) -> tuple[str | None, str | None, str]:
    entry = data.get(facts.version)
    if not entry:
        return facts.label, None, ""
    edition = facts.edition
    kind = (
        "ltsc"
        if "LTSC" in edition.upper() or edition.startswith("EnterpriseS")
        else "enterprise"
        if edition.startswith(("Enterprise", "Education"))
        else "default"
    )
    ends = entry.get(kind) or entry.get("enterprise" if kind == "ltsc" else "default")
    return facts.label, ends, kind
