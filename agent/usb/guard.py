"""The USB guard: kernel uevents and the policy in force -> sysfs authorization and usb.* events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from agent.host.linux_usb import Sysfs, Uevent, set_block_read_only
from agent.usb.policy import BLOCK, READ_ONLY, Decision, UsbPolicy, decide, is_storage
from mamori import clock
from mamori.usbrules import Device, rule_line

log = logging.getLogger("mamori.agent.usb")

Emit = Callable[[str, dict[str, Any]], None]


class Events(Protocol):
    def receive(self, timeout: float) -> list[Uevent]: ...


@dataclass
class Tracked:
    device: Device
    decision: Decision
    vendor_name: str


def payload(device: Device, decision: Decision, vendor_name: str = "") -> dict[str, Any]:
    """The UsbDevice event payload (proto/mamori/v1/events.proto)."""
    return {
        "vendor_id": device.vendor_id, "product_id": device.product_id, "vendor_name": vendor_name,
        "product_name": device.name, "serial": device.serial, "interface_classes": list(device.interfaces),
        "port": device.port, "decided_by": decision.decided_by, "mode": decision.mode,
        "rule": rule_line(device),
    }


class Guard:
    """Keeps every USB device in line with the policy; call start(), then handle()/tick() or run()."""

    def __init__(self, sysfs: Sysfs, policy: UsbPolicy, emit: Emit, *, dev_root: Path = Path("/dev"),
                 clock: Callable[[], datetime] = lambda: clock.now()):
        self.sysfs = sysfs
        self.policy = policy
        self.emit = emit
        self.dev_root = dev_root
        self.clock = clock
        self.tracked: dict[str, Tracked] = {}
        self.previous_defaults: dict[str, tuple[str, str]] = {}
        self._lock = threading.RLock()
        self._next_expiry: datetime | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Deny by default on every root hub first, then bring present devices in line."""
        with self._lock:
            self.previous_defaults = self.sysfs.default_deny()
            self.rescan(initial=True)

    def stop(self, restore_defaults: bool) -> None:
        """On a clean shutdown: restore the root hubs' defaults only when the policy asks for it."""
        if restore_defaults:
            self.sysfs.restore_defaults(self.previous_defaults)

    def set_policy(self, policy: UsbPolicy) -> None:
        with self._lock:
            self.policy = policy
            self.rescan()

    # --- decisions ---------------------------------------------------------------------------------------------

    def rescan(self, initial: bool = False) -> None:
        """Decide again for every present device (new policy, an expiry, lost uevents)."""
        with self._lock:
            now = self.clock()
            self._next_expiry = self.policy.next_expiry(now)
            present = {p.name: p for p in self.sysfs.usb_devices()}
            for name in list(self.tracked):
                if name not in present:
                    del self.tracked[name]
            for name, path in present.items():
                self._device(path, announce=initial or name not in self.tracked, now=now)

    def tick(self) -> None:
        """Re-decide when a temporary permission has run out (works offline: only the clock counts)."""
        if self._next_expiry is not None and self.clock() >= self._next_expiry:
            log.info("a temporary permission expired; deciding again")
            self.rescan()

    def handle(self, event: Uevent) -> None:
        with self._lock:
            try:
                self._handle(event)
            except Exception:  # one odd device must never stop the guard
                log.exception("uevent %s %s not handled; rescanning", event.action, event.devpath)
                self.rescan()

    def _handle(self, event: Uevent) -> None:
        if event.action == "rescan":
            self.rescan()
            return
        path = self.sysfs.from_devpath(event.devpath)
        if event.subsystem == "usb" and event.devtype == "usb_device":
            if event.action == "add":
                self._device(path, announce=True, now=self.clock())
            elif event.action == "remove":
                self.tracked.pop(path.name, None)
        elif event.subsystem == "usb" and event.devtype == "usb_interface" and event.action in ("add", "bind"):
            owner = self.tracked.get(path.name.split(":")[0])
            if owner is not None:
                self._interface(path, owner.decision)
        elif event.subsystem == "block" and event.action == "add":
            self._block(path, event.env.get("DEVNAME", path.name))

    def _device(self, path: Path, *, announce: bool, now: datetime) -> None:
        device = self.sysfs.describe(path)
        if device is None:
            return
        decision = decide(device, self.policy, now)
        old = self.tracked.get(path.name)
        tracked = Tracked(device, decision, self.sysfs.vendor_name(path))
        self.tracked[path.name] = tracked
        self._enforce(path, decision)
        changed = old is None or (old.decision.storage, old.decision.decided_by) != (decision.storage,
                                                                                     decision.decided_by)
        if announce or changed:
            body = payload(device, decision, tracked.vendor_name)
            if announce:
                self.emit("usb.attached", body)
            if announce or decision.has_storage or not decision.interfaces:
                self.emit(decision.event_kind, body)
            log.info("%s %s:%s serial=%r interfaces=%s: %s (%s)", path.name, device.vendor_id,
                     device.product_id, device.serial, ",".join(device.interfaces),
                     f"storage {decision.storage}" if decision.has_storage else "no storage", decision.decided_by)

    def _enforce(self, path: Path, decision: Decision) -> None:
        if not decision.device_allowed:
            if self.sysfs.is_authorized(path):
                self.sysfs.set_authorized(path, False)
            return
        if not self.sysfs.is_authorized(path):
            self.sysfs.set_authorized(path, True)  # creates the interfaces, each still unauthorized
        for iface in self.sysfs.interfaces(path):
            self._interface(iface, decision)
        if decision.storage == READ_ONLY:
            for block in self.sysfs.block_devices():
                if self.sysfs.usb_ancestor(block) == path.resolve():
                    self._protect(block.name)

    def _interface(self, iface: Path, decision: Decision) -> None:
        # The class actually configured (sysfs) counts, not only what the descriptors promised.
        wanted = not (is_storage(self.sysfs.interface_class(iface)) and decision.storage == BLOCK)
        if self.sysfs.is_authorized(iface) != wanted:
            self.sysfs.set_authorized(iface, wanted)
        if wanted:
            self.sysfs.probe(iface)

    def _block(self, path: Path, devname: str) -> None:
        owner_path = self.sysfs.usb_ancestor(path)
        if owner_path is None:
            return
        owner = self.tracked.get(owner_path.name)
        if owner is None or owner.decision.storage == BLOCK:
            # A block device from storage we did not allow: cut the device off at once.
            log.error("block device %s appeared below %s, which is not allowed; deauthorizing", devname,
                      owner_path.name)
            self._device(owner_path, announce=owner is None, now=self.clock())
            if self.sysfs.is_authorized(owner_path) and (owner is None or not owner.decision.device_allowed):
                self.sysfs.set_authorized(owner_path, False)
            return
        if owner.decision.storage == READ_ONLY:
            self._protect(devname)

    def _protect(self, devname: str) -> None:
        node = self.dev_root / devname
        if set_block_read_only(node):
            log.info("%s set read-only", node)

    # --- loop --------------------------------------------------------------------------------------------------

    def run(self, events: Events, stop: threading.Event) -> None:
        """Handle uevents until stop is set; wake at least once a second for expiries."""
        while not stop.is_set():
            for event in events.receive(1.0):
                self.handle(event)
            self.tick()
