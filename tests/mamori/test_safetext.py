"""Agent-supplied text cannot break a log line or a table row, nor send escape sequences to a terminal."""

from __future__ import annotations

import io
import logging

from mamori.logsetup import SafeMessages
from mamori.safetext import safe
from mamori.table import render

EVIL = "pc-01\n2026-12-02 INFO forged\x1b[2J\x1b]0;title\x07\r\x00\x7f\x9b"


def test_controls_become_visible_escapes():
    assert safe(EVIL) == "pc-01\\x0a2026-12-02 INFO forged\\x1b[2J\\x1b]0;title\\x07\\x0d\\x00\\x7f\\x9b"
    assert safe("住民票\u2028\u202eexe.txt") == "住民票\\u2028\\u202eexe.txt"
    assert safe("市民課-pc01") == "市民課-pc01"


def test_length_is_bounded():
    assert safe("a" * 1000) == "a" * 255 + "…"
    assert safe("\n" * 10, limit=3) == "\\x0a\\x0a\\x0a…"


def test_table_cells_are_escaped():
    out = render(["Host", "Segment"], [[EVIL, "lgwan"]])
    assert out.count("\n") == 1 and "\x1b" not in out
    assert "pc-01\\x0a2026-12-02 INFO forged\\x1b[2J" in out


def test_a_log_record_with_a_forged_line_stays_one_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SafeMessages())
    logger = logging.getLogger("test.safetext")
    logger.addHandler(handler)
    try:
        logger.warning("enrolled %s", EVIL)
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")  # a traceback keeps its lines: it is ours, not the agent's
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "enrolled " + safe(EVIL)
    assert lines[1] == "failed" and lines[2].startswith("Traceback")
