"""Plain-text tables that line up Japanese (double-width) text and fit a terminal."""

from __future__ import annotations

import unicodedata

from mamori.safetext import safe


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def clip(text: str, limit: int) -> str:
    """Cut text to at most limit columns, marking the cut with an ellipsis."""
    if width(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        w = width(ch)
        if used + w > limit - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def render(headers: list[str], rows: list[list[str]], max_widths: list[int] | None = None) -> str:
    """Columns separated by two spaces; the last column is not padded.

    Cells often hold agent-supplied text (host names): control characters are shown escaped, never sent
    to the terminal, so a cell can neither break its row nor repaint the screen.
    """
    rows = [[safe(c, limit=None) for c in row] for row in rows]
    if max_widths:
        rows = [[clip(c, m) if m else c for c, m in zip(row, max_widths, strict=False)] for row in rows]
    widths = [width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], width(cell))
    lines = []
    for row in [headers, *rows]:
        cells = [pad(c, widths[i]) if i < len(row) - 1 else c for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
