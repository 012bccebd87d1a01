"""The agent's side of the control channel: one thread accepts, one short thread answers each connection."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from agent.control.protocol import (
    MAX_REQUEST,
    REQUESTS,
    ErrorReply,
    Peer,
    ProtocolError,
    Stream,
    decode,
    encode,
    read_frame,
)

log = logging.getLogger("mamori.agent.control")

MAX_CONNECTIONS = 8  # answered at once; more wait in the listen backlog, so a flood cannot grow the agent


class Listener(Protocol):
    def accept(self) -> tuple[Stream, Peer] | None:
        """The next connection, or None after a short wait (so the loop sees stop)."""
        ...

    def close(self) -> None: ...


Handler = Callable[[Any], Any]


class ControlServer:
    """Answers requests with handler(request) -> reply until stop(); a bad request costs only its connection."""

    def __init__(self, listener: Listener, handler: Handler) -> None:
        self._listener, self._handler = listener, handler
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._thread = threading.Thread(target=self._loop, name="mamori-control", daemon=True)

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()  # also wakes an accept that blocks (a Windows pipe)
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                accepted = self._listener.accept()
            except OSError as exc:
                if self._stop.is_set():
                    return
                log.warning("control channel: accept failed: %s", exc)
                self._stop.wait(0.5)
                continue
            if accepted is None:
                continue
            self._slots.acquire()
            threading.Thread(target=self._serve_slot, args=accepted, name="mamori-control-conn", daemon=True).start()

    def _serve_slot(self, stream: Stream, peer: Peer) -> None:
        try:
            self.serve(stream, peer)
        finally:
            self._slots.release()

    def serve(self, stream: Stream, peer: Peer) -> None:
        """Answer one connection and close it."""
        try:
            stream.sendall(encode(self.answer(stream, peer)))
        except OSError as exc:  # the client went away or timed out: nothing to tell anyone
            log.info("control channel: %s: %s", peer.who, exc)
        finally:
            stream.close()

    def answer(self, stream: Stream, peer: Peer) -> Any:
        if not peer.allowed:
            log.warning("control channel: refused %s (only root or the agent's own user)", peer.who)
            return ErrorReply("refused", f"{peer.who} may not use the control channel")
        try:
            request = decode(read_frame(stream, MAX_REQUEST), REQUESTS)
        except ProtocolError as exc:
            log.warning("control channel: bad request from %s: %s", peer.who, exc.detail)
            return ErrorReply(exc.code, exc.detail)
        try:
            return self._handler(request)
        except Exception as exc:  # noqa: BLE001 - one failed answer must not end the channel
            log.exception("control channel: answering %s failed", type(request).__name__)
            return ErrorReply("internal", f"{type(exc).__name__}: {exc}")
