"""The installed packages on Linux: the dpkg database (`dpkg-query -W`), else the rpm one (`rpm -qa`)."""

from __future__ import annotations

from pathlib import Path

from agent.host.facts import SoftwareFacts
from agent.host.sysio import HostIOError, run, which

COMMAND_TIMEOUT = 60.0


def _installed(root: Path) -> tuple[str, list[tuple[str, str]]]:
    if (root / "var/lib/dpkg/status").is_file():
        done = run(
            [
                "dpkg-query",
                f"--admindir={root / 'var/lib/dpkg'}",
                "-W",
                "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n",
            ],
            timeout=COMMAND_TIMEOUT,
        )
        if done.returncode != 0:
            raise HostIOError(0, f"dpkg-query failed: {done.stderr.strip()[:200]}")
        rows = [line.split("\t") for line in done.stdout.splitlines()]
        return "dpkg", [(r[0], r[1]) for r in rows if len(r) == 3 and r[2].startswith("ii")]
    if which("rpm", root) or (root / "var/lib/rpm").is_dir():
        done = run(
            ["rpm", f"--root={root}", "-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n"], timeout=COMMAND_TIMEOUT
        )
        if done.returncode != 0:
            raise HostIOError(0, f"rpm -qa failed: {done.stderr.strip()[:200]}")
        pairs = [line.split("\t", 1) for line in done.stdout.splitlines() if "\t" in line]
        return "rpm", [(name, version) for name, version in pairs]
    raise FileNotFoundError("no dpkg or rpm database")


def read(root: Path) -> SoftwareFacts:
    try:
        source, packages = _installed(root)
    except FileNotFoundError as exc:
        return SoftwareFacts(missing=str(exc))
    except OSError as exc:  # HostIOError is one
        return SoftwareFacts(error=str(exc))
    return SoftwareFacts(source=source, packages=tuple(packages))
