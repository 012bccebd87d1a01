"""Writing a report: json (the data as is), csv (UTF-8 with BOM, one section per table), xlsx (openpyxl)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from collector.reports.labels import wording as t
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
            w.writerows([[csv_text(v) for v in row] for row in table.rows])
            w.writerow([])


def write_xlsx(data: dict[str, Any], out: Path) -> None:
    """Streaming (write-only) workbook: a year's detail has 100,000 rows and must build in seconds."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.indexed_list import IndexedList

    lang = data["lang"]
    wb = Workbook(write_only=True)
    # Font 0 is what every cell without a style of its own uses: make it a Japanese font once,
    # instead of styling a million cells one by one.
    wb._fonts = IndexedList([Font(name=XLSX_FONT, size=10)])  # type: ignore[attr-defined]  # private, not in the stubs
    bold, fill = Font(name=XLSX_FONT, size=10, bold=True), PatternFill("solid", fgColor="DDEBF7")

    def styled(ws, value: Any, font: Font, with_fill: bool = False) -> Any:
        cell = WriteOnlyCell(ws, value=value)
        cell.font = font
        if with_fill:
            cell.fill = fill
            cell.alignment = Alignment(vertical="center", wrap_text=True)
        return cell

    cover = wb.create_sheet(t("overview", lang))
    cover.column_dimensions["A"].width = 18
    cover.column_dimensions["B"].width = 50
    cover.append([styled(cover, data["title"], Font(name=XLSX_FONT, size=14, bold=True))])
    lines = [
        [t("period", lang), data["period"]["label"]],
        [t("generated", lang), data["generated_label"]],
        [t("filters", lang), " ".join(f"{k}={v}" for k, v in data["filters"].items() if v) or "-"],
        [],
        [t("targets", lang), data["total"]["targets"]],
        [t("compliance", lang), _rate_cell(data["total"]["compliance_rate"])],
        [t("violations", lang), data["total"]["violations"]],
        [t("unresolved", lang), data["total"]["unresolved"]],
        [],
        [t("legend", lang)],
    ]
    for line in lines:
        cover.append(line)
    for table in tables(data):
        ws = wb.create_sheet(table.title[:31])
        for i, width in enumerate(table.widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A2"  # the header row stays while scrolling
        last = f"{get_column_letter(len(table.headers))}{max(1, len(table.rows) + 1)}"
        ws.auto_filter.ref = f"A1:{last}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = "9"  # A4
        ws.print_title_rows = "1:1"
        ws.append([styled(ws, h, bold, with_fill=True) for h in table.headers])
        for row in table.rows:
            ws.append([_cell(ws, v) for v in row])
    wb.save(out)


def _rate_cell(value: float | None) -> str:
    return "−" if value is None else f"{value * 100:.1f}%"


# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection"); host, user and
# file names come from agents, so such text must stay text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: Any) -> Any:
    """A csv cell: text that a spreadsheet would run as a formula gets the quote prefix Excel shows as text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _cell(ws: Any, value: Any) -> Any:
    """An xlsx cell: text is always stored as a string, never parsed as a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith("="):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # openpyxl makes any "=..." a formula; the value is agent-supplied text
        return cell
    return value
