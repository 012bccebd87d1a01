"""Shared pieces of the agent CLI: the error type, the enrolled identity and asking the running agent."""

from __future__ import annotations

import time
from typing import Any

from agent.config import StateDir
from agent.identity import Identity, NotEnrolled, load_identity
from mamori.cliutil import CliError  # noqa: F401 (re-exported for the command modules)
from mamori.i18n import _


def identity(state: StateDir) -> Identity:
    try:
        return load_identity(state)
    except NotEnrolled as exc:
        raise CliError(
            _("this terminal is not enrolled ({what}); run `mamori-agent enroll` first").format(what=exc)
        ) from None


STARTING_SECONDS = 10.0  # how long a command waits for an agent whose run has begun but whose channel is not up


def ask_agent(state: StateDir, request: Any) -> Any:
    """The running agent's reply. NotRunning when no run holds the folder; errors as CliError (one line)."""
    from agent.control.client import ControlError, NotRunning, ask
    from agent.host import runlock

    starting: bool | None = None
    deadline = time.monotonic() + STARTING_SECONDS
    while True:
        try:
            return ask(state.root, request)
        except ControlError as exc:
            raise CliError(str(exc)) from None
        except NotRunning:
            if starting is None:  # looked at once: taking the lock again and again could refuse a starting run
                starting = runlock.held(state.run_lock)
            if not starting or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def not_running(state: StateDir) -> str:
    return _("the agent is not running on {folder} (no answer on its control channel)").format(folder=state.root)
