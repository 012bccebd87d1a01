"""`mamori-agent service install|uninstall|start|stop|status`: the agent as a boot-time service.

For installs without the package (the .deb and the Windows installer register the service themselves).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from agent import host as hostmod
from agent.cli.common import CliError
from agent.config import StateDir
from agent.host.base import ServiceError, ServiceState
from mamori.i18n import _
from mamori.table import render


def service_argv(state: StateDir, config: str | None) -> list[str]:
    """The command the service manager runs: this interpreter, so a virtualenv install works as is."""
    argv = [sys.executable, "-m", "agent.cli", "run", "--state-dir", str(state.root)]
    if config:
        argv += ["--config", str(Path(config).expanduser().resolve())]
    return argv


def _record_uninstall(state: StateDir, how: str) -> None:
    """Uninstalling switches the agent off: say so in the spool first, so the stopping agent sends it."""
    from agent.spool import Spool

    if not state.identity.exists():
        return
    spool = Spool.open(state.spool)
    try:
        spool.append(
            "agent.stopped", {"reason": f"{how} by {getpass.getuser()}", "spool_depth": spool.depth()}, severity="high"
        )
    finally:
        spool.close()


def cmd_service(args: argparse.Namespace, state: StateDir) -> int:
    manager = hostmod.current().service()
    try:
        if args.action == "install":
            where = manager.install(service_argv(state, args.config), state.root, start=not args.no_start)
            print(
                _(
                    "Installed the agent service ({where}); it starts at boot and is restarted whenever it stops."
                ).format(where=where)
            )
        elif args.action in ("uninstall", "remove"):
            _record_uninstall(state, "service uninstalled")
            if manager.uninstall():
                print(_("Removed the agent service. This terminal is no longer protected."))
            else:
                print(_("The agent service is not installed; nothing was changed."))
        elif args.action == "record-removal":
            _record_uninstall(state, "package removed")
        elif args.action == "start":
            manager.start()
        elif args.action == "stop":
            manager.stop()
        else:
            return _show(manager.state(), args.json)
    except PermissionError as exc:
        raise CliError(
            _("permission denied ({what}); run this as root or as an administrator").format(what=exc)
        ) from None
    except (ServiceError, OSError) as exc:
        raise CliError(_("the service manager refused: {reason}").format(reason=exc)) from None
    return 0


def _show(st: ServiceState, as_json: bool) -> int:
    data = {
        "installed": st.installed,
        "enabled": st.enabled,
        "active": st.active,
        "pid": st.main_pid,
        "unit": st.unit_path,
    }
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        labels = {
            "installed": _("Installed"),
            "enabled": _("Starts at boot"),
            "active": _("State"),
            "pid": _("Process ID"),
            "unit": _("Service definition"),
        }
        yes_no = {True: _("yes"), False: _("no")}
        print(
            render(
                [_("Item"), _("Value")],
                [[labels[k], yes_no[v] if isinstance(v, bool) else str(v or "-")] for k, v in data.items()],
            )
        )
    return 0 if st.installed else 3


def register(sub, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("service", parents=[common], help=_("install or remove the agent as a service"))
    parser.set_defaults(func=cmd_service, json=False, config=None, no_start=False)
    svc = parser.add_subparsers(dest="action", required=True)
    p = svc.add_parser("install", parents=[common], help=_("install, enable at boot and start the service"))
    p.add_argument("--config", help=_("configuration file (default: agent.toml in the state folder)"))
    p.add_argument("--no-start", action="store_true", help=_("install without starting it now"))
    for name, text in (
        ("uninstall", _("stop and remove the service")),
        ("remove", _("same as uninstall")),
        ("record-removal", _("record that the agent is being removed (package scripts)")),
        ("start", _("start the service")),
        ("stop", _("stop the service (recorded as a stop)")),
    ):
        svc.add_parser(name, parents=[common], help=text)
    p = svc.add_parser("status", parents=[common], help=_("show the service manager's view of the agent"))
    p.add_argument("--json", action="store_true")
