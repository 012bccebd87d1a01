"""A key and certificate replaced as a pair: whatever point a crash stops at, a matching pair is installed."""

from __future__ import annotations

from mamori.keypair import finish_pending, pending_path, replace_pair

OLD_KEY, OLD_CERT = b"-----BEGIN PRIVATE KEY-----\nold\n", b"-----BEGIN CERTIFICATE-----\nold\n"
NEW_KEY, NEW_CERT = b"-----BEGIN PRIVATE KEY-----\nnew\n", b"-----BEGIN CERTIFICATE-----\nnew\n"


def _pair(tmp_path):
    key, cert = tmp_path / "agent.key", tmp_path / "agent.crt"
    key.write_bytes(OLD_KEY)
    cert.write_bytes(OLD_CERT)
    return key, cert


def test_replace_installs_both_and_leaves_nothing_behind(tmp_path):
    key, cert = _pair(tmp_path)
    replace_pair(key, cert, NEW_KEY, NEW_CERT)
    assert (key.read_bytes(), cert.read_bytes()) == (NEW_KEY, NEW_CERT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.crt", "agent.key"]
    assert key.stat().st_mode & 0o077 == 0


def test_a_swap_stopped_half_way_is_completed(tmp_path):
    key, cert = _pair(tmp_path)
    pending_path(key).write_bytes(NEW_KEY + NEW_CERT)
    key.write_bytes(NEW_KEY)  # the crash came after the key, before the certificate
    assert finish_pending(key, cert)
    assert (key.read_bytes(), cert.read_bytes()) == (NEW_KEY, NEW_CERT)
    assert not finish_pending(key, cert)  # nothing left to do


def test_a_damaged_pending_file_leaves_the_old_pair(tmp_path):
    key, cert = _pair(tmp_path)
    pending_path(key).write_bytes(b"garbage")
    assert not finish_pending(key, cert)
    assert (key.read_bytes(), cert.read_bytes()) == (OLD_KEY, OLD_CERT)
    assert not pending_path(key).exists()
