"""`mamori-agent run`: the agent in the foreground (what the service runs)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from agent import host as hostmod
from agent.cli.common import identity
from agent.config import StateDir, load_settings
from mamori.i18n import _


def cmd_run(args: argparse.Namespace, state: StateDir) -> int:
    from agent.runner import run

    settings = load_settings(state, Path(args.config) if args.config else None)
    logging.getLogger().setLevel(settings["log.level"].upper())
    return run(state, identity(state), hostmod.current(), settings)


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help=_("run the agent in the foreground"))
    p.add_argument("--config", help=_("configuration file (default: agent.toml in the state folder)"))
    p.set_defaults(func=cmd_run)
