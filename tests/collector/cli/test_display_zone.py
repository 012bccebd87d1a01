"""One display time zone ([display] timezone): tables, reports and typed --until dates, never the machine's zone."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from collector import display
from collector.config import DataDir
from mamori.tomlconf import ConfigError


@pytest.fixture(autouse=True)
def machine_in_new_york(monkeypatch):
    """The machine's own zone is neither Japan nor UTC: nothing shown may follow it."""
    monkeypatch.setattr(display, "_zone", display.zone())  # restored after the test, whatever a command set
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _zone(cli, name: str) -> None:
    conf = cli.root / "collector.toml"
    text = conf.read_text(encoding="utf-8")
    assert 'timezone = "Asia/Tokyo"' in text  # init writes the key with its default
    conf.write_text(text.replace('timezone = "Asia/Tokyo"', f'timezone = "{name}"'), encoding="utf-8")


def test_a_bad_zone_is_refused_with_file_and_line(cli):
    _zone(cli, "Asia/Atlantis")
    conf = cli.root / "collector.toml"
    line = next(n for n, text in enumerate(conf.read_text().splitlines(), 1) if text.startswith("timezone"))
    with pytest.raises(ConfigError, match=rf"collector.toml:{line}: key 'display.timezone': must be a time zone"):
        DataDir(cli.root).load_settings()
    code, _, err = cli.run("agents", "list")
    assert code == 2 and f"collector.toml:{line}:" in err


def test_tables_show_japan_time_by_default_and_the_configured_zone_otherwise(cli):
    cli.agent(hostname="住民-01", seen=datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    code, out, _ = cli.run("agents", "list")
    assert code == 0 and "最終通信 (JST)" in out and "2026-11-20 12:00:00" in out
    code, out, _ = cli.run("agents", "list", lang="en")
    assert "Last seen (JST)" in out
    _zone(cli, "UTC")
    code, out, _ = cli.run("agents", "list")
    assert code == 0 and "最終通信 (UTC)" in out and "2026-11-20 03:00:00" in out


def test_reports_show_times_and_days_in_the_configured_zone(cli, tmp_path):
    agent = cli.agent("lgwan", "税務課", "税務-01")
    cli.check(agent, "firewall", "fail", {"enabled": False}, at=datetime(2026, 11, 10, 1, 30, tzinfo=UTC))

    def report():
        out = tmp_path / "r.csv"
        assert cli.run("report", "--period", "2026-11", "--format", "csv", "--out", str(out))[0] == 0
        return out.read_text(encoding="utf-8-sig")

    assert "発生日時 (JST)" in report() and "令和8年11月10日 10:30" in report()
    _zone(cli, "UTC")
    text = report()
    assert "発生日時 (UTC)" in text and "令和8年11月10日 01:30" in text


@pytest.mark.parametrize(
    "zone,last_instant",
    [("Asia/Tokyo", "2026-12-31T14:59:59.999999+00:00"), ("UTC", "2026-12-31T23:59:59.999999+00:00")],
)
def test_until_a_date_means_the_end_of_that_day_for_exceptions_and_device_approvals(cli, zone, last_instant):
    _zone(cli, zone)
    agent = cli.agent("lgwan", "市民課", "住民-02")
    exc = cli.json(
        "exceptions",
        "add",
        "--agent",
        agent,
        "--rule",
        "SW-001",
        "--until",
        "2026-12-31",
        "--reason",
        "移行期間",
        "--approved-by",
        "課長",
    )
    perm = cli.json(
        "devices",
        "approve",
        "--serial",
        "SN-1",
        "--agent",
        agent,
        "--until",
        "2026-12-31",
        "--reason",
        "住民票の受け渡し",
        "--by",
        "課長",
    )
    assert exc["until"] == perm["until"] == last_instant
    # A date and time without an offset is in the display zone too, for both.
    perm = cli.json(
        "devices",
        "approve",
        "--serial",
        "SN-2",
        "--agent",
        agent,
        "--until",
        "2026-12-01T17:00",
        "--reason",
        "r",
        "--by",
        "課長",
    )
    assert datetime.fromisoformat(perm["until"]) == datetime(2026, 12, 1, 17, 0, tzinfo=display.zone_of(zone))


def test_devices_list_and_approve_refuse_an_unknown_department(cli):
    agent = cli.agent("lgwan", "市民課", "住民-03")
    other = cli.agent("lgwan", "税務課", "税務-03")
    until = (cli.now + timedelta(days=2)).date().isoformat()
    for serial, scope in (
        ("SN-A", ["--agent", agent]),
        ("SN-B", ["--department", "市民課"]),
        ("SN-C", ["--agent", other]),
    ):
        assert cli.run("devices", "approve", "--serial", serial, *scope, "--until", until, "--reason", "r")[0] == 0
    listed = cli.json("devices", "list", "--department", "市民課")
    assert sorted(t["serial"] for t in listed["temporary"]) == ["SN-A", "SN-B"]
    for command in (
        ["devices", "list", "--department", "市民科"],
        ["devices", "approve", "--serial", "SN-D", "--department", "市民科", "--until", until, "--reason", "r"],
    ):
        code, _, err = cli.run(*command)
        assert code == 2 and "所属 市民科 はありません" in err and "市民課" in err
    assert len(cli.json("devices", "list")["temporary"]) == 3


def test_json_times_stay_utc(cli):
    cli.agent(hostname="住民-04", seen=datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    _zone(cli, "Europe/Berlin")
    [row] = cli.json("agents", "list")
    assert row["last_seen_at"] == "2026-11-20T03:00:00+00:00"
    assert json.dumps(row)  # machine output is unchanged by the display zone
