"""Runs the posture checks on their intervals inside `mamori-agent run` and records check.result events.

A result is recorded when it changes (status or summary) and, once a day, every check's latest result is
recorded again as the full report, so auditors see continuous evidence. What was last recorded survives
restarts in checks.json in the state folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from agent.checks import CHECKS
from agent.checks.base import Result, context, enabled, execute, severity
from agent.fsutil import write_atomic
from agent.outbox import Outbox
from agent.policy_cache import PolicyCache
from agent.spool import Spool
from mamori import clock

log = logging.getLogger("mamori.agent.checks")
FULL_REPORT_SECONDS = 86400


class CheckScheduler:
    def __init__(
        self,
        spool: Spool | Outbox,
        policy: PolicyCache,
        segment: str,
        state_file: Path,
        checks: dict[str, ModuleType] | None = None,
        full_report_seconds: float = FULL_REPORT_SECONDS,
        tick_seconds: float = 1.0,
        agent_id: str = "",
        on_results: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.spool, self.policy, self.segment, self.state_file = spool, policy, segment, state_file
        self.checks = checks if checks is not None else CHECKS
        self.full_report_seconds = full_report_seconds
        self.tick_seconds = tick_seconds
        self.on_results = on_results  # e.g. keep the latest results for `mamori-agent status`
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._due: dict[str, float] = {}
        self._latest: dict[str, Result] = {}
        self._state = self._load()
        if agent_id and self._state.get("agent_id") != agent_id:
            if "agent_id" in self._state:
                # A new enrollment: the collector knows nothing of this id's posture, so the first round ends
                # with the full report (every check), not only the results that changed.
                self._state["full_report_at"] = 0.0
            self._state["agent_id"] = agent_id
            self._save()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("digests"), dict):
                return data
        except (OSError, ValueError):
            pass
        return {"digests": {}, "full_report_at": clock.now().timestamp()}

    def _save(self) -> None:
        try:
            write_atomic(self.state_file, json.dumps(self._state).encode("utf-8"), 0o600)
        except OSError as exc:
            log.warning("cannot save check state %s: %s", self.state_file, exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="checks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the scheduler must outlive any bug
                log.exception("check scheduler round failed")
            self._stop.wait(self.tick_seconds)

    def tick(self, now: float | None = None) -> list[Result]:
        """Run every due check once; record changes and, when due, the full report."""
        now = time.monotonic() if now is None else now
        document = self.policy.current.document
        ctx = context(document, self.segment, self.state_file.parent)
        ran = []
        for check in enabled(self.checks, ctx.settings):
            if self._stop.is_set():
                break
            if self._due.get(check.ID, 0.0) > now:
                continue
            res = execute(check, ctx)
            self._due[check.ID] = now + check.INTERVAL_SECONDS
            self._latest[check.ID] = res
            ran.append(res)
            digest = hashlib.sha256(json.dumps([res.status, res.summary], ensure_ascii=False).encode()).hexdigest()
            if self._state["digests"].get(check.ID) != digest:
                self.spool.append("check.result", res.payload(), severity=severity(check, res))
                self._state["digests"][check.ID] = digest
                log.info("check %s: %s (%s)", check.ID, res.status, res.summary[:200])
                self._save()
        if ran and self.on_results is not None:
            try:
                self.on_results([r.payload() for r in ran])
            except OSError as exc:
                log.warning("cannot record the latest check results: %s", exc)
        wall = clock.now().timestamp()
        if wall - float(self._state.get("full_report_at", 0)) >= self.full_report_seconds and self._latest:
            self.spool.append_many(
                [
                    ("check.result", r.payload(full_report=True), severity(self.checks[r.check_id], r))
                    for r in self._latest.values()
                    if r.check_id in self.checks
                ]
            )
            self._state["full_report_at"] = wall
            self._save()
        return ran
