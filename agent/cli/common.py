"""Shared pieces of the agent CLI: the error type and the enrolled identity."""

from __future__ import annotations

from agent.config import StateDir
from agent.identity import Identity, NotEnrolled, load_identity
from mamori.i18n import _


class CliError(Exception):
    """Shown to staff as one line with what to do next; exit status 2."""


def identity(state: StateDir) -> Identity:
    try:
        return load_identity(state)
    except NotEnrolled as exc:
        raise CliError(_("this terminal is not enrolled ({what}); run `mamori-agent enroll` first").format(
            what=exc)) from None
