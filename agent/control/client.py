"""The CLI's side of the control channel: one request to the running agent, its typed reply, errors as one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent import host as hostmod
from agent.control.protocol import MAX_REPLY, REPLIES, ErrorReply, ProtocolError, decode, encode, read_frame
from mamori.i18n import _

TIMEOUT_SECONDS = 30.0  # 100,000 test events are committed before the agent answers


class NotRunning(Exception):
    """No agent answers on this state folder's channel."""


class ControlError(Exception):
    """The agent (or the channel) said no; str() is one translated line for staff."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _message(code: str, detail: str) -> str:
    if code == "refused":
        return _("the agent refused the request: only root (or the agent's own user) may ask it ({detail})").format(
            detail=detail
        )
    if code == "not_enrolled":
        return _("the running agent is not enrolled, so it has no spool to record events in")
    if code == "too_large":
        return _("the request is too large for the control channel ({detail})").format(detail=detail)
    if code == "version":
        return _(
            "the running agent speaks another control protocol version ({detail}); restart it after an upgrade"
        ).format(detail=detail)
    if code == "unsupported":
        return _("the running agent cannot list devices here: {detail}").format(detail=detail)
    return _("the running agent answered with an error: {detail}").format(detail=detail)


def ask(root: Path, request: Any, timeout: float = TIMEOUT_SECONDS) -> Any:
    """The agent's reply; NotRunning when none listens, ControlError for a refusal or a broken answer."""
    transport = hostmod.control_transport()
    where = transport.address(root)
    try:
        stream, peer = transport.connect(root, timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        raise NotRunning(str(where)) from None
    except PermissionError:
        raise ControlError(
            "refused", _("permission denied on {path}: run this as root or as an administrator").format(path=where)
        ) from None
    except OSError as exc:
        raise ControlError(
            "unreachable", _("cannot reach the agent on {path}: {error}").format(path=where, error=exc.strerror or exc)
        ) from None
    try:
        if not peer.allowed:  # someone else's socket in our place: never believe its answers
            raise ControlError(
                "impostor",
                _("{path} is held by {who}, not by the agent; not asking it").format(path=where, who=peer.who),
            )
        try:
            stream.sendall(encode(request))
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it read the request: its reply says why
        reply = decode(read_frame(stream, MAX_REPLY), REPLIES)
    except ProtocolError as exc:
        raise ControlError(
            exc.code, _("the agent's answer was not understood: {detail}").format(detail=exc.detail)
        ) from None
    except TimeoutError:
        raise ControlError(
            "timeout", _("the agent did not answer within {seconds:.0f} seconds").format(seconds=timeout)
        ) from None
    except OSError as exc:
        raise ControlError(
            "unreachable", _("cannot reach the agent on {path}: {error}").format(path=where, error=exc.strerror or exc)
        ) from None
    finally:
        stream.close()
    if isinstance(reply, ErrorReply):
        raise ControlError(reply.code, _message(reply.code, reply.detail))
    return reply
