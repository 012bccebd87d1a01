"""What the running agent last said about itself (status.json) and the last check results (checks.json).

Both are written by the agent and read by `mamori-agent status`, which runs in another process.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agent.config import StateDir
from agent.fsutil import write_atomic
from mamori import clock

log = logging.getLogger("mamori.agent")
_checks_lock = threading.Lock()  # the check scheduler and the media control both record results


def _now() -> str:
    return clock.now().isoformat(timespec="seconds")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def write_status(state: StateDir, status: Mapping[str, Any]) -> None:
    write_atomic(state.status, json.dumps({**status, "updated_at": _now()}, ensure_ascii=False).encode(), 0o600)


def read_status(state: StateDir) -> dict[str, Any]:
    return _read(state.status)


def record_checks(state: StateDir, results: Iterable[Mapping[str, Any]]) -> None:
    """Keep the latest result per check id (check_id, status, summary) with the time it was recorded."""
    with _checks_lock:
        current = _read(state.checks)
        for result in results:
            current[str(result["check_id"])] = {
                "status": result.get("status", ""),
                "summary": result.get("summary", ""),
                "at": _now(),
            }
        try:
            write_atomic(state.checks, json.dumps(current, ensure_ascii=False, indent=1).encode(), 0o600)
        except OSError as exc:  # a full disk must not stop the caller (media control, checks) from working
            log.warning("cannot write %s: %s", state.checks, exc)


def read_checks(state: StateDir) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in _read(state.checks).items() if isinstance(v, dict)}
