"""The collector's gRPC servers: enrollment over server TLS, telemetry over mutual TLS.

The agent's identity comes from the client certificate the TLS layer verified against our CA,
never from a message field. Protobuf types are converted to plain events here and go no further.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import grpc
from sqlalchemy import Engine

from collector import pki
from collector.config import DataDir
from collector.policies import current_policy, generation
from collector.refusals import Refusals
from collector.rules import scheduler
from collector.store import queries
from collector.store.db import make_engine
from collector.store.ingest import BatchError, UnknownAgent, store_batch, touch_agent
from mamori import clock
from mamori import events as ev
from mamori.v1 import enrollment_pb2, enrollment_pb2_grpc, telemetry_pb2, telemetry_pb2_grpc

log = logging.getLogger("mamori.collector.server")
MAX_FACT_LEN = 255


@dataclass
class Peer:
    agent_id: str
    segment: str
    department: str


@dataclass(eq=False)  # identity semantics: kept in sets, one per open stream
class StreamState:
    """What the collector-side tasks may signal to one open stream."""

    revoked: asyncio.Event = field(default_factory=asyncio.Event)
    policy_changed: asyncio.Event = field(default_factory=asyncio.Event)
    policy_version: str = ""  # the version this agent last reported or was sent


def _now() -> datetime:
    return clock.now()


class Telemetry(telemetry_pb2_grpc.TelemetryServicer):
    """One bidirectional stream per agent: batches in, acks and policy updates out."""

    def __init__(self, engine: Engine, settings: dict[str, Any], stopping: asyncio.Event):
        self.engine = engine
        self.max_batch = settings["server.max_batch_events"]
        self.refusals = Refusals(engine)
        self.stopping = stopping
        # agent id -> the open streams of that agent (normally one)
        self.streams: dict[str, set[StreamState]] = defaultdict(set)

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> Peer:
        auth = context.auth_context()
        pems = auth.get("x509_pem_cert") or []
        if not pems:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "client certificate required")
        try:
            ident = pki.cert_identity(pems[0])
        except (pki.PKIError, ValueError) as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"certificate not usable: {exc}")
        status, row = await asyncio.to_thread(queries.agent_status, self.engine, ident.agent_id)
        if status == "unknown" or row is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "agent is not enrolled here")
        if status == "revoked":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "agent has been revoked")
        if status == "superseded":
            # The terminal enrolled again: its old certificate is no identity any more. Its unsent events
            # were re-stamped for the new id, so refusing loses nothing.
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"agent was superseded by a re-enrollment (new id {row.superseded_by})")
        if not row.cert_matches(ident.serial_hex):
            # A certificate superseded by a later enrollment of the same agent id.
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "certificate is not the one on record")
        return Peer(agent_id=ident.agent_id, segment=row.segment, department=row.department)

    async def Stream(self, request_iterator, context):  # noqa: N802 (gRPC method name)
        peer = await self._authenticate(context)
        state = StreamState()
        self.streams[peer.agent_id].add(state)
        log.info("agent %s connected from %s", peer.agent_id, context.peer())
        try:
            row = await asyncio.to_thread(queries.get_agent, self.engine, peer.agent_id)
            await context.write(
                telemetry_pb2.CollectorMessage(
                    welcome=telemetry_pb2.Welcome(agent_id=peer.agent_id, last_stored_seq=row.last_seq)
                )
            )
            await self._loop(peer, context, state)
        finally:
            self.streams[peer.agent_id].discard(state)
            if not self.streams[peer.agent_id]:
                del self.streams[peer.agent_id]
            log.info("agent %s disconnected", peer.agent_id)

    async def _next(self, peer: Peer, context, state: StreamState):
        """The next agent message, or None when the stream must end (EOF, revocation, shutdown).

        While waiting, a policy change made by staff is pushed to the agent.
        """
        read = asyncio.ensure_future(context.read())
        while True:
            stop = asyncio.ensure_future(state.revoked.wait())
            drain = asyncio.ensure_future(self.stopping.wait())
            changed = asyncio.ensure_future(state.policy_changed.wait())
            done, _ = await asyncio.wait({read, stop, drain, changed}, return_when=asyncio.FIRST_COMPLETED)
            for fut in (stop, drain, changed):
                fut.cancel()
            if read in done:
                message = read.result()
                return None if message is grpc.aio.EOF else message
            if state.revoked.is_set():
                read.cancel()
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, "agent has been revoked")
            if self.stopping.is_set():
                read.cancel()
                await context.abort(grpc.StatusCode.UNAVAILABLE, "collector is shutting down; reconnect")
            state.policy_changed.clear()
            await self._push_policy(peer, context, state)

    async def _push_policy(self, peer: Peer, context, state: StreamState) -> None:
        """Send the agent its policy (segment document + its approved devices and 一時許可) if it changed."""
        version, document = await asyncio.to_thread(current_policy, self.engine, peer.segment, peer.agent_id,
                                                    peer.department)
        if version != state.policy_version:
            await context.write(
                telemetry_pb2.CollectorMessage(
                    policy=telemetry_pb2.PolicyUpdate(version=version, segment=peer.segment, document=document)
                )
            )
            state.policy_version = version

    async def _loop(self, peer: Peer, context, state: StreamState) -> None:
        while True:
            message = await self._next(peer, context, state)
            if message is None:
                return
            body = message.WhichOneof("body")
            if body == "batch":
                await self._batch(peer, message.batch, context)
            elif body == "heartbeat":
                hb = message.heartbeat
                await asyncio.to_thread(
                    touch_agent, self.engine, peer.agent_id, seen_at=_now(),
                    policy_version=hb.policy_version or None,
                )
            elif body == "hello":
                await self._hello(peer, message.hello, context, state)
            else:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "empty agent message")

    async def _hello(self, peer: Peer, hello, context, state: StreamState) -> None:
        await asyncio.to_thread(
            touch_agent, self.engine, peer.agent_id, seen_at=_now(),
            policy_version=hello.policy_version or None, agent_version=hello.agent_version[:64] or None,
        )
        state.policy_version = hello.policy_version
        await self._push_policy(peer, context, state)

    async def _batch(self, peer: Peer, batch, context) -> None:
        if len(batch.events) > self.max_batch:
            await self.refusals.refused(peer.agent_id, f"batch of {len(batch.events)} events", batch)
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"batch of {len(batch.events)} events exceeds the limit of {self.max_batch}",
            )
        try:
            decoded = [ev.decode(e) for e in batch.events]
        except ev.EventError as exc:
            # Nothing of a malformed batch is stored: the agent must not keep resending it blindly.
            await self.refusals.refused(peer.agent_id, f"malformed event: {exc}", batch)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed event: {exc}")
        try:
            result = await asyncio.to_thread(store_batch, self.engine, peer.agent_id, decoded, _now())
        except UnknownAgent:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "agent is not enrolled here")
        except BatchError as exc:
            await self.refusals.refused(peer.agent_id, str(exc), batch)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except Exception as exc:  # the store failed (a constraint, the database): the agent resends it forever
            await self.refusals.refused(peer.agent_id, f"{type(exc).__name__}: {exc}", batch)
            raise
        self.refusals.stored(peer.agent_id)
        await context.write(
            telemetry_pb2.CollectorMessage(
                ack=telemetry_pb2.Ack(batch_id=batch.batch_id, acked_seq=result.acked_seq)
            )
        )

    async def watch(self, interval: float) -> None:
        """Tell open streams about revocations and policy changes made by staff (maybe via another collector)."""
        last_generation = await asyncio.to_thread(generation, self.engine)
        while True:
            await asyncio.sleep(interval)
            if not self.streams:
                continue
            try:
                revoked = await asyncio.to_thread(queries.revoked_agent_ids, self.engine, list(self.streams))
                current = await asyncio.to_thread(generation, self.engine)
            except Exception:  # a store hiccup must not end these checks for good
                log.exception("revocation/policy check failed")
                continue
            for agent_id in revoked:
                for state in self.streams.get(agent_id, ()):
                    state.revoked.set()
            if current != last_generation:
                last_generation = current
                for states in list(self.streams.values()):
                    for state in states:
                        state.policy_changed.set()


class Enrollment(enrollment_pb2_grpc.EnrollmentServicer):
    """Token + CSR in, certificate out; the token is spent only when a certificate is issued."""

    def __init__(self, engine: Engine, datadir: DataDir, settings: dict[str, Any], telemetry_port: int):
        self.engine = engine
        self.ca_key = datadir.ca_key.read_bytes()
        self.ca_cert = datadir.ca_cert.read_bytes()
        self.cert_days = settings["pki.agent_cert_days"]
        self.telemetry_port = telemetry_port

    async def Enroll(self, request, context):  # noqa: N802 (gRPC method name)
        facts = request.host
        for name in ("hostname", "os", "os_version", "agent_version", "machine_id"):
            if len(getattr(facts, name)) > MAX_FACT_LEN:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"host.{name} is too long")
        if not request.token:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "enrollment token missing")
        agent_id = str(uuid.uuid4())
        try:
            cert_pem = pki.sign_agent_csr(self.ca_key, self.ca_cert, request.csr_pem, agent_id, self.cert_days)
        except pki.PKIError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        ident = pki.cert_identity(cert_pem)
        try:
            token = await asyncio.to_thread(
                queries.enroll_agent, self.engine,
                token_hash=pki.hash_token(request.token), now=_now(), agent_id=agent_id,
                hostname=facts.hostname, os=facts.os, os_version=facts.os_version,
                agent_version=facts.agent_version, machine_id=facts.machine_id,
                cert_serial=ident.serial_hex, cert_sha256=ident.sha256, cert_not_after=ident.not_after,
                previous_agent_id=request.previous_agent_id[:MAX_FACT_LEN],
            )
        except queries.TokenError as exc:
            reason = {
                "unknown": "enrollment token is unknown",
                "expired": "enrollment token has expired",
                "used_up": "enrollment token has already been used",
            }.get(exc.reason, str(exc))
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, reason)
        log.info("enrolled agent %s (%s, %s)", agent_id, facts.hostname, token.segment)
        return enrollment_pb2.EnrollResponse(
            agent_id=agent_id, certificate_pem=cert_pem, ca_chain_pem=self.ca_cert,
            segment=token.segment, department=token.department, telemetry_port=self.telemetry_port,
        )


def _options(settings: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", settings["server.max_message_bytes"]),
        ("grpc.max_send_message_length", 16 * 1024 * 1024),
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.so_reuseport", 0),  # two collectors must not silently share one port
    ]


async def serve(datadir: DataDir, settings: dict[str, Any], ready=None) -> None:
    """Run both servers until SIGTERM/SIGINT, then drain: finish in-flight batches and stop."""
    engine = make_engine(datadir.database_url(settings))
    key, cert, ca = (datadir.server_key.read_bytes(), datadir.server_cert.read_bytes(),
                     datadir.ca_cert.read_bytes())
    stopping = asyncio.Event()
    telemetry = Telemetry(engine, settings, stopping)
    tele_server = grpc.aio.server(options=_options(settings))
    telemetry_pb2_grpc.add_TelemetryServicer_to_server(telemetry, tele_server)
    # require_client_auth: the TLS layer rejects peers without a certificate chaining to our CA.
    tele_port = tele_server.add_secure_port(
        settings["server.listen"], grpc.ssl_server_credentials([(key, cert)], ca, require_client_auth=True)
    )
    enroll_server = grpc.aio.server(options=_options(settings))
    enrollment_pb2_grpc.add_EnrollmentServicer_to_server(
        Enrollment(engine, datadir, settings, settings["server.advertised_telemetry_port"] or tele_port),
        enroll_server
    )
    enroll_port = enroll_server.add_secure_port(
        settings["server.enroll_listen"], grpc.ssl_server_credentials([(key, cert)])
    )
    await tele_server.start()
    await enroll_server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    watcher = asyncio.create_task(telemetry.watch(settings["server.revocation_check_seconds"]))
    ticker = asyncio.create_task(scheduler.run_forever(engine, settings["rules.tick_seconds"],
                                                       f"{socket.gethostname()}:{tele_port}"))
    log.info("serving telemetry on port %d, enrollment on port %d", tele_port, enroll_port)
    if ready is not None:
        ready(tele_port, enroll_port)
    await stopping.wait()
    log.info("shutting down: draining open streams")
    watcher.cancel()
    ticker.cancel()
    grace = settings["server.shutdown_grace_seconds"]
    await enroll_server.stop(grace)
    await tele_server.stop(grace)
    engine.dispose()
    log.info("stopped")
