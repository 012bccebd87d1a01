"""Log output on stderr for both programs: journal priorities under systemd, timestamps elsewhere."""

from __future__ import annotations

import logging
import os
import sys

from mamori.safetext import safe


class JournalFormatter(logging.Formatter):
    """`<N>` sd-daemon priority prefixes, so `journalctl -p warning` sees the real levels."""

    PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}

    def __init__(self) -> None:
        super().__init__(fmt="%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        priority = self.PRIORITIES.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        # Every line of a multi-line message (tracebacks) keeps the record's priority.
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


class SafeMessages(logging.Filter):
    """One record is one line: control characters in the message (an agent's host name) are escaped.

    Tracebacks are added by the formatter after this filter, so they keep their lines.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = safe(message, limit=None)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def stderr_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SafeMessages())
    if os.environ.get("JOURNAL_STREAM"):
        # stderr is connected to the journal, which stamps time and identifier (SyslogIdentifier=) itself.
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler
