"""`mamori-agent run`: open the spool, record start, ship until told to stop, record the stop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from datetime import UTC, datetime
from typing import Any

from agent.config import StateDir
from agent.host import Host
from agent.host.base import MediaControl
from agent.identity import Identity
from agent.policy_cache import PolicyCache
from agent.shipper import Shipper
from agent.spool import Spool
from mamori import __version__

log = logging.getLogger("mamori.agent")


def _previous_exit(state: StateDir) -> str:
    """A marker left by a run that never reached its orderly stop means that run died."""
    if state.running_marker.exists():
        return "unclean"
    return "clean" if state.stopped_marker.exists() else "first"


def run(state: StateDir, identity: Identity, host: Host, settings: dict[str, Any]) -> int:
    spool = Spool.open(state.spool, capacity=settings["spool.capacity"])
    previous = _previous_exit(state)
    state.running_marker.write_text(str(os.getpid()), encoding="utf-8")
    facts = host.facts()
    spool.append("agent.started", {
        "agent_version": __version__, "hostname": facts.hostname, "os": facts.os,
        "os_version": facts.os_version, "pid": os.getpid(), "previous_exit": previous,
    })
    if previous == "unclean":
        log.warning("the previous run did not stop cleanly")
    policy = PolicyCache(state.policy, identity.segment)
    eff = policy.current
    spool.append("policy.applied", {
        "version": eff.version, "segment": eff.document["segment"], "sha256": policy.sha256(),
        "mode": eff.source,
    }, severity="high" if eff.source == "strictest" and eff.problem != "no policy received yet" else None)
    if eff.source == "strictest":
        log.warning("enforcing the strictest policy: %s", eff.problem)
    control = start_media_control(host, spool, policy)
    try:
        reason = asyncio.run(_main(spool, identity, state, settings, policy))
        if control is not None:
            control.stop()
        spool.append("agent.stopped", {"reason": reason, "spool_depth": spool.depth()})
        asyncio.run(_flush(spool, identity, state, settings, policy))
        state.stopped_marker.write_text(datetime.now(UTC).isoformat(), encoding="utf-8")
        state.running_marker.unlink(missing_ok=True)
    finally:
        spool.close()
    log.info("stopped (%s)", reason)
    return 0


def start_media_control(host: Host, spool: Spool, policy: PolicyCache) -> MediaControl | None:
    """Removable-media control from the first moment; when the OS cannot do it, say so loudly (log + event)."""
    control = host.media_control(spool.append)
    if isinstance(control, str):
        log.error("removable-media control is NOT active: %s", control)
        spool.append("check.result", {
            "check_id": "media.control", "status": "error", "summary": control,
            "evidence_json": json.dumps({"host": type(host).__name__, "reason": control}),
            "remediation": "Run mamori-agent as root (the service unit does) on a kernel with USB sysfs."},
            severity="high")
        return None
    try:
        control.start(policy.current.document)
    except Exception as exc:
        log.exception("removable-media control failed to start")
        spool.append("check.result", {"check_id": "media.control", "status": "error",
                                      "summary": f"failed to start: {exc}"[:500],
                                      "evidence_json": json.dumps({"exception": type(exc).__name__})},
                     severity="high")
        return None
    policy.add_listener(lambda eff: control.apply(eff.document))
    log.info("removable-media control active (usb mode %s)", policy.current.document["usb"]["mode"])
    return control


async def _main(spool: Spool, identity: Identity, state: StateDir, settings: dict[str, Any],
                policy: PolicyCache) -> str:
    stop = asyncio.Event()
    reason = {"value": "stopped"}
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        reason["value"] = f"signal:{sig.name}"
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except NotImplementedError:  # Windows: the service wrapper sets stop instead
            pass
    shipper = Shipper(spool, identity, state, settings, policy, started=time.monotonic())
    log.info("agent %s running (segment %s), sending to %s", identity.agent_id, identity.segment,
             identity.telemetry_target)
    scheduler = None
    if settings["checks.enabled"]:
        from agent.check_scheduler import CheckScheduler

        scheduler = CheckScheduler(spool, policy, identity.segment, state.checks)
        scheduler.start()
    try:
        await shipper.run(stop)
    finally:
        if scheduler is not None:
            await asyncio.to_thread(scheduler.stop)
    return reason["value"]


async def _flush(spool: Spool, identity: Identity, state: StateDir, settings: dict[str, Any],
                 policy: PolicyCache) -> None:
    """Give the stop event (and anything still spooled) a short chance to reach the collector."""
    shipper = Shipper(spool, identity, state, settings, policy)
    shipper._loop = asyncio.get_running_loop()
    delivered = await shipper.flush(settings["shipper.stop_flush_seconds"])
    if not delivered:
        log.info("%d events stay spooled until the next start", spool.depth())
