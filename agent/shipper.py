"""Ships spooled events to the collector over one stream of a Transport, deleting them only once acked.

The stream is mutual-TLS gRPC in the agent (agent.transport.grpc_transport, the only code that sees protobuf)
and an in-memory collector in unit tests; this module holds the logic both run: acks, renumbering, heartbeats.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from agent import renewal
from agent.config import StateDir
from agent.identity import Identity
from agent.policy_cache import PolicyCache
from agent.spool import Restamped
from agent.transport import (
    Ack,
    Batch,
    Heartbeat,
    Hello,
    PolicyUpdate,
    Stream,
    StreamBroken,
    StreamError,
    Transport,
    TrustUpdate,
    Unreachable,
    Welcome,
)
from agent.transport.clock import Clock, LoopClock, wait_or_timeout
from mamori import __version__, clock
from mamori.events import MAX_SEQ
from mamori.policy import PolicyError

log = logging.getLogger("mamori.agent.shipper")

# Codes after which retrying the same data cannot help: the collector said no to us, not to the network.
FATAL_CODES = {"UNAUTHENTICATED", "PERMISSION_DENIED"}


@dataclass
class ShipperState:
    connected: bool = False
    last_error: str = ""
    last_ack_seq: int = 0
    refused: bool = False  # the collector refused us (revoked / unknown): keep spooling, retry slowly
    last_connected_at: str = ""  # ISO time of the last welcome from the collector
    cert_expired: bool = False  # offline past the certificate's expiry: only a new enrollment helps


_rng = random.Random()


def backoff_delay(attempt: int, initial: float, cap: float) -> float:
    """Capped exponential backoff with jitter: uniform in [initial/2, min(cap, initial * 2**attempt)].

    The jitter spreads reconnects of a whole office after a collector restart; the floor keeps a
    flapping link from being hammered with zero-delay retries.
    """
    ceiling = min(cap, initial * (2 ** min(attempt, 30)))
    return _rng.uniform(initial / 2, ceiling) if ceiling > initial / 2 else ceiling


class CollectorFault(Exception):
    """The collector sent a value no sound collector sends; this stream ends, the spool stays as it is."""


def _bounded_seq(value: int, what: str) -> int:
    # A poisoned last_stored_seq would renumber the spool past what SQLite holds (seq + offset) and kill
    # the agent on every Welcome; refusing it keeps the agent alive and spooling until staff fix the record.
    if value > MAX_SEQ:
        raise CollectorFault(
            f"collector sent {what} {value}, beyond the highest seq {MAX_SEQ}; "
            f"not renumbering the spool (check this agent's record on the collector)"
        )
    return value


class Shipper:
    def __init__(
        self,
        spool: Any,
        identity: Identity,
        state: StateDir,
        settings: dict[str, Any],
        policy: PolicyCache,
        started: float | None = None,
        transport: Transport | None = None,
        timer: Clock | None = None,
    ):
        self.spool = spool
        self.identity = identity
        self.state = state
        self.settings = settings
        self.policy = policy
        self.timer = timer or LoopClock()
        self.started = started if started is not None else self.timer.monotonic()
        if transport is None:
            from agent.transport.grpc_transport import GrpcTransport

            transport = GrpcTransport(identity.telemetry_target, state)
        self.transport = transport
        self.status = ShipperState()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._batch_id = 0

    def _on_append(self, *_args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, ship, and reconnect with backoff until stop is set."""
        self._loop = asyncio.get_running_loop()
        self.spool.add_listener(self._on_append)
        try:
            await self._reconnect_loop(stop)
        finally:
            self.spool.remove_listener(self._on_append)

    async def _reconnect_loop(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            progressed = await self._session(stop)
            if stop.is_set():
                break
            attempt = 0 if progressed else attempt + 1
            delay = backoff_delay(
                attempt, self.settings["shipper.backoff_initial_seconds"], self.settings["shipper.backoff_max_seconds"]
            )
            if self.status.refused:
                delay = self.settings["shipper.backoff_max_seconds"]
            log.info("reconnecting in %.1f s (%s)", delay, self.status.last_error or "stream ended")
            await wait_or_timeout(self.timer, stop, delay)

    async def flush(self, deadline: float) -> bool:
        """Try to deliver everything spooled within deadline seconds (used on shutdown)."""
        stop = asyncio.Event()
        task = asyncio.create_task(self._session(stop, until_empty=True))
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=deadline)
        except TimeoutError:
            stop.set()
            task.cancel()
        return await asyncio.to_thread(self.spool.depth) == 0

    async def _session(self, stop: asyncio.Event, until_empty: bool = False) -> bool:
        """One stream; returns True when the collector acknowledged anything (resets the backoff)."""
        progressed = False
        if self._certificate_expired():
            return False
        renewal.recover(self.state)  # a renewal a crash left half-installed, before the pair is read
        try:
            stream = await self.transport.open(self.settings["shipper.connect_timeout_seconds"])
        except Unreachable:
            self.status.last_error = f"cannot reach collector {self.transport.target}"
            return False
        session = _Session(self, stream, stop, until_empty)
        try:
            progressed = await session.run()
            self.status.refused = False
        except StreamError as exc:
            progressed = session.acked_any
            self.status.last_error = f"{exc.code}: {exc.details}"
            self.status.refused = exc.code in FATAL_CODES
            if self.status.refused:
                log.error("collector refused this agent: %s", self.status.last_error)
            else:
                log.warning("stream ended: %s", self.status.last_error)
        except Restamped as exc:
            # enroll --force renumbered the spool for the new identity: reconnect with the certificate now
            # on disk, from a fresh cursor; nothing was acked or sent by the old numbering.
            progressed = True
            self.status.last_error = f"re-enrolled: {exc}"
            log.warning("spool re-stamped for a new enrollment; reconnecting: %s", exc)
        except CollectorFault as exc:
            progressed = session.acked_any
            self.status.last_error = str(exc)
            self.status.refused = True  # the same answer comes on every reconnect: retry slowly
            log.error("%s", exc)
        except (StreamBroken, OSError) as exc:
            # Whatever happens to one stream, the shipper lives on and reconnects.
            progressed = session.acked_any
            self.status.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("stream failed: %s", self.status.last_error)
        finally:
            self.status.connected = False
            await stream.close()
        return progressed

    def _certificate_expired(self) -> bool:
        """An expired certificate fails every handshake: say so, rather than "cannot reach collector"."""
        try:
            expired = renewal.horizon(self.state).expired(clock.now())
        except (OSError, ValueError):
            return False  # the handshake will say what is wrong with the file
        if expired and not self.status.cert_expired:
            log.error("%s", renewal.expired_message())
        self.status.cert_expired = expired
        if expired:
            self.status.last_error = renewal.expired_message()
            self.status.refused = True  # retried slowly: a re-enrollment replaces the certificate on disk
        return expired


