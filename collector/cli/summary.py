"""`mamori-collector summary`: one screen — agents by segment and contact, open violations, top terminals."""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from collector.cli.common import engine, iso, print_json
from collector.config import DataDir
from mamori import clock
from mamori.i18n import _, language
from mamori.labels import SEGMENTS, SEVERITIES, label, names
from mamori.table import render

RECENT = timedelta(minutes=15)  # the default heartbeat policy (OPS-002)
TODAY = timedelta(hours=24)


def build(conn, now: datetime, datadir: DataDir | None = None) -> dict[str, Any]:
    """The summary's data (also its stable JSON form, documented in README.md)."""
    from collector.rules import RULES
    from collector.store import queries
    from collector.store import violations as vstore

    agents: dict[str, dict[str, int]] = {
        s: {"total": 0, "recent": 0, "today": 0, "silent": 0, "revoked": 0, "superseded": 0} for s in SEGMENTS
    }
    for a in queries.list_agents(conn):
        row = agents[a.segment]
        if a.state == "superseded":
            # The terminal counts once, under its new record; the old one is history, never silent.
            row["superseded"] += 1
            continue
        row["total"] += 1
        if a.revoked_at:
            row["revoked"] += 1
        elif a.last_seen_at and now - a.last_seen_at <= RECENT:
            row["recent"] += 1
        elif a.last_seen_at and now - a.last_seen_at <= TODAY:
            row["today"] += 1
        else:
            row["silent"] += 1
    by_severity = dict.fromkeys(reversed(SEVERITIES), 0)
    by_rule: dict[str, int] = defaultdict(int)
    for rule_id, severity, count in vstore.open_counts(conn):
        by_severity[severity] += count
        by_rule[rule_id] += count
    excepted = vstore.excepted_count(conn)
    lang = language()
    certs = []
    if datadir is not None:
        from collector.cli import pki

        certs = [r.as_json(now) for r in pki.expiring(pki.horizons(datadir, conn), now)]
    return {
        "certificates_expiring": certs,
        "generated_at": iso(now),
        "agents": agents,
        "open_violations": {
            "by_severity": by_severity,
            "by_rule": [
                {"rule_id": r, "title": RULES[r].title(lang) if r in RULES else "", "count": n}
                for r, n in sorted(by_rule.items(), key=lambda x: (-x[1], x[0]))
            ],
            "excepted": excepted,
        },
        "top_agents": [
            {"agent_id": a, "hostname": h, "department": d, "open": n, "worst_severity": w}
            for a, h, d, n, w in vstore.top_agents(conn, 5)
        ],
    }


def cmd_summary(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store.db import read_only

    with read_only(engine(datadir).connect()) as conn:
        data = build(conn, clock.now(), datadir)
    if args.json:
        print_json(data)
        return 0
    seg_names = names("segment")
    print(_("Terminals"))
    print(
        render(
            [
                _("Segment"),
                _("Total"),
                _("<15 min"),
                _("<24 h"),
                _("Silent"),
                _("Revoked"),
                label("agent", "superseded"),
            ],
            [
                [seg_names[s], *(str(v[k]) for k in ("total", "recent", "today", "silent", "revoked", "superseded"))]
                for s, v in data["agents"].items()
            ],
        )
    )
    ov = data["open_violations"]
    if data["certificates_expiring"]:
        print()
        # A warning staff cannot miss: an expired certificate is a terminal (or the collector) cut off.
        print(
            _("Warning: {n} certificate(s) expire within 30 days or have expired (see `pki status`)").format(
                n=len(data["certificates_expiring"])
            )
        )
    print()
    print(
        _("Open violations by severity")
        + "  "
        + "  ".join(f"{label('severity', s)} {n}" for s, n in ov["by_severity"].items() if s != "info")
        + "  "
        + _("(excepted: {n})").format(n=ov["excepted"])
    )
    if ov["by_rule"]:
        print(
            render(
                [_("Rule"), _("Count"), _("Title")],
                [[r["rule_id"], str(r["count"]), r["title"]] for r in ov["by_rule"][:8]],
                [7, 5, 60],
            )
        )
    if data["top_agents"]:
        print()
        print(_("Terminals with the most open violations"))
        print(
            render(
                [_("Terminal"), _("Department"), _("Open"), _("Worst")],
                [
                    [t["hostname"], t["department"], str(t["open"]), label("severity", t["worst_severity"])]
                    for t in data["top_agents"]
                ],
                [20, 20, 5, 6],
            )
        )
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("summary", parents=[common], help=_("one-screen overview"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_summary)
