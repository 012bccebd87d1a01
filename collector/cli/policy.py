"""`mamori-collector policy show|validate|set`: the per-segment policy (agent settings and rule parameters)."""

from __future__ import annotations

import argparse
from pathlib import Path

from collector.cli.common import actor, engine, print_json
from collector.config import DataDir
from mamori import clock
from mamori.i18n import _
from mamori.policy import SEGMENTS, version_of


def cmd_show(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.policies import current_document, render_file, with_rule_defaults

    db = engine(datadir)
    if args.json:
        segments = [args.segment] if args.segment else list(SEGMENTS)
        print_json(
            {
                s: {"version": version_of(d), "document": with_rule_defaults(d)}
                for s in segments
                for d in [current_document(db, s)]
            }
        )
        return 0
    print(render_file(current_document(db, args.segment or "mynumber")), end="")
    return 0


def cmd_validate(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.policies import load_file

    document = load_file(Path(args.file))  # ConfigError: file, line and reason, exit status 2
    print(
        _("{file}: valid policy for segment {segment} (version {version})").format(
            file=args.file, segment=document["segment"], version=version_of(document)
        )
    )
    return 0


def cmd_set(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.policies import load_file
    from collector.store import audit, queries

    document = load_file(Path(args.file))  # a broken file stops here: the policy in force stays
    version = version_of(document)
    now = clock.now()
    by = actor(args)
    with engine(datadir).begin() as conn:
        old = queries.get_policy(conn, document["segment"])
        queries.set_policy(
            conn, segment=document["segment"], version=version, document=document, updated_by=by, updated_at=now
        )
        audit.record(
            conn,
            at=now,
            actor=by,
            action="policy.set",
            target=f"policy:{document['segment']}",
            details={
                "version": version,
                "previous_version": old["version"] if old else None,
                "file": str(Path(args.file).resolve()),
            },
        )
    print(
        _("Policy for segment {segment} set to version {version}; agents receive it when they reconnect.").format(
            segment=document["segment"], version=version
        )
    )
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    pp = sub.add_parser("policy", parents=[common], help=_("policy per segment (rule parameters)")).add_subparsers(
        dest="action", required=True
    )
    p = pp.add_parser("show", parents=[common], help=_("print the policy in force as an editable file"))
    p.add_argument("--segment", choices=SEGMENTS)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = pp.add_parser("validate", parents=[common], help=_("check a policy file without applying it"))
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)
    p = pp.add_parser("set", parents=[common], help=_("check and apply a policy file"))
    p.add_argument("file")
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.set_defaults(func=cmd_set)
