"""mamori-collector: the security staff's command line (Japanese by default, --lang en for English).

Each command group lives in its own module with a `register(sub, common)` function; COMMANDS lists them.
"""

from __future__ import annotations

import argparse
import logging
import sys

from collector import display
from collector.cli import (
    agents,
    audit_log,
    backup,
    devices,
    events,
    exceptions,
    forward,
    init,
    pki,
    policy,
    report,
    retention,
    serve,
    summary,
    tokens,
    violations,
)
from collector.config import resolve_data_dir
from collector.forward import outbox
from mamori import i18n
from mamori.cliutil import build_parser as build_parser_for
from mamori.cliutil import run_command
from mamori.i18n import _
from mamori.logsetup import stderr_handler

COMMANDS = [
    init,
    tokens,
    serve,
    agents,
    events,
    devices,
    violations,
    exceptions,
    summary,
    policy,
    audit_log,
    report,
    forward,
    retention,
    backup,
    pki,
]


def build_parser() -> argparse.ArgumentParser:
    return build_parser_for(
        "mamori-collector",
        _("Mamori collector: agents, events and enrollment"),
        "--data-dir",
        _("collector data folder (default: $MAMORI_DATA_DIR)"),
        COMMANDS,
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    i18n.setup(i18n.lang_from_argv(argv))
    args = build_parser().parse_args(argv)
    args.data_dir = getattr(args, "data_dir", None)
    logging.basicConfig(
        level=logging.INFO if args.command == "serve" else logging.WARNING, handlers=[stderr_handler()]
    )  # under systemd: the journal, with priorities
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return run_command(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    datadir = resolve_data_dir(args.data_dir)
    # Every time shown and every date typed is in the configured zone; before `init` there is no config: Japan.
    settings = datadir.load_settings() if datadir.config.exists() else None
    display.configure(settings["display.timezone"] if settings else display.DEFAULT)
    if settings:
        # A violation acknowledged or resolved here is forwarded like one changed by `serve`.
        outbox.configure(settings)
    return args.func(args, datadir)


if __name__ == "__main__":
    sys.exit(main())
