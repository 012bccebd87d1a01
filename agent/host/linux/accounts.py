"""Local accounts on Linux: /etc/passwd, /etc/group, login.defs' UID range and the sudoers grants of ALL."""

from __future__ import annotations

import re
from pathlib import Path

from agent.host.facts import Account, Group, LocalAdminFacts
from agent.host.sysio import HostIOError, read_or_none, read_text

SOURCES = ("/etc/passwd", "/etc/group", "/etc/login.defs", "/etc/sudoers(.d)")


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


def _sudoers(root: Path, problems: list[str]) -> tuple[set[str], set[str]]:
    """Users and groups granted ALL commands directly in /etc/sudoers and /etc/sudoers.d/."""
    users: set[str] = set()
    groups: set[str] = set()
    files = [root / "etc/sudoers"]
    d = root / "etc/sudoers.d"
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


def read(root: Path) -> LocalAdminFacts:
    try:
        passwd = _table(read_text(root / "etc/passwd").text, 7)
        group = _table(read_text(root / "etc/group").text, 4)
    except HostIOError as exc:
        return LocalAdminFacts(error=str(exc))
    defs_text = read_or_none(root / "etc/login.defs", 262144)
    limits = _login_defs(defs_text.text if defs_text else "")
    problems: list[str] = []
    sudo_users, sudo_groups = _sudoers(root, problems)
    return LocalAdminFacts(
        source="accounts",
        accounts=tuple(Account(p[0], p[2], p[3], p[6]) for p in passwd),
        groups=tuple(Group(g[0], g[2], tuple(m.strip() for m in g[3].split(",") if m.strip())) for g in group),
        uid_min=limits["UID_MIN"],
        uid_max=limits["UID_MAX"],
        sudo_users=tuple(sorted(sudo_users)),
        sudo_groups=tuple(sorted(sudo_groups)),
        sources=SOURCES,
        problems=tuple(problems),
    )
