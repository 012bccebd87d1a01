"""software: installed packages against the policy's permitted and forbidden lists (SW-001)."""

from __future__ import annotations

import fnmatch
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec, Threshold
from agent.host.facts import SoftwareFacts
from mamori.evidence.software import Software
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="software",
    title=N_("Unauthorised software"),
    platforms=("linux", "windows"),
    interval_seconds=6 * 3600,
    severity="high",
    rules=("SW-001",),
    remediation=N_(
        "Uninstall the unauthorised software, or have the unit security manager add it to the permitted "
        "list through an exception (例外措置)."
    ),
    reads={"linux": "dpkg / rpm database", "windows": "Windows Uninstall keys"},
    thresholds=(Threshold.of("software_permitted"),),
    settings=("software_forbidden",),
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()


def _match(name: str, patterns: list[str]) -> str | None:
    low = name.lower()
    return next((p for p in patterns if fnmatch.fnmatchcase(low, p.lower())), None)


def run(ctx: Context) -> Result:
    return verdict(ctx.facts().software(), ctx.settings)


def verdict(facts: SoftwareFacts, settings: dict[str, Any]) -> Result:
    """Pure: the installed packages and the policy's lists -> the result."""
    if facts.unavailable:
        return Result(NOT_APPLICABLE, _("no Windows data source"), Software())
    if facts.missing:
        return Result(NOT_APPLICABLE, _("no package database: {exc}").format(exc=facts.missing), Software())
    if facts.error:
        return Result(
            ERROR, _("cannot list installed software: {exc}").format(exc=facts.error), Software(error=facts.error)
        )
    source, packages = facts.source, list(facts.packages)
    forbidden_p = list(settings.get("software_forbidden", []))
    permitted_p = list(settings.get("software_permitted", []))
    forbidden = [
        {"name": n, "version": v, "pattern": p} for n, v in packages if (p := _match(n, forbidden_p)) is not None
    ]
    unlisted = [n for n, _v in packages if permitted_p and _match(n, permitted_p) is None] if permitted_p else []
    evidence: dict[str, Any] = {
        "source": source,
        "installed": len(packages),
        "forbidden": forbidden[:100],
        "not_permitted": unlisted[:100],
        "not_permitted_count": len(unlisted),
        "allowlist_enforced": bool(permitted_p),
    }
    if forbidden or unlisted:
        parts = []
        if forbidden:
            parts.append(_("forbidden: ") + ", ".join(f["name"] for f in forbidden[:8]))
        if unlisted:
            parts.append(_("{count} not on the permitted list: ").format(count=len(unlisted)) + ", ".join(unlisted[:8]))
        return Result(FAIL, " / ".join(parts), Software.build(evidence))
    scope = _("permitted list and forbidden list") if permitted_p else _("forbidden list")
    return Result(
        PASS,
        _("{count} installed packages checked against the {scope}").format(count=len(packages), scope=scope),
        Software.build(evidence),
    )
