"""`mamori-agent status`: enrollment, connection, spool depth, last policy and last checks at a glance."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from agent import host as hostmod
from agent import renewal
from agent.cli.common import identity
from agent.config import StateDir
from agent.usb.state import CHECK_ID as MEDIA_CHECK
from mamori import clock
from mamori.i18n import _
from mamori.labels import label
from mamori.table import render


def _running(pid: Any) -> bool:
    import psutil

    return isinstance(pid, int) and pid > 0 and psutil.pid_exists(pid)


def _policy_applied_at(state: StateDir) -> str:
    try:
        return datetime.fromtimestamp(state.policy.stat().st_mtime, UTC).isoformat(timespec="seconds")
    except OSError:
        return ""


_POLICY_KEYS = ("policy_version", "policy_source", "policy_problem", "policy_cache_rejected", "usb_mode")


def _enforced(state: StateDir, segment: str, run: dict[str, Any]) -> dict[str, Any]:
    """What the agent enforces: the running agent's own word, else what its next start would make of the cache."""
    from agent.integrity import file_sha256
    from agent.policy_cache import Effective, PolicyCache
    from mamori.policy import strictest

    if "policy_source" in run:
        return {k: run.get(k) for k in _POLICY_KEYS}
    cache = PolicyCache(state.policy, segment)
    try:
        record = json.loads(state.integrity.read_text(encoding="utf-8"))
        baseline, distrusted = record.get("policy"), record.get("policy_distrusted")
    except (OSError, ValueError, AttributeError):
        baseline, distrusted = None, False
    edited = distrusted or (baseline and baseline != file_sha256(state.policy))
    if cache.current.source != "strictest" and edited:
        # Edited since the agent stored it: its next start refuses it, so the cache's content is not in force.
        cache.current = Effective(strictest(segment), "", "strictest", "the cached policy was edited outside the agent")
    return cache.enforced()


def _certificate(state: StateDir) -> dict[str, Any]:
    try:
        horizon = renewal.horizon(state)
    except (OSError, ValueError):
        return {"certificate_not_after": "", "certificate_expired": False}
    return {"certificate_not_after": horizon.not_after.isoformat(timespec="seconds"),
            "certificate_expired": horizon.expired(clock.now())}


def collect(state: StateDir) -> dict[str, Any]:
    from agent.host import runlock
    from agent.outbox import UNWRITABLE, unrecorded
    from agent.runstate import read_checks, read_status
    from agent.spool import Spool

    ident = identity(state)
    try:
        spool = Spool.open(state.spool)
    except UNWRITABLE as exc:  # a full disk: status still shows everything else
        depth: int | str = _("spool unavailable: {error}").format(error=exc)
    else:
        try:
            depth = spool.depth()
        finally:
            spool.close()
    checks = read_checks(state)
    media = checks.get(MEDIA_CHECK, {}).get("status")
    run = read_status(state)
    # The run lock is the truth (status.json may be stale: a full disk); the pid is for agents from before it.
    running = runlock.held(state.run_lock) if state.run_lock.exists() else _running(run.get("pid"))
    own = run if running and _running(run.get("pid")) else {}  # status.json of this very run, not a stale one
    policy = _enforced(state, ident.segment, own)
    cert = _certificate(state)
    last_error = run.get("last_error", "")
    if cert["certificate_expired"]:
        # Read from the file itself: true also of an agent that is stopped or never got to try.
        last_error = renewal.expired_message()
    try:
        service = hostmod.current().service().state().active
    except Exception as exc:  # noqa: BLE001 - status must show what it can even without a service manager
        service = f"unknown ({exc})"
    return {
        "agent_id": ident.agent_id, "segment": ident.segment, "department": ident.department,
        "collector": ident.telemetry_target, "service": service, "running": running,
        "pid": own.get("pid"),
        "connected": bool(own.get("connected")),
        "last_connected_at": run.get("last_connected_at", ""), "last_error": last_error,
        **cert,
        "status_updated_at": run.get("updated_at", ""),
        "spool_depth": depth, "events_not_recorded": unrecorded(state.spool),
        "policy_version": policy["policy_version"], "policy_source": policy["policy_source"],
        "policy_applied_at": _policy_applied_at(state), "policy_problem": policy["policy_problem"],
        "policy_cache_rejected": policy["policy_cache_rejected"],
        "usb_mode": policy["usb_mode"],  # the policy's; whether it is enforced is media_control_active
        "media_control_active": None if media is None else media == "pass",  # None: the agent never said
        "last_checks": [{"check_id": k, **v} for k, v in sorted(checks.items())],
    }


def cmd_status(args: argparse.Namespace, state: StateDir) -> int:
    data = collect(state)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    labels = {"agent_id": _("Agent ID"), "segment": _("Segment"), "department": _("Department"),
              "collector": _("Collector"), "service": _("Service"), "running": _("Agent running"),
              "pid": _("Process ID"), "connected": _("Connected to the collector"),
              "last_connected_at": _("Last connected"), "last_error": _("Last connection error"),
              "certificate_not_after": _("Certificate valid until"),
              "certificate_expired": _("Certificate expired"),
              "status_updated_at": _("Status recorded at"), "spool_depth": _("Events waiting to be sent"),
              "events_not_recorded": _("Events not recorded (disk full)"),
              "policy_version": _("Policy version"), "policy_source": _("Policy source"),
              "policy_applied_at": _("Policy stored at"), "policy_problem": _("Policy problem"),
              "policy_cache_rejected": _("Cached policy rejected (strictest policy in force)"),
              "usb_mode": _("Removable media mode")}
    yes_no = {True: _("yes"), False: _("no")}
    if data["media_control_active"] is False:  # never show a mode the terminal does not enforce
        data["usb_mode"] = _("not in force (policy mode {mode})").format(mode=data["usb_mode"])
    rows = [[labels[k], yes_no[v] if isinstance(v, bool) else (str(v) if v not in (None, "") else "-")]
            for k, v in data.items() if k in labels]
    print(render([_("Item"), _("Value")], rows))
    print()
    if data["last_checks"]:
        print(render([_("Check"), _("Result"), _("Summary"), _("Recorded at")],
                     [[c["check_id"], label("check", c.get("status", "")), c.get("summary", ""), c.get("at", "")]
                      for c in data["last_checks"]]))
    else:
        print(_("No posture check has been recorded yet."))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("status", parents=[common],
                       help=_("show enrollment, connection, spool, policy and the last checks"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
