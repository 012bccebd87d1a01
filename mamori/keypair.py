"""A key and its certificate replaced together: a crash between the two files never leaves a mismatched pair."""

from __future__ import annotations

import os
from pathlib import Path

_CERT_MARK = b"-----BEGIN CERTIFICATE-----"


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # O_CREAT's mode does not apply to a file left over from an earlier attempt
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def pending_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".renewed")


def replace_pair(key_path: Path, cert_path: Path, key_pem: bytes, cert_pem: bytes, cert_mode: int = 0o644) -> None:
    """Install a new key and certificate. Both go first into one file, replaced whole; only then are the two
    files swapped. A crash at any point leaves the old pair, or the pending file that finish_pending()
    installs on the next start."""
    pending = pending_path(key_path)
    _write(pending, key_pem + cert_pem, 0o600)
    finish_pending(key_path, cert_path, cert_mode)


def finish_pending(key_path: Path, cert_path: Path, cert_mode: int = 0o644) -> bool:
    """Complete a replacement a crash interrupted; True if there was one."""
    pending = pending_path(key_path)
    try:
        data = pending.read_bytes()
    except FileNotFoundError:
        return False
    cut = data.find(_CERT_MARK)
    if cut <= 0:  # not ours or damaged: the old pair is intact, so it stays in use
        pending.unlink(missing_ok=True)
        return False
    _write(key_path, data[:cut], 0o600)
    _write(cert_path, data[cut:], cert_mode)
    pending.unlink()
    return True
