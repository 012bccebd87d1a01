"""`mamori-collector devices`: import (all or nothing), approve/revoke/list, and the per-agent pushed policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.cli import main
from collector.config import DataDir
from collector.policies import current_policy
from collector.store import queries
from mamori import policy as policy_doc
from mamori.ids import uuid7

GOOD = Path(__file__).parents[1] / "mamori/data/good.rules"
NOW = datetime.now(UTC)


@pytest.fixture
def datadir(tmp_path):
    d = tmp_path / "collector"
    assert main(["--data-dir", str(d), "init", "--host", "127.0.0.1"]) == 0
    return d


def _engine(d: Path):
    from collector.cli.common import engine

    return engine(DataDir(d))


def _agent(d: Path, segment: str = "lgwan", department: str = "市民課") -> str:
    agent_id = str(uuid7())
    queries.create_agent(
        _engine(d),
        agent_id=agent_id,
        segment=segment,
        department=department,
        hostname="pc1",
        os="linux",
        os_version="Debian 12",
        agent_version="0.1.0",
        machine_id="m",
        cert_serial=1,
        cert_sha256="0" * 64,
        cert_not_after=NOW + timedelta(days=365),
        enrolled_at=NOW,
    )
    return agent_id


def _run(d: Path, *args: str, capsys) -> tuple[int, str, str]:
    code = main(["--data-dir", str(d), "--lang", "en", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _policy(d: Path, agent_id: str, segment: str = "lgwan", department: str = "市民課") -> dict:
    version, data = current_policy(_engine(d), segment, agent_id, department)
    doc = policy_doc.parse(data)
    assert version == policy_doc.version_of(doc)
    return doc


def test_import_good_file_reaches_agents_in_scope(datadir, capsys):
    code, out, _ = _run(
        datadir, "devices", "import", str(GOOD), "--department", "市民課", "--by", "suzuki", capsys=capsys
    )
    assert code == 0 and "10 rule(s)" in out
    ours, other = _agent(datadir), _agent(datadir, department="税務課")
    assert len(_policy(datadir, ours)["usb"]["allow"]) == 10
    assert _policy(datadir, other, department="税務課")["usb"]["allow"] == []
    code, out, _ = _run(datadir, "devices", "list", "--json", capsys=capsys)
    listed = json.loads(out)
    assert len(listed["rules"]) == 10 and listed["rules"][0]["created_by"] == "suzuki"
    assert listed["rules"][0]["source_line"] == 2


def test_bad_file_changes_nothing_and_names_lines(datadir, tmp_path, capsys):
    bad = tmp_path / "rules.conf"
    bad.write_text("allow id 0781:5581\nallow id 07:81\n# fine\nallow serial nope\n", encoding="utf-8")
    code, _, err = _run(datadir, "devices", "import", str(bad), capsys=capsys)
    assert code == 2
    assert f"{bad}:2: id '07:81' is not VID:PID" in err and f"{bad}:4:" in err and "nothing was imported" in err
    assert json.loads(_run(datadir, "devices", "list", "--json", capsys=capsys)[1])["rules"] == []
    bad.write_bytes(b'allow serial "\xff"\n')
    code, _, err = _run(datadir, "devices", "import", str(bad), capsys=capsys)
    assert code == 2 and "not UTF-8" in err


def test_replace_swaps_only_the_same_scope(datadir, tmp_path, capsys):
    a, b = tmp_path / "a.rules", tmp_path / "b.rules"
    a.write_text('allow serial "A"\n')
    b.write_text('allow serial "B"\n')
    _run(datadir, "devices", "import", str(a), "--segment", "lgwan", capsys=capsys)
    _run(datadir, "devices", "import", str(a), capsys=capsys)
    _run(datadir, "devices", "import", str(b), "--segment", "lgwan", "--replace", capsys=capsys)
    rules = json.loads(_run(datadir, "devices", "list", "--json", capsys=capsys)[1])["rules"]
    assert [(r["rule"], r["segment"]) for r in rules] == [('allow serial "A"', None), ('allow serial "B"', "lgwan")]


def test_approve_revoke_and_expiry_in_the_pushed_policy(datadir, capsys):
    agent_id, other = _agent(datadir), _agent(datadir, department="税務課")
    until = (NOW + timedelta(hours=3)).isoformat()
    code, out, _ = _run(
        datadir,
        "devices",
        "approve",
        "--serial",
        "SER-1",
        "--agent",
        agent_id,
        "--until",
        until,
        "--reason",
        "転出証明の受け渡し",
        "--by",
        "tanaka",
        "--json",
        capsys=capsys,
    )
    assert code == 0
    perm = json.loads(out)
    before = _policy(datadir, agent_id)
    [temp] = before["usb"]["temporary"]
    assert temp["id"] == perm["id"] and temp["serial"] == "SER-1" and temp["reason"] == "転出証明の受け渡し"
    assert _policy(datadir, other, department="税務課")["usb"]["temporary"] == []
    # The policy version changes with the approval, so the server pushes it on the next hello/heartbeat.
    code, out, _ = _run(datadir, "devices", "revoke", perm["id"][:8], "--by", "tanaka", capsys=capsys)
    assert code == 0 and "Revoked" in out
    after = _policy(datadir, agent_id)
    assert after["usb"]["temporary"] == [] and policy_doc.version_of(after) != policy_doc.version_of(before)
    listed = json.loads(_run(datadir, "devices", "list", "--json", capsys=capsys)[1])["temporary"]
    assert listed[0]["status"] == "revoked" and listed[0]["revoked_by"] == "tanaka"
    code, _, err = _run(datadir, "devices", "revoke", perm["id"], capsys=capsys)
    assert code == 2 and "already revoked" in err
    # An expired permission is no longer sent.
    from collector.store import devices

    devices.add_temporary(
        _engine(datadir),
        serial="OLD",
        agent_id=agent_id,
        department=None,
        until=NOW + timedelta(seconds=1),
        reason="r",
        by="x",
        at=NOW,
    )
    version, data = current_policy(_engine(datadir), "lgwan", agent_id, "市民課", now=NOW + timedelta(seconds=2))
    assert json.loads(data)["usb"]["temporary"] == []


def test_department_approval(datadir, capsys):
    agent_id = _agent(datadir)
    until = (NOW + timedelta(days=1)).isoformat()
    assert (
        _run(
            datadir,
            "devices",
            "approve",
            "--serial",
            "S2",
            "--department",
            "市民課",
            "--until",
            until,
            "--reason",
            "r",
            capsys=capsys,
        )[0]
        == 0
    )
    assert [t["serial"] for t in _policy(datadir, agent_id)["usb"]["temporary"]] == ["S2"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--until", "2020-01-01T00:00+09:00", "--reason", "r"], "in the past"),
        (["--until", "next week", "--reason", "r"], "invalid --until"),
        (["--until", "2099-01-01T00:00", "--reason", "  "], "--reason must not be empty"),
        (["--until", "2099-01-01T00:00", "--reason", "r", "--agent", "ffffffff"], "no agent"),
    ],
)
def test_approve_bad_input(datadir, capsys, args, message):
    code, _, err = _run(datadir, "devices", "approve", "--serial", "S", *args, capsys=capsys)
    assert code == 2 and message in err
    assert json.loads(_run(datadir, "devices", "list", "--json", capsys=capsys)[1])["temporary"] == []


def test_list_in_japanese(datadir, capsys):
    _run(datadir, "devices", "import", str(GOOD), capsys=capsys)
    assert main(["--data-dir", str(datadir), "devices", "list"]) == 0
    out = capsys.readouterr().out
    assert "許可デバイス台帳" in out and "一時許可" in out and "allow id 1d6b:0002" in out


def test_every_device_register_change_is_in_the_audit_log(datadir, capsys):
    agent_id = _agent(datadir)
    assert _run(datadir, "devices", "import", str(GOOD), "--by", "suzuki", capsys=capsys)[0] == 0
    until = (NOW + timedelta(hours=2)).isoformat()
    code, out, _ = _run(
        datadir,
        "devices",
        "approve",
        "--serial",
        "SN-42",
        "--agent",
        agent_id,
        "--until",
        until,
        "--reason",
        "住民票の受け渡し",
        "--by",
        "tanaka",
        "--json",
        capsys=capsys,
    )
    perm_id = json.loads(out)["id"]
    assert _run(datadir, "devices", "revoke", perm_id, "--by", "sato", capsys=capsys)[0] == 0
    assert _run(datadir, "devices", "revoke", "--rule", "1", "--by", "sato", capsys=capsys)[0] == 0
    code, out, _ = _run(datadir, "audit-log", "list", "--json", capsys=capsys)
    entries = [(e["action"], e["actor"], e["target"]) for e in json.loads(out)]
    assert entries[:4] == [
        ("devices.revoke", "sato", "rule:1"),
        ("devices.revoke", "sato", f"permission:{perm_id}"),
        ("devices.approve", "tanaka", f"permission:{perm_id}"),
        ("devices.import", "suzuki", "file:good.rules"),
    ]
    # A refused change records nothing.
    assert _run(datadir, "devices", "revoke", perm_id, "--by", "sato", capsys=capsys)[0] == 2
    code, out, _ = _run(datadir, "audit-log", "list", "--json", capsys=capsys)
    assert len(json.loads(out)) == len(entries)
