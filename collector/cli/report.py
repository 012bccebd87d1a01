"""`mamori-collector report`: the period's audit report as xlsx, csv, json or html."""

from __future__ import annotations

import argparse
from pathlib import Path

from collector.cli.common import CliError, engine, known_department
from collector.config import DataDir
from mamori.i18n import _, language
from mamori.policy import SEGMENTS


def cmd_report(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector import reports
    from collector.reports.data import build
    from collector.reports.period import PeriodError, parse_period
    from collector.store.db import read_only

    try:
        period = parse_period(args.period)
    except PeriodError as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CliError(_("folder {path} does not exist").format(path=out.parent))
    db = engine(datadir)
    known_department(db, args.department)
    with read_only(db.connect()) as conn:
        try:
            data = build(conn, period, department=args.department, segment=args.segment, lang=language())
        except PeriodError as exc:  # a period that has not begun
            raise CliError(str(exc)) from None
    reports.write(data, args.format, out)
    print(
        _("Report written to {path} ({n} violations, {t} terminals).").format(
            path=out, n=len(data["violations"]), t=data["total"]["targets"]
        )
    )
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[common], help=_("audit report for a period"))
    p.add_argument(
        "--period", required=True, help=_("2026-11, 2026-Q3, FY2026 (April-March), FY2026-Q3 or 2026-04-01..2026-09-30")
    )
    p.add_argument("--department", help=_("department (所属)"))
    p.add_argument("--segment", choices=SEGMENTS)
    p.add_argument("--format", required=True, choices=["xlsx", "csv", "json", "html"])
    p.add_argument("--out", required=True, help=_("file to write"))
    p.set_defaults(func=cmd_report)
