"""disk_encryption: the system and home file systems sit on an encrypted device (ENC-001; laptops high)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec
from agent.host.facts import DiskEncryptionFacts
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


def run(ctx: Context) -> Result:
    return verdict(ctx.facts().disk_encryption())


def verdict(facts: DiskEncryptionFacts) -> Result:
    """Pure: the device chains (or BitLocker's volumes) -> the result; a plain laptop fails with high severity."""
    if facts.unavailable:
        return Result(NOT_APPLICABLE, _("no Windows data source"), DiskEncryption())
    if facts.error == "missing":
        return Result(ERROR, _("lsblk (util-linux) not found"), {})
    if facts.error == "read":
        return Result(ERROR, _("cannot list block devices: {exc}").format(exc=facts.detail), {})
    if facts.error == "tool":
        return Result(ERROR, _("lsblk failed: {why}").format(why=facts.detail), {})
    if facts.error:
        return Result(ERROR, _("cannot query BitLocker: {exc}").format(exc=facts.detail), {})
    if facts.source == "Get-BitLockerVolume":
        return _windows(facts)
    found = {mount: [[asdict(d) for d in chain] for chain in paths] for mount, paths in facts.mounts}
    laptop = facts.laptop
    evidence: dict[str, Any] = {"source": facts.source, "laptop": laptop, "mounts": found}
    if "/" not in found:
        return Result(
            NOT_APPLICABLE,
            _("the root file system is not on a local block device (container or network root)"),
            DiskEncryption.build(evidence),
        )
    plain = [m for m, paths in found.items() if not all(any(d["type"] == "crypt" for d in p) for p in paths)]
    evidence.update(encrypted=not plain, method="dm-crypt")  # what the collector's ENC-001 reads
    if plain:
        dev = found[plain[0]][0][0]["name"]
        res = Result(
            FAIL,
            _("not encrypted: {plain} ({dev} has no dm-crypt layer)").format(plain=", ".join(plain), dev=dev),
            DiskEncryption.build(evidence),
        )
        res.severity = "high" if laptop else ""
        return res
    layers = ", ".join(
        sorted({d["name"] for paths in found.values() for p in paths for d in p if d["type"] == "crypt"})
    )
    mounts = ", ".join(found)
    return Result(
        PASS, _("{mounts} on dm-crypt ({layers})").format(mounts=mounts, layers=layers), DiskEncryption.build(evidence)
    )


def _windows(facts: DiskEncryptionFacts) -> Result:
    volumes = list(facts.volumes)
    os_vol = next((v for v in volumes if v.get("VolumeType") == "OperatingSystem"), None)
    evidence: dict[str, Any] = {"volumes": volumes[:20], "source": "Get-BitLockerVolume"}
    if os_vol is None:
        return Result(ERROR, _("no operating-system volume reported"), DiskEncryption.build(evidence))
    evidence["encrypted"] = os_vol.get("ProtectionStatus") == "On" and os_vol.get("VolumeStatus") == "FullyEncrypted"
    evidence["method"] = f"BitLocker {os_vol.get('EncryptionMethod') or ''}".strip()
    if evidence["encrypted"]:
        return Result(
            PASS,
            _("{mount} BitLocker on ({method})").format(
                mount=os_vol.get("MountPoint"), method=os_vol.get("EncryptionMethod")
            ),
            DiskEncryption.build(evidence),
        )
    return Result(
        FAIL,
        _("{mount} BitLocker {protection} / {volume_status}").format(
            mount=os_vol.get("MountPoint"),
            protection=os_vol.get("ProtectionStatus"),
            volume_status=os_vol.get("VolumeStatus"),
        ),
        DiskEncryption.build(evidence),
    )
