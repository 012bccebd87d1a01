"""`retention run`, `archive list|show` and `backup` / `restore` through the CLI, at a fixed collector clock."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import UTC, datetime

from collector import archive
from collector.cli import main

OLD = datetime(2025, 7, 8, 12, 0, tzinfo=UTC)


def test_retention_run_then_archive_show_prints_the_verified_events(cli):
    a = cli.agent(segment="lgwan")
    old = cli.send(a, "agent.started", {"agent_version": "=cmd|' /C calc'!A0"}, at=OLD)
    recent = cli.send(a, "agent.started", {"agent_version": "0.1"})
    code, out, err = cli.run("retention", "run")
    assert code == 0, err
    assert "2025-07: アーカイブ 1 件 (新規 1 件)、データベースから 1 件削除" in out
    assert [e["event_id"] for e in cli.json("events", "list")] == [recent.event_id]
    [listed] = cli.json("archive", "list")
    assert (listed["month"], listed["events"], listed["verified"]) == ("2025-07", 1, True)
    [shown] = cli.json("archive", "show", "2025-07")
    assert (shown["event_id"], shown["payload"]["agent_version"]) == (old.event_id, "=cmd|' /C calc'!A0")
    code, out, err = cli.run("archive", "show", "2025-07")
    assert code == 0, err
    assert out.startswith("検証済み: events-2025-07.jsonl.gz") and "agent.started" in out
    code, out, _ = cli.run("archive", "show", "2025-07", lang="en")
    assert out.startswith("Verified: events-2025-07.jsonl.gz")
    # The 証跡ID of an archived event still opens, read back from its verified archive.
    code, out, err = cli.run("events", "show", old.event_id, "--json")
    assert code == 0 and json.loads(out)["event_id"] == old.event_id
    assert err.strip() == "2025-07 のアーカイブから表示しています (検証済み)。"
    again = cli.json("retention", "run")
    assert again["ran"] is True and again["months"] == []


def test_an_archive_rewritten_with_a_matching_manifest_is_caught_by_the_audit_log(cli):
    a = cli.agent(segment="lgwan")
    cli.send(a, "agent.started", {"agent_version": "0.1"}, at=OLD)
    assert cli.run("retention", "run")[0] == 0
    folder = cli.root / "archive"
    path, manifest = archive.data_path(folder, "2025-07"), archive.manifest_path(folder, "2025-07")
    record = json.loads(gzip.decompress(path.read_bytes()))
    path.write_bytes(gzip.compress((json.dumps(record | {"kind": "agent.stopped"}) + "\n").encode()))
    code, out, err = cli.run("archive", "show", "2025-07")
    assert (code, out) == (2, "")
    assert err.startswith("エラー: アーカイブを検証できません") and "SHA-256" in err and len(err.splitlines()) == 1
    assert cli.run("archive", "list")[0] == 1
    # Whoever edits the file and recomputes its manifest still does not match the hash-chained audit log.
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(data | {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}))
    assert [r["verified"] for r in cli.json("archive", "list")] == [True]
    code, _, err = cli.run("archive", "show", "2025-07")
    assert code == 2 and "監査ログ" in err


def test_archive_show_of_a_month_without_an_archive_says_so(cli):
    code, _, err = cli.run("archive", "show", "2024-13")
    assert code == 2 and "YYYY-MM" in err
    code, _, err = cli.run("archive", "show", "2024-12")
    assert code == 2 and "マニフェストがありません" in err


def _run_in(cli, folder, *args: str) -> tuple[int, str, str]:
    cli.capsys.readouterr()
    code = main([*args, "--data-dir", str(folder), "--lang", "ja"])
    out = cli.capsys.readouterr()
    return code, out.out, out.err


def test_backup_and_restore_refuse_what_they_must(cli, tmp_path):
    a = cli.agent(segment="lgwan")
    ev = cli.send(a, "agent.started", {"agent_version": "0.1"})
    dest = tmp_path / "backup"
    code, out, err = cli.run("backup", str(dest))
    assert code == 0, err
    index = json.loads((dest / "BACKUP.json").read_text())
    assert {"mamori.db", "ca.key", "ca.crt", "server.key", "server.crt", "collector.toml"} <= set(index["files"])
    assert {oct(os.stat(dest / name).st_mode & 0o777) for name in index["files"]} == {"0o600"}
    assert oct(os.stat(dest).st_mode & 0o777) == "0o700"
    assert cli.run("backup", str(dest))[0] == 2  # never into a folder that holds something
    code, _, err = cli.run("restore", str(dest))
    assert code == 2 and "--force" in err  # the data folder in use is not empty
    target = tmp_path / "restored"
    code, out, err = _run_in(cli, target, "restore", str(dest))
    assert code == 0, err
    code, out, _ = _run_in(cli, target, "events", "show", ev.event_id, "--json")
    assert json.loads(out)["event_id"] == ev.event_id
    assert (target / "ca.key").read_bytes() == (cli.root / "ca.key").read_bytes()
    # An altered backup restores nothing.
    (dest / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    other = tmp_path / "other"
    code, _, err = _run_in(cli, other, "restore", str(dest))
    assert code == 2 and "ca.crt" in err and not other.exists()
    [entry] = cli.json("audit-log", "list", "--action", "backup")
    assert entry["action"] == "backup.create"
