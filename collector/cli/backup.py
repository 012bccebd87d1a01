"""`mamori-collector backup DEST` / `restore SRC`: a consistent copy of a serving collector, and putting it back.

The copy holds the SQLite database (SQLite's online backup API: a consistent snapshot while agents write), the
CA and server keys, the configuration and the event archives, each file readable by its owner only, and
BACKUP.json with every file's SHA-256, which `restore` checks before it writes anything.
A PostgreSQL database is not copied: pg_dump / pg_restore do that (the command says so).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from collector.cli.common import CliError, actor, engine, print_json
from collector.config import DataDir
from mamori import clock
from mamori.i18n import _

FORMAT = "mamori-collector-backup/1"
INDEX = "BACKUP.json"
DB_FILE = "mamori.db"
CONFIG_FILE = "collector.toml"
ARCHIVE = "archive"


def _sha256(path: Path) -> str:
    from collector.archive import sha256_file

    return sha256_file(path)


def _private_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())


def _sqlite_snapshot(src: Path, dest: Path) -> None:
    """SQLite's online backup: pages copied under a read transaction, so writers keep going and the copy is whole."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    source = sqlite3.connect(src, timeout=30)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
        # A self-contained file: no -wal beside it to lose when it is copied on.
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()
        source.close()


def _empty_dest(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise CliError(
            _("{path} exists and is not an empty folder; give a new folder for the backup").format(path=dest)
        )
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(dest, 0o700)


def cmd_backup(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import audit

    settings = datadir.load_settings()
    url = make_url(datadir.database_url(settings))
    dest = Path(args.dest).expanduser().resolve()
    _empty_dest(dest)
    files: dict[str, str] = {}
    on_sqlite = url.get_backend_name() == "sqlite"
    if on_sqlite:
        if not url.database:
            raise CliError(_("an in-memory SQLite database cannot be backed up"))
        _sqlite_snapshot(Path(url.database), dest / DB_FILE)
        files[DB_FILE] = _sha256(dest / DB_FILE)
    for src, name in (
        (datadir.ca_key, "ca.key"),
        (datadir.ca_cert, "ca.crt"),
        (datadir.server_key, "server.key"),
        (datadir.server_cert, "server.crt"),
        (datadir.config, CONFIG_FILE),
    ):
        _private_copy(src, dest / name)
        files[name] = _sha256(dest / name)
    folder = datadir.archive(settings)
    if folder.is_dir():
        for src in sorted(folder.iterdir()):
            # Finished archives only: a .tmp is a write in progress (retention finishes or undoes it).
            if src.is_file() and not src.name.endswith(".tmp") and not src.name.startswith("."):
                rel = f"{ARCHIVE}/{src.name}"
                _private_copy(src, dest / rel)
                files[rel] = _sha256(dest / rel)
    now = clock.now()
    index = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "source": str(datadir.root),
        "database": "sqlite" if on_sqlite else "postgresql",
        "files": files,
    }
    fd = os.open(dest / INDEX, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(index, f, ensure_ascii=False, indent=2)
    with engine(datadir).begin() as conn:
        audit.record(
            conn,
            at=now,
            actor=actor(args),
            action="backup.create",
            target=f"file:{dest.name}",
            details={"files": len(files), "database": index["database"]},
        )
    if args.json:
        print_json(index)
        return 0
    print(_("Backup written to {path} ({count} files).").format(path=dest, count=len(files)))
    if not on_sqlite:
        print(
            _(
                "The PostgreSQL database is not in it: back it up with pg_dump -Fc -f mamori.dump DBNAME and "
                "restore it with pg_restore -d DBNAME mamori.dump."
            )
        )
    return 0


def _read_index(src: Path) -> dict:
    try:
        index = json.loads((src / INDEX).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(
            _("{path} is not a collector backup: {index} is missing").format(path=src, index=INDEX)
        ) from None
    except ValueError:
        raise CliError(_("{path}: {index} is damaged").format(path=src, index=INDEX)) from None
    if index.get("format") != FORMAT or not isinstance(index.get("files"), dict):
        raise CliError(_("{path}: {index} is not a backup this version can restore").format(path=src, index=INDEX))
    for rel, sha in index["files"].items():
        path = src / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise CliError(
                _("{path}: {index} names a file outside the backup: {file}").format(path=src, index=INDEX, file=rel)
            )
        if not path.is_file() or _sha256(path) != sha:
            raise CliError(
                _(
                    "backup file {file} is missing or altered (SHA-256 differs from {index}); nothing was restored"
                ).format(file=path, index=INDEX)
            )
    return index


def cmd_restore(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector import runlock

    src = Path(args.src).expanduser().resolve()
    index = _read_index(src)
    root = datadir.root
    if runlock.serving(datadir):
        raise CliError(_("a collector is serving {path}: stop it before restoring into it").format(path=root))
    if root.exists() and any(p.name != runlock_name(datadir) for p in root.iterdir()) and not args.force:
        raise CliError(
            _(
                "{path} is not empty; restore into a new folder, or add --force to replace its database, "
                "keys and configuration"
            ).format(path=root)
        )
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    targets = {
        "ca.key": datadir.ca_key,
        "ca.crt": datadir.ca_cert,
        "server.key": datadir.server_key,
        "server.crt": datadir.server_cert,
        CONFIG_FILE: datadir.config,
        DB_FILE: datadir.sqlite,
    }
    # Left over from the database being replaced, a -wal would be replayed into the restored one.
    for suffix in ("-wal", "-shm"):
        Path(f"{datadir.sqlite}{suffix}").unlink(missing_ok=True)
    archives = [rel for rel in index["files"] if rel.startswith(f"{ARCHIVE}/")]
    for rel in index["files"]:
        if rel not in archives:
            _put(src / rel, targets.get(rel) or root / rel)
    folder = datadir.archive(datadir.load_settings())  # where the restored configuration keeps them
    for rel in archives:
        _put(src / rel, folder / Path(rel).name)
    print(
        _("Restored {count} files from {src} into {path}; start it with `mamori-collector serve`.").format(
            count=len(index["files"]), src=src, path=root
        )
    )
    if index["database"] == "postgresql":
        print(_("The PostgreSQL database was not in the backup: restore it with pg_restore -d DBNAME mamori.dump."))
    return 0


def _put(src: Path, dest: Path) -> None:
    # Whole or not at all: a restore cut short never leaves a half-copied key or database in place.
    tmp = dest.with_name(dest.name + ".restore-tmp")
    tmp.unlink(missing_ok=True)
    _private_copy(src, tmp)
    os.replace(tmp, dest)


def runlock_name(datadir: DataDir) -> str:
    return datadir.serve_lock.name


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "backup", parents=[common], help=_("copy the database, keys, configuration and archives (safe while serving)")
    )
    p.add_argument("dest", help=_("new, empty folder for the backup"))
    p.add_argument("--by", help=_("who makes the backup (recorded in the audit log)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", parents=[common], help=_("put a backup into the data folder"))
    p.add_argument("src", help=_("folder written by `mamori-collector backup`"))
    p.add_argument("--force", action="store_true", help=_("replace the data folder's database, keys and configuration"))
    p.set_defaults(func=cmd_restore)
