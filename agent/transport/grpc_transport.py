"""The telemetry transport over one mutual-TLS gRPC channel: protobuf is built and read here and nowhere else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from agent.config import StateDir
from agent.transport import (
    Ack,
    AgentMessage,
    Batch,
    CollectorMessage,
    Enrolled,
    EnrollRequest,
    Heartbeat,
    PolicyUpdate,
    Renewed,
    StreamBroken,
    StreamError,
    TrustUpdate,
    Unreachable,
    Welcome,
)
from mamori.v1 import enrollment_pb2, enrollment_pb2_grpc, events_pb2, telemetry_pb2, telemetry_pb2_grpc

# Keepalives notice a dead collector (or a cut link) within a minute even when nothing is sent.
_OPTIONS = [("grpc.keepalive_time_ms", 30_000), ("grpc.keepalive_timeout_ms", 10_000)]


def _credentials(state: StateDir) -> grpc.ChannelCredentials:
    # Read on every connection: a renewal or a CA rollover replaces these files while the agent runs.
    return grpc.ssl_channel_credentials(
        root_certificates=state.ca_cert.read_bytes(),
        private_key=state.key.read_bytes(),
        certificate_chain=state.cert.read_bytes(),
    )


def _error(exc: grpc.aio.AioRpcError | grpc.RpcError) -> StreamError:
    code = exc.code()
    return StreamError(code.name if code is not None else "UNKNOWN", exc.details() or "")


def _to_wire(message: AgentMessage) -> telemetry_pb2.AgentMessage:
    if isinstance(message, Batch):
        batch = telemetry_pb2.EventBatch(batch_id=message.batch_id)
        batch.events.extend(events_pb2.Event.FromString(data) for data in message.events)
        return telemetry_pb2.AgentMessage(batch=batch)
    if isinstance(message, Heartbeat):
        return telemetry_pb2.AgentMessage(
            heartbeat=telemetry_pb2.Heartbeat(
                spool_depth=message.spool_depth,
                policy_version=message.policy_version,
                policy_mode=message.policy_mode,
                uptime_seconds=message.uptime_seconds,
            )
        )
    return telemetry_pb2.AgentMessage(
        hello=telemetry_pb2.Hello(
            agent_version=message.agent_version, policy_version=message.policy_version, ca_sha256=message.ca_sha256
        )
    )


def _from_wire(message: telemetry_pb2.CollectorMessage) -> CollectorMessage | None:
    body = message.WhichOneof("body")
    if body == "welcome":
        return Welcome(message.welcome.agent_id, message.welcome.last_stored_seq)
    if body == "ack":
        return Ack(message.ack.batch_id, message.ack.acked_seq)
    if body == "policy":
        return PolicyUpdate(message.policy.version, message.policy.segment, message.policy.document)
    if body == "trust":
        return TrustUpdate(message.trust.ca_bundle_pem, message.trust.renew_now)
    return None  # a body from a newer collector: not ours to act on


class GrpcStream:
    def __init__(self, channel: grpc.aio.Channel, call: grpc.aio.StreamStreamCall) -> None:
        self._channel = channel
        self._call = call

    async def send(self, message: AgentMessage) -> None:
        try:
            await self._call.write(_to_wire(message))
        except (asyncio.InvalidStateError, grpc.aio.UsageError) as exc:
            raise StreamBroken(str(exc)) from None
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None

    async def receive(self) -> AsyncIterator[CollectorMessage]:
        try:
            async for wire in self._call:
                message = _from_wire(wire)
                if message is not None:
                    yield message
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None
        except (asyncio.InvalidStateError, grpc.aio.UsageError) as exc:
            raise StreamBroken(str(exc)) from None

    async def done_writing(self) -> None:
        try:
            await self._call.done_writing()
        except (asyncio.InvalidStateError, grpc.aio.UsageError) as exc:
            raise StreamBroken(str(exc)) from None

    async def close(self) -> None:
        self._call.cancel()
        await self._channel.close()


class GrpcTransport:
    """Streams and renewals to one collector, authenticated by the certificate in the state folder."""

    def __init__(self, target: str, state: StateDir) -> None:
        self._target = target
        self._state = state

    @property
    def target(self) -> str:
        return self._target

    async def open(self, timeout: float) -> GrpcStream:
        channel = grpc.aio.secure_channel(self._target, _credentials(self._state), _OPTIONS)
        try:
            await asyncio.wait_for(channel.channel_ready(), timeout)
        except TimeoutError:
            await channel.close()
            raise Unreachable(self._target) from None
        except BaseException:
            await channel.close()
            raise
        return GrpcStream(channel, telemetry_pb2_grpc.TelemetryStub(channel).Stream())

    def renew(self, csr_pem: bytes, timeout: float) -> Renewed:
        with grpc.secure_channel(self._target, _credentials(self._state)) as channel:
            try:
                reply = telemetry_pb2_grpc.TelemetryStub(channel).Renew(
                    telemetry_pb2.RenewRequest(csr_pem=csr_pem), timeout=timeout
                )
            except grpc.RpcError as exc:
                raise _error(exc) from None
        return Renewed(reply.certificate_pem, reply.ca_chain_pem)


def enroll(target: str, ca_pem: bytes, request: EnrollRequest, timeout: float) -> Enrolled:
    """The Enroll call over server-authenticated TLS (the terminal has no certificate yet).

    Raises StreamError with the status name when it fails; a collector that cannot be reached is UNAVAILABLE.
    """
    wire = enrollment_pb2.EnrollRequest(
        token=request.token,
        previous_agent_id=request.previous_agent_id,
        csr_pem=request.csr_pem,
        host=enrollment_pb2.HostFacts(
            hostname=request.host.hostname,
            os=request.host.os,
            os_version=request.host.os_version,
            agent_version=request.host.agent_version,
            machine_id=request.host.machine_id,
        ),
    )
    with grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca_pem)) as channel:
        try:
            reply = enrollment_pb2_grpc.EnrollmentStub(channel).Enroll(wire, timeout=timeout)
        except grpc.RpcError as exc:
            raise _error(exc) from None
    return Enrolled(reply.agent_id, reply.certificate_pem, reply.segment, reply.department, reply.telemetry_port)
