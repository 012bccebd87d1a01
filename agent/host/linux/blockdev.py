"""The device chains under / and /home on Linux (`lsblk -J -s`), and whether the machine is a laptop (SMBIOS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.host.facts import DeviceLayer, DiskEncryptionFacts
from agent.host.sysio import HostIOError, read_or_none, run, which

MOUNTS = ("/", "/home")
LAPTOP_CHASSIS = {"8", "9", "10", "14", "30", "31", "32"}  # SMBIOS portable/laptop/notebook/sub-notebook/tablet...
COMMAND_TIMEOUT = 20.0


def chains(tree: dict[str, Any]) -> dict[str, list[list[dict[str, Any]]]]:
    """From `lsblk -J -s`: for each mount point, every device chain from the file system down to a disk
    (several when LVM or RAID spans disks: the mount is encrypted only if every chain has a crypt layer)."""
    out: dict[str, list[list[dict[str, Any]]]] = {}

    def walk(dev: dict[str, Any], path: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        here = [*path, {"name": dev.get("name"), "type": dev.get("type"), "fstype": dev.get("fstype")}]
        kids = dev.get("children") or []
        if not isinstance(kids, list) or not kids or len(here) > 16:
            return [here]
        return [c for kid in kids if isinstance(kid, dict) for c in walk(kid, here)]

    devices = tree.get("blockdevices") if isinstance(tree, dict) else None
    for dev in devices if isinstance(devices, list) else []:
        if not isinstance(dev, dict):
            continue
        for mp in dev.get("mountpoints") or [dev.get("mountpoint")]:
            if isinstance(mp, str) and mp in MOUNTS:
                out[mp] = walk(dev, [])
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def read(root: Path) -> DiskEncryptionFacts:
    lsblk = which("lsblk", root)
    if lsblk is None:
        return DiskEncryptionFacts(error="missing")
    try:
        done = run([str(lsblk), "-J", "-s", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINTS"], timeout=COMMAND_TIMEOUT)
        tree = json.loads(done.stdout or "{}") if done.returncode == 0 else None
    except (HostIOError, ValueError) as exc:
        return DiskEncryptionFacts(error="read", detail=str(exc))
    if tree is None:
        return DiskEncryptionFacts(error="tool", detail=done.stderr.strip()[:200])
    chassis = read_or_none(root / "sys/class/dmi/id/chassis_type", 64)
    mounts = tuple(
        (
            mount,
            tuple(tuple(DeviceLayer(_text(d["name"]), _text(d["type"]), _text(d["fstype"])) for d in p) for p in paths),
        )
        for mount, paths in chains(tree).items()
    )
    return DiskEncryptionFacts(
        source="lsblk -J -s", laptop=bool(chassis and chassis.text.strip() in LAPTOP_CHASSIS), mounts=mounts
    )
