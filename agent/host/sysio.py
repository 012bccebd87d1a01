"""Bounded reads and subprocess runs: every file read has a size limit and every command a timeout."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

READ_LIMIT = 1 << 20  # 1 MiB: configuration files are far smaller; anything bigger is junk or hostile
OUTPUT_LIMIT = 8 << 20
DEFAULT_TIMEOUT = 20.0


class HostIOError(OSError):
    """A read or command that did not produce usable data (missing, unreadable, timed out, too big)."""


@dataclass(frozen=True)
class Text:
    """Text read from a file: decoded leniently, with a flag when the limit cut it or it looked binary."""

    path: str
    text: str
    truncated: bool
    binary: bool


def read_text(path: Path | str, limit: int = READ_LIMIT) -> Text:
    """Read at most `limit` bytes; never follows a FIFO or device (those could block forever)."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise HostIOError(exc.errno, f"{p}: {exc.strerror}") from None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise HostIOError(0, f"{p}: not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    truncated = len(data) > limit
    data = data[:limit]
    binary = b"\x00" in data[:8192]
    return Text(str(p), data.decode("utf-8", errors="replace"), truncated, binary)


def read_or_none(path: Path | str, limit: int = READ_LIMIT) -> Text | None:
    try:
        return read_text(path, limit)
    except FileNotFoundError:
        return None
    except HostIOError as exc:
        if exc.errno == 2:
            return None
        raise


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def run(
    argv: list[str], timeout: float = DEFAULT_TIMEOUT, env: dict[str, str] | None = None, limit: int = OUTPUT_LIMIT
) -> Completed:
    """Run a command without a shell, in the C locale unless told otherwise; raise HostIOError if it
    cannot start, runs past `timeout` or prints more than `limit` bytes."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    if os.name == "nt":
        full_env = dict(os.environ)
    full_env.update(env or {})
    try:
        proc = subprocess.run(
            argv, capture_output=True, timeout=timeout, env=full_env, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError:
        raise HostIOError(2, f"{argv[0]}: command not found") from None
    except subprocess.TimeoutExpired:
        raise HostIOError(0, f"{' '.join(argv)}: no answer within {timeout:g} s") from None
    except OSError as exc:
        raise HostIOError(exc.errno, f"{argv[0]}: {exc.strerror}") from None
    if len(proc.stdout) > limit:
        raise HostIOError(0, f"{' '.join(argv)}: output larger than {limit} bytes")
    return Completed(
        list(argv),
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace")[:4096],
    )


def which(name: str, root: Path = Path("/")) -> Path | None:
    """A program's path under root (tests point root at an extracted tree)."""
    for d in ("usr/sbin", "usr/bin", "sbin", "bin", "usr/local/sbin", "usr/local/bin"):
        p = root / d / name
        if p.is_file() and os.access(p, os.X_OK):
            return p
    return None
