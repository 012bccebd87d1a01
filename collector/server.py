"""The collector's gRPC servers: enrollment over server TLS, telemetry over mutual TLS.

The agent's identity comes from the client certificate the TLS layer verified against our CA,
never from a message field. Protobuf types are converted to plain events here and go no further.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
import urllib.parse
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import grpc
from cryptography import x509
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2_grpc
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from collector import pki, rollover, validate
from collector.config import DataDir, agent_cert_lifetime
from collector.forward import outbox
from collector.forward.sender import Sender
from collector.health import DatabaseHealth, Health
from collector.ingest import IngestService
from collector.metrics import Metrics, OutboxStats
from collector.metrics_http import MetricsListener
from collector.policies import current_policy, generation
from collector.refusals import Refusals
from collector.rules import scheduler
from collector.servercert import ServerCert
from collector.store import enrollments, queries, retention
from collector.store.db import make_engine
from collector.store.ingest import BatchError, UnknownAgent, touch_agent
from mamori import clock
from mamori import events as ev
from mamori.i18n import _
from mamori.safetext import safe
from mamori.startup import StartupError
from mamori.v1 import enrollment_pb2, enrollment_pb2_grpc, telemetry_pb2, telemetry_pb2_grpc

log = logging.getLogger("mamori.collector.server")
TOKEN_REFUSALS = {
    "missing": "enrollment token missing",
    "unknown": "enrollment token is unknown",
    "expired": "enrollment token has expired",
    "used_up": "enrollment token has already been used",
    "revoked": "enrollment token has been revoked",
}


def peer_address(peer: str) -> str:
    """The address of a gRPC peer string ("ipv4:127.0.0.1:5000", "ipv6:%5B::1%5D:5000"), without the port."""
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return peer  # unix sockets and the like: the whole string is the best name there is
    host = urllib.parse.unquote(rest.rpartition(":")[0])
    return host.strip("[]")


@dataclass
class Peer:
    agent_id: str
    segment: str
    department: str
    serial_hex: str = ""  # of the certificate this call presented
    issuer: str = ""  # RFC 4514 name of the CA that issued it (a CA rollover asks old ones to renew)


@dataclass(eq=False)  # identity semantics: kept in sets, one per open stream
class StreamState:
    """What the collector-side tasks may signal to one open stream."""

    revoked: asyncio.Event = field(default_factory=asyncio.Event)
    policy_changed: asyncio.Event = field(default_factory=asyncio.Event)
    policy_version: str = ""  # the version this agent last reported or was sent
    trust_changed: asyncio.Event = field(default_factory=asyncio.Event)
    ca_sha256: str = ""  # the CA bundle this agent last reported or was sent
    renew_sent: bool = False


def _now() -> datetime:
    return clock.now()


@dataclass(frozen=True)
class Malformed:
    """Bytes that did not parse as the expected message; handed to the handler to refuse in words."""

    reason: str


def _lenient(parse):
    """A request deserializer that returns Malformed instead of raising: gRPC would answer an exception
    raised there with UNKNOWN and its class name, and log a traceback per message."""

    def deserialize(data: bytes):
        try:
            return parse(data)
        except DecodeError as exc:
            return Malformed(str(exc).rpartition(": ")[2].lower() or "unparsable")

    return deserialize


def _register(server, service: str, handlers: dict[str, Any]) -> None:
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_registered_method_handlers(service, handlers)


class Telemetry(telemetry_pb2_grpc.TelemetryServicer):
    """One bidirectional stream per agent: batches in, acks and policy updates out."""

    def __init__(
        self,
        engine: Engine,
        settings: dict[str, Any],
        stopping: asyncio.Event,
        metrics: Metrics | None = None,
        datadir: DataDir | None = None,
        server_cert: ServerCert | None = None,
    ):
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.ingest = IngestService(engine)
        self.datadir = datadir
        self.server_cert = server_cert
        self.cert_lifetime = agent_cert_lifetime(settings)
        self.max_batch = settings["server.max_batch_events"]
        self.stuck = Refusals(engine)  # refused batches in a row: a terminal that cannot deliver is OPS-003
        self.stopping = stopping
        # agent id -> the open streams of that agent (normally one)
        self.streams: dict[str, set[StreamState]] = defaultdict(set)
        # A misbehaving agent resends its bad batch on every reconnect: one line per 10 s, not a flood.
        self.refusals = validate.RefusalLog(log.warning)

    async def _refuse(
        self, peer: Peer, context, code: grpc.StatusCode, reason: str, logged: str = "", message=None
    ) -> None:
        self.refusals.refused(peer.agent_id, logged or reason)
        if message is not None and message.WhichOneof("body") == "batch":
            await self.stuck.refused(peer.agent_id, logged or reason, message.batch)
        await context.abort(code, reason)

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> Peer:
        auth = context.auth_context()
        pems = list(auth.get("x509_pem_cert") or [])
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
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"agent was superseded by a re-enrollment (new id {row.superseded_by})",
            )
        if not row.cert_matches(ident.serial_hex):
            # A certificate superseded by a later enrollment of the same agent id.
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "certificate is not the one on record")
        issuer = x509.load_pem_x509_certificate(pems[0]).issuer.rfc4514_string()
        return Peer(
            agent_id=ident.agent_id,
            segment=row.segment,
            department=row.department,
            serial_hex=ident.serial_hex,
            issuer=issuer,
        )

    async def Renew(self, request, context: grpc.aio.ServicerContext):  # noqa: N802 (gRPC method name)
        """A new certificate for the key the agent just made; the identity is the one on record, not the CSR's."""
        peer = await self._authenticate(context)
        try:
            if isinstance(request, Malformed):
                raise validate.Invalid(f"not a valid RenewRequest ({request.reason})")
            validate.renew_request(request)
        except validate.Invalid as exc:
            self.refusals.refused(peer.agent_id, str(exc))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if self.datadir is None:  # a service built without the data folder has no CA to sign with
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "certificate renewal is not available here")
        ca_key, ca_cert = self.datadir.ca_key.read_bytes(), self.datadir.ca_cert.read_bytes()
        try:
            cert_pem = pki.sign_agent_csr(ca_key, ca_cert, request.csr_pem, peer.agent_id, self.cert_lifetime)
        except pki.PKIError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        ident = pki.cert_identity(cert_pem)
        recorded = await asyncio.to_thread(
            queries.renew_agent_cert,
            self.engine,
            agent_id=peer.agent_id,
            presented_serial=peer.serial_hex,
            cert_serial=ident.serial_hex,
            cert_sha256=ident.sha256,
            cert_not_after=ident.not_after,
            now=_now(),
            peer=peer_address(context.peer()),
        )
        if not recorded:  # revoked or re-enrolled between the handshake and now
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "certificate is not the one on record")
        log.info(
            "renewed the certificate of agent %s (serial %s, valid until %s)",
            peer.agent_id,
            ident.serial_hex,
            ident.not_after.isoformat(),
        )
        return telemetry_pb2.RenewResponse(certificate_pem=cert_pem, ca_chain_pem=ca_cert)

    # N802: gRPC's method name. override: grpc.aio also takes a coroutine that answers with context.write();
    # the servicer stub only models generators.
    async def Stream(self, request_iterator, context: grpc.aio.ServicerContext):  # type: ignore[override]  # noqa: N802
        peer = await self._authenticate(context)
        # Streaming with the renewed certificate: the one it replaced is no identity any more.
        await asyncio.to_thread(queries.forget_previous_cert, self.engine, peer.agent_id, peer.serial_hex)
        state = StreamState()
        self.streams[peer.agent_id].add(state)
        self.metrics.streams.labels(peer.segment).inc()
        log.info("agent %s connected from %s", peer.agent_id, context.peer())
        try:
            row = await asyncio.to_thread(queries.get_agent, self.engine, peer.agent_id)
            if row is None:  # deleted since the handshake
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "agent is not enrolled here")
            await context.write(
                telemetry_pb2.CollectorMessage(
                    welcome=telemetry_pb2.Welcome(agent_id=peer.agent_id, last_stored_seq=row.last_seq)
                )
            )
            await self._loop(peer, context, state)
        finally:
            self.metrics.streams.labels(peer.segment).dec()
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
            trust = asyncio.ensure_future(state.trust_changed.wait())
            done, _ = await asyncio.wait({read, stop, drain, changed, trust}, return_when=asyncio.FIRST_COMPLETED)
            for fut in (stop, drain, changed, trust):
                fut.cancel()
            if read in done:
                message = read.result()
                if isinstance(message, Malformed):
                    raise validate.Invalid(f"not a valid AgentMessage ({message.reason})")
                return None if message is grpc.aio.EOF else message
            if state.revoked.is_set():
                read.cancel()
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, "agent has been revoked")
            if self.stopping.is_set():
                read.cancel()
                await context.abort(grpc.StatusCode.UNAVAILABLE, "collector is shutting down; reconnect")
            if state.trust_changed.is_set():
                state.trust_changed.clear()
                await self._push_trust(peer, context, state)
            if state.policy_changed.is_set():
                state.policy_changed.clear()
                await self._push_policy(peer, context, state)

    async def _push_trust(self, peer: Peer, context, state: StreamState) -> None:
        """A CA rollover: send the bundle to trust if the agent's differs, and ask a renewal of a certificate
        from the old CA (once per stream: the agent answers with a Renew call)."""
        if self.server_cert is None:
            return
        bundle = self.server_cert.trust
        sha = rollover.bundle_sha256(bundle)
        signer = rollover.certs_in(bundle)[0].subject.rfc4514_string()
        renew = peer.issuer != signer and not state.renew_sent
        if sha == state.ca_sha256 and not renew:
            return
        await context.write(
            telemetry_pb2.CollectorMessage(trust=telemetry_pb2.TrustUpdate(ca_bundle_pem=bundle, renew_now=renew))
        )
        state.ca_sha256, state.renew_sent = sha, state.renew_sent or renew

    async def _push_policy(self, peer: Peer, context, state: StreamState) -> None:
        """Send the agent its policy (segment document + its approved devices and 一時許可) if it changed."""
        version, document = await asyncio.to_thread(
            current_policy, self.engine, peer.segment, peer.agent_id, peer.department
        )
        if version != state.policy_version:
            await context.write(
                telemetry_pb2.CollectorMessage(
                    policy=telemetry_pb2.PolicyUpdate(version=version, segment=peer.segment, document=document)
                )
            )
            state.policy_version = version

    async def _loop(self, peer: Peer, context, state: StreamState) -> None:
        while True:
            message = None
            try:
                message = await self._next(peer, context, state)
                if message is None:
                    return
                validate.agent_message(message, self.max_batch)
                await self._dispatch(peer, message, context, state)
            except (validate.Invalid, ev.EventError, BatchError) as exc:
                # Nothing of a refused message is stored: the whole batch is one transaction or none.
                self._count_refusal(_refusal_reason(exc, message), message)
                await self._refuse(peer, context, grpc.StatusCode.INVALID_ARGUMENT, str(exc), message=message)
            except UnknownAgent:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "agent is not enrolled here")
            except sa_exc.OperationalError:
                # The store is down or busy, not the agent's fault: it keeps the batch and retries.
                log.warning("agent %s: store unavailable", peer.agent_id)
                self._count_refusal("store_unavailable", message)
                await context.abort(grpc.StatusCode.UNAVAILABLE, "the collector's database is unavailable; retry")
            except sa_exc.DBAPIError as exc:
                # Data the bounds let through but a column refused: the agent is told so without SQL text or
                # class names; staff get the driver's first line.
                self._count_refusal("store_refused", message)
                await self._refuse(
                    peer,
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "the store refused a value of this message; nothing of it was stored",
                    logged=f"store refused it: {str(exc.orig).splitlines()[0][:300]}",
                    message=message,
                )

    def _count_refusal(self, reason: str, message) -> None:
        batch = message is not None and message.WhichOneof("body") == "batch"
        self.metrics.refusal(reason, len(message.batch.events) if batch else 0)

    async def _dispatch(self, peer: Peer, message, context, state: StreamState) -> None:
        body = message.WhichOneof("body")
        if body == "batch":
            await self._batch(peer, message.batch, context)
        elif body == "heartbeat":
            hb = message.heartbeat
            await asyncio.to_thread(
                touch_agent,
                self.engine,
                peer.agent_id,
                seen_at=_now(),
                policy_version=hb.policy_version or None,
            )
        elif body == "hello":
            await self._hello(peer, message.hello, context, state)

    async def _hello(self, peer: Peer, hello, context, state: StreamState) -> None:
        await asyncio.to_thread(
            touch_agent,
            self.engine,
            peer.agent_id,
            seen_at=_now(),
            policy_version=hello.policy_version or None,
            agent_version=hello.agent_version or None,
        )
        state.policy_version = hello.policy_version
        state.ca_sha256 = hello.ca_sha256
        await self._push_trust(peer, context, state)
        await self._push_policy(peer, context, state)

    async def _batch(self, peer: Peer, batch, context) -> None:
        started = time.monotonic()
        result = await asyncio.to_thread(self.ingest.store, peer.agent_id, batch.events, _now())
        self.metrics.batch_seconds.observe(time.monotonic() - started)
        self.metrics.ingested.labels(peer.segment).inc(result.stored)
        self.metrics.duplicates.labels(peer.segment).inc(result.duplicates)
        self.stuck.stored(peer.agent_id)  # a stored batch ends a run of refusals
        await context.write(
            telemetry_pb2.CollectorMessage(ack=telemetry_pb2.Ack(batch_id=batch.batch_id, acked_seq=result.acked_seq))
        )

    async def watch(self, interval: float) -> None:
        """Tell open streams about revocations and policy changes made by staff (maybe via another collector)."""
        last_generation = await asyncio.to_thread(generation, self.engine)
        while True:
            await asyncio.sleep(interval)
            if self.server_cert is not None:
                try:
                    # `pki rollover-ca` / `finish-rollover` ran: new handshakes and open streams learn of it.
                    if await asyncio.to_thread(self.server_cert.reload):
                        for states in list(self.streams.values()):
                            for state in states:
                                state.trust_changed.set()
                except OSError:
                    log.exception("cannot reload the certificates")
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


