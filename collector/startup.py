"""What `serve` and `init` check before starting, and how database failures are put to staff."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from mamori.i18n import _
from mamori.startup import StartupError, ensure_writable


def check_data_folder(folder: Path, *also: Path) -> None:
    """folder (and the folders in also, where init stages it) must take new files."""
    message = _(
        "cannot write to the data folder {path} (read-only or not permitted): fix the mount or its "
        "permissions, or choose another folder with --data-dir / MAMORI_DATA_DIR"
    ).format(path=folder)
    for target in (folder, *also):
        ensure_writable(target, message)


def check_port(addr: str, key: str, config: Path) -> None:
    """Bind addr once ourselves: gRPC's own failure is a C log line and a RuntimeError without the reason."""
    host, _sep, port = addr.rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or int(port) == 0:
        return
    try:
        infos = socket.getaddrinfo(host or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise StartupError(
            _(
                "cannot listen on {addr} ({key}): the host name is unknown; set an address of this machine in {config}"
            ).format(addr=addr, key=key, config=config)
        ) from None
    family, kind, proto, _name, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does: TIME_WAIT is no conflict
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                text = _(
                    "port {port} ({key} = {addr}) is already in use: stop the program using it "
                    "(ss -ltnp 'sport = :{port}') or set another port in {config}"
                )
            elif exc.errno == errno.EACCES:
                text = _(
                    "not permitted to listen on {addr} ({key}): ports below 1024 need privileges; set "
                    "another port in {config}"
                )
            else:
                text = _(
                    "cannot listen on {addr} ({key}): the address is not one of this machine's; fix it in {config}"
                )
            raise StartupError(text.format(port=port, key=key, addr=addr, config=config)) from None


def database_error(url: str, config: Path, exc: Exception) -> StartupError:
    """A store that cannot be opened, without the driver's traceback or SQL text."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        return StartupError(
            _("cannot open the database {path}: {reason}; check the data folder and its free space").format(
                path=parsed.database, reason=reason
            )
        )
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
    return StartupError(
        _(
            "cannot connect to the database at {where}: check that PostgreSQL is running and "
            "reachable from here, and database.url in {config}"
        ).format(where=where, config=config)
    )


def check_serve(datadir: Any, settings: dict[str, Any], url: str) -> None:
    """Everything `serve` needs from outside before it starts: a writable SQLite folder, free ports."""
    database = make_url(url).database
    if make_url(url).get_backend_name() == "sqlite" and database:  # no file (sqlite://): in memory, no folder
        check_data_folder(Path(database).parent)
    for key in ("server.listen", "server.enroll_listen", "metrics.listen"):
        if settings.get(key):
            check_port(settings[key], key, datadir.config)
