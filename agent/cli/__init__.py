"""mamori-agent: enroll this terminal, run the agent, show its state (Japanese by default).

Each command group lives in its own module with a `register(sub, common)` function; COMMANDS lists them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from agent import host as hostmod
from agent.cli import check, debug, enroll, run, service, status
from agent.cli.common import CliError
from agent.config import StateDir
from mamori import i18n
from mamori.i18n import _
from mamori.tomlconf import ConfigError

COMMANDS = [enroll, run, status, check, service, debug]


def build_parser() -> argparse.ArgumentParser:
    # Options valid before or after the subcommand; SUPPRESS keeps a subparser from resetting a value
    # given before it to None.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=argparse.SUPPRESS, help=_("agent state folder (default: per OS)"))
    common.add_argument("--lang", choices=["ja", "en"], default=argparse.SUPPRESS, help=_("language of messages"))
    parser = argparse.ArgumentParser(prog="mamori-agent", parents=[common],
                                     description=_("Mamori endpoint agent"))
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    i18n.setup(i18n.lang_from_argv(argv))
    args = build_parser().parse_args(argv)
    args.state_dir = getattr(args, "state_dir", None)
    host = hostmod.current()
    # Under systemd stderr goes to the journal (as mamori-agent), in the Windows service to the Event Log.
    logging.basicConfig(level=logging.INFO if args.command == "run" else logging.WARNING,
                        handlers=[host.log_handler()])
    state = StateDir(Path(args.state_dir).expanduser().resolve() if args.state_dir
                     else host.default_state_dir())
    try:
        return args.func(args, state)
    except (CliError, ConfigError) as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early: not an error worth a traceback
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
