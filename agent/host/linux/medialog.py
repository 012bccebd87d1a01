"""The export log: every file created or changed on mounted removable media becomes a media.write event."""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import select
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from watchdog.events import FileClosedEvent, FileMovedEvent, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger("mamori.agent.medialog")

Emit = Callable[[str, dict[str, Any]], None]


class MountSource(Protocol):
    """Lists removable mounts (agent/host/linux/mounts.MountTable on Linux)."""

    def removable(self) -> list[Any]: ...

    def removable_disks(self) -> list[Any]: ...


def sha256_file(path: str) -> tuple[int, str]:
    """(size, hex sha256) read in chunks, so a large file costs memory of one chunk only."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _user(path: str) -> str:
    """The owner of the written file: the writer, for the usual case of a user creating it."""
    try:
        uid = os.stat(path).st_uid
    except OSError:
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class _Handler(FileSystemEventHandler):
    def __init__(self, log_: MediaLog, mount_point: str, serial: str):
        self.log = log_
        self.mount_point = mount_point
        self.serial = serial

    def on_closed(self, event: FileClosedEvent) -> None:  # closed after writing: the content is final
        if not event.is_directory:
            self.log.record(os.fsdecode(event.src_path), self.mount_point, self.serial)

    def on_created(self, event: FileSystemEvent) -> None:
        # A file in a freshly created directory can be written and closed before its watch exists;
        # such files only show up as "created", so they are recorded once they have been quiet a moment.
        if not event.is_directory:
            self.log.later(os.fsdecode(event.src_path), self.mount_point, self.serial)

    on_modified = on_created

    def on_moved(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileMovedEvent) and not event.is_directory:
            self.log.record(os.fsdecode(event.dest_path), self.mount_point, self.serial)


class MediaLog:
    """Watches every removable mount (refresh() picks up new and gone mounts) and emits media.write."""

    def __init__(self, mounts: MountSource, emit: Emit, quiet_seconds: float = 1.0):
        self.mounts = mounts
        self.emit = emit
        self.quiet = quiet_seconds
        self.observer = Observer()
        self.watches: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[float, str, str]] = {}
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="medialog-flush", daemon=True)
        self._mount_watch = threading.Thread(target=self._mount_loop, name="medialog-mounts", daemon=True)
        self._last_refresh: float | None = None  # wall clock of the previous look at the mount table
        self._raw: dict[str, tuple[int, str]] = {}  # device node -> (inotify watch, serial)
        self._inotify: Any = None
        self._raw_thread = threading.Thread(target=self._raw_loop, name="medialog-raw", daemon=True)

    def start(self) -> None:
        self.observer.start()
        self._flusher.start()
        if hasattr(self.mounts, "removable_disks"):  # Linux: raw writes to USB block devices too
            try:
                from agent.host.linux.inotify import Inotify

                self._inotify = Inotify()
            except (OSError, AttributeError) as exc:
                log.warning("raw writes to USB block devices are not recorded: %s", exc)
        self.refresh()
        self._mount_watch.start()
        if self._inotify is not None:
            self._raw_thread.start()

    def _mount_loop(self, mountinfo: str = "/proc/self/mountinfo") -> None:
        """Refresh the moment the mount table changes (the kernel flags mountinfo with POLLPRI)."""
        try:
            handle = open(mountinfo, "rb")  # noqa: SIM115 - held open for the life of the thread
        except OSError as exc:
            log.warning("cannot watch %s (%s): mounts are picked up on the guard's next pass", mountinfo, exc)
            return
        with handle:
            poller = select.poll()
            poller.register(handle, select.POLLPRI | select.POLLERR)
            while not self._stop.is_set():
                handle.seek(0)
                handle.read()  # consume the change, or poll() reports it again at once
                if poller.poll(500):
                    self.refresh()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(5)
        self._stop.set()
        self._flusher.join(5)
        self._flush(force=True)

    def later(self, path: str, mount_point: str, serial: str) -> None:
        with self._lock:
            self._pending[path] = (time.monotonic() + self.quiet, mount_point, serial)

    def _flush_loop(self) -> None:
        while not self._stop.wait(0.2):
            self._flush()

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            due = [(p, v) for p, v in self._pending.items() if force or v[0] <= now]
            for path, _ in due:
                del self._pending[path]
        for path, (_, mount_point, serial) in due:
            self.record(path, mount_point, serial)

    def refresh(self) -> None:
        with self._lock:
            since, self._last_refresh = self._last_refresh, time.time()
            current = {m.mount.mount_point: m for m in self.mounts.removable()}
            self._refresh_raw()
            for point in list(self.watches):
                if point not in current:
                    self.observer.unschedule(self.watches.pop(point))
                    log.info("no longer watching %s", point)
            for point, rm in current.items():
                if point in self.watches or rm.mount.read_only:
                    continue  # a read-only mount cannot be written to: nothing to log
                try:
                    self.watches[point] = self.observer.schedule(
                        _Handler(self, point, rm.device_serial), point, recursive=True
                    )
                    log.info("watching removable filesystem %s (serial %r)", point, rm.device_serial)
                except OSError as exc:
                    log.error("cannot watch %s: %s", point, exc)
                    continue
                if since is not None:  # mounted since the last look: what was written before the watch counts
                    threading.Thread(
                        target=self._scan, args=(point, rm.device_serial, since), daemon=True, name="medialog-scan"
                    ).start()

    def _refresh_raw(self) -> None:
        """Watch every USB block device node for a close after writing (what `dd of=/dev/sdb` does)."""
        if self._inotify is None:
            return
        disks = {d.devnode: d for d in self.mounts.removable_disks()}
        for node in list(self._raw):
            if node not in disks:
                self._inotify.remove(self._raw.pop(node)[0])
        for node, disk in disks.items():
            if node not in self._raw:
                try:
                    self._raw[node] = (self._inotify.add(node), disk.device_serial)
                except OSError as exc:  # the node is not there yet (devtmpfs): the next refresh tries again
                    log.debug("cannot watch %s: %s", node, exc)

    def _raw_loop(self) -> None:
        while not self._stop.is_set():
            for wd, _mask in self._inotify.read(0.5):
                with self._lock:
                    hit = next(((n, s) for n, (w, s) in self._raw.items() if w == wd), None)
                if hit is not None:
                    node, serial = hit
                    # The device itself was written, past any file system: no file, no hash to give.
                    log.warning("raw write to %s (serial %r)", node, serial)
                    self.emit(
                        "media.write",
                        {"path": node, "size": 0, "sha256": "", "user": "", "device_serial": serial, "mount_point": ""},
                    )

    def _scan(self, mount_point: str, serial: str, since: float) -> None:
        """Files changed between the mount and the watch (e.g. `mount ... && cp` in one command)."""
        slack = 1.0  # file systems with coarse timestamps (FAT: 2 s for mtime) must not hide a write
        for folder, _dirs, files in os.walk(mount_point):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                # ctime too: `cp -p` and `touch -d` set an old mtime, but no one can set ctime back.
                if max(st.st_mtime, st.st_ctime) >= since - slack:
                    self.later(path, mount_point, serial)

    def record(self, path: str, mount_point: str, serial: str) -> None:
        with self._lock:
            self._pending.pop(path, None)  # a close already gave the final content
        try:
            size, digest = sha256_file(path)
        except OSError as exc:  # removed again, or the stick was pulled: still record that it was written
            log.warning("media write %s not readable: %s", path, exc)
            size, digest = 0, ""
        self.emit(
            "media.write",
            {
                "path": path,
                "size": size,
                "sha256": digest,
                "user": _user(path),
                "device_serial": serial,
                "mount_point": mount_point,
            },
        )

    def watched(self) -> list[str]:
        with self._lock:
            return sorted(self.watches)
