"""`mamori-collector retention run` and `archive list|show`: old events to monthly archives, and reading them."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime

from collector import display
from collector.cli.common import CliError, engine, local, print_json
from collector.cli.events import summary
from collector.config import DataDir
from mamori import clock
from mamori.i18n import _
from mamori.labels import label
from mamori.table import render


def cmd_run(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector import archive
    from collector.store import retention

    settings = datadir.load_settings()
    try:
        result = retention.run(
            engine(datadir),
            datadir.archive(settings),
            clock.now(),
            events_days=settings["retention.events_days"],
            archive_years=settings["retention.archive_years"],
        )
    except archive.ArchiveError as exc:
        raise CliError(
            _("retention stopped, no event was removed for that month: {problem}").format(problem=exc)
        ) from None
    if args.json:
        print_json(
            {
                "ran": result.ran,
                "cutoff": result.cutoff.isoformat(),
                "months": [asdict(m) for m in result.months],
                "expired_archives": result.expired_archives,
                "dropped_partitions": result.dropped_partitions,
                "created_partitions": result.created_partitions,
            }
        )
        return 0 if result.ran else 1
    if not result.ran:
        print(_("Retention is already running (another collector or command); nothing done."))
        return 1
    print(
        _("Events before {cutoff} leave the database (kept in monthly archives).").format(cutoff=local(result.cutoff))
    )
    for m in result.months:
        print(
            _(
                "{month}: {archived} events in the archive ({added} new), {deleted} removed from the database, "
                "{kept} kept for open violations"
            ).format(month=m.month, archived=m.archived, added=m.added, deleted=m.deleted, kept=m.kept)
        )
    for name in result.expired_archives:
        print(_("{month}: archive deleted (older than the archive retention)").format(month=name))
    if not result.months and not result.expired_archives:
        print(_("Nothing to archive."))
    return 0


def _folder(datadir: DataDir):
    return datadir.archive(datadir.load_settings())


def cmd_list(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector import archive

    folder = _folder(datadir)
    rows = []
    for month in archive.months(folder):
        try:
            m = archive.verify(folder, month)
            rows.append(
                {
                    "month": month,
                    "file": str(archive.data_path(folder, month)),
                    "events": m.events,
                    "sha256": m.sha256,
                    "verified": True,
                    "problem": None,
                    "first_occurred_at": m.first_occurred_at,
                    "last_occurred_at": m.last_occurred_at,
                }
            )
        except archive.ArchiveError as exc:
            rows.append(
                {
                    "month": month,
                    "file": str(archive.data_path(folder, month)),
                    "events": None,
                    "sha256": None,
                    "verified": False,
                    "problem": str(exc),
                    "first_occurred_at": None,
                    "last_occurred_at": None,
                }
            )
    if args.json:
        print_json(rows)
        return 0 if all(r["verified"] for r in rows) else 1
    if not rows:
        print(_("No archives in {folder}.").format(folder=folder))
        return 0
    table = [
        [
            str(r["month"]),
            str(r["events"]) if r["verified"] else "-",
            _("verified") if r["verified"] else _("NOT VERIFIED"),
            str(r["sha256"] or r["problem"]),
        ]
        for r in rows
    ]
    print(render([_("Month (UTC)"), _("Events"), _("Manifest"), _("SHA-256")], table, [11, 8, 10, 40]))
    return 0 if all(r["verified"] for r in rows) else 1


def _recorded_hash(datadir: DataDir, month: str) -> str | None:
    """The SHA-256 the audit log recorded when retention last wrote the month's archive (None: no record)."""
    import sqlalchemy as sa

    from collector.store.db import read_only
    from collector.store.models import audit_log

    with read_only(engine(datadir).connect()) as conn:
        details = conn.execute(
            sa.select(audit_log.c.details)
            .where(audit_log.c.action == "retention.archive", audit_log.c.target == f"archive:{month}")
            .order_by(audit_log.c.id.desc())
            .limit(1)
        ).scalar()
    return details.get("sha256") if details else None


def cmd_show(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector import archive

    folder = _folder(datadir)
    try:
        month = archive.check_month(args.month)
        manifest = archive.verify(folder, month)
        recorded = _recorded_hash(datadir, month)
        if recorded is not None and recorded != manifest.sha256:
            # The manifest sits next to the file it vouches for; the hash-chained audit log does not.
            raise archive.ArchiveError(
                _(
                    "{file}: SHA-256 {actual} differs from {recorded} recorded in the audit "
                    "log when it was written: the archive and its manifest were replaced"
                ).format(file=manifest.file, actual=manifest.sha256, recorded=recorded)
            )
        records = list(archive.read(folder, month))
    except archive.ArchiveError as exc:
        raise CliError(_("archive not verified: {problem}").format(problem=exc)) from None
    if args.agent:
        records = [r for r in records if r["agent_id"].startswith(args.agent)]
    if args.kind:
        records = [r for r in records if r["kind"] == args.kind]
    if args.json:
        print_json(records)
        return 0
    print(
        _("Verified: {file} (SHA-256 {sha}, {count} events)").format(
            file=manifest.file, sha=manifest.sha256, count=manifest.events
        )
    )
    table = [
        [
            local(datetime.fromisoformat(r["occurred_at"]))[5:16],
            r["agent_id"][:8],
            str(r["seq"] if r["seq"] is not None else "-"),
            r["kind"],
            label("severity", r["severity"]),
            summary(r["kind"], r["payload"]),
        ]
        for r in records
    ]
    headers = [display.header(_("Time")), _("Agent"), _("Seq"), _("Kind"), _("Severity"), _("Details")]
    print(render(headers, table, [17, 8, 7, 14, 8, 20]))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    rp = sub.add_parser("retention", parents=[common], help=_("move old events to monthly archives")).add_subparsers(
        dest="action", required=True
    )
    p = rp.add_parser("run", parents=[common], help=_("archive and remove events past [retention] events_days now"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_run)
    ap = sub.add_parser("archive", parents=[common], help=_("monthly event archives")).add_subparsers(
        dest="action", required=True
    )
    p = ap.add_parser("list", parents=[common], help=_("list archives and verify their manifests"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = ap.add_parser("show", parents=[common], help=_("verify one month's archive and print its events"))
    p.add_argument("month", help=_("month, YYYY-MM (UTC)"))
    p.add_argument("--agent", help=_("agent ID (or its first 8+ characters)"))
    p.add_argument("--kind", help=_("event kind, e.g. usb.blocked"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
