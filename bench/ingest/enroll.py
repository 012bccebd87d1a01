"""Enroll simulated agents for real: own key and CSR each, one Enrollment RPC each over server TLS."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import grpc

from bench.procs import LOOPBACK
from mamori import __version__
from mamori.keys import key_pem, make_csr, new_private_key
from mamori.v1 import enrollment_pb2, enrollment_pb2_grpc

ENROLL_TIMEOUT = 60.0
ENROLL_CONCURRENCY = 16


@dataclass(frozen=True)
class Credentials:
    """What an enrolled agent keeps: its id, private key and client certificate (PEM)."""

    agent_id: str
    key_pem: bytes
    cert_pem: bytes


def _request(index: int, token: str) -> tuple[bytes, enrollment_pb2.EnrollRequest]:
    key = new_private_key()  # as agent/identity.py does: the key never leaves the "terminal"
    hostname = f"bench-{index:05d}"
    request = enrollment_pb2.EnrollRequest(
        token=token,
        csr_pem=make_csr(key, hostname),
        host=enrollment_pb2.HostFacts(
            hostname=hostname, os="Linux", os_version="bench", agent_version=__version__, machine_id=uuid.uuid4().hex
        ),
    )
    return key_pem(key), request


async def _enroll_one(
    stub: enrollment_pb2_grpc.EnrollmentStub, index: int, token: str, limit: asyncio.Semaphore
) -> Credentials:
    key, request = _request(index, token)
    async with limit:
        reply = await stub.Enroll(request, timeout=ENROLL_TIMEOUT)
    return Credentials(agent_id=reply.agent_id, key_pem=key, cert_pem=reply.certificate_pem)


async def _enroll_all(port: int, ca_pem: bytes, token: str, count: int) -> list[Credentials]:
    creds = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    async with grpc.aio.secure_channel(f"{LOOPBACK}:{port}", creds) as channel:
        stub = enrollment_pb2_grpc.EnrollmentStub(channel)
        limit = asyncio.Semaphore(ENROLL_CONCURRENCY)
        return list(await asyncio.gather(*(_enroll_one(stub, i, token, limit) for i in range(count))))


def enroll_agents(port: int, ca_pem: bytes, token: str, count: int) -> list[Credentials]:
    """Enroll `count` agents with one multi-use token; any failed RPC fails the benchmark."""
    return asyncio.run(_enroll_all(port, ca_pem, token, count))
