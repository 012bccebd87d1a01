"""disk_encryption: the system and home file systems sit on an encrypted device (ENC-001; laptops high)."""

from __future__ import annotations

import json
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec
from mamori.evidence.protection import DiskEncryption
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="disk_encryption",
    title=N_("Disk encryption"),
    platforms=("linux", "windows"),
    interval_seconds=6 * 3600,
    severity="medium",
    rules=("ENC-001",),
    remediation=N_(
        "Encrypt the system disk (LUKS/dm-crypt at installation on Linux; BitLocker with TPM on Windows) "
        "and keep the recovery key in the office's key register."
    ),
    reads={"linux": "`lsblk -J -s` device chains under / and /home", "windows": "BitLocker"},
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()
MOUNTS = ("/", "/home")
LAPTOP_CHASSIS = {"8", "9", "10", "14", "30", "31", "32"}  # SMBIOS portable/laptop/notebook/sub-notebook/tablet...
QUERY = "bitlocker"


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


def run(ctx: Context) -> Result:
    if ctx.platform == "windows":
        return _windows(ctx)
    from agent.host.sysio import HostIOError, read_or_none, which
    from agent.host.sysio import run as run_cmd

    lsblk = which("lsblk", ctx.root)
    if lsblk is None:
        return Result(ERROR, _("lsblk (util-linux) not found"), {})
    try:
        done = run_cmd([str(lsblk), "-J", "-s", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINTS"], timeout=20)
        tree = json.loads(done.stdout or "{}") if done.returncode == 0 else None
    except (HostIOError, ValueError) as exc:
        return Result(ERROR, _("cannot list block devices: {exc}").format(exc=exc), {})
    if tree is None:
        why = done.stderr.strip()[:200]
        return Result(ERROR, _("lsblk failed: {why}").format(why=why), {})
    chassis = read_or_none(ctx.root / "sys/class/dmi/id/chassis_type", 64)
    laptop = bool(chassis and chassis.text.strip() in LAPTOP_CHASSIS)
    found = chains(tree)
    evidence: dict[str, Any] = {"source": "lsblk -J -s", "laptop": laptop, "mounts": found}
    if "/" not in found:
        return Result(NOT_APPLICABLE, _("the root file system is not on a local block device (container or network "
                                        "root)"),
                      DiskEncryption.build(evidence))
    plain = [m for m, paths in found.items() if not all(any(d["type"] == "crypt" for d in p) for p in paths)]
    evidence.update(encrypted=not plain, method="dm-crypt")  # what the collector's ENC-001 reads
    if plain:
        dev = found[plain[0]][0][0]["name"]
        res = Result(FAIL, _("not encrypted: {plain} ({dev} has no dm-crypt layer)").format(plain=', '.join(plain),
                               dev=dev),
                      DiskEncryption.build(evidence))
        res.severity = "high" if laptop else ""
        return res
    layers = ", ".join(sorted({d["name"] for paths in found.values() for p in paths for d in p
                               if d["type"] == "crypt"}))
    mounts = ", ".join(found)
    return Result(PASS, _("{mounts} on dm-crypt ({layers})").format(mounts=mounts, layers=layers),
                  DiskEncryption.build(evidence))


def _windows(ctx: Context) -> Result:
    if ctx.windows is None:
        return Result(NOT_APPLICABLE, _("no Windows data source"), DiskEncryption())
    try:
        volumes = ctx.windows.query(QUERY)
    except OSError as exc:
        return Result(ERROR, _("cannot query BitLocker: {exc}").format(exc=exc), {})
    volumes = [v for v in (volumes if isinstance(volumes, list) else [volumes]) if isinstance(v, dict)]
    os_vol = next((v for v in volumes if v.get("VolumeType") == "OperatingSystem"), None)
    evidence = {"volumes": volumes[:20], "source": "Get-BitLockerVolume"}
    if os_vol is None:
        return Result(ERROR, _("no operating-system volume reported"),
                      DiskEncryption.build(evidence))
    evidence["encrypted"] = os_vol.get("ProtectionStatus") == "On" and os_vol.get("VolumeStatus") == "FullyEncrypted"
    evidence["method"] = f"BitLocker {os_vol.get('EncryptionMethod') or ''}".strip()
    if evidence["encrypted"]:
        return Result(PASS, _("{mount} BitLocker on ({method})").format(mount=os_vol.get('MountPoint'),
                                method=os_vol.get('EncryptionMethod')),
                      DiskEncryption.build(evidence))
    return Result(FAIL, _("{mount} BitLocker {protection} / {volume_status}").format(mount=os_vol.get('MountPoint'),
                            protection=os_vol.get('ProtectionStatus'),
                            volume_status=os_vol.get('VolumeStatus')), DiskEncryption.build(evidence))
