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
    from agent import unenrolled
    from agent.host import runlock
    from agent.runner import RESTART_EXIT, run

    config = Path(args.config).expanduser().resolve() if args.config else None
    settings = load_settings(state, config)
    # The spool is written before anything else happens: without a writable folder nothing can be kept.
    ensure_writable(
        state.root,
        _(
            "cannot write to the state folder {path} (read-only or not permitted): the "
            "agent keeps its spool and status there; fix the mount or its permissions"
        ).format(path=state.root),
    )
    logging.getLogger().setLevel(settings["log.level"].upper())
    host = hostmod.current()
    # Two runs on one spool would each mark the other's exit as unclean (a false OPS-004): refuse the second.
    state.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = runlock.acquire(state.run_lock)
    if lock is None:
        print(
            _("error: the agent is already running on {folder}; this second start was refused").format(
                folder=state.root
            ),
            file=sys.stderr,
        )
        return 1
    try:
        if unenrolled.enrolled(state):
            status = run(state, identity(state), host, settings, config)
        else:  # removable-media control does not wait for enrollment
            status = unenrolled.run(state, host)
    finally:
        lock.release()  # before a restart: the fresh process takes it again
    if status == RESTART_EXIT:  # the self-watchdog (or a replaced spool) asked for a fresh process
        return host.restart_self(sys.argv[1:])
    return status


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help=_("run the agent in the foreground"))
    p.add_argument("--config", help=_("configuration file (default: agent.toml in the state folder)"))
    p.set_defaults(func=cmd_run)
