"""`mamori-collector init` and `token create`: the data folder, its secrets, and refusals that change nothing."""

from __future__ import annotations

import json
import tomllib

from collector.cli import main
from collector.config import SCHEMA
from collector.store import queries
from collector.store.db import current_revision, head_revision, make_engine


def run(capsys, *args):
    code = main(["--lang", "en", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_init_creates_ca_config_and_migrated_database(tmp_path, capsys):
    data = tmp_path / "c"
    code, out, _err = run(
        capsys, "--data-dir", str(data), "init", "--host", "collector.lg.jp,127.0.0.1", "--listen", "127.0.0.1:9443"
    )
    assert code == 0 and "Initialised" in out
    assert (data / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (data / "server.key").stat().st_mode & 0o777 == 0o600
    assert data.stat().st_mode & 0o077 == 0
    text = (data / "collector.toml").read_text()
    for key in SCHEMA:
        section, _, leaf = key.name.rpartition(".")
        assert f"\n{leaf} = " in text and f"[{section}]" in text
    cfg = tomllib.loads(text)
    assert cfg["server"]["listen"] == "127.0.0.1:9443" and cfg["server"]["enroll_listen"] == "127.0.0.1:9444"
    assert cfg["pki"]["hosts"] == ["collector.lg.jp", "127.0.0.1"]
    engine = make_engine(f"sqlite:///{data / 'mamori.db'}")
    assert current_revision(engine) == head_revision()
    assert not list(tmp_path.glob("*.init-tmp"))


def test_second_init_refuses_and_changes_nothing(tmp_path, capsys):
    data = tmp_path / "c"
    assert run(capsys, "--data-dir", str(data), "init", "--host", "h")[0] == 0
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    code, _out, err = run(capsys, "--data-dir", str(data), "init", "--host", "other")
    assert code == 2 and "already initialised" in err
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before


def test_init_rejects_bad_arguments_without_leaving_files(tmp_path, capsys):
    data = tmp_path / "c"
    assert run(capsys, "--data-dir", str(data), "init", "--host", " , ")[0] == 2
    assert run(capsys, "--data-dir", str(data), "init", "--host", "h", "--listen", "nowhere")[0] == 2
    assert not data.exists()


def test_missing_data_dir_says_what_to_do(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MAMORI_DATA_DIR", raising=False)
    code, _out, err = run(capsys, "agents", "list")
    assert code == 2 and "--data-dir" in err
    code, _out, err = run(capsys, "--data-dir", str(tmp_path / "none"), "agents", "list")
    assert code == 2 and "mamori-collector init" in err


def test_tokens_are_stored_hashed_with_their_limits(tmp_path, capsys):
    data = tmp_path / "c"
    run(capsys, "--data-dir", str(data), "init", "--host", "h")
    code, out, _err = run(
        capsys,
        "--data-dir",
        str(data),
        "token",
        "create",
        "--segment",
        "mynumber",
        "--department",
        "市民課",
        "--uses",
        "3",
        "--expires",
        "2h",
        "--json",
    )
    assert code == 0
    token = json.loads(out)["token"]
    raw = (data / "mamori.db").read_bytes()
    assert token.encode() not in raw, "the token itself is never stored"
    (row,) = queries.list_tokens(make_engine(f"sqlite:///{data / 'mamori.db'}"))
    assert (row.segment, row.department, row.uses_left) == ("mynumber", "市民課", 3)
    assert (
        run(
            capsys,
            "--data-dir",
            str(data),
            "token",
            "create",
            "--segment",
            "lgwan",
            "--department",
            "x",
            "--expires",
            "soon",
        )[0]
        == 2
    )
    assert (
        run(
            capsys, "--data-dir", str(data), "token", "create", "--segment", "lgwan", "--department", "x", "--uses", "0"
        )[0]
        == 2
    )
    assert len(queries.list_tokens(make_engine(f"sqlite:///{data / 'mamori.db'}"))) == 1
