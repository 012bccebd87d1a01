"""Windows removable-media control through what Windows itself enforces.

- the USBSTOR service's Start value (3 = load on demand, 4 = disabled: new USB disks get no driver),
- the RemovableStorageDevices policies Deny_Read / Deny_Write / Deny_Execute per device class GUID
  (removable disks, CD/DVD, WPD), read-only through Deny_Write,
- per-device disable/enable of present devices (SetupAPI via pnputil), found through WMI Win32_PnPEntity.

Everything that touches the OS goes through the small Registry and Pnp protocols; the decisions are plain
functions tested on Linux against recorded registry exports and WMI output.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from agent.host.base import Emit
from agent.usb import state as media_state
from agent.usb.events import Tracked, payload
from agent.usb.policy import BLOCK, Decision, UsbPolicy, compile_usb, decide, is_storage
from mamori import clock
from mamori.usbrules import Device

log = logging.getLogger("mamori.agent.media.windows")

USBSTOR_KEY = r"SYSTEM\CurrentControlSet\Services\USBSTOR"
POLICY_KEY = r"SOFTWARE\Policies\Microsoft\Windows\RemovableStorageDevices"
USBSTOR_ON_DEMAND, USBSTOR_DISABLED = 3, 4
DISK = "{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}"
CDROM = "{53f56308-b6bf-11d0-94f2-00a0c91efb8b}"
WPD = ("{6AC27878-A6FA-4155-BA85-F98F491D4F33}", "{F33FDC04-D1AC-4E8E-9A30-19BBD4B108AE}")
DENY_VALUES = ("Deny_Read", "Deny_Write", "Deny_Execute")
CM_PROB_DISABLED = 22

_USB_ID = re.compile(r"^USB\\VID_([0-9A-F]{4})&PID_([0-9A-F]{4})(?:&MI_([0-9A-F]{2}))?\\(.+)$", re.IGNORECASE)
_CLASS_ID = re.compile(r"^USB\\Class_([0-9A-F]{2})&SubClass_([0-9A-F]{2})&Prot_([0-9A-F]{2})$", re.IGNORECASE)
_USBSTOR_ID = re.compile(r"^USBSTOR\\[^\\]+\\(.+?)(?:&\d+)?$", re.IGNORECASE)


class Registry(Protocol):
    """HKEY_LOCAL_MACHINE values; None when the key or value does not exist."""

    def get(self, key: str, name: str) -> int | str | None: ...

    def set_dword(self, key: str, name: str, value: int) -> None: ...

    def delete(self, key: str, name: str) -> None: ...


class Pnp(Protocol):
    def entities(self) -> list[dict[str, Any]]: ...

    def set_enabled(self, instance_id: str, enabled: bool) -> bool: ...


@dataclass
class WinDevice:
    """One USB device as PnP shows it: its instance id, identity, and per-interface instance ids."""

    instance_id: str
    device: Device
    interface_ids: dict[str, str] = field(default_factory=dict)  # "08:06:50" -> child instance id (composite)
    disabled: set[str] = field(default_factory=set)  # instance ids (its own or its children's) now disabled


def _s(value: Any, limit: int = 256) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _classes(entity: dict[str, Any]) -> list[str]:
    ids = entity.get("CompatibleID")
    out = []
    for cid in ids if isinstance(ids, list) else []:
        m = _CLASS_ID.match(cid) if isinstance(cid, str) else None
        if m:
            out.append(":".join(g.lower() for g in m.groups()))
    return out


def parse_pnp(entities: Any) -> list[WinDevice]:
    """USB devices from Win32_PnPEntity records (ConvertTo-Json output); odd records are skipped."""
    if isinstance(entities, dict):
        entities = [entities]  # ConvertTo-Json emits a bare object for a single result
    if not isinstance(entities, list):
        return []
    devices: dict[str, WinDevice] = {}
    children: list[tuple[str, str, str, dict[str, Any]]] = []
    disk_names: dict[str, str] = {}
    for entity in entities:
        if not isinstance(entity, dict):
            continue
        instance = _s(entity.get("DeviceID"), 512)
        stor = _USBSTOR_ID.match(instance)
        if stor:
            disk_names[stor.group(1).upper()] = _s(entity.get("Name"))
            continue
        m = _USB_ID.match(instance)
        if not m:
            continue
        vid, pid, mi, tail = m.group(1).lower(), m.group(2).lower(), m.group(3), m.group(4)
        if mi is not None:
            children.append((vid, pid, instance, entity))
            continue
        serial = "" if "&" in tail else tail  # "6&2C3A9F1B&0&2": Windows made it up, the device has none
        devices[instance.upper()] = WinDevice(
            instance, Device(vid, pid, _s(entity.get("Name")), serial, "", tuple(_classes(entity)))
        )
        if entity.get("ConfigManagerErrorCode") == CM_PROB_DISABLED:
            devices[instance.upper()].disabled.add(instance)
    for vid, pid, instance, entity in children:
        parent = next((d for d in devices.values() if (d.device.vendor_id, d.device.product_id) == (vid, pid)), None)
        if parent is None:
            continue
        if entity.get("ConfigManagerErrorCode") == CM_PROB_DISABLED:
            parent.disabled.add(instance)
        for cls in _classes(entity)[:1]:
            parent.interface_ids[cls] = instance
            if cls not in parent.device.interfaces:
                parent.device = _with(parent.device, interfaces=parent.device.interfaces + (cls,))
    for dev in devices.values():
        name = disk_names.get(dev.device.serial.upper()) if dev.device.serial else None
        if name:
            dev.device = _with(dev.device, name=name)
    return list(devices.values())


def _with(device: Device, **changes: Any) -> Device:
    return replace(device, **changes)


@dataclass
class Plan:
    """The registry state and device actions one policy asks for on this machine now."""

    usbstor_start: int
    deny: dict[str, tuple[bool, bool, bool]]  # class GUID -> (read, write, execute)
    disable: list[str]
    enable: list[str]
    decisions: list[tuple[WinDevice, Decision]]


def plan(pol: UsbPolicy, devices: list[WinDevice], now: datetime) -> Plan:
    decided = [(d, decide(d.device, pol, now)) for d in devices]
    storage = [(d, dec) for d, dec in decided if dec.has_storage]
    allowed = [(d, dec) for d, dec in storage if dec.storage != BLOCK]
    if pol.mode == "audit":
        return Plan(USBSTOR_ON_DEMAND, {g: (False, False, False) for g in (DISK, CDROM, *WPD)}, [], [], decided)
    all_denied = (True, True, True)
    if not allowed:
        # Nothing may be used: the driver stays off for new disks and every class is denied.
        deny = {g: all_denied for g in (DISK, CDROM, *WPD)}
        return Plan(USBSTOR_DISABLED, deny, _targets(storage), [], decided)
    read_only = any(dec.storage == "read_only" for _, dec in allowed)
    mtp_allowed = any(i.startswith("06") for d, _ in allowed for i in d.device.interfaces)
    deny = {DISK: (False, read_only, False), CDROM: all_denied}
    for guid in WPD:
        deny[guid] = (False, read_only, False) if mtp_allowed else all_denied
    blocked = [(d, dec) for d, dec in storage if dec.storage == BLOCK]
    enable = [t for d, dec in allowed for t in _targets([(d, dec)]) if t in d.disabled]
    return Plan(USBSTOR_ON_DEMAND, deny, _targets(blocked), enable, decided)


def _targets(items: list[tuple[WinDevice, Decision]]) -> list[str]:
    """What to disable for a blocked device: only the storage interface of a composite, else the device."""
    out = []
    for dev, _ in items:
        storage_children = [iid for cls, iid in dev.interface_ids.items() if is_storage(cls)]
        out.extend(storage_children or [dev.instance_id])
    return out


def apply_registry(registry: Registry, p: Plan) -> None:
    if registry.get(USBSTOR_KEY, "Start") != p.usbstor_start:
        registry.set_dword(USBSTOR_KEY, "Start", p.usbstor_start)
    for guid, flags in p.deny.items():
        key = f"{POLICY_KEY}\\{guid}"
        for name, on in zip(DENY_VALUES, flags, strict=True):
            if on:
                registry.set_dword(key, name, 1)
            elif registry.get(key, name) is not None:
                registry.delete(key, name)


class WinRegistry:
    """The real registry (HKLM, 64-bit view)."""

    def get(self, key: str, name: str) -> int | str | None:
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as k:
                return winreg.QueryValueEx(k, name)[0]
        except FileNotFoundError:
            return None

    def set_dword(self, key: str, name: str, value: int) -> None:
        import winreg

        with winreg.CreateKeyEx(winreg.HKEY_LOCAL_MACHINE, key, 0, winreg.KEY_SET_VALUE | winreg.KEY_WOW64_64KEY) as k:
            winreg.SetValueEx(k, name, 0, winreg.REG_DWORD, value)

    def delete(self, key: str, name: str) -> None:
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key, 0, winreg.KEY_SET_VALUE | winreg.KEY_WOW64_64KEY) as k:
                winreg.DeleteValue(k, name)
        except FileNotFoundError:
            pass


class WmiPnp:
    """Win32_PnPEntity through PowerShell's CIM cmdlets; enable/disable through pnputil (SetupAPI)."""

    QUERY = (
        "Get-CimInstance -ClassName Win32_PnPEntity -Filter \"DeviceID LIKE 'USB%'\" | Select-Object "
        "Name,DeviceID,Manufacturer,PNPClass,Service,Status,ConfigManagerErrorCode,HardwareID,CompatibleID "
        "| ConvertTo-Json -Depth 3 -Compress"
    )

    def entities(self) -> list[dict[str, Any]]:
        out = subprocess.run(
            ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", self.QUERY],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
        try:
            data = json.loads(out or "[]")
        except json.JSONDecodeError:
            log.error("WMI returned no JSON: %r", out[:200])
            return []
        return data if isinstance(data, list) else [data]

    def set_enabled(self, instance_id: str, enabled: bool) -> bool:
        verb = "/enable-device" if enabled else "/disable-device"
        proc = subprocess.run(
            ["pnputil.exe", verb, instance_id], capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode != 0:
            log.error("pnputil %s %s failed: %s", verb, instance_id, proc.stdout.strip()[:300])
        return proc.returncode == 0


def attached(root: Path | None = None) -> list[Device]:
    """The USB devices Win32_PnPEntity lists now (`root` is a Linux notion: not used)."""
    return [d.device for d in parse_pnp(WmiPnp().entities())]


class WindowsMediaControl:
    """Applies the plan at start, on each policy and every few seconds (new devices, expiries)."""

    def __init__(
        self,
        emit: Emit,
        registry: Registry | None = None,
        pnp: Pnp | None = None,
        clock: Callable[[], datetime] = lambda: clock.now(),
        interval: float = 3.0,
    ):
        self.emit = emit
        self.registry = registry or WinRegistry()
        self.pnp = pnp or WmiPnp()
        self.clock = clock
        self.interval = interval
        self.policy = UsbPolicy("block")
        self.document: dict[str, Any] = {}
        self.known: dict[str, tuple[str, str]] = {}
        self.attached: list[Tracked] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, document: dict[str, Any]) -> None:
        self.apply(document)
        self._thread = threading.Thread(target=self._loop, name="usb-guard", daemon=True)
        self._thread.start()

    def apply(self, document: dict[str, Any]) -> None:
        with self._lock:
            self.document = document
            self.policy = compile_usb(document)
        self.sync()

    def sync(self) -> None:
        """Enumerate, decide, write the registry, disable/enable devices, report what changed."""
        with self._lock:
            devices = parse_pnp(self.pnp.entities())
            p = plan(self.policy, devices, self.clock())
            apply_registry(self.registry, p)
            for instance in p.disable:
                self.pnp.set_enabled(instance, False)
            for instance in p.enable:
                self.pnp.set_enabled(instance, True)
            present = set()
            for dev, dec in p.decisions:
                present.add(dev.instance_id)
                state = (dec.storage, dec.decided_by)
                old = self.known.get(dev.instance_id)
                if old == state:
                    continue
                self.known[dev.instance_id] = state
                body = payload(dev.device, dec)
                if old is None:
                    self.emit("usb.attached", body)
                self.emit(dec.event_kind, body)
            self.attached = [Tracked(dev.device, dec, "") for dev, dec in p.decisions]
            for gone in set(self.known) - present:
                del self.known[gone]

    def _loop(self) -> None:
        failing = False
        while not self._stop.wait(self.interval):
            try:
                self.sync()
            except Exception as exc:
                log.exception("media control sync failed; the registry keeps the last applied state")
                if not failing:  # once per outage: the policy is no longer applied to what gets plugged in
                    self._report(False, f"policy not applied: {type(exc).__name__}: {exc}")
                failing = True
            else:
                if failing:
                    self._report(True)
                failing = False

    def _report(self, active: bool, reason: str = "") -> None:
        mode = str(self.document.get("usb", {}).get("mode", ""))
        self.emit("check.result", media_state.payload(active, mode, reason, "WindowsHost"))

    def devices(self) -> list[Tracked]:
        """The devices of the last sync, each with the decision in force."""
        with self._lock:
            return list(self.attached)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.document.get("usb", {}).get("restore_on_exit", False):
            apply_registry(
                self.registry,
                Plan(USBSTOR_ON_DEMAND, {g: (False, False, False) for g in (DISK, CDROM, *WPD)}, [], [], []),
            )
