"""Debian/Ubuntu package state through the real apt and dpkg: pending upgrades (simulated), the security
archive, package-list age, apt history and reboot-required. `root` lets tests use a separate apt tree."""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from agent.host.sysio import READ_LIMIT, HostIOError, read_or_none, run

INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) (.*?) ?\[([^\]]+)\]\)")


@dataclass(frozen=True)
class Pending:
    package: str
    installed: str
    candidate: str
    origins: tuple[str, ...]  # "Debian-Security:12/stable-security"

    @property
    def security(self) -> bool:
        for origin in self.origins:
            label, _, rest = origin.partition(":")
            archive = rest.rpartition("/")[2]
            if archive.endswith("-security") or archive == "updates" or "security" in label.lower():
                return True
        return False


@dataclass
class Source:
    """One downloaded Release/InRelease file: which suite, dated when, fetched when."""

    file: str
    origin: str
    label: str
    suite: str
    date: datetime | None
    fetched: datetime

    @property
    def security(self) -> bool:
        return (
            self.suite.endswith("-security")
            or self.suite.endswith("/updates")
            or "security" in f"{self.origin} {self.label}".lower()
        )


@dataclass
class AptState:
    pending: list[Pending] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    last_update: datetime | None = None
    last_upgrade: datetime | None = None
    last_upgrade_packages: int = 0
    reboot_required_since: datetime | None = None
    reboot_packages: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def is_apt_system(root: Path) -> bool:
    return (root / "var/lib/dpkg/status").is_file()


def apt_options(root: Path) -> list[str]:
    if root == Path("/"):
        return []
    return ["-o", f"Dir={root}", "-o", f"Dir::State::status={root}/var/lib/dpkg/status"]


def parse_simulation(text: str) -> list[Pending]:
    """`apt-get -s dist-upgrade` lines: Inst pkg [old] (new Origin:Version/Archive, ... [arch])."""
    out = []
    for line in text.splitlines():
        m = INST.match(line)
        if m:
            name, old, new, origins, _arch = m.groups()
            out.append(Pending(name, old or "", new, tuple(o.strip() for o in origins.split(",") if o.strip())))
    return out


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def parse_release(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith(("-----BEGIN PGP SIGNATURE", " ")):
            if line.startswith("-----BEGIN PGP SIGNATURE"):
                break
            continue
        key, sep, value = line.partition(":")
        if sep and key and " " not in key:
            fields.setdefault(key, value.strip())
    return fields


def sources(root: Path, problems: list[str]) -> list[Source]:
    lists = root / "var/lib/apt/lists"
    out = []
    for path in sorted(lists.glob("*Release"))[:200]:
        if path.name.endswith(".gpg"):
            continue
        text = read_or_none(path, 256 * 1024)
        if text is None:
            continue
        rel = parse_release(text.text)
        date = None
        try:
            date = parsedate_to_datetime(rel["Date"]) if "Date" in rel else None
        except (TypeError, ValueError):
            problems.append(f"{path}: unreadable Date field")
        out.append(
            Source(
                path.name,
                rel.get("Origin", ""),
                rel.get("Label", rel.get("Origin", "")),
                rel.get("Suite", rel.get("Codename", "")),
                date,
                _mtime(path),
            )
        )
    return out


def history(root: Path, problems: list[str]) -> tuple[datetime | None, int]:
    """End time and size of the newest apt run that upgraded packages without an error (history.log)."""
    logdir = root / "var/log/apt"
    texts = []
    for name in ("history.log", "history.log.1.gz"):
        path = logdir / name
        try:
            if name.endswith(".gz"):
                if path.exists():
                    with gzip.open(path, "rb") as fh:
                        texts.append(fh.read(READ_LIMIT * 4).decode("utf-8", "replace"))
            else:
                t = read_or_none(path, READ_LIMIT * 4)
                if t is not None:
                    texts.append(t.text)
        except (OSError, EOFError) as exc:
            problems.append(f"{path}: {exc}")
    best: tuple[datetime | None, int] = (None, 0)
    for text in texts:
        for block in text.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.strip().splitlines() if ": " in line)
            if "Upgrade" not in fields or "Error" in fields or "End-Date" not in fields:
                continue
            try:
                end = datetime.strptime(" ".join(fields["End-Date"].split()), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            except ValueError:
                continue
            if best[0] is None or end > best[0]:
                best = (end, fields["Upgrade"].count("),") + 1)
    return best


def published_by(pending: Pending, sources: list[Source]) -> datetime | None:
    """The earliest Release date among the archives offering this version: it was public by then.

    apt names each archive as Label:Version/Suite; a version found in a suite published 40 days ago has been
    waiting at least 40 days, whatever this agent saw."""
    dates = []
    for origin in pending.origins:
        label, _, rest = origin.partition(":")
        suite = rest.rpartition("/")[2]
        dates += [s.date for s in sources if s.date and s.suite == suite and s.label == label]
    return min(dates, default=None)


def dpkg_last_upgrade(root: Path) -> datetime | None:
    """Fallback when apt's history is missing (packages upgraded with dpkg -i, rotated logs): the newest
    `status installed` that followed an `upgrade` line in /var/log/dpkg.log."""
    text = read_or_none(root / "var/log/dpkg.log", READ_LIMIT * 8)
    if text is None or text.binary:
        return None
    upgraded: set[str] = set()
    last = None
    for line in text.text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "upgrade":
            upgraded.add(parts[3])
        elif len(parts) >= 5 and parts[2:4] == ["status", "installed"] and parts[4] in upgraded:
            try:
                last = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            except ValueError:
                continue
    return last


def state(root: Path, timeout: float = 120) -> AptState:
    st = AptState()
    done = run(["apt-get", "-s", "-q", "-o", "Debug::NoLocking=1", *apt_options(root), "dist-upgrade"], timeout=timeout)
    if done.returncode != 0:
        raise HostIOError(0, f"apt-get -s dist-upgrade failed ({done.returncode}): {done.stderr.strip()[:300]}")
    st.pending = parse_simulation(done.stdout)
    st.sources = sources(root, st.problems)
    stamps = [s.fetched for s in st.sources]
    stamp = root / "var/lib/apt/periodic/update-success-stamp"
    if stamp.exists():
        stamps.append(_mtime(stamp))
    st.last_update = max(stamps, default=None)
    st.last_upgrade, st.last_upgrade_packages = history(root, st.problems)
    if st.last_upgrade is None:
        st.last_upgrade = dpkg_last_upgrade(root)
    for name in ("run/reboot-required", "var/run/reboot-required"):
        flag = root / name
        if flag.is_file():
            st.reboot_required_since = _mtime(flag)
            pkgs = read_or_none(root / (name + ".pkgs"), 65536)
            st.reboot_packages = pkgs.text.split()[:50] if pkgs else []
            break
    return st
