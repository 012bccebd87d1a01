"""The clock's synchronisation on Linux: `chronyc tracking`, else `timedatectl show` (systemd-timesyncd)."""

from __future__ import annotations

import re
from pathlib import Path

from agent.host.facts import TimeSyncFacts
from agent.host.sysio import HostIOError, run, which

COMMAND_TIMEOUT = 10.0


def parse_chronyc_tracking(text: str) -> TimeSyncFacts:
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}
    reference, stratum, leap = fields.get("Reference ID", ""), fields.get("Stratum", ""), fields.get("Leap status", "")
    m = re.match(r"([\d.]+) seconds (slow|fast)", fields.get("System time", ""))
    offset = (float(m.group(1)) * (-1 if m.group(2) == "slow" else 1)) if m else None
    synchronised = (
        leap in ("Normal", "Insert second", "Delete second")
        and not reference.startswith("00000000")
        and stratum not in ("0", "")
    )
    return TimeSyncFacts(
        service="chrony",
        synchronised=synchronised,
        offset_seconds=offset,
        reference=reference,
        stratum=stratum,
        leap=leap,
    )


def read(root: Path) -> TimeSyncFacts:
    """chrony first (it reports the offset), then systemd-timesyncd; `tried` says why neither answered."""
    tried: list[str] = []
    chronyc = which("chronyc", root)
    if chronyc:
        try:
            done = run([str(chronyc), "-n", "tracking"], timeout=COMMAND_TIMEOUT)
            if done.returncode == 0:
                return parse_chronyc_tracking(done.stdout)
            tried.append(f"chronyc: {(done.stdout + done.stderr).strip()[:200]}")
        except HostIOError as exc:
            tried.append(str(exc))
    timedatectl = which("timedatectl", root)
    if timedatectl:
        try:
            done = run([str(timedatectl), "show"], timeout=COMMAND_TIMEOUT)
            if done.returncode == 0:
                props = dict(line.partition("=")[::2] for line in done.stdout.splitlines())
                ntp = props.get("NTP") == "yes"
                synced = props.get("NTPSynchronized") == "yes"
                if ntp or synced:
                    return TimeSyncFacts(
                        service="systemd-timesyncd" if ntp else "none", synchronised=synced, ntp_enabled=ntp
                    )
                tried.append("timedatectl: NTP=no")
            else:
                tried.append(f"timedatectl: {done.stderr.strip()[:200]}")
        except HostIOError as exc:
            tried.append(str(exc))
    return TimeSyncFacts(tried=tuple(tried))
