"""検知内容 is shown in the reader's language: every rule's FLAGS example, stored as a violation, then reported."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from collector.rules import MODULES
from collector.rules.engine import AgentInfo, apply_outcomes, judge, with_check
from collector.store.models import violations

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _store_flags(cli) -> dict[str, list[str]]:
    """Each FLAGS example as a real violation (through the engine's writer) of its own terminal; id -> texts."""
    expected = {}
    for module in MODULES:
        for i, subject in enumerate(module.FLAGS):
            hostname = f"{module.RULE.id}-{i}"
            agent_id = cli.agent(subject.segment, "市民課", hostname)
            outcome = with_check(judge(module.RULE, subject), subject)
            ev = SimpleNamespace(occurred_at=cli.now - timedelta(days=1), event_id="")
            with cli.engine.begin() as conn:
                apply_outcomes(conn, AgentInfo(agent_id, subject.segment, "市民課"), {module.RULE.id: [(outcome, ev)]})
            expected[hostname] = [outcome.message.render("ja"), outcome.detail]
    return expected


def _report(cli, tmp_path, lang):
    out = tmp_path / f"r-{lang}.json"
    code, _, err = cli.run("report", "--period", "2026-11", "--format", "json", "--out", str(out), lang=lang)
    assert code == 0, err
    return {v["terminal"]: v["detected"] for v in json.loads(out.read_text(encoding="utf-8"))["violations"]}


def test_every_rules_detail_is_japanese_in_a_japanese_report_and_english_in_an_english_one(cli, tmp_path):
    expected = _store_flags(cli)
    ja, en = _report(cli, tmp_path, "ja"), _report(cli, tmp_path, "en")
    assert set(ja) == set(expected)
    for host, (text_ja, text_en) in expected.items():
        assert ja[host] == text_ja and JAPANESE.search(text_ja), (host, ja[host])
        assert en[host] == text_en, (host, en[host])
    assert all(ja[host] != en[host] for host in ja)  # no English left in the Japanese report


def test_the_cli_shows_the_detail_in_its_language_and_old_rows_as_stored(cli):
    expected = _store_flags(cli)
    rows = {v["hostname"]: v for v in cli.json("violations", "list", "--limit", "1000")}
    assert rows["PAT-001-0"]["detail"] == expected["PAT-001-0"][0] == "未適用のセキュリティ更新 1 件、最長 42 日"
    code, out, _ = cli.run("violations", "show", str(rows["PAT-001-0"]["id"]), lang="en")
    assert code == 0 and "1 security updates, oldest 42 days" in out
    # A row written before messages were stored has its English text only: shown as it is, in any language.
    with cli.engine.begin() as conn:
        conn.execute(
            sa.update(violations)
            .where(violations.c.id == rows["AUT-001-0"]["id"])
            .values(detail="MFA check failed", detail_message=None)
        )
    old = next(v for v in cli.json("violations", "list", "--limit", "1000") if v["hostname"] == "AUT-001-0")
    assert old["detail"] == "MFA check failed"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_broken_translation_falls_back_to_english(lang, monkeypatch):
    from mamori import i18n

    class Broken:
        def gettext(self, msgid):
            return "{nonexistent}"

    monkeypatch.setattr(i18n, "catalogue", lambda _lang: Broken())
    assert i18n.render("{n} days", {"n": 3}, lang) == "3 days"


def test_a_violation_cleared_by_its_rule_shows_the_clearing_in_the_readers_language(cli):
    from collector.rules import pat_001

    agent_id = cli.agent("lgwan", "市民課", "住民-cleared")
    info = AgentInfo(agent_id, "lgwan", "市民課")
    flag, clear = (judge(pat_001.RULE, s) for s in (pat_001.FLAGS[0], pat_001.PASSES[0]))
    for outcome, days in ((flag, 2), (clear, 1)):
        with cli.engine.begin() as conn:
            apply_outcomes(
                conn,
                info,
                {"PAT-001": [(outcome, SimpleNamespace(occurred_at=cli.now - timedelta(days=days), event_id=""))]},
            )
    [v] = [v for v in cli.json("violations", "list", "--status", "resolved") if v["agent_id"] == agent_id]
    assert v["resolution_note"] == "no pending security updates"  # stored in English, for older readers
    code, out, _ = cli.run("violations", "show", str(v["id"]))
    assert code == 0 and "未適用のセキュリティ更新なし" in out
