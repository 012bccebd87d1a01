"""MAMORI_CONFIG keeps the collector's config outside its data folder (packaged installs: /etc/mamori)."""

from __future__ import annotations

import pytest

from collector.cli import main
from collector.config import resolve_data_dir


def test_init_writes_the_config_where_mamori_config_points(tmp_path, monkeypatch):
    conf = tmp_path / "etc" / "collector.toml"
    conf.parent.mkdir()
    monkeypatch.setenv("MAMORI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAMORI_CONFIG", str(conf))
    assert main(["--lang", "en", "init", "--host", "127.0.0.1"]) == 0
    assert conf.exists() and not (tmp_path / "data" / "collector.toml").exists()
    datadir = resolve_data_dir(None)
    assert datadir.config == conf and datadir.load_settings()["pki.hosts"] == ["127.0.0.1"]
    assert (tmp_path / "data" / "ca.crt").exists()


def test_failed_init_leaves_no_config_behind(tmp_path, monkeypatch):
    conf = tmp_path / "collector.toml"
    monkeypatch.setenv("MAMORI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAMORI_CONFIG", str(conf))
    with pytest.raises(ValueError, match="unsupported database URL"):  # fails after the config was written
        main(["--lang", "en", "init", "--host", "127.0.0.1", "--database-url", "nosuchdb://x"])
    assert not conf.exists() and not (tmp_path / "data").exists()


def test_without_mamori_config_the_config_is_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MAMORI_CONFIG", raising=False)
    assert resolve_data_dir(str(tmp_path)).config == tmp_path / "collector.toml"
