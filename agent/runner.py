"""`mamori-agent run`: open the spool, record start, ship until told to stop, record the stop.

Alongside the shipper a supervisor samples the agent's own memory and CPU (self-watchdog), refreshes
status.json for `mamori-agent status`, and checks code, config and policy cache for tampering. How a run
ended is always recorded as `agent.stopped`; only the service manager's own stop counts as orderly.

agent.stopped reasons (severity): "service-stop" / "system-shutdown" (low: systemd or the SCM stopped it);
"signal:SIGTERM from pid N (comm, uid U)" / "signal:SIGINT from the kernel or terminal" (high: not the
service manager); "not stopped by the service manager: killed, crashed or powered off (found at start)"
(high, dated when the dead run was last alive); "watchdog: memory|CPU ..." (medium, restarted);
"spool deleted or replaced" (high, restarted); "service uninstalled by U" / "package removed by U" (high).
agent.tamper what: binary, config (medium), policy_cache, integrity; the spool adds spool (history lost) and
restored (state folder put back from an older copy).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent import reenroll, renewal, runstate, watchdog
from agent.config import StateDir
from agent.control import daemon as control_daemon
from agent.host import Host
from agent.host.base import MediaControl, StopRequest
from agent.identity import Identity
from agent.integrity import Finding, Integrity
from agent.outbox import Outbox
from agent.policy_cache import PolicyCache
from agent.shipper import Shipper
from agent.usb import state as media_state
from mamori import __version__, clock

log = logging.getLogger("mamori.agent")

RESTART_EXIT = 75  # the run asks to be restarted (self-watchdog, spool replaced)
STATUS_REFRESH_SECONDS = 60.0  # status.json is rewritten at least this often (its time is "last alive")


@dataclass
class Outcome:
    reason: str = "stopped"
    orderly: bool = False
    restart: bool = False
    severity: str = "high"


def _previous_exit(state: StateDir) -> str:
    """A marker left by a run that never reached its orderly stop means that run died."""
    if state.running_marker.exists():
        return "unclean"
    return "clean" if state.stopped_marker.exists() else "first"


def _last_alive(state: StateDir) -> datetime | None:
    """When the previous run was last known alive: status.json's time, else the running marker's."""
    stamp = runstate.read_status(state).get("updated_at")
    try:
        if isinstance(stamp, str) and stamp:
            return datetime.fromisoformat(stamp)
        return datetime.fromtimestamp(state.running_marker.stat().st_mtime, UTC)
    except (OSError, ValueError):
        return None


def _mark(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:  # a full disk: the next start misjudges how this run ended, the agent still runs
        log.warning("cannot write %s: %s", path, exc)


def _record_tamper(spool: Outbox, findings: list[Finding]) -> None:
    for f in findings:
        log.warning("tamper evidence (%s): %s", f.what, f.detail)
        spool.append("agent.tamper", {"what": f.what, "detail": f.detail[:500]}, severity=f.severity)


def run(
    state: StateDir, identity: Identity, host: Host, settings: dict[str, Any], config_path: Path | None = None
) -> int:
    # Never raises for a full disk: enforcement below must not depend on the spool opening.
    # The re-stamp is normally done by enroll already; repeated here in case it crashed before re-stamping.
    spool = Outbox(
        state.spool,
        settings["spool.capacity"],
        on_open=lambda opened: reenroll.adopt(opened, state.spool, identity.agent_id),
    )
    previous = _previous_exit(state)
    last_alive = _last_alive(state) if previous == "unclean" else None
    _mark(state.running_marker, str(os.getpid()))
    facts = host.facts()
    spool.append(
        "agent.started",
        {
            "agent_version": __version__,
            "hostname": facts.hostname,
            "os": facts.os,
            "os_version": facts.os_version,
            "pid": os.getpid(),
            "previous_exit": previous,
        },
    )
    if previous == "unclean":
        log.warning("the previous run did not stop cleanly")
        # kill -9, a crash or power loss: the service manager's orderly stop always leaves stopped.at.
        spool.append(
            "agent.stopped",
            {
                "reason": "not stopped by the service manager: killed, crashed or powered off (found at start)",
                "spool_depth": spool.depth(),
            },
            severity="high",
            occurred_at=last_alive,
        )
    policy = PolicyCache(state.policy, identity.segment)
    integrity = Integrity(state, config_path, __version__)
    findings = integrity.at_start()
    _record_tamper(spool, findings)
    if integrity.policy_distrusted:  # edited now, or at an earlier start and not replaced since
        policy.distrust("the cached policy was edited outside the agent")
    policy.on_store = integrity.policy_stored
    eff = policy.current
    spool.append(
        "policy.applied",
        {
            "version": eff.version,
            "segment": eff.document["segment"],
            "sha256": policy.sha256(),
            "mode": eff.source,
        },
        severity="high" if eff.source == "strictest" and eff.problem != "no policy received yet" else None,
    )
    if eff.source == "strictest":
        log.warning("enforcing the strictest policy: %s", eff.problem)
    control = start_media_control(host, spool, policy, state)
    # `status`, `debug emit` and `devices` ask this run: the spool has no other writer.
    answers = control_daemon.AgentControl(
        lambda: {**policy.enforced(), "document": policy.current.document}, getattr(host, "root", None), spool
    )
    try:
        outcome = asyncio.run(_main(spool, identity, state, settings, policy, host, integrity, answers))
        if control is not None:
            control.stop()
        spool.append(
            "agent.stopped", {"reason": outcome.reason, "spool_depth": spool.depth()}, severity=outcome.severity
        )
        asyncio.run(_flush(spool, identity, state, settings, policy))
        _mark(state.stopped_marker, clock.now().isoformat())
        state.running_marker.unlink(missing_ok=True)
    finally:
        spool.close()
    log.info("stopped (%s)", outcome.reason)
    return RESTART_EXIT if outcome.restart else 0


def start_media_control(
    host: Host, spool: Any, policy: PolicyCache, state: StateDir | None = None
) -> MediaControl | None:
    """Removable-media control from the first moment; whether it is in force is itself an event (MED-006)."""
    segment = str(policy.current.document.get("segment", ""))
    where = type(host).__name__
    in_force: list[str] = []  # the mode last reported as in force

    def emit(kind: str, body: dict[str, Any], severity: str | None = None) -> None:
        if not media_state.is_state(kind, body):
            spool.append(kind, body, severity=severity)  # the guard's backstop raises it to critical
            return
        spool.append(kind, body, severity=media_state.severity(body, segment))
        evidence = json.loads(body["evidence_json"])  # the control's own reports (a guard that died) count too
        in_force[:] = [evidence["mode"]] if evidence["active"] else []
        if state is not None:  # `mamori-agent status` shows it, so it never claims a mode not in force
            runstate.record_checks(state, [body])

    def report(active: bool, reason: str = "", document: dict[str, Any] | None = None) -> None:
        mode = str((document or policy.current.document)["usb"]["mode"])
        emit("check.result", media_state.payload(active, mode, reason, where))

    control = host.media_control(emit)
    if isinstance(control, str):
        log.error("removable-media control is NOT active: %s", control)
        report(False, control)
        return None
    try:
        control.start(policy.current.document)
    except Exception as exc:
        log.exception("removable-media control failed to start")
        report(False, f"failed to start: {type(exc).__name__}: {exc}")
        return None

    def apply(eff: Any) -> None:
        control.apply(eff.document)
        if in_force and in_force != [eff.document["usb"]["mode"]]:  # the evidence names the mode in force
            report(True, document=eff.document)

    policy.add_listener(apply)
    report(True)
    log.info("removable-media control active (usb mode %s)", in_force[0])
    return control


async def _main(
    spool: Outbox,
    identity: Identity,
    state: StateDir,
    settings: dict[str, Any],
    policy: PolicyCache,
    host: Host,
    integrity: Integrity,
    answers: control_daemon.AgentControl | None = None,
) -> Outcome:
    stop = asyncio.Event()
    outcome = Outcome()
    loop = asyncio.get_running_loop()

    def request_stop(req: StopRequest) -> None:
        if not stop.is_set():
            outcome.reason, outcome.orderly = req.reason, req.orderly
            outcome.severity = "low" if req.orderly else "high"
            stop.set()

    def from_thread(req: StopRequest) -> None:
        try:
            loop.call_soon_threadsafe(request_stop, req)
        except RuntimeError:  # the loop has ended: the agent is already stopping
            pass

    if not host.watch_stop(from_thread):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, request_stop, StopRequest(f"signal:{sig.name}", False))
            except (NotImplementedError, RuntimeError):  # Windows: the service wrapper calls stop_agent()
                pass
    _stoppers.append(from_thread)
    # After watch_stop: its signal mask must be in place before this thread exists, which then inherits it.
    channel = control_daemon.start(state.root, answers) if answers is not None else None
    if _pending_stop:  # the service manager asked to stop while the agent was still starting
        request_stop(_pending_stop.pop())
    shipper = Shipper(spool, identity, state, settings, policy, started=time.monotonic())
    if answers is not None:
        answers.shipper = shipper
    # status.json names the policy in force the moment it changes, before policy.applied can reach anyone;
    # the supervisor's periodic rewrite would otherwise leave `status` a few seconds behind.
    policy.add_listener(lambda _eff: _write_status(state, shipper))
    log.info(
        "agent %s running (segment %s), sending to %s", identity.agent_id, identity.segment, identity.telemetry_target
    )
    scheduler = None
    if settings["checks.enabled"]:
        from agent.check_scheduler import CheckScheduler

        scheduler = CheckScheduler(
            spool,
            policy,
            identity.segment,
            state.check_schedule,
            agent_id=identity.agent_id,
            on_results=lambda results: runstate.record_checks(state, results),
        )
        scheduler.start()
    supervisor = asyncio.create_task(_supervise(spool, state, settings, shipper, integrity, stop, outcome))
    renewer = asyncio.create_task(renewal.run(identity, state, settings, host.facts().hostname, stop))
    try:
        await shipper.run(stop)
    finally:
        if channel is not None:  # before agent.stopped: nothing may be recorded after it
            await asyncio.to_thread(channel.stop)
        supervisor.cancel()
        renewer.cancel()
        _stoppers.clear()
        if scheduler is not None:
            await asyncio.to_thread(scheduler.stop)
    return outcome


# Callbacks that stop the running agent: used by the Windows service wrapper, which has no signals.
_stoppers: list[Any] = []
_pending_stop: list[StopRequest] = []


def stop_agent(reason: str = "service-stop", orderly: bool = True) -> bool:
    """Ask the running agent (in this process) to stop; before it runs, the request waits for it."""
    request = StopRequest(reason, orderly)
    if not _stoppers:
        _pending_stop[:] = [request]
        return False
    for stopper in list(_stoppers):
        stopper(request)
    return True


async def _supervise(
    spool: Outbox,
    state: StateDir,
    settings: dict[str, Any],
    shipper: Shipper,
    integrity: Integrity,
    stop: asyncio.Event,
    outcome: Outcome,
) -> None:
    dog = watchdog.ResourceWatchdog(
        settings["watchdog.memory_limit_mib"],
        settings["watchdog.cpu_limit_percent"],
        settings["watchdog.cpu_window_seconds"],
    )
    interval = settings["watchdog.interval_seconds"]
    next_integrity = time.monotonic() + settings["integrity.check_seconds"]
    last_written: tuple[Any, ...] = ()
    last_write_at = 0.0
    spool_inode = _inode(state.spool / "spool.db") if spool.spool is not None else None
    while not stop.is_set():
        now = time.monotonic()
        st = shipper.status
        eff = shipper.policy.current  # a distrusted cache or a push must show in status at once
        key = (st.connected, st.last_error, st.refused, eff.source, eff.version)
        if key != last_written or now - last_write_at >= STATUS_REFRESH_SECONDS:
            await asyncio.to_thread(_write_status, state, shipper)
            last_written, last_write_at = key, now
        if spool.lost or spool.spool is None:  # room again: open the spool, record what was lost
            await asyncio.to_thread(spool.flush_lost)
            if spool_inode is None and spool.spool is not None:
                spool_inode = _inode(state.spool / "spool.db")
        over = dog.observe(watchdog.sample())
        if over:
            log.error("%s: restarting", over)
            outcome.reason, outcome.orderly, outcome.restart, outcome.severity = over, False, True, "medium"
            stop.set()
            return
        if now >= next_integrity:
            next_integrity = now + settings["integrity.check_seconds"]
            findings = await asyncio.to_thread(integrity.periodic)
            if findings:
                await asyncio.to_thread(_record_tamper, spool, findings)
                if any(f.what == "policy_cache" for f in findings):
                    shipper.policy.distrust("the cached policy was edited outside the agent")
            if spool_inode is not None and _inode(state.spool / "spool.db") != spool_inode:
                # Deleted or swapped under the open connection: restart so Spool.open records spool.corrupt.
                log.error("spool.db was deleted or replaced while running: restarting")
                outcome.reason, outcome.restart, outcome.severity = "spool deleted or replaced", True, "high"
                stop.set()
                return
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _write_status(state: StateDir, shipper: Shipper) -> None:
    st = shipper.status
    data = {
        "pid": os.getpid(),
        "connected": st.connected,
        "last_error": st.last_error,
        "refused": st.refused,
        "cert_expired": st.cert_expired,
        "last_ack_seq": st.last_ack_seq,
        "last_connected_at": st.last_connected_at,
        "version": __version__,
        **shipper.policy.enforced(),
    }
    try:
        runstate.write_status(state, data)
    except OSError as exc:
        log.warning("cannot write %s: %s", state.status, exc)


async def _flush(
    spool: Outbox, identity: Identity, state: StateDir, settings: dict[str, Any], policy: PolicyCache
) -> None:
    """Give the stop event (and anything still spooled) a short chance to reach the collector."""
    shipper = Shipper(spool, identity, state, settings, policy)
    shipper._loop = asyncio.get_running_loop()
    delivered = await shipper.flush(settings["shipper.stop_flush_seconds"])
    if not delivered:
        log.info("%d events stay spooled until the next start", spool.depth())
