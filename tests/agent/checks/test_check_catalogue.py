"""README.md's check table is what the check specs generate; the specs are complete and match the modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.checks import CHECKS, catalogue
from agent.checks.spec import CheckSpec
from mamori import thresholds
from mamori.evidence import EVIDENCE

REPO = Path(__file__).resolve().parents[3]


def test_readme_check_table_is_current():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert catalogue.updated(text) == text, (
        "README.md's check table is stale: run `python -m agent.checks.catalogue --write`"
    )


def test_every_check_is_a_spec_with_its_evidence_and_thresholds():
    for cid, check in CHECKS.items():
        spec = check.SPEC
        assert isinstance(spec, CheckSpec) and spec.id == cid
        assert (check.ID, check.TITLE, check.PLATFORMS, check.INTERVAL_SECONDS) == (
            spec.id,
            spec.title,
            spec.platforms,
            spec.interval_seconds,
        )
        assert spec.evidence is EVIDENCE[cid]
        assert set(spec.reads) == set(spec.platforms), f"{cid}: say what each platform's reader consults"
        for t in spec.thresholds:
            assert t.rule in spec.rules, f"{cid}: threshold {t.setting} belongs to a rule the check does not serve"
            assert thresholds.PARAMS[t.rule][t.name].default == t.default


def test_every_rule_parameter_a_check_reads_is_in_some_spec():
    declared = {t.setting for check in CHECKS.values() for t in check.SPEC.thresholds}
    assert declared == set(thresholds.CHECK_SETTINGS)


def test_catalogue_command_prints_the_table():
    out = subprocess.run(
        [sys.executable, "-m", "agent.checks.catalogue"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out == catalogue.render() + "\n"
    assert "| `time_sync` | linux, windows | 1 h |" in out and "OPS-001 `max_offset_seconds` (float" in out


def test_every_checks_setting_the_policy_accepts_is_declared_by_a_spec():
    from mamori.policy import CHECK_LISTS, CHECK_NUMBERS, DEFAULTS

    declared = {key for check in CHECKS.values() for key in check.SPEC.settings}
    accepted = {"mfa_required", *CHECK_NUMBERS, *CHECK_LISTS} - {"disabled"}  # `disabled` serves every check
    assert declared == accepted
    for doc in DEFAULTS.values():
        assert set(doc["checks"]) == accepted | {"disabled"}


def test_parameter_table_states_the_policy_values():
    table = catalogue.render_parameters()
    assert "| `probe_timeout_seconds` | `[checks]` | `network_segment` | float | 0.05..10 | 2 |" in table
    assert "| `max_minutes` | `[rules.AUT-003]` | `screen_lock` | int | 1..240 | 10 |" in table
    assert "mynumber: true, lgwan: false" in table
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert table in text
