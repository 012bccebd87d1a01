"""`mamori-collector serve`: run the gRPC servers until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio

from collector.config import DataDir
from mamori.i18n import _


def cmd_serve(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.server import serve
    from collector.store.db import upgrade

    settings = datadir.load_settings()
    if args.listen:
        settings["server.listen"] = args.listen
    if args.enroll_listen:
        settings["server.enroll_listen"] = args.enroll_listen
    upgrade(datadir.database_url(settings))  # a new release's migrations apply on start
    asyncio.run(serve(datadir, settings))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help=_("run the collector"))
    p.add_argument("--listen", help=_("override server.listen"))
    p.add_argument("--enroll-listen", help=_("override server.enroll_listen"))
    p.set_defaults(func=cmd_serve)