def _refusal_reason(exc: Exception, message) -> str:
    """A bounded label for a refusal: the exception's text is the agent's doing and never becomes a label."""
    if isinstance(exc, BatchError):
        return "bad_sequence"
    if isinstance(exc, ev.EventError):
        return "invalid_event"
    # No message: the bytes did not even parse (see _next).
    return "malformed" if message is None else "invalid_message"


class Enrollment(enrollment_pb2_grpc.EnrollmentServicer):
    """Token + CSR in, certificate out; the token is spent only when a certificate is issued."""

    def __init__(self, engine: Engine, datadir: DataDir, settings: dict[str, Any], telemetry_port: int):
        self.engine = engine
        self.datadir = datadir  # the CA is read per call: `pki rollover-ca` may replace it while serving
        self.cert_lifetime = agent_cert_lifetime(settings)
        self.telemetry_port = telemetry_port
        self.refusals = validate.RefusalLog(log.warning, who="enrollment from")
        # A token cannot be guessed, but guessing must still not be free, nor fill the audit log unseen.
        self.max_failures = settings["server.enroll_max_failures"]
        self.failure_window = timedelta(seconds=settings["server.enroll_failure_window_seconds"])

    async def _refuse(self, context, address: str, reason: str, facts, token_id: int | None = None) -> None:
        """Record a failed enrollment (audit log, counted by the throttle) and end the call."""
        await asyncio.to_thread(
            enrollments.record_refusal,
            self.engine,
            at=_now(),
            address=address,
            reason=reason,
            token_id=token_id,
            hostname=facts.hostname,
        )
        log.warning("enrollment refused from %s (%s, host %s)", address, reason, safe(facts.hostname))
        code = grpc.StatusCode.UNAUTHENTICATED if reason == "missing" else grpc.StatusCode.PERMISSION_DENIED
        await context.abort(code, TOKEN_REFUSALS[reason])

    async def Enroll(self, request, context):  # noqa: N802 (gRPC method name)
        try:
            if isinstance(request, Malformed):
                raise validate.Invalid(f"not a valid EnrollRequest ({request.reason})")
            validate.enroll_request(request)
        except validate.Invalid as exc:
            # No identity yet: one line per peer address and 10 s.
            self.refusals.refused(peer_address(context.peer()), str(exc))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        facts = request.host
        address = peer_address(context.peer())
        if await asyncio.to_thread(
            enrollments.throttled, self.engine, address, _now(), self.max_failures, self.failure_window
        ):
            # Not recorded again: a flood would otherwise fill the audit log; the refusals before it are there.
            log.warning("enrollment from %s throttled after %d failures", address, self.max_failures)
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "too many failed enrollments from this address; try again later"
            )
        if not request.token:
            await self._refuse(context, address, "missing", facts)
        agent_id = str(uuid.uuid4())
        try:
            ca_key, ca_cert = self.datadir.ca_key.read_bytes(), self.datadir.ca_cert.read_bytes()
            cert_pem = pki.sign_agent_csr(ca_key, ca_cert, request.csr_pem, agent_id, self.cert_lifetime)
        except pki.PKIError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        ident = pki.cert_identity(cert_pem)
        try:
            token = await asyncio.to_thread(
                queries.enroll_agent,
                self.engine,
                token_hash=pki.hash_token(request.token),
                now=_now(),
                agent_id=agent_id,
                hostname=facts.hostname,
                os=facts.os,
                os_version=facts.os_version,
                agent_version=facts.agent_version,
                machine_id=facts.machine_id,
                cert_serial=ident.serial_hex,
                cert_sha256=ident.sha256,
                cert_not_after=ident.not_after,
                previous_agent_id=request.previous_agent_id,
                peer=address,
            )
        except queries.TokenError as exc:
            await self._refuse(context, address, exc.reason, facts, exc.token_id)
        # The host name is the agent's to choose: escaped, so it cannot forge a log line or a terminal sequence.
        log.info("enrolled agent %s (%s, %s) from %s", agent_id, safe(facts.hostname), token.segment, address)
        return enrollment_pb2.EnrollResponse(
            agent_id=agent_id,
            certificate_pem=cert_pem,
            ca_chain_pem=ca_cert,
            segment=token.segment,
            department=token.department,
            telemetry_port=self.telemetry_port,
        )


