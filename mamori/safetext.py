"""Agent-supplied text made safe for logs and terminal tables: no control characters, bounded length."""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls: newlines forge log lines, ESC/CSI sequences repaint a staff terminal.
# Unicode line/paragraph separators and bidi overrides also break or reorder a line on screen.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_LEN = 255


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe(text: object, limit: int | None = MAX_LEN) -> str:
    """text with every control character shown as a visible escape (\\x1b), cut to `limit` characters."""
    value = text if isinstance(text, str) else str(text)
    if limit is not None and len(value) > limit:
        # Cut before escaping so the bound is on what the agent sent; the mark shows the cut.
        value = value[:limit] + "…"
    return _UNSAFE.sub(_escape, value)
