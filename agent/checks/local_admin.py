"""local_admin: ordinary staff accounts do not hold administrator rights (sudo/wheel/Administrators)."""

from __future__ import annotations

from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec
from agent.host.facts import LocalAdminFacts
from mamori.evidence.auth import LocalAdmin
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="local_admin",
    title=N_("Local administrators"),
    platforms=("linux", "windows"),
    interval_seconds=3600,
    severity="high",
    rules=("TEC-local-admin",),
    remediation=N_(
        "Remove administrator rights from ordinary staff accounts (sudo/wheel groups, sudoers entries, the "
        "Administrators group); use separate administrator accounts listed in the policy's admin_accounts."
    ),
    reads={"linux": "`/etc/passwd`, `/etc/group`, `login.defs`, sudoers", "windows": "Administrators members"},
    settings=("admin_accounts",),
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()
ADMIN_GROUPS = ("sudo", "wheel", "admin")
NO_LOGIN = ("nologin", "false", "sync", "halt", "shutdown")


def run(ctx: Context) -> Result:
    return verdict(ctx.facts().local_admin(), ctx.settings)


def verdict(facts: LocalAdminFacts, settings: dict[str, Any]) -> Result:
    """Pure: the accounts, groups and grants (or Administrators' members) and the permitted admins -> the result."""
    if facts.unavailable:
        return Result(NOT_APPLICABLE, _("no Windows data source"), LocalAdmin())
    if facts.source.startswith("Get-LocalGroupMember"):
        return _windows(facts, settings)
    if facts.error:
        return Result(
            ERROR, _("cannot read the account database: {exc}").format(exc=facts.error), LocalAdmin(error=facts.error)
        )
    staff = {
        a.name: a
        for a in facts.accounts
        if a.uid.isdigit() and facts.uid_min <= int(a.uid) <= facts.uid_max and not a.shell.strip().endswith(NO_LOGIN)
    }
    sudo_groups = set(facts.sudo_groups)
    admin_groups = {g.name: g for g in facts.groups if g.name in ADMIN_GROUPS or g.name in sudo_groups}
    holders: dict[str, list[str]] = {}
    for name, g in admin_groups.items():
        members = set(g.members)
        members |= {u for u, a in staff.items() if a.gid == g.gid}  # primary group
        for m in members:
            holders.setdefault(m, []).append(f"group {name}")
    for u in facts.sudo_users:
        holders.setdefault(u, []).append("sudoers")
    permitted = set(settings.get("admin_accounts", []))
    offenders = {u: why for u, why in holders.items() if u in staff and u not in permitted}
    evidence: dict[str, Any] = {
        "uid_range": [facts.uid_min, facts.uid_max],
        "staff_accounts": len(staff),
        "admin_holders": holders,
        "permitted": sorted(permitted),
        "sources": list(facts.sources),
        "problems": list(facts.problems),
    }
    if offenders:
        names = ", ".join(f"{u} ({'/'.join(sorted(w))})" for u, w in sorted(offenders.items()))
        return Result(
            FAIL, _("staff accounts with administrator rights: {names}").format(names=names), LocalAdmin.build(evidence)
        )
    return Result(
        PASS,
        _("no ordinary staff account has administrator rights ({count} checked)").format(count=len(staff)),
        LocalAdmin.build(evidence),
    )


def _windows(facts: LocalAdminFacts, settings: dict[str, Any]) -> Result:
    if facts.error:
        return Result(ERROR, _("cannot list Administrators: {exc}").format(exc=facts.error), LocalAdmin())
    members = list(facts.members)
    permitted = {a.lower() for a in settings.get("admin_accounts", [])}
    offenders = []
    for m in members:
        if not isinstance(m, dict):
            continue
        name, sid, cls = str(m.get("Name", "")), str(m.get("SID", "")), str(m.get("ObjectClass", ""))
        short = name.rsplit("\\", 1)[-1].lower()
        if cls == "User" and not sid.endswith("-500") and short not in permitted and name.lower() not in permitted:
            offenders.append(name)
    evidence = {"members": members[:100], "permitted": sorted(permitted), "source": facts.source}
    if offenders:
        return Result(
            FAIL,
            _("user accounts in Administrators: {offenders}").format(offenders=", ".join(offenders)),
            LocalAdmin.build(evidence),
        )
    return Result(PASS, _("only the built-in Administrator and groups in Administrators"), LocalAdmin.build(evidence))
