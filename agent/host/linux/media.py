"""Linux removable-media control: the USB guard and the export log running on one thread of their own."""

from __future__ import annotations

import errno
import logging
import threading
from pathlib import Path
from typing import Any

from agent.host.base import Emit
from agent.host.linux.medialog import MediaLog
from agent.host.linux.mounts import MountTable
from agent.host.linux.usb import Sysfs, UeventSocket
from agent.host.linux.usb_guard import Guard
from agent.usb import state as media_state
from agent.usb.events import Tracked
from agent.usb.policy import compile_usb
from mamori.usbrules import Device

log = logging.getLogger("mamori.agent.media")


def attached(root: Path = Path("/")) -> list[Device]:
    """Root hubs and USB devices as sysfs below `root` describes them."""
    sysfs = Sysfs(root)
    if not sysfs.present():
        raise FileNotFoundError(errno.ENOENT, "no USB devices folder", str(sysfs.devices))
    return [d for d in (sysfs.describe(p) for p in sysfs.root_hubs() + sysfs.usb_devices()) if d is not None]


class LinuxMediaControl:
    def __init__(self, emit: Emit, root: Path = Path("/")):
        self.emit = emit
        self.sysfs = Sysfs(root)
        self.mounts = MountTable(root, self.sysfs)
        self.guard: Guard | None = None
        self.media: MediaLog | None = None
        self.document: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, document: dict[str, Any]) -> None:
        """Deny by default at once (before anything else can bind), then watch uevents and mounts."""
        self.document = document
        events = UeventSocket()  # opened before deciding, so no device added meanwhile is missed
        self.guard = Guard(self.sysfs, compile_usb(document), self.emit)
        self.guard.start()
        self._media(document)
        self._thread = threading.Thread(target=self._loop, args=(events,), name="usb-guard", daemon=True)
        self._thread.start()

    def _media(self, document: dict[str, Any]) -> None:
        wanted = bool(document.get("media_write_log", True))
        if wanted and self.media is None:
            self.media = MediaLog(self.mounts, self.emit)
            self.media.start()
        elif not wanted and self.media is not None:
            self.media.stop()
            self.media = None

    def _loop(self, events: UeventSocket) -> None:
        try:
            while not self._stop.is_set():
                assert self.guard is not None
                for event in events.receive(0.5):
                    self.guard.handle(event)
                self.guard.tick()
                if self.media is not None:
                    self.media.refresh()
        except Exception as exc:  # never silently: the log and MED-006 show why enforcement stopped watching
            log.exception("the USB guard loop failed; devices stay as last decided, deny-by-default stays on")
            self.emit(
                "check.result",
                media_state.payload(
                    False,
                    str(self.document.get("usb", {}).get("mode", "")),
                    f"USB guard failed: {type(exc).__name__}: {exc}",
                    "LinuxHost",
                ),
            )
        finally:
            events.close()

    def apply(self, document: dict[str, Any]) -> None:
        """A new policy (already validated by the cache): decide again for every present device."""
        self.document = document
        if self.guard is not None:
            self.guard.set_policy(compile_usb(document))
        self._media(document)

    def devices(self) -> list[Tracked]:
        """The USB devices the guard tracks now, each with the decision in force."""
        if self.guard is None:
            return []
        with self.guard._lock:
            return list(self.guard.tracked.values())

    def stop(self) -> None:
        """Clean shutdown: deny-by-default stays unless the policy says to restore the hubs' defaults."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.media is not None:
            self.media.stop()
        if self.guard is not None:
            self.guard.stop(restore_defaults=bool(self.document.get("usb", {}).get("restore_on_exit", False)))
