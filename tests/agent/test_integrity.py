"""Tamper baseline: code, config and policy cache compared at start and while running."""

from __future__ import annotations

from pathlib import Path

from agent.config import StateDir
from agent.integrity import Integrity, code_fingerprint


def make_code(root: Path, version: str = "1.0.0") -> list[Path]:
    (root / "agent").mkdir(parents=True, exist_ok=True)
    (root / "mamori").mkdir(parents=True, exist_ok=True)
    (root / "agent/runner.py").write_text("def run(): pass\n")
    (root / "mamori/__init__.py").write_text(f'__version__ = "{version}"\n')
    return [root / "agent", root / "mamori"]


def setup(tmp_path):
    state = StateDir(tmp_path / "state")
    state.root.mkdir()
    dirs = make_code(tmp_path / "code")
    state.config.write_text('[log]\nlevel = "info"\n')
    return state, dirs


def whats(findings):
    return sorted(f.what for f in findings)


def test_first_start_then_clean_restart_report_nothing(tmp_path):
    state, dirs = setup(tmp_path)
    assert Integrity(state, None, "1.0.0", dirs).at_start() == []
    assert Integrity(state, None, "1.0.0", dirs).at_start() == []


def test_code_replaced_without_version_change_is_tamper_but_an_upgrade_is_not(tmp_path):
    state, dirs = setup(tmp_path)
    Integrity(state, None, "1.0.0", dirs).at_start()
    (dirs[0] / "runner.py").write_text("def run(): return  # neutered\n")
    found = Integrity(state, None, "1.0.0", dirs).at_start()
    assert whats(found) == ["binary"] and found[0].severity == "high"
    make_code(tmp_path / "code", "1.1.0")
    assert Integrity(state, None, "1.1.0", dirs).at_start() == []


def test_config_and_policy_edits_between_runs(tmp_path):
    state, dirs = setup(tmp_path)
    first = Integrity(state, None, "1.0.0", dirs)
    first.at_start()
    state.policy.write_text('{"version": "1"}')
    first.policy_stored(__import__("hashlib").sha256(state.policy.read_bytes()).hexdigest())
    state.config.write_text('[log]\nlevel = "debug"\n')
    state.policy.write_text('{"version": "1", "loosened": true}')
    found = Integrity(state, None, "1.0.0", dirs).at_start()
    assert whats(found) == ["config", "policy_cache"]
    assert {f.what: f.severity for f in found} == {"config": "medium", "policy_cache": "high"}
    assert Integrity(state, None, "1.0.0", dirs).at_start() == [], "reported once"


def test_policy_cache_without_baseline_is_suspicious(tmp_path):
    state, dirs = setup(tmp_path)
    state.policy.write_text("{}")
    assert whats(Integrity(state, None, "1.0.0", dirs).at_start()) == ["policy_cache"]


def test_periodic_reports_each_change_once(tmp_path):
    state, dirs = setup(tmp_path)
    watch = Integrity(state, None, "1.0.0", dirs)
    watch.at_start()
    assert watch.periodic() == []
    state.config.write_text("# edited\n")
    (dirs[0] / "runner.py").write_text("patched\n")
    state.policy.write_text("{}")
    assert whats(watch.periodic()) == ["binary", "config", "policy_cache"]
    assert watch.periodic() == []
    state.policy.unlink()
    found = watch.periodic()
    assert whats(found) == ["policy_cache"] and "deleted" in found[0].detail


def test_periodic_upgrade_in_progress_is_not_tamper(tmp_path):
    state, dirs = setup(tmp_path)
    watch = Integrity(state, None, "1.0.0", dirs)
    watch.at_start()
    make_code(tmp_path / "code", "1.1.0")  # dpkg unpacked the new version; the restart follows
    assert watch.periodic() == []


def test_fingerprint_ignores_bytecode_caches(tmp_path):
    dirs = make_code(tmp_path)
    before = code_fingerprint(dirs)
    (dirs[0] / "__pycache__").mkdir()
    (dirs[0] / "__pycache__/runner.cpython-311.pyc").write_bytes(b"\0" * 10)
    assert code_fingerprint(dirs) == before


def test_a_frozen_executable_is_fingerprinted_as_one_file(tmp_path):
    exe = tmp_path / "mamori-agent.exe"
    exe.write_bytes(b"MZ" + b"\0" * 100)
    before = code_fingerprint([exe])
    exe.write_bytes(b"MZ" + b"\1" * 100)
    assert code_fingerprint([exe]) != before
