"""mamori-agent: enroll this terminal, run the agent, show its state (Japanese by default).

Each command group lives in its own module with a `register(sub, common)` function; COMMANDS lists them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from agent import host as hostmod
from agent.cli import check, debug, devices, enroll, run, service, status
from agent.config import StateDir
from mamori import i18n
from mamori.cliutil import build_parser as build_parser_for
from mamori.cliutil import run_command
from mamori.i18n import _

COMMANDS = [enroll, run, status, devices, check, service, debug]


def build_parser() -> argparse.ArgumentParser:
    return build_parser_for(
        "mamori-agent", _("Mamori endpoint agent"), "--state-dir", _("agent state folder (default: per OS)"), COMMANDS
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    i18n.setup(i18n.lang_from_argv(argv))
    args = build_parser().parse_args(argv)
    args.state_dir = getattr(args, "state_dir", None)
    host = hostmod.current()
    # Under systemd stderr goes to the journal (as mamori-agent), in the Windows service to the Event Log.
    logging.basicConfig(level=logging.INFO if args.command == "run" else logging.WARNING, handlers=[host.log_handler()])
    state = StateDir(Path(args.state_dir).expanduser().resolve() if args.state_dir else host.default_state_dir())
    return run_command(lambda: args.func(args, state))


if __name__ == "__main__":
    sys.exit(main())
