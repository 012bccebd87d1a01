"""mamori-collector: the security staff's command line (Japanese by default, --lang en for English).

Each command group lives in its own module with a `register(sub, common)` function; COMMANDS lists them.
"""

from __future__ import annotations

import argparse
import logging
import sys

from collector.cli import (
    agents,
    audit_log,
    devices,
    events,
    exceptions,
    init,
    policy,
    report,
    serve,
    summary,
    tokens,
    violations,
)
from collector.cli.common import CliError
from collector.config import resolve_data_dir
from mamori import i18n
from mamori.i18n import _
from mamori.logsetup import stderr_handler
from mamori.tomlconf import ConfigError

COMMANDS = [init, tokens, serve, agents, events, devices, violations, exceptions, summary, policy, audit_log,
            report]


def build_parser() -> argparse.ArgumentParser:
    # Options valid before or after the subcommand; SUPPRESS keeps a subparser from resetting a value
    # given before it to None.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help=_("collector data folder (default: $MAMORI_DATA_DIR)"))
    common.add_argument("--lang", choices=["ja", "en"], default=argparse.SUPPRESS, help=_("language of messages"))
    parser = argparse.ArgumentParser(prog="mamori-collector", parents=[common],
                                     description=_("Mamori collector: agents, events and enrollment"))
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    i18n.setup(i18n.lang_from_argv(argv))
    args = build_parser().parse_args(argv)
    args.data_dir = getattr(args, "data_dir", None)
    logging.basicConfig(level=logging.INFO if args.command == "serve" else logging.WARNING,
                        handlers=[stderr_handler()])  # under systemd: the journal, with priorities
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        datadir = resolve_data_dir(args.data_dir)
        return args.func(args, datadir)
    except (CliError, ConfigError) as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
