"""Monthly event archives: events-YYYY-MM.jsonl.gz plus a SHA-256 manifest, written crash-safely, read verified."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import heapq
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mamori.i18n import _

FORMAT = "mamori-events-archive/1"
_NAME = re.compile(r"^events-(\d{4}-\d{2})\.(jsonl\.gz|manifest\.json)(\.tmp)?$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ArchiveError(Exception):
    """An archive that is missing, damaged or altered: its text says which file and what is wrong."""


@dataclass(frozen=True, slots=True)
class Manifest:
    month: str
    file: str
    sha256: str
    events: int
    first_occurred_at: str | None
    last_occurred_at: str | None
    written_at: str


@dataclass(frozen=True, slots=True)
class WriteResult:
    manifest: Manifest
    added: int  # events that were not in the archive before
    rewritten: bool


def check_month(text: str) -> str:
    if not _MONTH.match(text):
        raise ArchiveError(_("invalid month {month}: use YYYY-MM, e.g. 2025-10").format(month=text))
    return text


def data_path(folder: Path, month: str) -> Path:
    return folder / f"events-{month}.jsonl.gz"


def manifest_path(folder: Path, month: str) -> Path:
    return folder / f"events-{month}.manifest.json"


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def months(folder: Path) -> list[str]:
    """Every month some archive file (finished or not) exists for, oldest first."""
    if not folder.is_dir():
        return []
    found = {m.group(1) for p in folder.iterdir() if (m := _NAME.match(p.name))}
    return sorted(found)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path, month: str) -> Manifest:
    path = manifest_path(folder, month)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.pop("format", None) != FORMAT:
            raise ValueError("unknown format")
        return Manifest(**raw)
    except FileNotFoundError:
        raise ArchiveError(_("{path}: manifest missing").format(path=path)) from None
    except (ValueError, TypeError) as exc:
        raise ArchiveError(_("{path}: not a valid manifest ({problem})").format(path=path, problem=exc)) from None


def _data_file(folder: Path, manifest: Manifest) -> Path:
    """The data file the manifest describes; after a crash between the two renames it is still the .tmp one."""
    final = data_path(folder, manifest.month)
    pending = _tmp(final)
    if pending.exists() and not _tmp(manifest_path(folder, manifest.month)).exists():
        return pending
    return final


def verify(folder: Path, month: str) -> Manifest:
    """The month's manifest, once the data file's SHA-256 matches it; ArchiveError otherwise."""
    manifest = read_manifest(folder, check_month(month))
    path = _data_file(folder, manifest)
    if manifest.file != data_path(folder, month).name:
        raise ArchiveError(
            _("{path}: names {file}, not this month's file").format(
                path=manifest_path(folder, month), file=manifest.file
            )
        )
    if not path.exists():
        raise ArchiveError(_("{path}: archive file missing (its manifest exists)").format(path=path))
    actual = sha256_file(path)
    if actual != manifest.sha256:
        raise ArchiveError(
            _(
                "{path}: SHA-256 {actual} does not match the manifest's {expected}: the archive was altered or damaged"
            ).format(path=path, actual=actual, expected=manifest.sha256)
        )
    return manifest


def read(folder: Path, month: str) -> Iterator[dict[str, Any]]:
    """The month's events, oldest first, after verifying the file; ArchiveError if it does not verify."""
    manifest = verify(folder, month)
    yield from _lines(_data_file(folder, manifest), manifest)


def _lines(path: Path, manifest: Manifest) -> Iterator[dict[str, Any]]:
    count = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                count += 1
                yield json.loads(line)
    except (OSError, EOFError, ValueError) as exc:
        raise ArchiveError(_("{path}: unreadable ({problem})").format(path=path, problem=exc)) from None
    if count != manifest.events:
        raise ArchiveError(
            _("{path}: {count} events, the manifest says {expected}").format(
                path=path, count=count, expected=manifest.events
            )
        )


