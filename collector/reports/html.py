"""The report as one self-contained HTML file: tables, inline SVG charts, print CSS for A4."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from collector.reports.labels import wording as t
from collector.reports.tables import tables
from mamori.labels import names

COLOURS = {"critical": "#b71c1c", "high": "#e65100", "medium": "#f9a825", "low": "#1565c0", "info": "#9e9e9e"}
CSS = """
body { font-family: "Noto Sans CJK JP", "Yu Gothic", "Meiryo", sans-serif; font-size: 10pt; color: #222;
       margin: 16px; }
h1 { font-size: 16pt; margin: 0 0 4px; } h2 { font-size: 12pt; margin: 18px 0 6px; border-left: 4px solid #1565c0;
       padding-left: 6px; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
th, td { border: 1px solid #999; padding: 2px 4px; vertical-align: top; }
th { background: #ddebf7; } td.n { text-align: right; } td.m { text-align: center; font-weight: bold; }
.meta td { border: none; padding: 0 8px 0 0; } .note { color: #555; font-size: 9pt; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } .chart { flex: 1 1 300px; }
.detail td { font-size: 8pt; word-break: break-all; }
@page { size: A4 landscape; margin: 12mm; }
@media print { body { margin: 0; } h2 { break-after: avoid; } tr, .chart { break-inside: avoid; }
  thead { display: table-header-group; } .detail { page-break-before: always; } }
"""


def _bar_chart(title: str, items: list[tuple[str, float | None]], width: int = 460) -> str:
    """Horizontal bars of rates 0..1 (None: no terminals)."""
    row_h, label_w = 20, 150
    height = 24 + row_h * max(1, len(items))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    span = width - label_w - 50
    for i, (label, rate) in enumerate(items):
        y = 20 + i * row_h
        parts.append(f'<text x="{label_w - 4}" y="{y + 13}" font-size="11" text-anchor="end">{escape(label)}</text>')
        if rate is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 13}" font-size="11">−</text>')
            continue
        colour = "#2e7d32" if rate >= 0.95 else "#f9a825" if rate >= 0.8 else "#b71c1c"
        parts.append(
            f'<rect x="{label_w}" y="{y + 2}" width="{span * rate:.1f}" height="{row_h - 6}" fill="{colour}"/>'
        )
        parts.append(f'<text x="{label_w + span * rate + 4:.1f}" y="{y + 13}" font-size="11">{rate * 100:.1f}%</text>')
    parts.append(f'<line x1="{label_w}" y1="16" x2="{label_w}" y2="{height}" stroke="#555"/></svg>')
    return "".join(parts)


def _weekly_chart(data: dict[str, Any], width: int = 700, height: int = 220) -> str:
    lang = data["lang"]
    weeks = data["weekly"]
    severities = [s for s in ("critical", "high", "medium", "low") if any(w[s] for w in weeks)] or ["critical"]
    top = max([sum(w[s] for s in severities) for w in weeks] + [1])
    left, bottom, plot_h = 36, 30, height - 60
    bar_w = max(2.0, (width - left - 10) / max(1, len(weeks)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(t("weekly", lang))}">'
    ]
    for frac in (0, 0.5, 1) if top >= 2 else (0, 1):
        y = height - bottom - plot_h * frac
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 5}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{round(top * frac)}</text>"
        )
    for i, w in enumerate(weeks):
        x, base = left + i * bar_w, height - bottom
        for s in severities:
            h = plot_h * w[s] / top
            if h:
                base -= h
                parts.append(
                    f'<rect x="{x + 1:.1f}" y="{base:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                    f'fill="{COLOURS[s]}"><title>{w["week"]} {s}: {w[s]}</title></rect>'
                )
        if len(weeks) <= 14 or i % max(1, len(weeks) // 12) == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 14}" font-size="9" '
                f'text-anchor="middle">{w["week"][5:]}</text>'
            )
    legend = names("severity", lang)
    for j, s in enumerate(severities):
        parts.append(
            f'<rect x="{left + j * 70}" y="4" width="10" height="10" fill="{COLOURS[s]}"/>'
            f'<text x="{left + j * 70 + 14}" y="13" font-size="10">{escape(legend[s])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(table, numeric_from: int | None = None, css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = []
    for row in table.rows:
        cells = []
        for i, v in enumerate(row):
            cls = (
                ' class="m"'
                if v in ("○", "△", "×", "−")
                else (' class="n"' if numeric_from is not None and i >= numeric_from else "")
            )
            cells.append(f"<td{cls}>{escape('' if v is None else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not table.rows:
        body.append(f'<tr><td colspan="{len(table.headers)}">—</td></tr>')
    return (
        f'<h2>{escape(table.title)}</h2><table class="{css}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def render(data: dict[str, Any]) -> str:
    lang = data["lang"]
    by = {tb.key: tb for tb in tables(data)}
    total = data["total"]
    rate = "−" if total["compliance_rate"] is None else f"{total['compliance_rate'] * 100:.1f}%"
    meta = [
        (t("period", lang), data["period"]["label"]),
        (t("generated", lang), data["generated_label"]),
        (t("targets", lang), str(total["targets"])),
        (t("compliance", lang), rate),
        (t("violations", lang), str(total["violations"])),
        (t("unresolved", lang), str(total["unresolved"])),
    ]
    filters = " ".join(f"{k}={v}" for k, v in data["filters"].items() if v)
    if filters:
        meta.append((t("filters", lang), filters))
    charts = [
        f'<div class="chart"><h2>{escape(t("weekly", lang))}</h2>{_weekly_chart(data)}</div>',
        f'<div class="chart"><h2>{escape(t("compliance_by_department", lang))}</h2>'
        + _bar_chart(
            t("compliance_by_department", lang),
            [(r["department"], r["compliance_rate"]) for r in data["by_department"]],
        )
        + "</div>",
        f'<div class="chart"><h2>{escape(t("compliance_by_segment", lang))}</h2>'
        + _bar_chart(
            t("compliance_by_segment", lang), [(r["segment_name"], r["compliance_rate"]) for r in data["by_segment"]]
        )
        + "</div>",
    ]
    approvals = _table(by["approvals"])
    return "".join(
        [
            f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{escape(data["title"])}</title>',
            f"<style>{CSS}</style></head><body>",
            f'<h1>{escape(data["title"])}</h1><table class="meta">',
            "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in meta),
            "</table>",
            f'<div class="charts">{"".join(charts)}</div>',
            _table(by["by_department"], 1),
            _table(by["by_clause"], 2),
            _table(by["by_segment"], 1),
            f'<p class="note">{escape(t("legend", lang))}</p>',
            _table(by["exceptions"]),
            approvals,
            f'<div class="detail">{_table(by["detail"], None, "detail")}</div>',
            "</body></html>\n",
        ]
    )


def write_html(data: dict[str, Any], out: Path) -> None:
    out.write_text(render(data), encoding="utf-8")
