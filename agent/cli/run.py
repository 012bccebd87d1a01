"""`mamori-agent run`: the agent in the foreground (what the service runs)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from agent import host as hostmod
from agent.cli.common import identity
from agent.config import StateDir, load_settings
from mamori.i18n import _
from mamori.startup import ensure_writable


def cmd_run(args: argparse.Namespace, state: StateDir) -> int:
    from agent.runner import RESTART_EXIT, run

    config = Path(args.config).expanduser().resolve() if args.config else None
    settings = load_settings(state, config)
    # The spool is written before anything else happens: without a writable folder nothing can be kept.
    ensure_writable(state.root, _("cannot write to the state folder {path} (read-only or not permitted): the "
                                  "agent keeps its spool and status there; fix the mount or its permissions")
                    .format(path=state.root))
    logging.getLogger().setLevel(settings["log.level"].upper())
    host = hostmod.current()
    status = run(state, identity(state), host, settings, config)
    if status == RESTART_EXIT:  # the self-watchdog (or a replaced spool) asked for a fresh process
        return host.restart_self(sys.argv[1:])
    return status


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help=_("run the agent in the foreground"))
    p.add_argument("--config", help=_("configuration file (default: agent.toml in the state folder)"))
    p.set_defaults(func=cmd_run)
