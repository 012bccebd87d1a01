"""software: installed packages against the policy's permitted and forbidden lists (SW-001)."""

from __future__ import annotations

import fnmatch
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec, Threshold
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
UNINSTALL = (r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
             r"HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall")


def installed_linux(ctx: Context) -> tuple[str, list[tuple[str, str]]]:
    from agent.host.sysio import HostIOError, run, which

    if (ctx.root / "var/lib/dpkg/status").is_file():
        done = run(["dpkg-query", f"--admindir={ctx.root / 'var/lib/dpkg'}", "-W",
                    "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n"], timeout=60)
        if done.returncode != 0:
            raise HostIOError(0, f"dpkg-query failed: {done.stderr.strip()[:200]}")
        rows = [line.split("\t") for line in done.stdout.splitlines()]
        return "dpkg", [(r[0], r[1]) for r in rows if len(r) == 3 and r[2].startswith("ii")]
    if which("rpm", ctx.root) or (ctx.root / "var/lib/rpm").is_dir():
        done = run(["rpm", f"--root={ctx.root}", "-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n"], timeout=60)
        if done.returncode != 0:
            raise HostIOError(0, f"rpm -qa failed: {done.stderr.strip()[:200]}")
        return "rpm", [tuple(line.split("\t", 1)) for line in done.stdout.splitlines() if "\t" in line]  # type: ignore[misc]
    raise FileNotFoundError("no dpkg or rpm database")


def installed_windows(ctx: Context) -> list[tuple[str, str]]:
    out = []
    for base_key in UNINSTALL:
        for sub in ctx.windows.subkeys(base_key):
            values = ctx.windows.values(f"{base_key}\\{sub}") or {}
            name = str(values.get("DisplayName", "")).strip()
            if name and values.get("SystemComponent") != 1:
                out.append((name, str(values.get("DisplayVersion", ""))))
    return out


def _match(name: str, patterns: list[str]) -> str | None:
    low = name.lower()
    return next((p for p in patterns if fnmatch.fnmatchcase(low, p.lower())), None)


def run(ctx: Context) -> Result:
    from agent.host.sysio import HostIOError

    try:
        if ctx.platform == "windows":
            if ctx.windows is None:
                return Result(NOT_APPLICABLE, _("no Windows data source"), Software())
            source, packages = "registry Uninstall keys", installed_windows(ctx)
        else:
            source, packages = installed_linux(ctx)
    except FileNotFoundError as exc:
        return Result(NOT_APPLICABLE, _("no package database: {exc}").format(exc=exc),
                      Software())
    except (HostIOError, OSError) as exc:
        return Result(ERROR, _("cannot list installed software: {exc}").format(exc=exc), Software(error=str(exc)))
    forbidden_p = list(ctx.settings.get("software_forbidden", []))
    permitted_p = list(ctx.settings.get("software_permitted", []))
    forbidden = [{"name": n, "version": v, "pattern": p} for n, v in packages
                 if (p := _match(n, forbidden_p)) is not None]
    unlisted = [n for n, _v in packages if permitted_p and _match(n, permitted_p) is None] if permitted_p else []
    evidence: dict[str, Any] = {"source": source, "installed": len(packages), "forbidden": forbidden[:100],
                                "not_permitted": unlisted[:100], "not_permitted_count": len(unlisted),
                                "allowlist_enforced": bool(permitted_p)}
    if forbidden or unlisted:
        parts = []
        if forbidden:
            parts.append(_("forbidden: ") + ", ".join(f["name"] for f in forbidden[:8]))
        if unlisted:
            parts.append(_("{count} not on the permitted list: ").format(count=len(unlisted))
                         + ", ".join(unlisted[:8]))
        return Result(FAIL, " / ".join(parts), Software.build(evidence))
    scope = _("permitted list and forbidden list") if permitted_p else \
        _("forbidden list")
    return Result(PASS, _("{count} installed packages checked against the {scope}").format(count=len(packages),
                            scope=scope), Software.build(evidence))
