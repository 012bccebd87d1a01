"""violations list/show/ack/resolve, exceptions, audit-log and summary through the real CLI entry point."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mamori.table import width

STORAGE = {"vendor_id": "0781", "product_id": "5581", "interface_classes": ["08:06:50"], "mode": "audit"}


def _fits(text: str) -> bool:
    return all(width(line) <= 80 for line in text.splitlines())


def test_violations_list_filters_json_and_japanese_table(cli):
    m = cli.agent("mynumber", "市民課", "住民係-PC01")
    lg = cli.agent("lgwan", "税務課", "税務-PC02")
    cli.send(m, "media.write", {"path": "/media/usb/住民票.csv", "size": 10, "user": "tanaka"})
    cli.send(m, "usb.allowed", STORAGE)
    cli.check(lg, "firewall", "fail", {"enabled": False})
    rows = cli.json("violations", "list")
    assert {(r["rule_id"], r["severity"], r["hostname"]) for r in rows} == {
        ("MED-002", "critical", "住民係-PC01"),
        ("MED-001", "critical", "住民係-PC01"),
        ("NET-001", "medium", "税務-PC02"),
    }
    first = next(r for r in rows if r["rule_id"] == "MED-002")
    assert first["status"] == "open" and first["count"] == 1 and first["clause"] == "BP6(3)①"
    assert first["evidence"]["path"] == "/media/usb/住民票.csv" and first["excepted"] is False
    assert [r["rule_id"] for r in cli.json("violations", "list", "--segment", "lgwan")] == ["NET-001"]
    assert [r["rule_id"] for r in cli.json("violations", "list", "--department", "税務課")] == ["NET-001"]
    assert len(cli.json("violations", "list", "--severity", "critical")) == 2
    assert [r["rule_id"] for r in cli.json("violations", "list", "--rule", "med-001")] == ["MED-001"]
    assert len(cli.json("violations", "list", "--agent", m[:8])) == 2
    # A plain date is a day in Japan time: two days ahead is in the future whatever the hour in UTC.
    assert cli.json("violations", "list", "--since", (cli.now + timedelta(days=2)).date().isoformat()) == []
    code, out, _ = cli.run("violations", "list")
    assert code == 0 and "重大" in out and "未対応" in out and "住民係-PC01" in out and _fits(out)
    code, out, _ = cli.run("violations", "list", lang="en")
    assert "Critical" in out and "Open" in out
    code, _, err = cli.run("violations", "list", "--rule", "XYZ-9")
    assert code == 2 and "XYZ-9" in err


def test_show_ack_resolve_and_audit_log(cli):
    m = cli.agent("mynumber")
    cli.send(m, "media.write", {"path": "/media/usb/a.csv"})
    (v,) = cli.json("violations", "list")
    code, out, _ = cli.run("violations", "show", str(v["id"]))
    assert code == 0 and "MED-002" in out and "/media/usb/a.csv" in out and "持ち出された情報" in out
    code, out, _ = cli.run("violations", "ack", str(v["id"]), "--by", "佐藤", "--note", "調査中")
    assert code == 0 and "佐藤" in out
    assert cli.json("violations", "show", str(v["id"]))["status"] == "acknowledged"
    code, _, err = cli.run("violations", "ack", str(v["id"]), "--by", "佐藤")
    assert code == 2 and "確認済" in err
    code, _, _ = cli.run("violations", "resolve", str(v["id"]), "--by", "鈴木", "--note", "媒体を回収し消去")
    done = cli.json("violations", "show", str(v["id"]))
    assert (done["status"], done["resolved_by"], done["resolution_note"]) == ("resolved", "鈴木", "媒体を回収し消去")
    code, _, err = cli.run("violations", "resolve", "999", "--by", "x", "--note", "y")
    assert code == 2 and "999" in err
    log = cli.json("audit-log", "list")
    assert [(e["action"], e["actor"], e["target"]) for e in log] == [
        ("violation.resolve", "鈴木", f"violation:{v['id']}"),
        ("violation.ack", "佐藤", f"violation:{v['id']}"),
    ]
    assert log[1]["details"]["note"] == "調査中"
    assert cli.json("audit-log", "list", "--action", "violation.ack")[0]["actor"] == "佐藤"
    code, out, _ = cli.run("audit-log", "list")
    assert code == 0 and _fits(out)


def test_exceptions_add_list_revoke(cli):
    a = cli.agent("internet", "企画課")
    cli.check(a, "software", "fail", {"unauthorised": ["Dropbox"]})
    until = (cli.now + timedelta(days=30)).date().isoformat()
    added = cli.json(
        "exceptions",
        "add",
        "--department",
        "企画課",
        "--rule",
        "SW-001",
        "--until",
        until,
        "--reason",
        "広報用の共有に必要",
        "--approved-by",
        "情報政策課長",
        "--by",
        "佐藤",
    )
    assert added["violations_marked"] == 1 and added["state"] == "active"
    (v,) = cli.json("violations", "list")
    assert v["excepted"] and v["exception_id"] == added["id"]
    code, out, _ = cli.run("violations", "list")
    assert "*" in out and "例外措置" in out
    assert [e["id"] for e in cli.json("exceptions", "list", "--active")] == [added["id"]]
    code, out, _ = cli.run("exceptions", "list")
    assert code == 0 and "有効" in out and _fits(out)
    code, _, err = cli.run(
        "exceptions",
        "add",
        "--agent",
        a,
        "--rule",
        "SW-001",
        "--until",
        "2020-01-01",
        "--reason",
        "x",
        "--approved-by",
        "y",
    )
    assert code == 2 and "--until" in err
    code, out, _ = cli.run("exceptions", "revoke", str(added["id"]), "--by", "佐藤")
    assert code == 0
    assert cli.json("violations", "list")[0]["excepted"] is False
    assert cli.json("exceptions", "list")[0]["state"] == "revoked"
    code, _, err = cli.run("exceptions", "revoke", str(added["id"]))
    assert code == 2
    assert [e["action"] for e in cli.json("audit-log", "list")] == ["exception.revoke", "exception.add"]


def test_summary(cli):
    now = cli.now
    a = cli.agent("mynumber", "市民課", "PC-A", seen=now)
    cli.agent("lgwan", "税務課", "PC-B", seen=now - timedelta(hours=3))
    cli.agent("lgwan", "税務課", "PC-C")
    cli.send(a, "media.write", {"path": "/m/x"})
    cli.check(a, "firewall", "fail", {"enabled": False})
    data = cli.json("summary")
    assert data["agents"]["mynumber"] == {
        "total": 1,
        "recent": 1,
        "today": 0,
        "silent": 0,
        "revoked": 0,
        "superseded": 0,
    }
    assert data["agents"]["lgwan"] == {"total": 2, "recent": 0, "today": 1, "silent": 1, "revoked": 0, "superseded": 0}
    assert data["open_violations"]["by_severity"]["critical"] == 1
    assert data["open_violations"]["by_severity"]["medium"] == 1
    assert [r["rule_id"] for r in data["open_violations"]["by_rule"]] == ["MED-002", "NET-001"]
    assert data["top_agents"][0] == {
        "agent_id": a,
        "hostname": "PC-A",
        "department": "市民課",
        "open": 2,
        "worst_severity": "critical",
    }
    code, out, _ = cli.run("summary")
    assert code == 0 and "PC-A" in out and "重大 1" in out and _fits(out) and len(out.splitlines()) <= 24


def test_token_and_revoke_are_audited(cli):
    code, _, _ = cli.run("token", "create", "--segment", "lgwan", "--department", "税務課", "--by", "佐藤")
    assert code == 0
    a = cli.agent()
    code, _, _ = cli.run("agents", "revoke", a, "--by", "鈴木")
    assert code == 0
    log = cli.json("audit-log", "list")
    assert [(e["action"], e["actor"]) for e in log] == [("agent.revoke", "鈴木"), ("token.create", "佐藤")]
    assert "mmr_" not in str(log)  # the token itself is never logged


@pytest.mark.parametrize(
    "command",
    [
        ("violations", "list", "--department", "市民科"),
        ("report", "--period", "2026-10", "--format", "json", "--out", "r.json", "--department", "市民科"),
        (
            "exceptions",
            "add",
            "--department",
            "市民科",
            "--rule",
            "SW-001",
            "--until",
            "2027-03-31",
            "--reason",
            "業務上必要",
            "--approved-by",
            "課長",
        ),
    ],
)
def test_an_unknown_department_is_refused_with_the_known_ones(cli, tmp_path, command):
    cli.agent("mynumber", "市民課")
    cli.agent("lgwan", "税務課")
    command = tuple(str(tmp_path / c) if c == "r.json" else c for c in command)
    code, out, err = cli.run(*command)
    assert code != 0 and "市民科" in err and "市民課" in err and "税務課" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert cli.json("exceptions", "list") == [] and not (tmp_path / "r.json").exists()
