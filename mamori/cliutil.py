"""What both command lines share: the parser skeleton, the staff-facing error, and how errors end a command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from mamori.i18n import _
from mamori.startup import StartupError
from mamori.tomlconf import ConfigError


class CliError(Exception):
    """An error shown to staff as one line, with what to do next; exit status 2."""


def build_parser(
    prog: str, description: str, folder_option: str, folder_help: str, commands: Sequence[ModuleType]
) -> argparse.ArgumentParser:
    """A parser whose command groups each come from a module's `register(sub, common)`."""
    # Options valid before or after the subcommand; SUPPRESS keeps a subparser from resetting a value
    # given before it to None.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(folder_option, default=argparse.SUPPRESS, help=folder_help)
    common.add_argument("--lang", choices=["ja", "en"], default=argparse.SUPPRESS, help=_("language of messages"))
    parser = argparse.ArgumentParser(prog=prog, parents=[common], description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in commands:
        module.register(sub, common)
    return parser


def run_command(call: Callable[[], int]) -> int:
    """Run a command; staff errors become one translated line on stderr, exit status 2 (1: cannot start)."""
    try:
        return call()
    except (CliError, ConfigError) as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 2
    except StartupError as exc:  # not a usage error: the same command works once the cause is fixed
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and closed early: not an error worth a traceback
        sys.stderr.close()
        return 0