def _metrics_listener(
    settings: dict[str, Any], metrics: Metrics, db_health: DatabaseHealth, datadir: DataDir
) -> MetricsListener | None:
    """Bound before the gRPC servers start, so a port taken since startup's check stops nothing half-started."""
    if not settings["metrics.listen"]:
        return None
    try:
        return MetricsListener(settings["metrics.listen"], metrics.registry, db_health.check)
    except OSError:
        raise StartupError(
            _("cannot listen on {addrs}: a port is in use or not permitted; see {config}").format(
                addrs=settings["metrics.listen"], config=datadir.config
            )
        ) from None


HEALTH_WATCH_SECONDS = 5.0  # how often Watch callers of the health service see a fresh probe


def _options(settings: dict[str, Any], reuseport: bool = False) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", settings["server.max_message_bytes"]),
        ("grpc.max_send_message_length", 16 * 1024 * 1024),
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        # Two collectors must not silently share one port; the workers of one do (collector.workers), on a port
        # their parent holds.
        ("grpc.so_reuseport", 1 if reuseport else 0),
    ]


def _outbox_stats(engine, now) -> list[OutboxStats]:
    """The forwarding outbox's depth per destination, for /metrics."""
    with engine.connect() as conn:
        return [OutboxStats(d.destination, d.depth, d.oldest_age_seconds) for d in outbox.status(conn, now)]


