"""Audit reports (監査 / 自己点検): build the figures once, write xlsx, csv, json or html."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collector.reports.html import write_html
from collector.reports.writers import write_csv, write_json, write_xlsx

WRITERS = {"xlsx": write_xlsx, "csv": write_csv, "json": write_json, "html": write_html}


def write(data: dict[str, Any], fmt: str, out: Path) -> None:
    """Write to a temporary sibling and rename, so a failed export never leaves half a file behind."""
    tmp = out.with_name(out.name + ".part")
    try:
        WRITERS[fmt](data, tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