class _Session:
    """The state of one stream: what has been sent and not yet acknowledged."""

    def __init__(self, shipper: Shipper, stream: Stream, stop: asyncio.Event, until_empty: bool):
        self.s = shipper
        self.stream = stream
        self.stop = stop
        self.until_empty = until_empty
        self.in_flight: deque[tuple[int, int]] = deque()  # (batch_id, last seq)
        self.last_sent = 0
        self.acked_upto = 0  # the highest seq this stream has deleted from the spool on an ack
        self.acked_any = False
        self.ended = asyncio.Event()
        # Nothing is sent before the collector's Welcome: it may show our seq counter fell behind.
        self.welcomed = asyncio.Event()
        self.epoch: int | None = None  # the spool numbering this stream's seqs refer to, read at Welcome

    async def run(self) -> bool:
        eff = self.s.policy.current
        receiver = asyncio.create_task(self._receive())
        stop_watch = asyncio.create_task(self._wake_on_stop())
        try:
            ca_sha256 = hashlib.sha256(self.s.state.ca_cert.read_bytes()).hexdigest()
            await self.stream.send(Hello(agent_version=__version__, policy_version=eff.version, ca_sha256=ca_sha256))
            await self._send_loop()
        except (StreamBroken, StreamError):
            # A write failed because the stream ended under us; the receiver holds the reason.
            await asyncio.wait([receiver], timeout=5)
            self._raise_from(receiver)
            raise
        finally:
            stop_watch.cancel()
            if not receiver.done():
                receiver.cancel()
        self._raise_from(receiver)
        return self.acked_any

    async def _wake_on_stop(self) -> None:
        await self.stop.wait()
        self.s._wake.set()

    @staticmethod
    def _raise_from(receiver: asyncio.Task[None]) -> None:
        if receiver.done() and not receiver.cancelled() and receiver.exception() is not None:
            raise receiver.exception()  # type: ignore[misc]

    async def _send_loop(self) -> None:
        s = self.s
        max_events = s.settings["shipper.batch_max_events"]
        max_in_flight = s.settings["shipper.max_in_flight_batches"]
        heartbeat_every = s.settings["shipper.heartbeat_seconds"]
        timer = s.timer
        next_heartbeat = timer.monotonic()
        waiters = [asyncio.ensure_future(e.wait()) for e in (self.welcomed, self.stop, self.ended)]
        await asyncio.wait(
            waiters, timeout=s.settings["shipper.connect_timeout_seconds"], return_when=asyncio.FIRST_COMPLETED
        )
        for w in waiters:
            w.cancel()
        if not self.welcomed.is_set():
            return
        woken = True  # look at the spool on the first pass and after every wake-up or ack
        while not self.stop.is_set() and not self.ended.is_set():
            s._wake.clear()
            if timer.monotonic() >= next_heartbeat:
                await self._heartbeat()
                next_heartbeat = timer.monotonic() + heartbeat_every
            sent = False
            # This process is the spool's only writer (`debug emit` asks it over the control channel), so every
            # append wakes us: a timer that fires finds nothing new and only leads to the heartbeat.
            if len(self.in_flight) < max_in_flight and woken:
                rows = await asyncio.to_thread(s.spool.pending, self.last_sent, max_events, self.epoch)
                if rows:
                    await self._send(rows)
                    sent = True
                elif self.until_empty and not self.in_flight:
                    await self.stream.done_writing()
                    return
            if sent:
                continue
            timeout = max(0.0, next_heartbeat - timer.monotonic())
            # One event and one timer handle per poll (no tasks): stop and the stream's end set _wake too.
            timed_out: list[bool] = []
            handle = timer.call_later(timeout, functools.partial(_expire, timed_out, s._wake))
            await s._wake.wait()
            handle.cancel()
            woken = not timed_out

    async def _send(self, rows: list[tuple[int, bytes]]) -> None:
        self.s._batch_id += 1
        await self.stream.send(Batch(self.s._batch_id, tuple(data for _seq, data in rows)))
        self.last_sent = rows[-1][0]
        self.in_flight.append((self.s._batch_id, self.last_sent))

    async def _heartbeat(self) -> None:
        s = self.s
        eff = s.policy.current
        depth = await asyncio.to_thread(s.spool.depth)
        await self.stream.send(
            Heartbeat(
                spool_depth=depth,
                policy_version=eff.version,
                policy_mode=eff.source,
                uptime_seconds=int(s.timer.monotonic() - s.started),
            )
        )

    async def _receive(self) -> None:
        s = self.s
        try:
            async for message in self.stream.receive():
                if isinstance(message, Welcome):
                    last_stored = _bounded_seq(message.last_stored_seq, "last_stored_seq")
                    await asyncio.to_thread(s.spool.rebase, last_stored)
                    self.epoch = await asyncio.to_thread(s.spool.epoch)
                    s.status.connected = True
                    s.status.last_error = ""
                    s.status.last_connected_at = clock.now().isoformat(timespec="seconds")
                    log.info("connected to collector as %s", message.agent_id)
                    self.welcomed.set()
                elif isinstance(message, Ack):
                    await self._on_ack(message)
                elif isinstance(message, PolicyUpdate):
                    await asyncio.to_thread(apply_policy, s, message)
                elif isinstance(message, TrustUpdate):
                    await asyncio.to_thread(apply_trust, s, message)
        finally:
            self.ended.set()
            s._wake.set()  # the send loop waits on _wake alone

    async def _on_ack(self, ack: Ack) -> None:
        s = self.s
        _bounded_seq(ack.acked_seq, "acked_seq")
        # Only what this stream sent is ours to delete: an ack past it (a collector holding seqs from another
        # copy of this state folder) must not drop events it never received. A stale or repeated ack is a no-op.
        upto = min(ack.acked_seq, self.last_sent)
        if upto <= self.acked_upto:
            return
        await asyncio.to_thread(s.spool.ack, upto, self.epoch)
        self.acked_upto = upto
        s.status.last_ack_seq = upto
        self.acked_any = True
        while self.in_flight and self.in_flight[0][1] <= upto:
            self.in_flight.popleft()
        s._wake.set()


