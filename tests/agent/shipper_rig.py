"""A shipper wired to the in-memory collector and a fake clock, over a real spool and state folder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.config import SCHEMA, StateDir
from agent.identity import Identity
from agent.policy_cache import PolicyCache
from agent.shipper import Shipper
from agent.spool import Spool
from agent.transport.clock import FakeClock
from agent.transport.memory import MemoryCollector
from collector import pki
from mamori.keys import key_pem, make_csr, new_private_key

NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
AGENT_ID = "agent-1"


@dataclass
class Rig:
    state: StateDir
    spool: Spool
    policy: PolicyCache
    collector: MemoryCollector
    clock: FakeClock
    shipper: Shipper
    ca_key: bytes
    ca_cert: bytes

    def emit(self, n: int) -> list[int]:
        return [self.spool.append("check.result", {"check_id": f"c{i}", "status": "pass"}) for i in range(n)]

    def pending_seqs(self) -> list[int]:
        return [seq for seq, _ in self.spool.pending(0, 10_000)]


def make_rig(root: Path, **settings: Any) -> Rig:
    state = StateDir(root)
    ca_key, ca_cert = pki.create_ca()
    key = new_private_key()
    state.key.write_bytes(key_pem(key))
    state.cert.write_bytes(pki.sign_agent_csr(ca_key, ca_cert, make_csr(key, "pc-1"), AGENT_ID))
    state.ca_cert.write_bytes(ca_cert)
    identity = Identity(AGENT_ID, "internet", "総務課", "127.0.0.1", 1, 1, NOW.isoformat())
    spool = Spool.open(state.spool)
    policy = PolicyCache(state.policy, "internet")
    values = {k.name: k.default for k in SCHEMA}
    values.update({f"shipper.{k}": v for k, v in settings.items()})
    collector = MemoryCollector(agent_id=AGENT_ID)
    clock = FakeClock()
    shipper = Shipper(spool, identity, state, values, policy, transport=collector, timer=clock)
    return Rig(state, spool, policy, collector, clock, shipper, ca_key, ca_cert)


@asynccontextmanager
async def running(rig: Rig) -> AsyncIterator[asyncio.Task[None]]:
    """The shipper's run loop for the duration of the block, stopped (and awaited) after it."""
    stop = asyncio.Event()
    task = asyncio.create_task(rig.shipper.run(stop))
    try:
        yield task
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
