"""`mamori-collector token create|list|revoke`: one-time (or N-use) enrollment tokens, stored hashed."""

from __future__ import annotations

import argparse
import sys

from collector import display, pki
from collector.cli.common import CliError, actor, engine, iso, local, print_json
from collector.config import DataDir
from mamori import clock
from mamori.durations import parse_duration
from mamori.i18n import _
from mamori.labels import label
from mamori.policy import SEGMENTS
from mamori.table import render


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
            conn,
            token_hash=pki.hash_token(token),
            segment=args.segment,
            department=args.department,
            uses=args.uses,
            expires_at=now + lifetime,
            created_by=actor(args),
            created_at=now,
        )
        # The token itself is secret: the log names it by its row id only.
        audit.record(
            conn,
            at=now,
            actor=actor(args),
            action="token.create",
            target=f"token:{row.id}",
            details={
                "segment": args.segment,
                "department": args.department,
                "uses": args.uses,
                "expires_at": iso(now + lifetime),
            },
        )
    if args.json:
        print_json(
            {
                "token": token,
                "segment": args.segment,
                "department": args.department,
                "uses": args.uses,
                "expires_at": iso(now + lifetime),
            }
        )
    else:
        print(token)
        print(
            _("segment {segment}, department {department}, uses {uses}, expires {expires}").format(
                segment=args.segment, department=args.department, uses=args.uses, expires=display.stamp(now + lifetime)
            ),
            file=sys.stderr,
        )
    return 0


def cmd_token_list(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import queries

    now = clock.now()
    rows = queries.list_tokens(engine(datadir))
    # The secret is never stored, only its hash; even that is left out: it names a token nobody needs to type.
    if args.json:
        print_json(
            [
                {
                    "id": t.id,
                    "segment": t.segment,
                    "department": t.department,
                    "uses_allowed": t.uses_allowed,
                    "uses_left": t.uses_left,
                    "expires_at": iso(t.expires_at),
                    "created_at": iso(t.created_at),
                    "created_by": t.created_by,
                    "revoked_at": iso(t.revoked_at),
                    "revoked_by": t.revoked_by,
                    "state": t.state(now),
                }
                for t in rows
            ]
        )
        return 0
    if not rows:
        print(_("No enrollment tokens."))
        return 0
    table = [
        [
            str(t.id),
            label("segment", t.segment),
            t.department,
            f"{t.uses_left}/{t.uses_allowed}",
            local(t.expires_at, "%Y-%m-%d %H:%M"),
            label("token", t.state(now)),
            t.created_by,
        ]
        for t in rows
    ]
    headers = [
        _("ID"),
        _("Segment"),
        _("Department"),
        _("Uses left"),
        display.header(_("Expires")),
        _("State"),
        _("Created by"),
    ]
    print(render(headers, table, [0, 0, 20, 0, 0, 0, 16]))
    return 0


def cmd_token_revoke(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import audit, queries

    now, by = clock.now(), actor(args)
    with engine(datadir).begin() as conn:
        row = queries.revoke_token(conn, args.id, by, now)
        if row is None:
            raise CliError(
                _("no token {id} that is not already revoked; see `mamori-collector token list`").format(id=args.id)
            )
        audit.record(
            conn,
            at=now,
            actor=by,
            action="token.revoke",
            target=f"token:{row.id}",
            details={"segment": row.segment, "department": row.department, "uses_left": row.uses_left},
        )
    print(_("Token {id} revoked: it enrolls no more terminals.").format(id=row.id))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    tok = sub.add_parser("token", parents=[common], help=_("enrollment tokens")).add_subparsers(
        dest="action", required=True
    )
    p = tok.add_parser("create", parents=[common], help=_("create an enrollment token"))
    p.add_argument("--segment", required=True, choices=SEGMENTS)
    p.add_argument("--department", required=True, help=_("department (所属) of the terminals"))
    p.add_argument("--uses", type=int, default=1, help=_("how many enrollments the token allows"))
    p.add_argument("--expires", default="24h", help=_("lifetime, e.g. 24h or 7d"))
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token_create)
    p = tok.add_parser("list", parents=[common], help=_("list enrollment tokens (never their secret)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token_list)
    p = tok.add_parser("revoke", parents=[common], help=_("revoke an enrollment token"))
    p.add_argument("id", type=int, help=_("token number, as in `token list`"))
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.set_defaults(func=cmd_token_revoke)
