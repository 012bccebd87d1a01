"""patch: security updates applied in time, update source fresh, no stale reboot (PAT-001..003)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec, Threshold
from agent.host.facts import PatchFacts
from mamori.evidence.updates import Patch
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="patch",
    title=N_("Security updates"),
    platforms=("linux", "windows"),
    interval_seconds=6 * 3600,
    severity="high",
    rules=("PAT-001", "PAT-002", "PAT-003"),
    remediation=N_(
        "Apply the pending security updates (apt-get upgrade / dnf upgrade --security / Windows Update), "
        "refresh the package lists from the office mirror or WSUS, and reboot when asked."
    ),
    timeout_seconds=300,
    reads={
        "linux": "`apt-get -s dist-upgrade`, the security suite's Release dates, apt lists, history.log, "
        "reboot-required; `dnf updateinfo info --security`",
        "windows": "Windows Update Agent + WSUS",
    },
    thresholds=(
        Threshold.of("patch_max_age_days"),
        Threshold.of("patch_critical_max_age_days"),
        Threshold.of("package_lists_max_age_days"),
        Threshold.of("reboot_max_days"),
    ),
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()
SEEN_FILE = "patch_seen.json"


def _days(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round((now - then).total_seconds() / 86400, 1)


def first_seen(ctx: Context, keys: list[str]) -> dict[str, datetime]:
    """When each pending update was first noticed: the age of an update the OS does not date itself.

    Kept in the state folder across runs; forgotten once the update is no longer pending."""
    path = ctx.state_dir / SEEN_FILE if ctx.state_dir else None
    seen: dict[str, str] = {}
    if path is not None:
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            seen = {k: v for k, v in loaded.items() if isinstance(k, str) and isinstance(v, str)}
        except (OSError, ValueError, AttributeError):
            seen = {}
    out: dict[str, datetime] = {}
    for key in keys:
        try:
            out[key] = datetime.fromisoformat(seen[key])
        except (KeyError, ValueError):
            out[key] = ctx.now
    if path is not None:
        from agent.fsutil import write_atomic

        try:
            write_atomic(path, json.dumps({k: v.isoformat() for k, v in out.items()}).encode(), 0o600)
        except OSError:
            pass
    return out


def run(ctx: Context) -> Result:
    facts = ctx.facts().patch()
    return verdict(facts, ctx.settings, ctx.now, _remembered(ctx, facts))


def _remembered(ctx: Context, facts: PatchFacts) -> dict[str, datetime]:
    """First-seen times from the agent's state folder, for what the OS does not date itself: apt's pending
    updates, and a reboot dnf or Windows asks for."""
    if facts.unavailable or facts.error or not facts.backend:
        return {}
    if facts.backend == "apt":
        return first_seen(ctx, [f"{u.name}={u.candidate}" for u in facts.security])
    if facts.reboot_required and (ctx.state_dir or facts.backend == "windows_update"):
        return first_seen(ctx, ["reboot"])
    return {}


def verdict(facts: PatchFacts, settings: dict[str, Any], now: datetime, seen: dict[str, datetime]) -> Result:
    """Pure: the update state, the policy's limits, the time now and when this agent first saw each pending
    update (or reboot) -> the result."""
    if facts.unavailable:
        return Result(NOT_APPLICABLE, _("no Windows data source"), Patch())
    if facts.backend == "apt":
        return _apt(facts, settings, now, seen)
    if facts.backend == "dnf":
        return _dnf(facts, settings, now, seen)
    if facts.backend == "windows_update":
        return _windows(facts, settings, now, seen)
    return Result(NOT_APPLICABLE, _("no apt or dnf package manager found"), Patch(root=facts.root))


def _verdict(
    s: dict[str, Any],
    now: datetime,
    evidence: dict[str, Any],
    security: list[dict[str, Any]],
    refreshed: datetime | None,
    reboot_since: datetime | None,
    source_note: str,
) -> Result:
    lists_age, reboot_age = _days(now, refreshed), _days(now, reboot_since)
    limit, critical_limit = s["patch_max_age_days"], s["patch_critical_max_age_days"]
    overdue = [u for u in security if (u["age_days"] or 0) > (critical_limit if u.get("critical") else limit)]
    findings = []
    if overdue:
        oldest = max(u["age_days"] for u in overdue)
        names = ", ".join(u["name"] for u in overdue[:5]) + (" …" if len(overdue) > 5 else "")
        # The count first is every pending security update, the number PAT-001's 検知内容 states too (the
        # collector re-ages the evidence over time, so an overdue count would soon differ from the agent's).
        findings.append(
            _(
                "{pending} security update(s) pending, {overdue} longer than allowed ({limit} days, "
                "critical {critical_limit}): {names}; oldest {oldest:.0f} days"
            ).format(
                pending=len(security),
                overdue=len(overdue),
                limit=limit,
                critical_limit=critical_limit,
                names=names,
                oldest=oldest,
            )
        )
    if lists_age is None or lists_age > s["package_lists_max_age_days"]:
        age = _("never") if lists_age is None else f"{lists_age:.0f}"
        allowed = s["package_lists_max_age_days"]
        findings.append(
            _("update source not refreshed for {age} days (allowed {allowed}) {source_note}")
            .format(age=age, allowed=allowed, source_note=source_note)
            .strip()
        )
    if reboot_age is not None and reboot_age > s["reboot_max_days"]:
        findings.append(
            _("reboot pending for {reboot_age:.0f} days (allowed {allowed})").format(
                reboot_age=reboot_age, allowed=s["reboot_max_days"]
            )
        )
    # What the collector's PAT-001 reads: the full count (the list is capped) and the oldest critical update's age.
    evidence["pending_security_count"] = len(security)
    # Every backend (apt, dnf, Windows Update) reports the oldest age: without it the rule could only guess.
    evidence.setdefault("oldest_security_days", max((u["age_days"] or 0 for u in security), default=None))
    evidence["oldest_critical_days"] = max((u["age_days"] or 0 for u in security if u.get("critical")), default=None)
    # What PAT-002 and PAT-003 read, the same for every backend: the times the ages above were taken from.
    evidence.update(
        source_refreshed=refreshed.isoformat() if refreshed else None,
        never_refreshed=refreshed is None,
        reboot_required=reboot_since is not None,
        reboot_required_since=reboot_since.isoformat() if reboot_since else None,
    )
    evidence["thresholds"] = {
        k: s[k]
        for k in ("patch_max_age_days", "patch_critical_max_age_days", "package_lists_max_age_days", "reboot_max_days")
    }
    if findings:
        return Result(FAIL, " / ".join(findings), Patch.build(evidence))
    pending = len(security)
    return Result(
        PASS,
        _("{pending} security update(s) pending, none overdue; update source {lists_age:.0f} days old").format(
            pending=pending, lists_age=lists_age
        ),
        Patch.build(evidence),
    )


def _apt(st: PatchFacts, settings: dict[str, Any], now: datetime, seen: dict[str, datetime]) -> Result:
    if st.error:
        return Result(ERROR, _("cannot read the apt state: {exc}").format(exc=st.error), Patch(error=st.error))
    security: list[dict[str, Any]] = []
    for p in st.security:
        noticed = seen.get(f"{p.name}={p.candidate}", now)
        published = p.published
        since = min(noticed, published) if published else noticed
        security.append(
            {
                "name": p.name,
                "installed": p.installed,
                "candidate": p.candidate,
                "origins": list(p.origins),
                "first_seen": noticed.isoformat(),
                "published_by": published.isoformat() if published else None,
                "age_days": _days(now, since),
            }
        )
    sec_sources = [s for s in st.sources if s.security]
    refreshed = st.refreshed
    # A mirror that stopped syncing keeps old Release dates even when `apt update` runs daily.
    mirrored = min((s.date for s in sec_sources if s.date), default=None)
    note = ""
    if mirrored is not None and refreshed is not None and mirrored < refreshed:
        refreshed = mirrored
        note = _("(the security mirror itself is stale)")
    evidence: dict[str, Any] = {
        "backend": "apt",
        "pending_total": st.pending_total,
        "pending_security": security[:100],
        "oldest_security_days": max((u["age_days"] for u in security), default=None),
        "sources": [
            {
                "file": s.file,
                "origin": s.origin,
                "suite": s.suite,
                "date": s.date.isoformat() if s.date else None,
                "fetched": s.fetched.isoformat(),
            }
            for s in st.sources[:30]
        ],
        "security_source_configured": bool(sec_sources),
        "lists_refreshed": st.refreshed.isoformat() if st.refreshed else None,
        "last_upgrade": st.last_upgrade.isoformat() if st.last_upgrade else None,
        "last_upgrade_packages": st.last_upgrade_packages,
        "reboot_required_since": st.reboot_required_since.isoformat() if st.reboot_required_since else None,
        "reboot_packages": list(st.reboot_packages),
        "problems": list(st.problems[:10]),
        "age_basis": "earliest of: Release date of an archive offering the version, first seen by this agent",
    }
    res = _verdict(settings, now, evidence, security, refreshed, st.reboot_required_since, note)
    if not sec_sources and st.sources:
        msg = _("no security update source (…-security suite) is configured")
        res = Result(FAIL, msg if res.status == PASS else f"{res.summary} / {msg}", Patch.build(evidence))
    return res


def _dnf(st: PatchFacts, settings: dict[str, Any], now: datetime, seen: dict[str, datetime]) -> Result:
    if st.error:
        return Result(ERROR, _("cannot read the dnf state: {exc}").format(exc=st.error), Patch(error=st.error))
    security = [
        {
            "name": a.name,
            "title": a.title,
            "severity": a.severity,
            "critical": a.severity == "Critical",
            "issued": a.published.isoformat() if a.published else None,
            "age_days": _days(now, a.published),
        }
        for a in st.security
    ]
    evidence = {
        "backend": "dnf",
        "pending_security": security[:100],
        "metadata_refreshed": st.refreshed.isoformat() if st.refreshed else None,
        "reboot_required": st.reboot_required,
        "problems": list(st.problems),
    }
    since = seen.get("reboot", now) if st.reboot_required else None
    return _verdict(settings, now, evidence, security, st.refreshed, since, "")


def _windows(wu: PatchFacts, settings: dict[str, Any], now: datetime, seen: dict[str, datetime]) -> Result:
    if wu.error:
        return Result(ERROR, _("cannot query Windows Update: {exc}").format(exc=wu.error), Patch(error=wu.error))
    security = [
        {
            "name": u.name,
            "title": u.title,
            "severity": u.severity,
            "critical": u.severity == "Critical",
            "released": u.published.isoformat() if u.published else None,
            "age_days": _days(now, u.published),
        }
        for u in wu.security
    ]
    evidence = {
        "backend": "windows_update",
        "source": wu.server or "Microsoft Update",
        "pending_total": wu.pending_total,
        "pending_security": security[:100],
        "last_search_success": wu.refreshed.isoformat() if wu.refreshed else None,
        "last_install_success": wu.last_install.isoformat() if wu.last_install else None,
        "reboot_required": wu.reboot_required,
    }
    since = seen.get("reboot", now) if wu.reboot_required else None
    note = f"({wu.server})" if wu.server else ""
    return _verdict(settings, now, evidence, security, wu.refreshed, since, note)
