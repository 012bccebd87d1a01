"""The report's tables (title, headers, rows) shared by the csv, xlsx and html writers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector.reports.labels import wording as t


@dataclass
class Table:
    key: str
    title: str
    headers: list[str]
    rows: list[list[Any]]
    widths: list[int]  # column widths in characters (xlsx)


def _rate(value: float | None) -> str:
    return "−" if value is None else f"{value * 100:.1f}%"


def _figures(row: dict[str, Any]) -> list[Any]:
    return [row["targets"], _rate(row["compliance_rate"]), row["violations"], row["unresolved"], row["mark"]]


def tables(data: dict[str, Any]) -> list[Table]:
    lang = data["lang"]
    zone = data["timezone"]

    def timed(key: str) -> str:  # 「発生日時 (JST)」: the zone of the column's times
        return f"{t(key, lang)} ({zone})"

    fig = [t(k, lang) for k in ("targets", "compliance", "violations", "unresolved", "result")]
    fig_w = [10, 10, 10, 10, 6]
    out = [
        Table(
            "by_department",
            t("by_department", lang),
            [t("department", lang), *fig],
            [[r["department"], *_figures(r)] for r in data["by_department"]],
            [24, *fig_w],
        ),
        Table(
            "by_clause",
            t("by_clause", lang),
            [t("clause", lang), t("rules", lang), *fig],
            [[r["clause"], ", ".join(r["rules"]), *_figures(r)] for r in data["by_clause"]],
            [12, 40, *fig_w],
        ),
        Table(
            "by_segment",
            t("by_segment", lang),
            [t("segment", lang), *fig],
            [[r["segment_name"], *_figures(r)] for r in data["by_segment"]],
            [24, *fig_w],
        ),
        Table(
            "detail",
            t("detail", lang),
            [
                timed(k) if k == "occurred" else t(k, lang)
                for k in (
                    "rule_id",
                    "clause",
                    "segment",
                    "department",
                    "terminal",
                    "user",
                    "occurred",
                    "detected",
                    "severity",
                    "evidence_id",
                    "exception_no",
                    "status",
                    "checked_by",
                    "checked_on",
                )
            ],
            [
                [
                    v["rule_id"],
                    v["clause"],
                    v["segment_name"],
                    v["department"],
                    v["terminal"],
                    v["user"],
                    v["occurred_label"],
                    v["detected"],
                    v["severity_name"],
                    v["evidence_id"],
                    v["exception_id"] if v["exception_id"] is not None else "",
                    v["status_name"],
                    v["checked_by"],
                    v["checked_label"],
                ]
                for v in data["violations"]
            ],
            [10, 18, 14, 16, 16, 10, 22, 40, 8, 38, 8, 10, 10, 18],
        ),
        Table(
            "exceptions",
            t("exceptions", lang),
            [t(k, lang) for k in ("no", "rule_id", "scope", "from", "until", "state", "reason", "approved_by")],
            [
                [
                    e["id"],
                    e["rule_id"],
                    e["department"] or e["hostname"] or e["agent_id"],
                    e["from_label"],
                    e["until_label"],
                    e["state_name"],
                    e["reason"],
                    e["approved_by"],
                ]
                for e in data["exceptions"]
            ],
            [6, 10, 24, 18, 18, 10, 40, 14],
        ),
        Table(
            "approvals",
            t("approvals", lang),
            [
                timed(k) if k in ("first_use", "last_use") else t(k, lang)
                for k in (
                    "approval",
                    "terminal",
                    "serial",
                    "device",
                    "uses",
                    "first_use",
                    "last_use",
                    "reason",
                    "approved_by",
                )
            ],
            [
                [
                    a["approval_label"],
                    a["terminal"],
                    a["serial"],
                    a["device"],
                    a["uses"],
                    a["first_label"],
                    a["last_label"],
                    a["reason"],
                    a["approved_by"],
                ]
                for a in data["device_approvals"]["items"]
            ],
            [30, 16, 18, 24, 6, 20, 20, 30, 14],
        ),
    ]
    return out
