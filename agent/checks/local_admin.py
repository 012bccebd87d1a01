"""local_admin: ordinary staff accounts do not hold administrator rights (sudo/wheel/Administrators)."""

from __future__ import annotations

import re
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec
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
    reads={"linux": "/etc/passwd, /etc/group, sudoers", "windows": "Administrators members"},
    settings=("admin_accounts",),
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()
ADMIN_GROUPS = ("sudo", "wheel", "admin")
NO_LOGIN = ("nologin", "false", "sync", "halt", "shutdown")


def _table(text: str, fields: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= fields and parts[0] and not line.startswith(("#", "+", "-")):
            rows.append(parts)
    return rows


def _login_defs(text: str) -> dict[str, int]:
    out = {"UID_MIN": 1000, "UID_MAX": 60000}
    for line in text.splitlines():
        m = re.match(r"^\s*(UID_MIN|UID_MAX)\s+(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def _sudoers(ctx: Context, problems: list[str]) -> tuple[set[str], set[str]]:
    """Users and groups granted ALL commands directly in /etc/sudoers and /etc/sudoers.d/."""
    from agent.host.sysio import HostIOError, read_text

    users: set[str] = set()
    groups: set[str] = set()
    files = [ctx.root / "etc/sudoers"]
    d = ctx.root / "etc/sudoers.d"
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.is_file() and "." not in p.name and not p.name.endswith("~"))[:100]
    for path in files:
        try:
            text = read_text(path)
        except HostIOError as exc:
            if path.exists():
                problems.append(str(exc))
            continue
        for line in text.text.splitlines():
            line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#include") else ""
            m = re.match(r"^(%?[\w.@-]+)\s+\S+\s*=\s*(\([^)]*\)\s*)?(NOPASSWD:\s*|PASSWD:\s*)?ALL\s*$", line)
            if m and not line.startswith(("Defaults", "User_Alias", "Cmnd_Alias", "Host_Alias", "Runas_Alias")):
                name = m.group(1)
                (groups if name.startswith("%") else users).add(name.lstrip("%"))
    return users, groups


def run(ctx: Context) -> Result:
    if ctx.platform == "windows":
        return _windows(ctx)
    from agent.host.sysio import HostIOError, read_or_none, read_text

    problems: list[str] = []
    try:
        passwd = _table(read_text(ctx.root / "etc/passwd").text, 7)
        group = _table(read_text(ctx.root / "etc/group").text, 4)
    except HostIOError as exc:
        return Result(ERROR, _("cannot read the account database: {exc}").format(exc=exc),
                      LocalAdmin(error=str(exc)))
    defs_text = read_or_none(ctx.root / "etc/login.defs", 262144)
    limits = _login_defs(defs_text.text if defs_text else "")
    staff = {p[0]: p for p in passwd if p[2].isdigit() and limits["UID_MIN"] <= int(p[2]) <= limits["UID_MAX"]
             and not p[6].strip().endswith(NO_LOGIN)}
    sudo_users, sudo_groups = _sudoers(ctx, problems)
    admin_groups = {g[0]: g for g in group if g[0] in ADMIN_GROUPS or g[0] in sudo_groups}
    holders: dict[str, list[str]] = {}
    for name, g in admin_groups.items():
        members = {m.strip() for m in g[3].split(",") if m.strip()}
        members |= {u for u, p in staff.items() if p[3] == g[2]}  # primary group
        for m in members:
            holders.setdefault(m, []).append(f"group {name}")
    for u in sudo_users:
        holders.setdefault(u, []).append("sudoers")
    permitted = set(ctx.settings.get("admin_accounts", []))
    offenders = {u: why for u, why in holders.items() if u in staff and u not in permitted}
    evidence: dict[str, Any] = {"uid_range": [limits["UID_MIN"], limits["UID_MAX"]], "staff_accounts": len(staff),
                                "admin_holders": holders, "permitted": sorted(permitted),
                                "sources": ["/etc/passwd", "/etc/group", "/etc/login.defs", "/etc/sudoers(.d)"],
                                "problems": problems}
    if offenders:
        names = ", ".join(f"{u} ({'/'.join(sorted(w))})" for u, w in sorted(offenders.items()))
        return Result(FAIL, _("staff accounts with administrator rights: {names}").format(
                                names=names), LocalAdmin.build(evidence))
    return Result(PASS, _("no ordinary staff account has administrator rights ({count} checked)").format(
                            count=len(staff)),
                  LocalAdmin.build(evidence))


def _windows(ctx: Context) -> Result:
    if ctx.windows is None:
        return Result(NOT_APPLICABLE, _("no Windows data source"), LocalAdmin())
    try:
        members = ctx.windows.query("local_admins")
    except OSError as exc:
        return Result(ERROR, _("cannot list Administrators: {exc}").format(exc=exc),
                      LocalAdmin())
    members = members if isinstance(members, list) else [members]
    permitted = {a.lower() for a in ctx.settings.get("admin_accounts", [])}
    offenders = []
    for m in members:
        if not isinstance(m, dict):
            continue
        name, sid, cls = str(m.get("Name", "")), str(m.get("SID", "")), str(m.get("ObjectClass", ""))
        short = name.rsplit("\\", 1)[-1].lower()
        if cls == "User" and not sid.endswith("-500") and short not in permitted and name.lower() not in permitted:
            offenders.append(name)
    evidence = {"members": members[:100], "permitted": sorted(permitted), "source": "Get-LocalGroupMember S-1-5-32-544"}
    if offenders:
        return Result(FAIL, _("user accounts in Administrators: {offenders}").format(
                                offenders=', '.join(offenders)), LocalAdmin.build(evidence))
    return Result(PASS, _("only the built-in Administrator and groups in Administrators"), LocalAdmin.build(evidence))
