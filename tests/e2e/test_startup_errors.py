"""Causes staff can fix stop `serve`, `init` and the agent's `run` with one Japanese line and exit status 1."""

from __future__ import annotations

import contextlib
import socket
import subprocess

import pytest

from tests.e2e.harness import free_port, run_cli

JA = {"MAMORI_LANG": "ja"}


def one_line_error(proc: subprocess.CompletedProcess[str], *parts: str) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("エラー: "), lines[0]
    for part in parts:
        assert part in lines[0]
    return lines[0]


def collector_cli(data_dir, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("collector.cli", "--data-dir", str(data_dir), *args, check=False, env=JA, timeout=60)


@contextlib.contextmanager
def read_only(folder):
    """folder mounted read-only over itself (what a read-only volume looks like, even to root)."""
    try:
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot bind-mount here (needs root and mount permission): {exc}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_serve_on_a_port_in_use(collector):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", collector.port))
        squatter.listen()
        proc = collector_cli(
            collector.data_dir,
            "serve",
            "--listen",
            f"127.0.0.1:{collector.port}",
            "--enroll-listen",
            f"127.0.0.1:{collector.enroll_port}",
        )
    one_line_error(proc, f"ポート {collector.port}", "既に使われています", "server.listen")


def test_init_and_serve_with_postgresql_unreachable(tmp_path, collector):
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/mamori"
    proc = collector_cli(tmp_path / "pg", "init", "--host", "127.0.0.1", "--database-url", url)
    one_line_error(proc, f"127.0.0.1:{port}/mamori", "PostgreSQL")
    assert not (tmp_path / "pg").exists(), "a failed init leaves nothing behind"
    cfg = collector.data_dir / "collector.toml"
    cfg.write_text(cfg.read_text().replace('url = ""', f'url = "{url}"'))
    proc = collector_cli(collector.data_dir, "serve")
    one_line_error(proc, f"127.0.0.1:{port}/mamori", "database.url")


def test_serve_and_init_with_a_read_only_data_folder(tmp_path, collector):
    with read_only(collector.data_dir):
        proc = collector_cli(collector.data_dir, "serve")
    one_line_error(proc, str(collector.data_dir), "書き込めません")
    parent = tmp_path / "ro"
    parent.mkdir()
    with read_only(parent):
        proc = collector_cli(parent / "data", "init", "--host", "127.0.0.1")
    one_line_error(proc, str(parent / "data"), "書き込めません")


def test_agent_run_with_a_read_only_state_folder(collector, make_agent):
    collector.start()
    agent = make_agent("a")
    agent.enroll(collector, collector.token())
    with read_only(agent.state_dir):
        proc = run_cli("agent.cli", "--state-dir", str(agent.state_dir), "run", check=False, env=JA, timeout=60)
    one_line_error(proc, str(agent.state_dir), "状態フォルダ")
