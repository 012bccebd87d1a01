"""What the running agent answers on its control channel: its live status, test events, the attached devices.

The agent is the spool's only writer: `debug emit` hands its events over here instead of opening the spool.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import host as hostmod
from agent.control.protocol import (
    MAX_EMIT,
    DevicesRequest,
    EmitReply,
    EmitRequest,
    ErrorReply,
    PolicyInForce,
    StatusReply,
    StatusRequest,
)
from agent.control.server import ControlServer
from mamori import __version__

log = logging.getLogger("mamori.agent.control")
TEST_PAYLOAD = {"check_id": "mamori.test_event", "status": "pass", "summary": "test event"}


@dataclass
class AgentControl:
    """The running agent's parts the answers come from; shipper and spool are None while unenrolled."""

    policy: Callable[[], dict[str, Any]]  # PolicyCache.enforced() shape, plus "document"
    sysfs_root: Path | None  # None: this OS has no sysfs (Windows lists devices differently)
    spool: Any = None  # the agent's Outbox
    shipper: Any = None  # set once the shipper exists

    def handle(self, request: Any) -> Any:
        if isinstance(request, StatusRequest):
            return self.status()
        if isinstance(request, EmitRequest):
            return self.emit(request)
        if isinstance(request, DevicesRequest):
            return self.devices()
        return ErrorReply("bad_request", f"no answer for {type(request).__name__}")

    def status(self) -> StatusReply:
        p = self.policy()
        st = self.shipper.status if self.shipper is not None else None
        opened = self.spool is not None and self.spool.spool is not None
        return StatusReply(
            pid=os.getpid(),
            version=__version__,
            enrolled=self.spool is not None,
            connected=bool(st and st.connected),
            refused=bool(st and st.refused),
            last_error=st.last_error if st else "",
            last_connected_at=st.last_connected_at if st else "",
            spool_depth=self.spool.depth() if opened else None,
            spool_problem="" if opened or self.spool is None else self.spool.problem,
            events_not_recorded=self.spool.lost if self.spool is not None else 0,
            policy=PolicyInForce(
                str(p["policy_version"]),
                str(p["policy_source"]),
                str(p["policy_problem"]),
                bool(p["policy_cache_rejected"]),
                str(p["usb_mode"]),
            ),
        )

    def emit(self, request: EmitRequest) -> EmitReply | ErrorReply:
        from mamori.events import KINDS
        from mamori.labels import SEVERITIES

        if self.spool is None:
            return ErrorReply("not_enrolled", "not enrolled: there is no spool and no collector to send to")
        spec = KINDS.get(request.kind)
        # The spool's and the agent's own kinds are facts about this agent: nobody may forge them.
        if spec is None or spec.collector_only or request.kind.startswith(("spool.", "agent.")):
            return ErrorReply("invalid", f"cannot emit events of kind {request.kind[:60]}")
        if not 1 <= request.count <= MAX_EMIT:
            return ErrorReply("invalid", f"count must be 1 to {MAX_EMIT}")
        if request.severity is not None and request.severity not in SEVERITIES:
            return ErrorReply("invalid", f"unknown severity {request.severity[:20]}")
        payload = {"check_result": TEST_PAYLOAD}.get(spec.payload_field, {})
        self.spool.append_many([(request.kind, payload, request.severity)] * request.count)
        log.info("recorded %d test events (%s) for `mamori-agent debug emit`", request.count, request.kind)
        return EmitReply(request.count)

    def devices(self) -> Any:
        from agent.usb.listing import NoSysfs, listing

        if self.sysfs_root is None:
            return ErrorReply("unsupported", "the device listing needs Linux sysfs")
        p = self.policy()
        try:
            return listing(p["document"], str(p["policy_source"]), self.sysfs_root)
        except NoSysfs as exc:
            return ErrorReply("unsupported", f"no USB devices folder {exc}")


def start(root: Path, control: AgentControl) -> ControlServer | None:
    """The channel for the agent's run; None (logged) when it cannot listen: enforcement never waits for it."""
    try:
        listener = hostmod.control_transport().listen(root)
    except OSError as exc:
        log.error("control channel not available (`mamori-agent status` cannot reach this run): %s", exc)
        return None
    log.info("control channel listening on %s", hostmod.control_transport().address(root))
    return ControlServer(listener, control.handle).start()
