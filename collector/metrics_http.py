"""The metrics listener: GET /metrics (Prometheus text format) and /healthz, in a thread of its own."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    registry: CollectorRegistry
    healthy: Callable[[], bool]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server method name)
        path = urlsplit(self.path).path
        if path == "/metrics":
            self._answer(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            if self.server.healthy():
                self._answer(200, b"ok\n")
            else:
                self._answer(503, b"database unreachable\n")
        else:
            self._answer(404, b"not found: try /metrics or /healthz\n")

    def _answer(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # one line per scrape would drown the collector's log


class MetricsListener:
    """One per serve process: each process answers for its own counters."""

    def __init__(self, addr: str, registry: CollectorRegistry, healthy: Callable[[], bool]) -> None:
        host, _sep, port = addr.rpartition(":")
        host = host.strip("[]")

        class Bound(_Server):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self.server = Bound((host, int(port)), _Handler)
        self.server.registry = registry
        self.server.healthy = healthy
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), port  # an AF_INET/AF_INET6 server's host is always text

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
