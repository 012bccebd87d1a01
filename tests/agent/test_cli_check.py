"""`mamori-agent check`: the table fits 80 columns in both languages, --json, --id, exit status."""

from __future__ import annotations

import json

from agent.checks import CHECKS
from mamori.table import width
from tests.e2e.harness import run_cli


def test_all_checks_table_fits_80_columns_in_japanese(tmp_path):
    proc = run_cli("agent.cli", "--state-dir", str(tmp_path), "--lang", "ja", "check", check=False)
    assert proc.returncode in (0, 1), proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("点検項目")
    assert max(width(line) for line in lines) <= 80
    for check in CHECKS.values():
        assert any(line.startswith(check.TITLE.render("ja")) for line in lines), check.ID
    assert "最も厳しい基準" in proc.stdout  # not enrolled: judged against the strictest policy
    assert proc.returncode == (1 if "不適合" in proc.stdout or "エラー" in proc.stdout else 0)


def test_json_for_one_check(tmp_path):
    proc = run_cli("agent.cli", "--state-dir", str(tmp_path), "check", "--id", "os_support", "--json", check=False)
    data = json.loads(proc.stdout)
    assert data["policy_source"] == "strictest" and data["segment"] == "mynumber"
    [result] = data["results"]
    assert result["check_id"] == "os_support" and result["status"] in ("pass", "fail", "not_applicable")
    assert result["evidence"]["release"]


def test_english_table_and_unknown_id(tmp_path):
    proc = run_cli("agent.cli", "--state-dir", str(tmp_path), "--lang", "en", "check", "--id", "mfa", check=False)
    assert proc.stdout.startswith("Check") and max(width(x) for x in proc.stdout.splitlines()) <= 80
    bad = run_cli("agent.cli", "--state-dir", str(tmp_path), "--lang", "en", "check", "--id", "nope", check=False)
    assert bad.returncode == 2 and "unknown check nope" in bad.stderr and "mfa" in bad.stderr
