"""forward status: outbox depth and oldest age per destination; a CLI acknowledgement is queued like ingest's."""

from __future__ import annotations

from datetime import timedelta

from collector.forward import outbox


def _edit(cli, old: str, new: str) -> None:
    path = cli.root / "collector.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_status_shows_depth_and_age_and_cli_changes_are_queued(cli):
    before = outbox.routes()
    try:
        _edit(cli, 'syslog = ""', 'syslog = "tcp://127.0.0.1:9"')
        cli.run("forward", "status")  # loads the config: this process now forwards
        agent = cli.agent("mynumber", department="税務課")
        cli.send(agent, "media.write", {"path": "/m/a.csv"})  # MED-002 opened, queued
        (v,) = cli.json("violations", "list")
        assert cli.run("violations", "ack", str(v["id"]), "--by", "佐藤")[0] == 0
        cli.now += timedelta(minutes=90)
        rows = {r["destination"]: r for r in cli.json("forward", "status")}
        assert rows["syslog"]["depth"] == 2 and rows["syslog"]["target"] == "tcp://127.0.0.1:9"
        assert rows["syslog"]["oldest_age_seconds"] == 90 * 60
        assert rows["mail"] == {
            "destination": "mail",
            "target": None,
            "depth": 0,
            "oldest_age_seconds": None,
            "attempts": 0,
            "last_error": None,
        }
        code, out, _ = cli.run("forward", "status")
        assert code == 0 and "未送信" in out and "1:30:00" in out and "(無効)" in out
        code, out, _ = cli.run("forward", "status", lang="en")
        assert "Waiting" in out and "Mail alerts" in out
    finally:
        outbox.set_routes(before)


def test_a_bad_forward_setting_stops_the_cli_with_one_line(cli):
    _edit(cli, 'format = "json"', 'format = "xml"')
    code, _, err = cli.run("forward", "status")
    assert code != 0 and "collector.toml:" in err and "forward.format" in err and "Traceback" not in err
