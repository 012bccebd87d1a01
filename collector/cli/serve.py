"""`mamori-collector serve`: run the gRPC servers until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio

from collector.config import DataDir
from mamori.i18n import _
from mamori.startup import StartupError


def cmd_serve(args: argparse.Namespace, datadir: DataDir) -> int:
    from sqlalchemy.exc import DBAPIError

    from collector import runlock, startup
    from collector.server import serve
    from collector.store.db import upgrade
    from collector.workers import default_workers
    from collector.workers import run as run_workers

    settings = datadir.load_settings()
    if args.listen:
        settings["server.listen"] = args.listen
    if args.enroll_listen:
        settings["server.enroll_listen"] = args.enroll_listen
    url = datadir.database_url(settings)
    startup.check_serve(datadir, settings, url)
    runlock.hold(datadir)  # kept until the process exits: `restore` refuses a folder being served
    try:
        upgrade(url)  # a new release's migrations apply on start
    except DBAPIError as exc:
        raise startup.database_error(url, datadir.config, exc) from None
    workers = args.workers or settings["server.workers"] or default_workers()
    if workers > 1 and settings["metrics.listen"]:
        # Each worker would count only its own streams and batches: one scrape must not show a part as the whole.
        raise StartupError(
            _(
                "metrics.listen needs one serving process: set server.workers = 1 or empty metrics.listen in {config}"
            ).format(config=datadir.config)
        )
    try:
        if workers > 1:
            return run_workers(datadir.root, settings, workers)
        asyncio.run(serve(datadir, settings))
    except RuntimeError as exc:
        if "Failed to bind" not in str(exc):
            raise
        # Taken between our check and gRPC's bind (a race): the same advice without the port's name.
        raise StartupError(
            _("cannot listen on {addrs}: a port is in use or not permitted; see {config}").format(
                addrs=f"{settings['server.listen']}, {settings['server.enroll_listen']}", config=datadir.config
            )
        ) from None
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help=_("run the collector"))
    p.add_argument("--listen", help=_("override server.listen"))
    p.add_argument("--enroll-listen", help=_("override server.enroll_listen"))
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help=_("serving processes sharing the ports (default: server.workers, 0 = one per core)"),
    )
    p.set_defaults(func=cmd_serve)
