"""Simulated agents in a client process: one mTLS channel each, Hello, then windowed EventBatches."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import grpc

from bench.ingest.enroll import Credentials
from bench.ingest.payloads import agent_batches, hello_message, ping_message
from bench.procs import LOOPBACK
from mamori.v1 import telemetry_pb2

STREAM_METHOD = "/mamori.v1.Telemetry/Stream"
CONNECT_TIMEOUT = 60.0
CONNECT_CONCURRENCY = 64
GO_TIMEOUT = 600.0


class StreamFailed(RuntimeError):
    """The collector ended a stream early or answered something unexpected."""


@dataclass(frozen=True)
class ClientSpec:
    """What one client process simulates; bounded by `duration` (sending) and `timeout` (everything)."""

    port: int
    ca_pem: bytes
    agents: list[Credentials]
    events_per_agent: int
    batch_size: int
    window: int
    duration: float
    timeout: float


@dataclass
class AgentResult:
    """One agent's run: events acknowledged as stored, send/ack times (monotonic) and ack latencies."""

    agent_id: str
    events: int = 0
    batches: int = 0
    first_send: float = 0.0
    last_ack: float = 0.0
    latencies: list[float] = field(default_factory=list)


class AgentStream:
    """One simulated agent: its own secure channel (own TLS connection) and telemetry stream."""

    def __init__(self, creds: Credentials, port: int, ca_pem: bytes):
        self.creds = creds
        self.port = port
        self.ca_pem = ca_pem
        self.channel: grpc.aio.Channel | None = None
        self.call: Any = None

    async def connect(self) -> None:
        """Open the stream, send Hello, and wait until the collector has fully processed it."""
        creds = grpc.ssl_channel_credentials(
            root_certificates=self.ca_pem, private_key=self.creds.key_pem, certificate_chain=self.creds.cert_pem
        )
        # A local subchannel pool: gRPC must not share one TCP/TLS connection between our agents.
        self.channel = grpc.aio.secure_channel(
            f"{LOOPBACK}:{self.port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
        )
        # No request serializer: the messages are serialized AgentMessage bytes built beforehand.
        self.call = self.channel.stream_stream(
            STREAM_METHOD, request_serializer=None, response_deserializer=telemetry_pb2.CollectorMessage.FromString
        )()
        await self.call.write(hello_message())
        await self.call.write(ping_message())
        await asyncio.wait_for(self._until_ack(0), CONNECT_TIMEOUT)

    async def _until_ack(self, batch_id: int) -> None:
        while True:  # bounded by the caller's wait_for; Welcome and PolicyUpdate come first
            msg = await self.call.read()
            if msg is grpc.aio.EOF:
                raise StreamFailed(f"agent {self.creds.agent_id}: stream ended: {await self.call.details()}")
            if msg.WhichOneof("body") == "ack" and msg.ack.batch_id == batch_id:
                return

    async def run(self, batches: list[tuple[int, bytes]], window: int, deadline: float) -> AgentResult:
        """Send batches with at most `window` unacknowledged; stop sending at `deadline`, then drain."""
        result = AgentResult(self.creds.agent_id)
        sent: dict[int, tuple[float, int]] = {}
        slots = asyncio.Semaphore(window)
        reader = asyncio.create_task(self._read_acks(sent, slots, result))
        try:
            for batch_id, (last_seq, data) in enumerate(batches, start=1):
                await self._acquire(slots, reader)
                now = time.monotonic()
                if now >= deadline:
                    break
                result.first_send = result.first_send or now
                sent[batch_id] = (now, last_seq)
                await self._write(data)
            await self.call.done_writing()
            await reader
        finally:
            reader.cancel()
        if sent or await self.call.code() != grpc.StatusCode.OK:
            raise StreamFailed(
                f"agent {result.agent_id}: {len(sent)} batches unacknowledged, "
                f"status {await self.call.code()}: {await self.call.details()}"
            )
        return result

    async def _write(self, data: bytes) -> None:
        try:
            await self.call.write(data)
        except (asyncio.InvalidStateError, grpc.RpcError):  # the collector ended the stream
            raise StreamFailed(
                f"agent {self.creds.agent_id}: stream ended by the collector: "
                f"{(await self.call.code()).name}: {await self.call.details()}"
            ) from None

    @staticmethod
    async def _acquire(slots: asyncio.Semaphore, reader: asyncio.Task[None]) -> None:
        """A window slot, or the reader's error if the stream broke while we waited."""
        if not slots.locked():
            await slots.acquire()
            return
        acquire = asyncio.ensure_future(slots.acquire())
        await asyncio.wait({acquire, reader}, return_when=asyncio.FIRST_COMPLETED)
        if not acquire.done():
            acquire.cancel()
            reader.result()  # raises the stream's error
            raise StreamFailed("stream ended while batches were outstanding")

    async def _read_acks(
        self, sent: dict[int, tuple[float, int]], slots: asyncio.Semaphore, result: AgentResult
    ) -> None:
        while True:  # ends at EOF, which the collector sends after acking everything we wrote
            msg = await self.call.read()
            if msg is grpc.aio.EOF:
                return
            if msg.WhichOneof("body") != "ack":
                continue
            now = time.monotonic()
            sent_at, last_seq = sent.pop(msg.ack.batch_id)
            if msg.ack.acked_seq != last_seq:
                raise StreamFailed(f"batch {msg.ack.batch_id}: acked seq {msg.ack.acked_seq}, expected {last_seq}")
            result.latencies.append(now - sent_at)
            result.events, result.batches, result.last_ack = last_seq, result.batches + 1, now
            slots.release()

    async def close(self) -> None:
        if self.channel is not None:
            await self.channel.close()


async def connect_all(streams: list[AgentStream]) -> None:
    """Connect every stream, a bounded number of TLS handshakes at a time."""
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(stream: AgentStream) -> None:
        async with limit:
            await stream.connect()

    await asyncio.gather(*(one(s) for s in streams))


async def wait_go(go: MpEvent, timeout: float = GO_TIMEOUT) -> None:
    if not await asyncio.to_thread(go.wait, timeout):
        raise TimeoutError("the benchmark never gave the start signal")


async def _stream_all(spec: ClientSpec, out: Queue, go: MpEvent) -> tuple[list[AgentResult], float]:
    """Every agent's result, and this process's CPU seconds while streaming."""
    batches = [agent_batches(spec.events_per_agent, spec.batch_size) for _ in spec.agents]
    streams = [AgentStream(creds, spec.port, spec.ca_pem) for creds in spec.agents]
    try:
        await connect_all(streams)
        out.put(("ready", os.getpid()))
        await wait_go(go)
        cpu = time.process_time()
        deadline = time.monotonic() + spec.duration
        runs = (s.run(b, spec.window, deadline) for s, b in zip(streams, batches, strict=True))
        results = list(await asyncio.wait_for(asyncio.gather(*runs), spec.timeout))
        return results, time.process_time() - cpu
    finally:
        await asyncio.gather(*(s.close() for s in streams), return_exceptions=True)


def client_main(spec: ClientSpec, out: Queue, go: MpEvent) -> None:
    """Entry point of a client process: ("ready", pid), then ("done", (results, cpu s)) or ("error", text)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates us
    try:
        out.put(("done", asyncio.run(_stream_all(spec, out, go))))
    except BaseException:  # noqa: B036 (report anything to the parent, which decides)
        out.put(("error", traceback.format_exc()))
