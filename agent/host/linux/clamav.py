"""ClamAV on Linux: its programs, its running daemons and the build dates in its signature database headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from agent.host import processes
from agent.host.facts import AntivirusFacts, SignatureDatabase

DB_DIR = "var/lib/clamav"
DATABASES = ("daily.cld", "daily.cvd", "main.cld", "main.cvd")


def cvd_built(header: bytes) -> datetime | None:
    """Build time from a ClamAV .cvd/.cld header: ClamAV-VDB:<date>:<version>:<sigs>:<flevel>:<md5>:<dsig>:
    <builder>:<stime> — stime (epoch seconds) when present, else the human date."""
    text = header[:512].decode("ascii", "replace")
    if not text.startswith("ClamAV-VDB:"):
        return None
    fields = text.split(":")
    if len(fields) > 8 and fields[8].strip().split(" ")[0].isdigit():
        return datetime.fromtimestamp(int(fields[8].strip().split(" ")[0]), UTC)
    m = re.match(r"ClamAV-VDB:(\d{2} \w{3} \d{4} \d{2})[-:](\d{2}) ([+-]\d{4})", text)
    if m:
        try:
            return datetime.strptime(f"{m.group(1)}:{m.group(2)} {m.group(3)}", "%d %b %Y %H:%M %z")
        except ValueError:
            return None
    return None


def read(root: Path) -> AntivirusFacts:
    clamd = (root / "usr/sbin/clamd").exists()
    clamonacc = (root / "usr/sbin/clamonacc").exists()
    if not clamd and not (root / "usr/bin/clamscan").exists():
        return AntivirusFacts(root=str(root))
    databases = []
    for name in DATABASES:
        try:
            with (root / DB_DIR / name).open("rb") as fh:
                databases.append(SignatureDatabase(name, cvd_built(fh.read(512))))
        except OSError:
            continue
    return AntivirusFacts(
        product="ClamAV",
        root=str(root),
        clamd_installed=clamd,
        clamonacc_installed=clamonacc,
        running=tuple(processes.running(("clamd", "clamonacc", "freshclam"))),
        databases=tuple(databases),
        database_dir=str(root / DB_DIR),
    )
