"""`mamori-collector pki status`: how long the CA, the server certificate and every agent's certificate last."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from collector import display, pki
from collector.cli.common import CliError, engine, iso, local, print_json
from collector.config import DataDir
from mamori import clock
from mamori.i18n import _
from mamori.table import render

WARN_WITHIN = timedelta(days=30)  # what `summary` warns about; OPS-006's default threshold too


@dataclass(frozen=True)
class CertRow:
    """One certificate's horizon: kind is "ca", "server" or "agent"."""

    kind: str
    name: str  # the agent id for agents, the file name otherwise
    hostname: str
    serial: str
    not_after: datetime

    def days_left(self, now: datetime) -> float:
        return round((self.not_after - now).total_seconds() / 86400, 2)

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            **asdict(self),
            "not_after": iso(self.not_after),
            "days_left": self.days_left(now),
            "expired": now >= self.not_after,
        }


def _file_row(kind: str, path) -> CertRow:
    try:
        h = pki.horizon(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CliError(_("cannot read {path}: {error}").format(path=path, error=exc)) from None
    return CertRow(kind, path.name, "", h.serial_hex, h.not_after)


def horizons(datadir: DataDir, conn) -> list[CertRow]:
    """CA, server, then every agent still in service (revoked and superseded records are history)."""
    from collector.store import queries

    rows = [_file_row("ca", datadir.ca_cert), _file_row("server", datadir.server_cert)]
    rows += [
        CertRow("agent", a.id, a.hostname, a.cert_serial, a.cert_not_after)
        for a in queries.list_agents(conn)
        if a.state == "active"
    ]
    return rows


def expiring(rows: list[CertRow], now: datetime) -> list[CertRow]:
    return [r for r in rows if r.not_after - now < WARN_WITHIN]


def cmd_pki_status(args: argparse.Namespace, datadir: DataDir) -> int:
    now = clock.now()
    rows = horizons(datadir, engine(datadir))
    if args.json:
        print_json([r.as_json(now) for r in rows])
        return 0
    kinds = {"ca": _("CA"), "server": _("Server"), "agent": _("Agent")}
    print(
        render(
            [_("Kind"), _("Name"), _("Terminal"), display.header(_("Valid until")), _("Days left")],
            [
                [
                    kinds[r.kind],
                    r.name[:8] if r.kind == "agent" else r.name,
                    r.hostname or "-",
                    local(r.not_after),
                    _("expired") if now >= r.not_after else f"{r.days_left(now):.1f}",
                ]
                for r in rows
            ],
            [6, 10, 16, 19, 8],
        )
    )
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("pki", parents=[common], help=_("certificates: CA, server and agent expiry"))
    psub = p.add_subparsers(dest="action", required=True)
    s = psub.add_parser("status", parents=[common], help=_("show when each certificate expires"))
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_pki_status)
