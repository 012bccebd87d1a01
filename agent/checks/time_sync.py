"""time_sync: the clock is synchronised and its offset within policy (OPS-001) — logs are evidence only
if their timestamps can be trusted."""

from __future__ import annotations

import re
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from mamori.evidence.network import TimeSync
from mamori.i18n import N_, _

ID = "time_sync"
TITLE = N_("Time synchronisation")
PLATFORMS = ("linux", "windows")
INTERVAL_SECONDS = 3600
SEVERITY = "medium"
COMMAND_TIMEOUT = 10.0
RULES = ("OPS-001",)
REMEDIATION = N_("Enable time synchronisation with the office NTP server (chrony or systemd-timesyncd; w32time on "
                 "Windows) and check that the server is reachable.")


def parse_chronyc_tracking(text: str) -> dict[str, Any]:
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}
    out: dict[str, Any] = {"reference": fields.get("Reference ID", ""), "stratum": fields.get("Stratum", ""),
                           "leap": fields.get("Leap status", "")}
    m = re.match(r"([\d.]+) seconds (slow|fast)", fields.get("System time", ""))
    out["offset_seconds"] = (float(m.group(1)) * (-1 if m.group(2) == "slow" else 1)) if m else None
    out["synchronised"] = out["leap"] in ("Normal", "Insert second", "Delete second") and \
        not out["reference"].startswith("00000000") and out["stratum"] not in ("0", "")
    return out


def parse_w32tm_status(text: str) -> dict[str, Any]:
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(": ") for line in text.splitlines()) if v}
    leap = fields.get("Leap Indicator", "")
    m = re.match(r"(-?[\d.]+)s", fields.get("Phase Offset", ""))
    source = fields.get("Source", "")
    return {"leap": leap, "source": source, "stratum": fields.get("Stratum", ""),
            "last_sync": fields.get("Last Successful Sync Time", ""),
            "offset_seconds": float(m.group(1)) if m else None,
            "synchronised": not leap.startswith("3") and source not in ("", "Local CMOS Clock",
                                                                         "Free-running System Clock")}


def run(ctx: Context) -> Result:
    if ctx.platform == "windows":
        if ctx.windows is None:
            return Result(NOT_APPLICABLE, _("no Windows data source"), TimeSync())
        try:
            state = parse_w32tm_status(str(ctx.windows.query("w32tm_status")))
        except OSError as exc:
            return Result(ERROR, _("cannot query w32time: {exc}").format(exc=exc), TimeSync())
        state["service"] = "w32time"
        return _verdict(ctx, state)
    from agent.host.sysio import HostIOError, which
    from agent.host.sysio import run as run_cmd

    tried: list[str] = []
    chronyc = which("chronyc", ctx.root)
    if chronyc:
        try:
            done = run_cmd([str(chronyc), "-n", "tracking"], timeout=COMMAND_TIMEOUT)
            if done.returncode == 0:
                state = parse_chronyc_tracking(done.stdout)
                state["service"] = "chrony"
                return _verdict(ctx, state)
            tried.append(f"chronyc: {(done.stdout + done.stderr).strip()[:200]}")
        except HostIOError as exc:
            tried.append(str(exc))
    timedatectl = which("timedatectl", ctx.root)
    if timedatectl:
        try:
            done = run_cmd([str(timedatectl), "show"], timeout=COMMAND_TIMEOUT)
            if done.returncode == 0:
                props = dict(line.partition("=")[::2] for line in done.stdout.splitlines())
                state = {"service": "systemd-timesyncd" if props.get("NTP") == "yes" else "none",
                         "ntp_enabled": props.get("NTP") == "yes",
                         "synchronised": props.get("NTPSynchronized") == "yes", "offset_seconds": None}
                if state["ntp_enabled"] or state["synchronised"]:
                    return _verdict(ctx, state)
                tried.append("timedatectl: NTP=no")
            else:
                tried.append(f"timedatectl: {done.stderr.strip()[:200]}")
        except HostIOError as exc:
            tried.append(str(exc))
    return Result(FAIL, _("no working time synchronisation (chrony, systemd-timesyncd) found"), TimeSync(tried=tried))


def _verdict(ctx: Context, state: dict[str, Any]) -> Result:
    limit = ctx.settings["clock_max_offset_seconds"]
    state["limit_seconds"] = limit
    offset = state.get("offset_seconds")
    if not state["synchronised"]:
        return Result(FAIL, _("clock not synchronised ({service})").format(
                                service=state['service']), TimeSync.build(state))
    if offset is not None and abs(offset) > limit:
        return Result(FAIL, _("clock off by {offset:+.1f} s (allowed {limit:g} s)").format(offset=offset,
                                limit=limit), TimeSync.build(state))
    shown = _("offset unknown") if offset is None else \
        _("offset {offset:+.3f} s").format(offset=offset)
    return Result(PASS, _("synchronised by {service}, {shown}").format(service=state['service'],
                            shown=shown), TimeSync.build(state))
