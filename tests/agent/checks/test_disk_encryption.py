"""disk_encryption: recorded `lsblk -J -s` layouts through the real subprocess path, this machine, BitLocker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.checks import base, disk_encryption
from agent.host.linux import blockdev
from agent.host.windows import host as windows
from tests.agent.checks.conftest import make_ctx

DATA = Path(__file__).parent / "data"


def root_with(tmp_path: Path, recorded: str | None, laptop: bool = False, script: str | None = None) -> Path:
    lsblk = tmp_path / "usr/bin/lsblk"
    lsblk.parent.mkdir(parents=True)
    lsblk.write_text("#!/bin/sh\n" + (script or f"cat {DATA / 'lsblk' / str(recorded)}") + "\n")
    lsblk.chmod(0o755)
    if laptop:
        (tmp_path / "sys/class/dmi/id").mkdir(parents=True)
        (tmp_path / "sys/class/dmi/id/chassis_type").write_text("10\n")
    return tmp_path


def check(root: Path) -> base.Result:
    return base.execute(disk_encryption, make_ctx("lgwan", root))


def test_luks_lvm_laptop_passes(tmp_path):
    res = check(root_with(tmp_path, "luks_lvm_laptop.json", laptop=True))
    assert res.status == "pass", res.summary
    assert "nvme0n1p3_crypt" in res.summary and set(res.evidence["mounts"]) == {"/", "/home"}


@pytest.mark.parametrize(
    ("recorded", "words"),
    [
        ("plain_desktop.json", "/ (sda2"),
        ("luks_root_plain_home.json", "/home (sda1"),
        ("lvm_span_mixed.json", "/ (vg0-root"),
    ],
)
def test_unencrypted_layouts_fail(tmp_path, recorded, words):
    res = check(root_with(tmp_path, recorded))
    assert res.status == "fail" and words in res.summary
    assert base.severity(disk_encryption, res) == "medium"


def test_unencrypted_laptop_is_high(tmp_path):
    res = check(root_with(tmp_path, "plain_desktop.json", laptop=True))
    assert base.severity(disk_encryption, res) == "high"


def test_container_root_is_not_applicable(tmp_path):
    assert check(root_with(tmp_path, "container.json")).status == "not_applicable"


@pytest.mark.parametrize(
    "script", ["echo 'lsblk: failed to access sysfs directory' >&2; exit 32", "head -c 100000 /dev/urandom"]
)
def test_lsblk_failure_or_junk_is_an_error(tmp_path, script):
    assert check(root_with(tmp_path, None, script=script)).status == "error"


def test_hostile_json_shapes():
    assert blockdev.chains({"blockdevices": [1, {"mountpoints": "x"}, {"name": "a", "children": 5}]}) == {}
    deep: dict = {"name": "d0", "type": "lvm", "mountpoints": ["/"]}
    node = deep
    for i in range(200):
        node["children"] = [{"name": f"d{i + 1}", "type": "lvm"}]
        node = node["children"][0]
    assert len(blockdev.chains({"blockdevices": [deep]})["/"][0]) <= 17


def test_this_machine():
    res = check(Path("/"))
    assert res.status in ("pass", "fail", "not_applicable")


@pytest.mark.parametrize(("recorded", "status"), [("bitlocker_on.json", "pass"), ("bitlocker_off.json", "fail")])
def test_bitlocker(recorded, status):
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    recorded_volumes = json.loads((DATA / "windows" / recorded).read_text("utf-8-sig"))
    ctx.windows = windows.RegFileSource([], {"bitlocker": recorded_volumes})
    assert base.execute(disk_encryption, ctx).status == status


def test_bitlocker_query_failure():
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    ctx.windows = windows.RegFileSource([])
    assert base.execute(disk_encryption, ctx).status == "error"


def test_verdict_is_a_pure_function_of_the_facts():
    from agent.host.facts import DeviceLayer, DiskEncryptionFacts

    fs, crypt, part = (
        DeviceLayer("root", "lvm", "ext4"),
        DeviceLayer("c0", "crypt", None),
        DeviceLayer("p3", "part", None),
    )
    mixed = DiskEncryptionFacts(source="lsblk -J -s", laptop=True, mounts=(("/", ((fs, crypt, part), (fs, part))),))
    res = disk_encryption.verdict(mixed)
    assert res.status == "fail" and res.severity == "high" and res.evidence["encrypted"] is False
    assert res.evidence["mounts"]["/"][0][1] == {"name": "c0", "type": "crypt", "fstype": None}
    whole = DiskEncryptionFacts(source="lsblk -J -s", mounts=(("/", ((fs, crypt, part),)),))
    assert disk_encryption.verdict(whole).status == "pass"
    assert disk_encryption.verdict(DiskEncryptionFacts(error="tool", detail="x")).summary.endswith("x")
