"""An in-memory collector behind the Transport protocol: the shipper's unit tests run its real code against it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from agent.transport import (
    Ack,
    AgentMessage,
    Batch,
    CollectorMessage,
    Heartbeat,
    Hello,
    Renewed,
    StreamBroken,
    StreamError,
    Unreachable,
    Welcome,
)
from mamori.events import decode_bytes

M = TypeVar("M", Hello, Batch, Heartbeat)


@dataclass(frozen=True)
class _End:
    error: StreamError | None  # None: the collector closed the stream cleanly


class MemoryStream:
    """One stream: what the agent sent, and a queue of what the collector answers."""

    def __init__(self, collector: MemoryCollector) -> None:
        self._collector = collector
        self._answers: asyncio.Queue[CollectorMessage | _End] = asyncio.Queue()
        self.sent: list[AgentMessage] = []
        self.ended = False
        self.closed = False
        self._waiting = False

    @property
    def idle(self) -> bool:
        """The agent has handled everything the collector sent and waits for more (its reader asks only
        after it finished with the previous message)."""
        return self._waiting and self._answers.empty()

    async def send(self, message: AgentMessage) -> None:
        if self.ended or self.closed:
            raise StreamBroken("the stream has ended")
        self.sent.append(message)
        self._collector.on_message(self, message)
        self._collector.notify()

    async def receive(self) -> AsyncIterator[CollectorMessage]:
        while True:
            self._waiting = True
            item = await self._answers.get()
            self._waiting = False
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item

    async def done_writing(self) -> None:
        self.end()  # the real collector's loop returns once the agent half-closes

    async def close(self) -> None:
        self.closed = True
        self.end()

    def push(self, message: CollectorMessage) -> None:
        """The collector sends message on this stream."""
        if not self.ended:
            self._answers.put_nowait(message)

    def end(self, error: StreamError | None = None) -> None:
        """The collector ends this stream, with a status (like context.abort) or cleanly."""
        if not self.ended:
            self.ended = True
            self._answers.put_nowait(_End(error))
            self._collector.notify()


@dataclass
class MemoryCollector:
    """Welcomes, stores and acks like the real collector unless told otherwise; tests read what arrived.

    auto_ack=False leaves acking to the test (stream.push(Ack(...))); refuse_batches="INVALID_ARGUMENT" ends the
    stream on the next batch the way the collector aborts a batch it refuses (nothing of it stored).
    """

    agent_id: str = "agent-1"
    last_stored_seq: int = 0
    reachable: bool = True
    auto_welcome: bool = True
    auto_ack: bool = True
    refuse_batches: str = ""
    renew_with: Callable[[bytes], Renewed] | None = None
    stored: dict[int, bytes] = field(default_factory=dict)
    streams: list[MemoryStream] = field(default_factory=list)
    csrs: list[bytes] = field(default_factory=list)
    _changed: asyncio.Event | None = None

    @property
    def target(self) -> str:
        return "memory"

    @property
    def stream(self) -> MemoryStream:
        """The newest stream."""
        return self.streams[-1]

    async def open(self, timeout: float) -> MemoryStream:
        if not self.reachable:
            raise Unreachable(self.target)
        stream = MemoryStream(self)
        self.streams.append(stream)
        self.notify()
        return stream

    def renew(self, csr_pem: bytes, timeout: float) -> Renewed:
        self.csrs.append(csr_pem)
        if self.renew_with is None:
            raise StreamError("UNIMPLEMENTED", "this collector does not renew certificates")
        return self.renew_with(csr_pem)

    def on_message(self, stream: MemoryStream, message: AgentMessage) -> None:
        if isinstance(message, Hello) and self.auto_welcome:
            stream.push(Welcome(self.agent_id, self.last_stored_seq))
        elif isinstance(message, Batch):
            if self.refuse_batches:
                stream.end(StreamError(self.refuse_batches, "batch refused; nothing of it was stored"))
            elif self.auto_ack:
                self.store(message)
                stream.push(Ack(message.batch_id, self.last_stored_seq))

    def store(self, batch: Batch) -> None:
        for data in batch.events:
            seq = decode_bytes(data).seq
            self.stored[seq] = data
            self.last_stored_seq = max(self.last_stored_seq, seq)

    def sent(self, kind: type[M]) -> list[M]:
        """Every message of this kind the agent sent, over all streams."""
        return [m for s in self.streams for m in s.sent if isinstance(m, kind)]

    def notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until condition holds: looked at whenever something arrives, and every few milliseconds for what
        the agent does in its threads (spool acks); timeout (real time) is only a safety net."""
        if self._changed is None:
            self._changed = asyncio.Event()
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), 0.01)
                except TimeoutError:
                    pass
