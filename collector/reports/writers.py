"""Writing a report: json (the data as is), csv (UTF-8 with BOM, one section per table), xlsx (openpyxl)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from collector.reports.labels import t
from collector.reports.tables import tables

# Excel on Japanese Windows has these; LibreOffice maps them to Noto Sans CJK JP.
XLSX_FONT = "Yu Gothic"


def write_json(data: dict[str, Any], out: Path) -> None:
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_csv(data: dict[str, Any], out: Path) -> None:
    """Sections: a title row, a header row, the rows, a blank row. utf-8-sig writes the BOM Excel needs."""
    lang = data["lang"]
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        w = csv.writer(handle)
        w.writerow([data["title"]])
        w.writerow([t("period", lang), data["period"]["label"], data["period"]["from"], data["period"]["to"]])
        w.writerow([t("generated", lang), data["generated_label"]])
        w.writerow([])
        for table in tables(data):
            w.writerow([f"# {table.title}"])
            w.writerow(table.headers)
            w.writerows(table.rows)
            w.writerow([])


def write_xlsx(data: dict[str, Any], out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    lang = data["lang"]
    wb = Workbook()
    cover = wb.active
    cover.title = "概要" if lang == "ja" else "Overview"
    font, bold = Font(name=XLSX_FONT, size=10), Font(name=XLSX_FONT, size=10, bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    lines = [[data["title"]], [t("period", lang), data["period"]["label"]],
             [t("generated", lang), data["generated_label"]],
             [t("filters", lang), " ".join(f"{k}={v}" for k, v in data["filters"].items() if v) or "-"], [],
             [t("targets", lang), data["total"]["targets"]],
             [t("compliance", lang), _rate_cell(data["total"]["compliance_rate"])],
             [t("violations", lang), data["total"]["violations"]],
             [t("unresolved", lang), data["total"]["unresolved"]], [], [t("legend", lang)]]
    if not data["device_approvals"]["available"]:
        lines.append([t("approvals", lang), t("approvals_missing", lang)])
    for line in lines:
        cover.append(line)
    for row in cover.iter_rows():
        for cell in row:
            cell.font = font
    cover["A1"].font = Font(name=XLSX_FONT, size=14, bold=True)
    cover.column_dimensions["A"].width = 18
    cover.column_dimensions["B"].width = 50
    for table in tables(data):
        ws = wb.create_sheet(table.title[:31])
        ws.append(table.headers)
        for row in table.rows:
            ws.append([_cell(v) for v in row])
        for cell in ws[1]:
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(vertical="center", wrap_text=True)
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                cell.font = font
        for i, width in enumerate(table.widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A2"  # the header row stays while scrolling
        last = f"{get_column_letter(len(table.headers))}{max(1, len(table.rows) + 1)}"
        ws.auto_filter.ref = f"A1:{last}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.print_title_rows = "1:1"
    wb.save(out)


def _rate_cell(value: float | None) -> str:
    return "−" if value is None else f"{value * 100:.1f}%"


def _cell(value: Any) -> Any:
    return "" if value is None else value
