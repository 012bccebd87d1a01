"""Is the store reachable: one probe answers /healthz and the gRPC health service (grpc.health.v1.Health)."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Sequence

from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from collector.store.db import normalize_url

log = logging.getLogger("mamori.collector.health")
PROBE_TIMEOUT_SECONDS = 3
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _probe_url(url: str) -> str:
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return parsed.render_as_string(hide_password=False)
    # Read-only URI: a probe must never create an empty database where the real one went missing.
    path = urllib.parse.quote(parsed.database)
    return f"sqlite:///file:{path}?mode=ro&uri=true"


class DatabaseHealth:
    """A fresh connection per probe (no pool): a pooled one would keep answering from a file that is gone."""

    def __init__(self, url: str) -> None:
        probe = _probe_url(url)
        backend = make_url(probe).get_backend_name()
        args = {"timeout": PROBE_TIMEOUT_SECONDS} if backend == "sqlite" else {"connect_timeout": PROBE_TIMEOUT_SECONDS}
        self.engine = create_engine(probe, poolclass=NullPool, connect_args=args)
        self.last: bool | None = None

    def check(self) -> bool:
        """True when the store opens and its schema answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT version_num FROM alembic_version")).first()
            ok = True
        except Exception as exc:  # any failure to reach or read the store is "not healthy", told once per change
            ok = False
            if self.last is not False:
                log.warning("health: the database is unreachable: %s", str(exc).splitlines()[0][:300])
        if ok and self.last is False:
            log.info("health: the database is reachable again")
        self.last = ok
        return ok

    def dispose(self) -> None:
        self.engine.dispose()


class Health(HealthServicer):
    """SERVING while the store answers; Check probes at once, Watch follows a periodic probe."""

    def __init__(self, db: DatabaseHealth, services: Sequence[str]) -> None:
        super().__init__()
        self.db = db
        self.services = ("", *services)

    async def refresh(self) -> bool:
        ok = await asyncio.to_thread(self.db.check)
        for service in self.services:
            await self.set(service, SERVING if ok else NOT_SERVING)
        return ok

    async def Check(self, request, context):  # noqa: N802 (gRPC method name)
        await self.refresh()
        return await super().Check(request, context)

    async def watch(self, interval: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(interval)
