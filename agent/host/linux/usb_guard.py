"""The USB guard: kernel uevents and the policy in force -> sysfs authorization and usb.* events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from agent.host.linux.usb import Sysfs, Uevent, set_block_read_only
from agent.usb.events import Tracked, payload
from agent.usb.policy import BLOCK, READ_ONLY, Decision, UsbPolicy, decide, is_network
from mamori import clock

log = logging.getLogger("mamori.agent.usb")

Emit = Callable[..., None]  # emit(kind, payload[, severity=...])


class Events(Protocol):
    def receive(self, timeout: float) -> list[Uevent]: ...


class Guard:
    """Keeps every USB device in line with the policy; call start(), then handle()/tick() or run()."""

    def __init__(
        self,
        sysfs: Sysfs,
        policy: UsbPolicy,
        emit: Emit,
        *,
        dev_root: Path = Path("/dev"),
        clock: Callable[[], datetime] = lambda: clock.now(),
    ):
        self.sysfs = sysfs
        self.policy = policy
        self.emit = emit
        self.dev_root = dev_root
        self.clock = clock
        self.tracked: dict[str, Tracked] = {}
        self.previous_defaults: dict[str, tuple[str, str]] = {}
        self.cut_off: set[str] = set()  # devices caught with storage they were refused: never re-authorized
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
            self.cut_off &= set(present)
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
        if event.subsystem == "usb" and event.devtype == "usb_device" and path.name.startswith("usb"):
            if event.action == "add":  # a controller that appeared later: deny before its ports are scanned
                self.sysfs.deny_hub(path)
                log.info("new root hub %s: deny by default", path.name)
        elif event.subsystem == "usb" and event.devtype == "usb_device":
            if event.action == "add":
                self._device(path, announce=True, now=self.clock())
            elif event.action == "remove":
                self.tracked.pop(path.name, None)
                self.cut_off.discard(path.name)
        elif event.subsystem == "usb" and event.devtype == "usb_interface" and event.action in ("add", "bind"):
            device = path.name.split(":")[0]
            owner = self.tracked.get(device)
            if owner is not None and (device in self.cut_off or not owner.decision.device_allowed):
                # Interfaces exist only once the device is authorized: someone authorized it behind our back.
                self._cut_off(self.sysfs.devices / device, owner, f"interface {path.name} appeared")
            elif owner is not None:
                self._interface(path, owner.decision)
        elif event.subsystem == "block" and event.action == "add":
            self._block(path, event.env.get("DEVNAME", path.name))
        elif event.subsystem == "net" and event.action == "add":
            self._netdev(path, event.env.get("INTERFACE", path.name))

    def _device(self, path: Path, *, announce: bool, now: datetime) -> None:
        device = self.sysfs.describe(path)
        if device is None:
            return
        decision = decide(device, self.policy, now, self.sysfs.kernel_storage(path))
        old = self.tracked.get(path.name)
        tracked = Tracked(device, decision, self.sysfs.vendor_name(path))
        self.tracked[path.name] = tracked
        self._enforce(path, decision)
        changed = old is None or (old.decision.storage, old.decision.decided_by) != (
            decision.storage,
            decision.decided_by,
        )
        if announce or changed:
            body = payload(device, decision, tracked.vendor_name)
            if announce:
                self.emit("usb.attached", body)
            if announce or decision.has_storage or not decision.interfaces:
                self.emit(decision.event_kind, body)
            log.info(
                "%s %s:%s serial=%r interfaces=%s: %s (%s)",
                path.name,
                device.vendor_id,
                device.product_id,
                device.serial,
                ",".join(device.interfaces),
                f"storage {decision.storage}" if decision.has_storage else "no storage",
                decision.decided_by,
            )

    def _enforce(self, path: Path, decision: Decision) -> None:
        if not decision.device_allowed or path.name in self.cut_off:
            if self.sysfs.is_authorized(path):
                self.sysfs.set_authorized(path, False)
            return
        if not self.sysfs.is_authorized(path):
            # Its interfaces must be born unauthorized, also on a hub whose uevent we never saw.
            self.sysfs.deny_hub(self.sysfs.root_hub_of(path))
            self.sysfs.set_authorized(path, True)  # creates the interfaces, each still unauthorized
        interfaces = self.sysfs.interfaces(path)
        # Authorize every wanted interface before any driver probes: a driver bound to the first interface
        # claims its siblings (audio streaming, cdc_ether data), which fails on an unauthorized one.
        wanted = [iface for iface in interfaces if self._authorize(iface, decision)]
        for iface in wanted:
            self.sysfs.probe(iface)
        if decision.storage == READ_ONLY:
            for block in self.sysfs.block_devices():
                if self.sysfs.usb_ancestor(block) == path.resolve():
                    self._protect(block.name)

    def _authorize(self, iface: Path, decision: Decision) -> bool:
        """Set one interface's authorization; True when it is wanted (then it still needs a probe)."""
        # The class actually configured (sysfs) counts, and what the kernel's storage drivers would bind.
        refused_network = decision.network == BLOCK and is_network(self.sysfs.interface_class(iface))
        wanted = not (decision.storage == BLOCK and self.sysfs.interface_is_storage(iface)) and not refused_network
        if self.sysfs.is_authorized(iface) != wanted:
            self.sysfs.set_authorized(iface, wanted)
        return wanted

    def _interface(self, iface: Path, decision: Decision) -> None:
        if self._authorize(iface, decision):
            self.sysfs.probe(iface)

    def _cut_off(self, device: Path, owner: Tracked | None, what: str) -> None:
        """The backstop: storage below a device that was refused it. De-authorize the whole device, loudly."""
        first = device.name not in self.cut_off
        self.cut_off.add(device.name)
        if self.sysfs.is_authorized(device):
            self.sysfs.set_authorized(device, False)
        if not first:
            return
        log.error("%s below %s, which is not allowed storage; device de-authorized", what, device.name)
        if owner is None:
            described = self.sysfs.describe(device)
            if described is None:
                return
            owner = Tracked(described, decide(described, self.policy, self.clock()), self.sysfs.vendor_name(device))
        body = payload(owner.device, owner.decision, owner.vendor_name)
        body["decided_by"] = f"backstop: {what}"[:200]
        self.emit("usb.blocked", body, severity="critical")

    def _block(self, path: Path, devname: str) -> None:
        owner_path = self.sysfs.usb_ancestor(path)
        if owner_path is None:
            return
        owner = self.tracked.get(owner_path.name)
        if owner is None or owner.decision.storage == BLOCK:
            # A block device from storage we did not allow: cut the whole device off at once.
            self._cut_off(owner_path, owner, f"block device {devname} appeared")
            return
        if owner.decision.storage == READ_ONLY:
            self._protect(devname)

    def _netdev(self, path: Path, name: str) -> None:
        """A network interface on USB: with usb.network block, whatever its class, the device is cut off."""
        owner_path = self.sysfs.usb_ancestor(path)
        if owner_path is None:
            return
        if self.policy.network == BLOCK:
            self._cut_off(owner_path, self.tracked.get(owner_path.name), f"network interface {name} appeared")
        else:
            log.warning(
                "USB network interface %s on %s (usb.network audit: reported by network_segment)", name, owner_path.name
            )

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
