"""`mamori-collector pki status`: how long the CA, the server certificate and every agent's certificate last."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from collector import display, pki
from collector.cli.common import CliError, actor, engine, iso, local, print_json
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
    previous = datadir.root / "ca-previous.crt"
    if previous.exists():  # a CA rollover in progress: the CA being retired
        rows.insert(1, _file_row("ca", previous))
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
            [6, 15, 16, 19, 8],
        )
    )
    return 0


def _not_renewed(datadir: DataDir, since: datetime) -> list[str]:
    """Agents in service whose certificate was issued before the rollover began (by the old CA)."""
    from collector.store import queries

    return [
        a.id
        for a in queries.list_agents(engine(datadir))
        if a.state == "active" and (a.cert_renewed_at or a.enrolled_at) < since
    ]


def _audit(datadir: DataDir, args: argparse.Namespace, action: str, details: dict[str, Any]) -> None:
    from collector.store import audit

    with engine(datadir).begin() as conn:
        audit.record(conn, at=clock.now(), actor=actor(args), action=action, target="pki:ca", details=details)


def cmd_pki_rollover(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector import rollover

    try:
        new = rollover.start(datadir)
    except rollover.RolloverError:
        raise CliError(_("a CA rollover is already in progress: finish it first (pki finish-rollover)")) from None
    _audit(
        datadir,
        args,
        "pki.rollover_ca",
        {"new_ca": new.subject.rfc4514_string(), "new_ca_serial": format(new.serial_number, "x")},
    )
    print(
        _(
            "New CA created; the old one stays trusted. Agents receive the new CA bundle and renew their "
            "certificates the next time they are connected. {path} is now the bundle to hand to new terminals."
        ).format(path=datadir.ca_cert)
    )
    return 0


def cmd_pki_finish(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector import rollover

    state = rollover.current(datadir)
    if state is None:
        raise CliError(_("no CA rollover is in progress"))
    waiting = _not_renewed(datadir, state.started_at)
    if waiting and not args.force:
        raise CliError(
            _(
                "{n} agent(s) still hold a certificate from the old CA (see `pki status`); they would have "
                "to enroll again. Wait for them, or pass --force"
            ).format(n=len(waiting))
        )
    settings = datadir.load_settings()
    rollover.finish(datadir, settings["pki.hosts"], pki.parse_duration(settings["pki.server_cert_lifetime"]))
    _audit(datadir, args, "pki.finish_rollover", {"agents_not_renewed": waiting})
    print(
        _(
            "CA rollover finished: the server presents a certificate from the new CA and the old CA is no longer "
            "trusted (a running collector applies this within seconds)."
        )
    )
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("pki", parents=[common], help=_("certificates: CA, server and agent expiry"))
    psub = p.add_subparsers(dest="action", required=True)
    s = psub.add_parser("status", parents=[common], help=_("show when each certificate expires"))
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_pki_status)
    r = psub.add_parser(
        "rollover-ca", parents=[common], help=_("make a new CA; the old one stays trusted until finish-rollover")
    )
    r.add_argument("--by", help=_("name of the staff member (default: login name)"))
    r.set_defaults(func=cmd_pki_rollover)
    f = psub.add_parser("finish-rollover", parents=[common], help=_("end a CA rollover: stop trusting the old CA"))
    f.add_argument("--by", help=_("name of the staff member (default: login name)"))
    f.add_argument(
        "--force",
        action="store_true",
        help=_("finish even though some agents still hold a certificate from the old CA"),
    )
    f.set_defaults(func=cmd_pki_finish)