def _expire(flag: list[bool], wake: asyncio.Event) -> None:
    flag.append(True)
    wake.set()


def apply_trust(shipper: Shipper, update: TrustUpdate) -> None:
    """A CA rollover: trust the new bundle, and renew at once when our certificate is from the old CA."""
    if update.ca_bundle_pem and not renewal.update_trust(shipper.state, update.ca_bundle_pem):
        return
    if update.renew_now:
        try:
            not_after = renewal.renew(
                shipper.identity,
                shipper.state,
                shipper.identity.agent_id,
                shipper.settings["shipper.connect_timeout_seconds"],
                shipper.transport,
            )
        except (renewal.RenewalError, OSError, ValueError) as exc:
            log.warning("certificate renewal for the CA rollover failed (retried on reconnect): %s", exc)
            return
        log.info("renewed this agent's certificate from the new CA; valid until %s", not_after.isoformat())


def apply_policy(shipper: Shipper, update: PolicyUpdate) -> None:
    """Store a pushed policy and record the outcome as an event; a bad one changes nothing."""
    try:
        eff = shipper.policy.apply(update.version, update.document)
    except (PolicyError, OSError) as exc:
        log.error("rejected policy %s: %s", update.version, exc)
        shipper.spool.append("policy.rejected", {"version": update.version[:64], "reason": str(exc)[:500]})
        return
    log.info("applied policy %s for segment %s", eff.version, eff.document["segment"])
    shipper.spool.append(
        "policy.applied",
        {
            "version": eff.version,
            "segment": eff.document["segment"],
            "sha256": shipper.policy.sha256(),
            "mode": eff.source,
        },
    )
