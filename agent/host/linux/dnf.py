"""RHEL family package state: security advisories from `dnf updateinfo info --security`, metadata age,
and `needs-restarting -r`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from agent.host.sysio import HostIOError, run, which


@dataclass(frozen=True)
class Advisory:
    id: str
    severity: str  # Critical / Important / Moderate / Low / ""
    issued: datetime | None
    title: str


@dataclass
class DnfState:
    advisories: list[Advisory] = field(default_factory=list)
    metadata_at: datetime | None = None
    reboot_required: bool | None = None
    problems: list[str] = field(default_factory=list)


def parse_updateinfo_info(text: str) -> list[Advisory]:
    """Blocks of `dnf updateinfo info --security` (dnf 4): title line, Update ID, Updated/Issued, Severity."""
    out: list[Advisory] = []
    title = ""
    fields: dict[str, str] = {}

    def flush() -> None:
        if fields.get("Update ID"):
            when = None
            for key in ("Updated", "Issued"):
                try:
                    when = datetime.strptime(fields[key][:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                    break
                except (KeyError, ValueError):
                    continue
            out.append(Advisory(fields["Update ID"], fields.get("Severity", ""), when, title))

    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("====") and i + 2 < len(lines) and lines[i + 2].startswith("===="):
            flush()
            title, fields = lines[i + 1].strip(), {}
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if sep and key and key not in fields and not line.startswith("           :"):
            fields[key] = value.strip()
    flush()
    return out


def is_dnf_system(root: Path) -> bool:
    return which("dnf", root) is not None or which("yum", root) is not None


def state(root: Path, timeout: float = 180) -> DnfState:
    st = DnfState()
    prog = which("dnf", root) or which("yum", root)
    if prog is None:
        raise HostIOError(2, "dnf not found")
    done = run([str(prog), "-q", "--cacheonly", "updateinfo", "info", "--security", "--available"], timeout=timeout)
    if done.returncode != 0:
        raise HostIOError(0, f"dnf updateinfo failed ({done.returncode}): {done.stderr.strip()[:300]}")
    st.advisories = parse_updateinfo_info(done.stdout)
    stamps = [p.stat().st_mtime for p in (root / "var/cache/dnf").glob("*/repodata/repomd.xml")]
    stamp = root / "var/cache/dnf/last_makecache"
    if stamp.exists():
        stamps.append(stamp.stat().st_mtime)
    st.metadata_at = datetime.fromtimestamp(max(stamps), UTC) if stamps else None
    nr = which("needs-restarting", root)
    if nr is not None:
        try:
            st.reboot_required = run([str(nr), "-r"], timeout=60).returncode == 1
        except HostIOError as exc:
            st.problems.append(str(exc))
    return st
