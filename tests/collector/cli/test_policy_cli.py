"""policy show / validate / set: rule parameters per segment; a broken file is refused with file:line: reason."""

from __future__ import annotations

import json

import pytest

from collector.policies import load_file
from mamori.tomlconf import ConfigError


def _shown(cli, segment: str) -> str:
    code, out, err = cli.run("policy", "show", "--segment", segment)
    assert code == 0, err
    return out


def test_show_lists_rule_parameters_with_rules_md_defaults(cli):
    text = _shown(cli, "lgwan")
    assert 'segment = "lgwan"' in text and "[rules.AUT-003]" in text and "max_minutes = 10" in text
    assert "[rules.MED-001]" not in text  # a mynumber-only rule has no parameters on lgwan anyway
    data = cli.json("policy", "show")
    assert data["lgwan"]["document"]["rules"]["PAT-001"] == {"days": 30, "critical_days": 14}


def test_set_changes_rule_thresholds_and_is_audited(cli, tmp_path):
    agent = cli.agent("lgwan")
    cli.check(agent, "screen_lock", "pass", {"enabled": True, "timeout_seconds": 1200})
    assert [v["rule_id"] for v in cli.json("violations", "list")] == ["AUT-003"]
    path = tmp_path / "lgwan.toml"
    path.write_text(_shown(cli, "lgwan").replace("max_minutes = 10", "max_minutes = 30"), encoding="utf-8")
    code, out, err = cli.run("policy", "validate", str(path))
    assert code == 0 and "lgwan" in out
    code, out, err = cli.run("policy", "set", str(path), "--by", "佐藤")
    assert code == 0, err
    assert cli.json("policy", "show", "--segment", "lgwan")["lgwan"]["document"]["rules"]["AUT-003"] == {
        "max_minutes": 30
    }
    cli.check(agent, "screen_lock", "pass", {"enabled": True, "timeout_seconds": 1200})
    (v,) = cli.json("violations", "list")
    assert v["status"] == "resolved"  # 20 minutes is within the new policy: the state cleared
    entry = cli.json("audit-log", "list")[0]
    assert (entry["action"], entry["actor"], entry["target"]) == ("policy.set", "佐藤", "policy:lgwan")


@pytest.mark.parametrize(
    "change,line_text,reason",
    [
        # Anchored at the line start: AUT-003's max_minutes, the one screen-lock threshold.
        (("\nmax_minutes = 10", "\nmax_minutes = 0"), "max_minutes = 0", "must be at least 1"),
        (("\nmax_minutes = 10", '\nmax_minutes = "ten"'), 'max_minutes = "ten"', "expected int"),
        (("[rules.AUT-003]", "[rules.AUT-999]"), "[rules.AUT-999]", "unknown rule"),
        (('mode = "allowlist"', 'mode = "open"'), 'mode = "open"', "must be one of"),
        (('office_hours = "08:00-19:00"', 'office_hours = "19:00-08:00"'), 'office_hours = "19', "HH:MM-HH:MM"),
        (("\nmax_minutes = 10", "\nmax_minutes = = 10"), "max_minutes = = 10", "TOML syntax error"),
        # A usb rule every agent would refuse is refused here too, by the agents' own parser.
        (("allow = []", 'allow = ["allow id 1234:zzzz"]'), "allow = [", "is not VID:PID"),
    ],
)
def test_broken_file_is_refused_with_line_and_the_policy_stays(cli, tmp_path, change, line_text, reason):
    before = cli.json("policy", "show", "--segment", "lgwan")
    text = _shown(cli, "lgwan").replace(*change)
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if line_text in t)
    with pytest.raises(ConfigError) as err:
        load_file(path)
    assert str(err.value).startswith(f"{path}:{line}: ") and reason in str(err.value)
    code, _, msg = cli.run("policy", "set", str(path))
    assert code == 2 and f"{path}:{line}" in msg
    assert cli.json("policy", "show", "--segment", "lgwan") == before
    assert cli.json("audit-log", "list") == []


def test_disabled_rule_does_not_fire(cli, tmp_path):
    path = tmp_path / "internet.toml"
    path.write_text(_shown(cli, "internet") + "\n[rules.NET-001]\nenabled = false\n", encoding="utf-8")
    assert cli.run("policy", "set", str(path))[0] == 0
    agent = cli.agent("internet")
    cli.check(agent, "firewall", "fail", {"enabled": False})
    assert cli.json("violations", "list") == []
    assert json.loads(json.dumps(cli.json("policy", "show")["internet"]["document"]["rules"]["NET-001"])) == {
        "enabled": False
    }
