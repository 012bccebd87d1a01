"""Shared pieces of the agent CLI: the error type and the enrolled identity."""

from __future__ import annotations

from agent.config import StateDir
from agent.identity import Identity, NotEnrolled, load_identity
from mamori.cliutil import CliError  # noqa: F401 (re-exported for the command modules)
from mamori.i18n import _


def identity(state: StateDir) -> Identity:
    try:
        return load_identity(state)
    except NotEnrolled as exc:
        raise CliError(_("this terminal is not enrolled ({what}); run `mamori-agent enroll` first").format(
            what=exc)) from None