async def serve(datadir: DataDir, settings: dict[str, Any], ready=None, reuseport: bool = False) -> None:
    """Run both servers until SIGTERM/SIGINT, then drain: finish in-flight batches and stop."""
    engine = make_engine(datadir.database_url(settings))
    server_cert = ServerCert(datadir, settings)
    server_cert.renew_if_due()  # a collector that was down long enough starts with a fresh one
    stopping = asyncio.Event()
    metrics = Metrics()
    db_health = DatabaseHealth(datadir.database_url(settings))
    metrics.attach_store(engine, {"ca": datadir.ca_cert, "server": datadir.server_cert}, db_health.check, _outbox_stats)
    telemetry = Telemetry(engine, settings, stopping, metrics, datadir, server_cert)
    listener = _metrics_listener(settings, metrics, db_health, datadir)
    tele_server = grpc.aio.server(options=_options(settings, reuseport))
    _register(
        tele_server,
        "mamori.v1.Telemetry",
        {
            "Stream": grpc.stream_stream_rpc_method_handler(
                telemetry.Stream,
                request_deserializer=_lenient(telemetry_pb2.AgentMessage.FromString),
                response_serializer=telemetry_pb2.CollectorMessage.SerializeToString,
            ),
            "Renew": grpc.unary_unary_rpc_method_handler(
                telemetry.Renew,
                request_deserializer=_lenient(telemetry_pb2.RenewRequest.FromString),
                response_serializer=telemetry_pb2.RenewResponse.SerializeToString,
            ),
        },
    )
    # require_client_auth: the TLS layer rejects peers without a certificate chaining to our CA.
    # The credentials follow server certificate renewals: open streams stay, new handshakes get the new one.
    tele_port = tele_server.add_secure_port(settings["server.listen"], server_cert.credentials(True))
    enroll_server = grpc.aio.server(options=_options(settings, reuseport))
    enrollment = Enrollment(engine, datadir, settings, settings["server.advertised_telemetry_port"] or tele_port)
    _register(
        enroll_server,
        "mamori.v1.Enrollment",
        {
            "Enroll": grpc.unary_unary_rpc_method_handler(
                enrollment.Enroll,
                request_deserializer=_lenient(enrollment_pb2.EnrollRequest.FromString),
                response_serializer=enrollment_pb2.EnrollResponse.SerializeToString,
            )
        },
    )
    # Health on the enrollment port: a load balancer or probe needs no client certificate there.
    health = Health(db_health, ("mamori.v1.Enrollment", "mamori.v1.Telemetry"))
    health_pb2_grpc.add_HealthServicer_to_server(health, enroll_server)
    enroll_port = enroll_server.add_secure_port(settings["server.enroll_listen"], server_cert.credentials(False))
    await tele_server.start()
    await enroll_server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    watcher = asyncio.create_task(telemetry.watch(settings["server.revocation_check_seconds"]))
    renewer = asyncio.create_task(server_cert.watch(settings["pki.check_seconds"]))
    ticker = asyncio.create_task(
        scheduler.run_forever(
            engine,
            settings["rules.tick_seconds"],
            f"{socket.gethostname()}:{tele_port}",
            metrics.tick_seconds.observe,
            metrics.tick_failures.inc,
        )
    )
    keeper = asyncio.create_task(retention.run_forever(engine, datadir.archive(settings), settings))
    health_watch = asyncio.create_task(health.watch(HEALTH_WATCH_SECONDS))
    if listener is not None:
        listener.start()
        host, port = listener.address
        log.info("serving metrics on http://%s/metrics", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    # Forwarding and mail: queued by ingest and rules in their transactions, sent from here (collector.forward).
    sender = Sender(engine, outbox.configure(settings), f"{socket.gethostname()}:{tele_port}")
    sender.start()
    log.info("serving telemetry on port %d, enrollment on port %d", tele_port, enroll_port)
    if ready is not None:
        ready(tele_port, enroll_port)
    await stopping.wait()
    log.info("shutting down: draining open streams")
    watcher.cancel()
    renewer.cancel()
    ticker.cancel()
    keeper.cancel()
    health_watch.cancel()
    await health.enter_graceful_shutdown()  # probes see NOT_SERVING while streams drain
    if listener is not None:
        listener.stop()
    grace = settings["server.shutdown_grace_seconds"]
    await enroll_server.stop(grace)
    await tele_server.stop(grace)
    await asyncio.to_thread(sender.stop)
    engine.dispose()
    db_health.dispose()
    log.info("stopped")
