"""`mamori-agent status`: enrollment, connection, spool depth, last policy and last checks at a glance."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from agent import host as hostmod
from agent import renewal
from agent.cli.common import ask_agent, identity
from agent.config import StateDir
from agent.usb.state import CHECK_ID as MEDIA_CHECK
from mamori import clock
from mamori.i18n import _
from mamori.labels import label
from mamori.table import render


def _policy_applied_at(state: StateDir) -> str:
    try:
        return datetime.fromtimestamp(state.policy.stat().st_mtime, UTC).isoformat(timespec="seconds")
    except OSError:
        return ""


def _enforced(state: StateDir, segment: str) -> dict[str, Any]:
    """What a stopped agent's next start would make of the cache (the running agent says so itself)."""
    from agent.integrity import file_sha256
    from agent.policy_cache import Effective, PolicyCache
    from mamori.policy import strictest

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
    return {
        "certificate_not_after": horizon.not_after.isoformat(timespec="seconds"),
        "certificate_expired": horizon.expired(clock.now()),
    }


def collect(state: StateDir) -> dict[str, Any]:
    """The running agent's own word over its control channel; when none answers, what it left behind (read only)."""
    from agent.control.client import NotRunning
    from agent.control.protocol import StatusRequest
    from agent.host import runlock
    from agent.outbox import unrecorded
    from agent.runstate import read_checks, read_status
    from agent.spool import peek_depth

    ident = identity(state)
    try:
        live = ask_agent(state, StatusRequest())
    except NotRunning:
        live = None
    checks = read_checks(state)
    media = checks.get(MEDIA_CHECK, {}).get("status")
    run = read_status(state)
    if live is not None:
        depth: int | str = (
            live.spool_depth
            if live.spool_depth is not None
            else _("spool unavailable: {error}").format(error=live.spool_problem)
        )
        policy = asdict(live.policy)
        pid, connected, not_recorded = live.pid, live.connected, live.events_not_recorded
        last_error = live.last_error
    else:
        peeked = peek_depth(state.spool)
        depth = peeked if peeked is not None else _("spool unavailable: {error}").format(error=_("cannot be read"))
        policy = _enforced(state, ident.segment)
        pid, connected, not_recorded = None, False, unrecorded(state.spool)
        last_error = run.get("last_error", "")
    cert = _certificate(state)
    if cert["certificate_expired"]:
        # Read from the file itself: true also of an agent that is stopped or never got to try.
        last_error = renewal.expired_message()
    try:
        service = hostmod.current().service().state().active
    except Exception as exc:  # noqa: BLE001 - status must show what it can even without a service manager
        service = f"unknown ({exc})"
    return {
        "agent_id": ident.agent_id,
        "segment": ident.segment,
        "department": ident.department,
        "collector": ident.telemetry_target,
        "service": service,
        # A run that holds the lock but does not answer is still a run (its channel could not listen).
        "running": live is not None or runlock.held(state.run_lock),
        "answering": live is not None,
        "pid": pid,
        "connected": connected,
        "last_connected_at": (live.last_connected_at if live is not None else "") or run.get("last_connected_at", ""),
        "last_error": last_error,
        **cert,
        "status_updated_at": run.get("updated_at", ""),
        "spool_depth": depth,
        "events_not_recorded": not_recorded,
        "policy_version": policy["policy_version"],
        "policy_source": policy["policy_source"],
        "policy_applied_at": _policy_applied_at(state),
        "policy_problem": policy["policy_problem"],
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
    labels = {
        "agent_id": _("Agent ID"),
        "segment": _("Segment"),
        "department": _("Department"),
        "collector": _("Collector"),
        "service": _("Service"),
        "running": _("Agent running"),
        "pid": _("Process ID"),
        "connected": _("Connected to the collector"),
        "last_connected_at": _("Last connected"),
        "last_error": _("Last connection error"),
        "certificate_not_after": _("Certificate valid until"),
        "certificate_expired": _("Certificate expired"),
        "status_updated_at": _("Status recorded at"),
        "spool_depth": _("Events waiting to be sent"),
        "events_not_recorded": _("Events not recorded (disk full)"),
        "policy_version": _("Policy version"),
        "policy_source": _("Policy source"),
        "policy_applied_at": _("Policy stored at"),
        "policy_problem": _("Policy problem"),
        "policy_cache_rejected": _("Cached policy rejected (strictest policy in force)"),
        "usb_mode": _("Removable media mode"),
    }
    yes_no = {True: _("yes"), False: _("no")}
    if data["media_control_active"] is False:  # never show a mode the terminal does not enforce
        data["usb_mode"] = _("not in force (policy mode {mode})").format(mode=data["usb_mode"])
    rows = [
        [labels[k], yes_no[v] if isinstance(v, bool) else (str(v) if v not in (None, "") else "-")]
        for k, v in data.items()
        if k in labels
    ]
    if not data["answering"]:
        print(
            _("Stopped: the agent is not running (or not answering); below is what it left behind.")
            if not data["running"]
            else _("The agent runs but does not answer on its control channel; below is what it left behind.")
        )
    print(render([_("Item"), _("Value")], rows))
    print()
    if data["last_checks"]:
        print(
            render(
                [_("Check"), _("Result"), _("Summary"), _("Recorded at")],
                [
                    [c["check_id"], label("check", c.get("status", "")), c.get("summary", ""), c.get("at", "")]
                    for c in data["last_checks"]
                ],
            )
        )
    else:
        print(_("No posture check has been recorded yet."))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "status", parents=[common], help=_("show enrollment, connection, spool, policy and the last checks")
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
