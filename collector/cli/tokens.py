"""`mamori-collector token create`: one-time (or N-use) enrollment tokens, stored hashed."""

from __future__ import annotations

import argparse
import sys

from collector import display, pki
from collector.cli.common import CliError, actor, engine, iso, print_json
from collector.config import DataDir
from mamori import clock
from mamori.durations import parse_duration
from mamori.i18n import _
from mamori.policy import SEGMENTS


def cmd_token_create(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import audit, queries

    if args.uses < 1:
        raise CliError(_("--uses must be 1 or more"))
    try:
        lifetime = parse_duration(args.expires)
    except ValueError:
        raise CliError(_("invalid --expires {value}: use e.g. 30m, 24h or 7d").format(value=args.expires)) from None
    db = engine(datadir)
    token = pki.new_token()
    now = clock.now()
    with db.begin() as conn:
        row = queries.create_token(
            conn, token_hash=pki.hash_token(token), segment=args.segment, department=args.department,
            uses=args.uses, expires_at=now + lifetime, created_by=actor(args), created_at=now,
        )
        # The token itself is secret: the log names it by its row id only.
        audit.record(conn, at=now, actor=actor(args), action="token.create", target=f"token:{row.id}",
                     details={"segment": args.segment, "department": args.department, "uses": args.uses,
                              "expires_at": iso(now + lifetime)})
    if args.json:
        print_json({"token": token, "segment": args.segment, "department": args.department,
                     "uses": args.uses, "expires_at": iso(now + lifetime)})
    else:
        print(token)
        print(_("segment {segment}, department {department}, uses {uses}, expires {expires}").format(
            segment=args.segment, department=args.department, uses=args.uses, expires=display.stamp(now + lifetime)),
            file=sys.stderr)
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    tok = sub.add_parser("token", parents=[common], help=_("enrollment tokens")).add_subparsers(
        dest="action", required=True)
    p = tok.add_parser("create", parents=[common], help=_("create an enrollment token"))
    p.add_argument("--segment", required=True, choices=SEGMENTS)
    p.add_argument("--department", required=True, help=_("department (所属) of the terminals"))
    p.add_argument("--uses", type=int, default=1, help=_("how many enrollments the token allows"))
    p.add_argument("--expires", default="24h", help=_("lifetime, e.g. 24h or 7d"))
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token_create)