def _key(record: dict[str, Any]) -> tuple[str, str]:
    return record["occurred_at"], record["event_id"]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_private(path: Path):
    # Archives hold terminal events (file names, user names): readable by the collector's account only.
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def recover(folder: Path, month: str) -> None:
    """Finish or undo a write a crash interrupted; the manifest's rename is the commit point."""
    data, manifest = data_path(folder, month), manifest_path(folder, month)
    if _tmp(manifest).exists():  # crashed before the commit: the old archive (if any) is intact
        for path in (_tmp(manifest), _tmp(data)):
            path.unlink(missing_ok=True)
        _fsync_dir(folder)
    elif _tmp(data).exists() and manifest.exists():  # crashed after the commit: roll forward
        if sha256_file(_tmp(data)) != read_manifest(folder, month).sha256:
            raise ArchiveError(
                _("{path}: does not match {manifest}; move it away and rerun").format(
                    path=_tmp(data), manifest=manifest
                )
            )
        os.replace(_tmp(data), data)
        _fsync_dir(folder)


def write(folder: Path, month: str, records: Iterable[dict[str, Any]], now: datetime) -> WriteResult:
    """Merge records (sorted by occurred_at, event_id) into the month's archive, crash-safely.

    An existing archive is verified first and its events kept; an event already in it is not written twice.
    Nothing is rewritten when every record was already archived.
    """
    check_month(month)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    recover(folder, month)
    data, manifest = data_path(folder, month), manifest_path(folder, month)
    # Verified now, before the .tmp exists, and read from the final file (recover() left no .tmp behind).
    existing: Iterable[dict[str, Any]] = _lines(data, verify(folder, month)) if manifest.exists() else ()
    count = added = 0
    first = last = None
    previous: tuple[str, str] | None = None
    tagged = heapq.merge(((_key(r), 0, r) for r in existing), ((_key(r), 1, r) for r in records))
    try:
        with _open_private(_tmp(data)) as raw:
            # mtime=0 and sorted keys: the same events always give the same bytes, so the same SHA-256.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                for key, source, record in tagged:
                    if key == previous:
                        continue  # the same event, already archived (a rerun after a crash, or stored twice)
                    previous = key
                    added += source
                    count += 1
                    first = first or key[0]
                    last = key[0]
                    gz.write((json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode())
            raw.flush()
            os.fsync(raw.fileno())
        if added == 0 and manifest.exists():
            _tmp(data).unlink()
            return WriteResult(read_manifest(folder, month), 0, False)
        result = Manifest(
            month=month,
            file=data.name,
            sha256=sha256_file(_tmp(data)),
            events=count,
            first_occurred_at=first,
            last_occurred_at=last,
            written_at=now.astimezone(UTC).isoformat(timespec="seconds"),
        )
        with _open_private(_tmp(manifest)) as f:
            f.write(json.dumps({"format": FORMAT, **asdict(result)}, ensure_ascii=False, indent=2).encode())
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(folder)
    except BaseException:
        for path in (_tmp(manifest), _tmp(data)):
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    os.replace(_tmp(manifest), manifest)  # the commit point: recover() rolls forward from here
    _fsync_dir(folder)
    os.replace(_tmp(data), data)
    _fsync_dir(folder)
    return WriteResult(result, added, True)


def delete(folder: Path, month: str) -> None:
    """Remove every file of the month's archive (manifest first: a half-deleted archive never verifies)."""
    for path in (manifest_path(folder, month), data_path(folder, month)):
        for p in (path, _tmp(path)):
            p.unlink(missing_ok=True)
    _fsync_dir(folder)


def _candidates(folder: Path, event_id: str) -> list[str]:
    """Archived months to search for an event, the month its UUIDv7 was made in (and its neighbours) first."""
    every = [m for m in months(folder) if manifest_path(folder, m).exists()]
    try:
        value = uuid.UUID(event_id)
    except ValueError:
        return every
    if value.version != 7:
        return every
    made = datetime.fromtimestamp((value.int >> 80) / 1000, UTC)
    index = made.year * 12 + made.month - 1
    near = [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in (index, index - 1, index + 1)]
    return [m for m in near if m in every] + [m for m in every if m not in near]


def find(folder: Path, event_id: str) -> tuple[str, dict[str, Any]] | None:
    """(month, event) for an event that left the database, from verified archives; None if none holds it."""
    event_id = event_id.strip().lower()
    for month in _candidates(folder, event_id):
        for record in read(folder, month):
            if record["event_id"] == event_id:
                return month, record
    return None
