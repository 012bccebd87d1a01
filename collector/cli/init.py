"""`mamori-collector init`: create a data folder with its CA, server certificate, config and database."""

from __future__ import annotations

import argparse
import shutil
from typing import Any

from collector import pki
from collector.cli.common import CliError
from collector.config import DataDir, render_config
from mamori.i18n import _
from mamori.keys import write_private
from mamori.tomlconf import host_port


def cmd_init(args: argparse.Namespace, datadir: DataDir) -> int:
    from sqlalchemy.exc import DBAPIError

    from collector import startup
    from collector.store.db import upgrade

    hosts = [h.strip() for h in args.host.split(",") if h.strip()]
    if not hosts:
        raise CliError(_("--host needs at least one host name or address"))
    for addr in filter(None, (args.listen, args.enroll_listen)):
        if host_port(addr):
            raise CliError(_("invalid address {addr}: use HOST:PORT").format(addr=addr))
    if datadir.root.exists() and any(datadir.root.iterdir()):
        raise CliError(_("{path} is already initialised; nothing was changed").format(path=datadir.root))
    # Build everything in a sibling folder and rename it into place, so a failure leaves nothing behind.
    staging = DataDir(datadir.root.with_name(datadir.root.name + ".init-tmp"), datadir.config_file)
    shutil.rmtree(staging.root, ignore_errors=True)
    startup.check_data_folder(datadir.root, datadir.root.parent)  # staging is made beside it
    # A config kept outside the data folder (MAMORI_CONFIG, packaged installs) is written in place.
    outside_config_new = datadir.config_file is not None and not datadir.config_file.exists()
    staging.root.mkdir(parents=True, mode=0o700)
    try:
        ca_key, ca_cert = pki.create_ca()
        server_key, server_cert = pki.issue_server_cert(ca_key, ca_cert, hosts)
        values: dict[str, Any] = {"pki.hosts": hosts}
        if args.listen:
            values["server.listen"] = args.listen
            if not args.enroll_listen:
                host, _sep, port = args.listen.rpartition(":")
                values["server.enroll_listen"] = f"{host}:{int(port) + 1}" if int(port) else f"{host}:0"
        if args.enroll_listen:
            values["server.enroll_listen"] = args.enroll_listen
        if args.database_url:
            values["database.url"] = args.database_url
        write_private(staging.ca_key, ca_key)
        staging.ca_cert.write_bytes(ca_cert)
        write_private(staging.server_key, server_key)
        staging.server_cert.write_bytes(server_cert)
        staging.config.write_text(render_config(values), encoding="utf-8")
        url = staging.database_url(staging.load_settings())
        try:
            upgrade(url)
        except DBAPIError as exc:
            raise startup.database_error(url, datadir.config, exc) from None
        if datadir.root.exists():
            datadir.root.rmdir()
        staging.root.rename(datadir.root)
    except BaseException:
        shutil.rmtree(staging.root, ignore_errors=True)
        if outside_config_new:
            datadir.config.unlink(missing_ok=True)
        raise
    print(_("Initialised collector data folder {path}").format(path=datadir.root))
    print(_("  CA certificate for agents: {path}").format(path=datadir.ca_cert))
    print(_("  configuration:             {path}").format(path=datadir.config))
    print(_("Next: mamori-collector token create --segment lgwan --department NAME, then serve"))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[common], help=_("create a data folder, CA and database"))
    p.add_argument("--host", required=True, help=_("host names/addresses for the server certificate"))
    p.add_argument("--listen", help=_("telemetry address HOST:PORT (default 0.0.0.0:7443)"))
    p.add_argument("--enroll-listen", help=_("enrollment address HOST:PORT (default: telemetry port + 1)"))
    p.add_argument("--database-url", help=_("PostgreSQL URL instead of the embedded SQLite"))
    p.set_defaults(func=cmd_init)
