"""Before enrollment: removable-media control under the strictest policy until an identity appears."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from agent import runner
from agent.config import StateDir
from agent.control import daemon as control_daemon
from agent.host.base import Host
from agent.identity import NotEnrolled, load_identity
from agent.runner import RESTART_EXIT
from mamori import policy

log = logging.getLogger("mamori.agent.unenrolled")


def enrolled(state: StateDir) -> bool:
    try:
        load_identity(state)
        return True
    except NotEnrolled:
        return False


def _document() -> dict[str, Any]:
    document = policy.strictest("mynumber")
    # Enrollment needs the network: a terminal whose only NIC is a USB adapter must still reach the collector.
    document["usb"]["network"] = "audit"
    return document


def run(state: StateDir, host: Host, poll_seconds: float = 2.0) -> int:
    """Enforce the strictest policy (no segment known yet: mynumber's) until enrolled or stopped.

    Nothing is sent: there is no collector to send to. Decisions go to the log (the journal).
    Returns RESTART_EXIT once an identity exists, so the enrolled agent starts in a fresh process.
    """
    stop = threading.Event()
    if not host.watch_stop(lambda _req: stop.set()):  # before any thread exists (signal mask)
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                signal.signal(sig, lambda *_: stop.set())
            except ValueError:  # not the main thread (the Windows service): stop_agent() below
                pass
    # The Windows service wrapper has no signals: it stops the agent through runner.stop_agent().
    runner._stoppers.append(lambda _req: stop.set())
    if runner._pending_stop:
        stop.set()

    def emit(kind: str, body: dict[str, Any], severity: str | None = None) -> None:
        log.warning("not enrolled, not sent: %s %s %s", kind, severity or "", body)

    control = host.media_control(emit)
    if isinstance(control, str):
        log.error("not enrolled, and removable-media control is NOT active: %s", control)
    else:
        control.start(_document())
        log.warning(
            "not enrolled: enforcing the strictest policy (all removable storage blocked) until `mamori-agent enroll`"
        )
    document = _document()
    channel = control_daemon.start(
        state.root,
        control_daemon.AgentControl(
            lambda: {
                "policy_version": "",
                "policy_source": "strictest",
                "policy_problem": "not enrolled",
                "policy_cache_rejected": False,
                "usb_mode": document["usb"]["mode"],
                "document": document,
            },
            getattr(host, "root", None),
        ),
    )
    try:
        while not stop.wait(poll_seconds):
            if enrolled(state):
                log.info("enrolled: restarting as the enrolled agent")
                return RESTART_EXIT
        return 0
    finally:
        runner._stoppers.clear()
        if channel is not None:
            channel.stop()
        if not isinstance(control, str):
            control.stop()  # deny-by-default stays (the strictest policy never restores the hubs)
