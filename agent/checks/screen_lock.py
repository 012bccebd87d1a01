"""screen_lock: the session locks itself after at most the policy's idle minutes, and staff cannot turn
that off (AUT-003)."""

from __future__ import annotations

from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec, Threshold
from agent.host.facts import ScreenLockFacts, Setting
from mamori.evidence.auth import ScreenLock
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="screen_lock",
    title=N_("Screen lock"),
    platforms=("linux", "windows"),
    interval_seconds=3600,
    severity="medium",
    rules=("AUT-003",),
    remediation=N_(
        "Enforce the screen lock system-wide: GNOME: set idle-delay and lock-enabled in "
        "/etc/dconf/db/local.d/ and lock them in locks/, then run `dconf update`; KDE: [Daemon][$i] in "
        "/etc/xdg/kscreenlockerrc; Windows: the 'Interactive logon: Machine inactivity limit' policy."
    ),
    reads={
        "linux": "GSettings defaults + dconf system-db keyfiles and locks, kscreenlockerrc",
        "windows": "InactivityTimeoutSecs",
    },
    thresholds=(Threshold.of("screen_lock_max_minutes"),),
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()


def run(ctx: Context) -> Result:
    return verdict(ctx.facts().screen_lock(), ctx.settings)


def verdict(facts: ScreenLockFacts, settings: dict[str, Any]) -> Result:
    """Pure: the desktops' settings (or Windows' inactivity limit) and the policy's minutes -> the result."""
    limit = int(settings["screen_lock_max_minutes"]) * 60
    if facts.unavailable:
        return Result(NOT_APPLICABLE, _("no Windows data source"), ScreenLock())
    if facts.inactivity_key:
        return _windows(facts, limit)
    results: list[tuple[str, list[str], dict[str, Any]]] = []
    # Per desktop: (lock enabled, seconds idle until it locks (0: never), enforced system-wide).
    states: list[tuple[bool, int, bool]] = []
    if facts.gnome is not None:
        g = facts.gnome
        s = g.settings
        if "org.gnome.desktop.session/idle-delay" not in s:
            return Result(
                ERROR,
                _("cannot read the GNOME idle setting (schema missing or corrupt)"),
                ScreenLock(problems=g.problems),
            )
        idle = _int(s.get("org.gnome.desktop.session/idle-delay"))
        delay = _int(s.get("org.gnome.desktop.screensaver/lock-delay")) or 0
        enabled = (s.get("org.gnome.desktop.screensaver/lock-enabled") or Setting("true", "")).value == "true"
        problems = []
        if not enabled:
            problems.append(_("GNOME lock-enabled is false"))
        if idle is None or idle == 0:
            problems.append(_("GNOME never goes idle (idle-delay 0)"))
        elif idle + delay > limit:
            mins = (idle + delay) / 60
            problems.append(_("GNOME locks after {mins:g} min").format(mins=mins))
        unlocked = [
            k.split("/")[1]
            for k in ("org.gnome.desktop.session/idle-delay", "org.gnome.desktop.screensaver/lock-enabled")
            if not (s.get(k) and s[k].locked)
        ]
        if unlocked:
            problems.append(_("staff can change {unlocked} (no dconf lock)").format(unlocked=", ".join(unlocked)))
        results.append(("GNOME", problems, {"settings": {k: vars(v) for k, v in s.items()}, "problems": g.problems}))
        states.append((enabled, (idle + delay) if idle else 0, not unlocked))
    k = facts.kde
    if k is not None:
        problems = []
        minutes = _int_text(str(k.get("Timeout", "5")))
        if str(k.get("Autolock", "true")).lower() != "true":
            problems.append(_("KDE Autolock is off"))
        elif minutes is None or minutes * 60 > limit or minutes == 0:
            problems.append(_("KDE locks after {minutes} min").format(minutes=minutes))
        if not (k.get("immutable") or (k.get("Autolock_immutable") and k.get("Timeout_immutable"))):
            problems.append(_("staff can change the KDE setting (no [$i])"))
        results.append(("KDE", problems, {"kscreenlockerrc": k}))
        kde_enforced = bool(k.get("immutable") or (k.get("Autolock_immutable") and k.get("Timeout_immutable")))
        states.append((str(k.get("Autolock", "true")).lower() == "true", (minutes or 0) * 60, kde_enforced))
    if not results:
        return Result(NOT_APPLICABLE, _("no graphical desktop (GNOME/KDE) installed"), ScreenLock(root=facts.root))
    evidence = {name: ev for name, _p, ev in results} | {"limit_minutes": limit // 60} | _summary(states)
    bad = [f"{p}" for _n, problems, _e in results for p in problems]
    if bad:
        return Result(FAIL, "; ".join(bad), ScreenLock.build(evidence))
    names = "/".join(n for n, _p, _e in results)
    return Result(
        PASS,
        _("{names} locks within {limit_minutes} min, enforced system-wide").format(
            names=names, limit_minutes=limit // 60
        ),
        ScreenLock.build(evidence),
    )


def _summary(states: list[tuple[bool, int, bool]]) -> dict[str, Any]:
    """What the collector's AUT-003 reads: the weakest desktop decides (a lock that never comes counts as 0)."""
    timeouts = [secs for _e, secs, _f in states]
    return {
        "enabled": all(e for e, _s, _f in states),
        "timeout_seconds": 0 if 0 in timeouts else max(timeouts, default=0),
        "enforced": all(f for _e, _s, f in states),
    }


def _int(setting: Any) -> int | None:
    return _int_text(setting.value) if setting is not None else None


def _int_text(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def _windows(facts: ScreenLockFacts, limit: int) -> Result:
    secs = facts.inactivity_seconds
    evidence = {
        "InactivityTimeoutSecs": secs,
        "key": facts.inactivity_key,
        "limit_minutes": limit // 60,
        **_summary([(isinstance(secs, int) and secs > 0, secs if isinstance(secs, int) else 0, True)]),
    }
    if not isinstance(secs, int) or secs == 0:
        return Result(FAIL, _("no machine inactivity limit is set"), ScreenLock.build(evidence))
    if secs > limit:
        return Result(
            FAIL,
            _("locks after {minutes:g} min (allowed {limit_minutes})").format(
                minutes=secs / 60, limit_minutes=limit // 60
            ),
            ScreenLock.build(evidence),
        )
    return Result(
        PASS, _("locks after {minutes:g} min by policy").format(minutes=secs / 60), ScreenLock.build(evidence)
    )
