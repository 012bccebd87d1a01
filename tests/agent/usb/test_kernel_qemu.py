"""The guard on a real Linux kernel: Debian's kernel under qemu (TCG), USB hot-plug over QMP.

Every assertion reads the guest's own sysfs and /dev, and a second, independent uevent listener in
the guest records every block device the kernel ever announced, so a device that existed only for
a moment is caught too. The scenarios share one boot and run in file order.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.agent.usb import qemu_kit

WORKTREE = Path(__file__).resolve().parents[3]
QEMU_STORAGE_ID = "46f4:0001"  # what qemu's usb-storage reports
APPROVED = "MAMORI-OK-0001"
RULE = f'allow id {QEMU_STORAGE_ID} serial "{APPROVED}"'

pytestmark = pytest.mark.timeout(420)


def _skip_reason() -> str:
    if os.uname().machine != "x86_64":
        return "the qemu test boots an amd64 kernel image with qemu-system-x86_64"
    return qemu_kit.missing_tools()


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    kernel, initrd = qemu_kit.build()
    with tempfile.TemporaryDirectory(prefix="mamori-qemu-") as tmp:
        work = Path(tmp)
        for name in ("plain", "approved", "other"):
            with open(work / f"{name}.img", "wb") as f:
                f.truncate(16 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(work / "approved.img")], check=True)
        guest = qemu_kit.Guest(kernel, initrd, WORKTREE, work)
        try:
            guest.wait_ready()
            yield VM(guest, work)
        finally:
            guest.close()


class VM:
    def __init__(self, guest: qemu_kit.Guest, work: Path):
        self.guest = guest
        self.work = work
        self.nodes: set[str] = set()

    def call(self, op: str, **args: Any) -> Any:
        return self.guest.call(op, **args)

    def plug_stick(self, dev_id: str, serial: str, image: str) -> None:
        if image not in self.nodes:
            self.guest.qmp.execute(
                "blockdev-add",
                **{
                    "node-name": image,
                    "driver": "raw",
                    "file": {"driver": "file", "filename": str(self.work / f"{image}.img")},
                },
            )
            self.nodes.add(image)
        self.guest.qmp.execute("device_add", driver="usb-storage", bus="xhci.0", id=dev_id, drive=image, serial=serial)

    def plug(self, driver: str, dev_id: str) -> None:
        self.guest.qmp.execute("device_add", driver=driver, bus="xhci.0", id=dev_id)

    def unplug(self, dev_id: str) -> None:
        self.guest.qmp.execute("device_del", id=dev_id)
        self.guest.qmp.wait_event("DEVICE_DELETED", dev_id)

    def wait(self, what: str, predicate: Callable[[], Any], timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; state: {self.call('state')}\nconsole:\n{self.guest.tail()}"
                )
            time.sleep(0.2)

    def events(self, kind: str, serial: str | None = None) -> list[dict[str, Any]]:
        return [
            e["payload"]
            for e in self.call("events")
            if e["kind"] == kind and (serial is None or e["payload"].get("serial") == serial)
        ]

    def usb_with_serial(self, serial: str) -> dict[str, Any] | None:
        return next((d for d in self.call("state")["usb"] if d["serial"] == serial), None)

    def block_of(self, serial: str) -> dict[str, Any] | None:
        state = self.call("state")
        dev = next((d for d in state["usb"] if d["serial"] == serial), None)
        if dev is None:
            return None
        return next((b for b in state["block"] if b["usb"] == dev["name"] and b["name"].startswith("sd")), None)


def _block_adds(state: dict[str, Any]) -> list[str]:
    return [s["devname"] for s in state["seen"] if s["subsystem"] == "block" and s["action"] == "add"]


def test_an_agent_not_enrolled_yet_blocks_storage_and_keeps_the_keyboard(vm: VM) -> None:
    """Installed, not enrolled: `mamori-agent run` enforces the strictest policy instead of refusing to run."""
    assert set(vm.call("state")["hubs"].values()) == {"1"}  # nothing denies yet: a fresh terminal
    vm.call("agent_start", state_dir="/tmp/unenrolled")
    vm.wait(
        "the unenrolled agent denying by default", lambda: set(vm.call("state")["hubs"].values()) == {"0"}, timeout=90
    )
    vm.plug("usb-kbd", "kbd0")
    vm.plug_stick("stick0", "UNENROLLED-1", "plain")
    vm.wait(
        "keyboard bound to usbhid",
        lambda: any(i["driver"] == "usbhid" for d in vm.call("state")["usb"] for i in d["interfaces"]),
        timeout=30,
    )
    time.sleep(2)
    dev = vm.usb_with_serial("UNENROLLED-1")
    assert dev is not None and dev["authorized"] is False and vm.block_of("UNENROLLED-1") is None
    stopped = vm.call("agent_stop")
    assert "strictest policy" in stopped["log"], stopped
    vm.unplug("stick0")
    vm.unplug("kbd0")
    assert _block_adds(vm.call("state")) == []


def test_block_mode_never_gives_a_block_device_and_keyboard_works(vm: VM) -> None:
    vm.call("start", usb={"mode": "block"})
    state = vm.call("state")
    assert state["hubs"] and set(state["hubs"].values()) == {"0"}  # deny by default on every root hub
    vm.plug("usb-kbd", "kbd")
    vm.plug("usb-mouse", "mouse")
    vm.wait(
        "keyboard and mouse bound to usbhid",
        lambda: (
            sum(
                1
                for d in vm.call("state")["usb"]
                for i in d["interfaces"]
                if i["class"].startswith("03:") and i["authorized"] and i["driver"] == "usbhid"
            )
            == 2
        ),
    )
    # 20 insertions in a row with usb-storage scanning at once (delay_use=0), then 5 with the default delay.
    for round_, (delay_use, count) in enumerate((("0", 20), ("1", 5))):
        vm.call("sh", cmd=f"echo {delay_use} > /sys/module/usb_storage/parameters/delay_use")
        for n in range(count):
            serial = f"BLOCKED-{round_}-{n:02d}"
            vm.plug_stick("stick", serial, "plain")
            vm.wait(f"usb.blocked for {serial}", lambda s=serial: vm.events("usb.blocked", s))
            time.sleep(0.3 + int(delay_use))  # longer than usb-storage would need to scan the disk
            dev = vm.usb_with_serial(serial)
            assert dev is not None and dev["authorized"] is False and dev["interfaces"] == []
            vm.unplug("stick")
    state = vm.call("state")
    assert _block_adds(state) == [] and state["dev"] == [] and state["block"] == []
    hid = [i for d in state["usb"] for i in d["interfaces"] if i["class"].startswith("03:")]
    assert len(hid) == 2 and all(i["authorized"] and i["driver"] == "usbhid" for i in hid)
    blocked = vm.events("usb.blocked")
    assert len([b for b in blocked if b["serial"].startswith("BLOCKED-")]) == 25
    assert all(
        b["decided_by"] == "mode:block"
        and b["mode"] == "block"
        and b["interface_classes"] == ["08:06:50"]
        and b["vendor_id"] == "46f4"
        and b["port"]
        for b in blocked
    )
    assert any(a["interface_classes"] and a["interface_classes"][0].startswith("03:") for a in vm.events("usb.allowed"))
    _report_decision_times(vm, state)


def _report_decision_times(vm: VM, state: dict[str, Any]) -> None:
    """Plug-to-decision: the kernel's usb_device add uevent (independent listener) to the usb.blocked event."""
    adds = [
        s for s in state["seen"] if s["subsystem"] == "usb" and s["devtype"] == "usb_device" and s["action"] == "add"
    ]
    times = []
    for ev in vm.call("events"):
        if ev["kind"] != "usb.blocked" or not ev["payload"]["serial"].startswith("BLOCKED-"):
            continue
        before = [a["at"] for a in adds if a["devpath"].endswith("/" + ev["payload"]["port"]) and a["at"] <= ev["at"]]
        assert before, ev
        times.append((ev["at"] - max(before)) * 1000)
    assert len(times) == 25
    times.sort()
    print(
        f"\nplug-to-decision over {len(times)} insertions: median {times[len(times) // 2]:.0f} ms, "
        f"max {times[-1]:.0f} ms"
    )


def test_allowlist_only_the_approved_serial_gets_a_block_device(vm: VM) -> None:
    vm.call("policy", usb={"mode": "allowlist", "allow": [RULE]})
    vm.plug_stick("ok", APPROVED, "approved")
    found = vm.wait("approved stick's block device", lambda: vm.block_of(APPROVED))
    assert (Path("/dev") / found["name"]).name in vm.call("state")["dev"]
    vm.plug_stick("no", "SOMEONE-ELSE-9", "other")
    vm.wait("usb.blocked for the other stick", lambda: vm.events("usb.blocked", "SOMEONE-ELSE-9"))
    time.sleep(2.5)
    state = vm.call("state")
    assert vm.block_of("SOMEONE-ELSE-9") is None
    assert [b["usb"] for b in state["block"]] == [found["usb"]]
    allowed = vm.events("usb.allowed", APPROVED)
    assert allowed[-1]["decided_by"] == f"rule 1: {RULE}" and allowed[-1]["mode"] == "allowlist"
    assert vm.events("usb.blocked", "SOMEONE-ELSE-9")[-1]["decided_by"] == "mode:allowlist (no rule matched)"
    vm.unplug("no")
    vm.unplug("ok")


def test_read_only_the_approved_stick_is_read_only(vm: VM) -> None:
    vm.call("policy", usb={"mode": "read_only", "allow": [RULE]})
    vm.plug_stick("ro", APPROVED, "approved")
    found = vm.wait("approved stick's block device", lambda: vm.block_of(APPROVED))
    vm.wait("read-only block device", lambda: (vm.block_of(APPROVED) or {}).get("ro") == "1", timeout=10)
    node = f"/dev/{found['name']}"
    write = vm.call("sh", cmd=f"dd if=/dev/zero of={node} bs=4096 count=1 oflag=direct 2>&1")
    assert write["rc"] != 0, write
    mount = vm.call("sh", cmd=f"mkdir -p /media/ro && mount -t ext4 -o rw {node} /media/ro 2>&1")
    assert mount["rc"] != 0 or "ro" in vm.call("sh", cmd="grep /media/ro /proc/mounts")["out"].split()[3].split(","), (
        mount
    )
    vm.call("sh", cmd="umount /media/ro 2>/dev/null; true")
    assert vm.events("usb.allowed", APPROVED)[-1]["mode"] == "read_only"
    vm.unplug("ro")


def test_audit_a_file_written_to_a_mounted_stick_is_a_media_write(vm: VM) -> None:
    vm.call("policy", usb={"mode": "audit", "allow": [RULE]})
    serial = "AUDIT-STICK-7"
    vm.plug_stick("audit", serial, "approved")
    found = vm.wait("audited stick's block device", lambda: vm.block_of(serial))
    assert found["ro"] == "0"
    mount = vm.call("sh", cmd=f"mkdir -p /media/usb && mount -t ext4 /dev/{found['name']} /media/usb 2>&1")
    assert mount["rc"] == 0, mount
    vm.wait("the export log watching the stick", lambda: "/media/usb" in vm.call("watched"), timeout=20)
    content = "氏名,住所\n山田太郎,東京都\n" * 50
    vm.call("sh", cmd=f"mkdir -p /media/usb/out && printf '%s' '{content}' > /media/usb/out/report.csv")
    written = vm.wait(
        "media.write for report.csv",
        lambda: [w for w in vm.events("media.write") if w["path"] == "/media/usb/out/report.csv"],
        timeout=30,
    )
    assert written[0]["sha256"] == hashlib.sha256(content.encode()).hexdigest()
    assert written[0]["size"] == len(content.encode())
    assert written[0]["device_serial"] == serial and written[0]["mount_point"] == "/media/usb"
    assert written[0]["user"] == "root"
    allowed = vm.events("usb.allowed", serial)[-1]
    assert allowed["mode"] == "audit" and allowed["decided_by"] == "mode:audit"
    assert vm.call("sh", cmd="umount /media/usb")["rc"] == 0
    vm.unplug("audit")


def test_audit_files_written_in_the_mount_command_itself_are_logged(vm: VM) -> None:
    vm.call("policy", usb={"mode": "audit", "allow": [RULE]})
    serial = "AUDIT-FAST-8"
    vm.plug_stick("fast", serial, "approved")
    found = vm.wait("audited stick's block device", lambda: vm.block_of(serial))
    paths = [f"/media/fast/x/f{n}.txt" for n in range(5)]
    writes = "; ".join(f"echo row{n} > {p}" for n, p in enumerate(paths))
    cmd = (
        f"mkdir -p /media/fast && mount -t ext4 /dev/{found['name']} /media/fast && mkdir -p /media/fast/x && {writes}"
    )
    assert vm.call("sh", cmd=cmd)["rc"] == 0
    logged = vm.wait(
        "media.write for all five files",
        lambda: (lambda got: got if set(paths) <= got else None)(
            {w["path"] for w in vm.events("media.write") if w["device_serial"] == serial}
        ),
        timeout=30,
    )
    assert logged == set(paths)  # nothing written on earlier mounts, and the mount itself is no raw write
    assert vm.call("sh", cmd="umount /media/fast")["rc"] == 0
    # Past the file system: a raw write to the device node is recorded too.
    node = f"/dev/{found['name']}"
    assert vm.call("sh", cmd=f"dd if=/dev/zero of={node} bs=512 count=1 seek=32000 conv=notrunc 2>&1")["rc"] == 0
    raw = vm.wait(
        "media.write for the raw write",
        lambda: [w for w in vm.events("media.write") if w["path"] == node and w["device_serial"] == serial],
        timeout=20,
    )
    assert raw[0].get("mount_point", "") == "" and raw[0].get("sha256", "") == ""  # empty: no file, no hash
    vm.unplug("fast")


def test_temporary_permission_expires_on_the_guest_by_its_own_clock(vm: VM) -> None:
    guest_now = float(vm.call("sh", cmd="date +%s")["out"].strip())
    until = datetime.fromtimestamp(guest_now + 12, UTC).isoformat()
    serial = "TEMP-PERMIT-3"
    vm.call(
        "policy",
        usb={
            "mode": "block",
            "temporary": [{"id": "T-42", "serial": serial, "until": until, "reason": "窓口での受け渡し"}],
        },
    )
    vm.plug_stick("temp", serial, "other")
    found = vm.wait("temporarily permitted stick's block device", lambda: vm.block_of(serial))
    assert vm.events("usb.allowed", serial)[-1]["decided_by"].startswith("temporary T-42 until ")
    # No policy update, no collector: only the guest's clock passes the deadline.
    vm.wait(
        "the block device to go away after expiry", lambda: found["name"] not in vm.call("state")["dev"], timeout=40
    )
    dev = vm.usb_with_serial(serial)
    assert dev is not None and dev["authorized"] is False
    assert vm.events("usb.blocked", serial)[-1]["decided_by"] == "mode:block"
    vm.unplug("temp")


def test_a_stick_authorized_by_hand_is_cut_off_and_critical(vm: VM) -> None:
    vm.call("policy", usb={"mode": "block"})
    vm.call("sh", cmd="echo 0 > /sys/module/usb_storage/parameters/delay_use")
    serial = "BY-HAND-1"
    vm.plug_stick("hand", serial, "plain")
    vm.wait("usb.blocked", lambda: vm.events("usb.blocked", serial))
    name = vm.usb_with_serial(serial)["name"]
    # Root on the terminal authorizes the refused stick and its interfaces in one go, racing the guard.
    d = f"/sys/bus/usb/devices/{name}"
    vm.call(
        "sh",
        cmd=f"echo 1 > {d}/authorized; for i in {d}:*; do echo 1 > $i/authorized; done; "
        f"echo {name}:1.0 > /sys/bus/usb/drivers_probe; true",
    )
    critical = vm.wait(
        "a critical backstop event",
        lambda: [
            e
            for e in vm.call("events")
            if e["kind"] == "usb.blocked"
            and e["payload"]["serial"] == serial
            and e["payload"]["decided_by"].startswith("backstop: ")
        ],
        timeout=20,
    )
    assert critical[0]["severity"] == "critical"
    time.sleep(2)
    dev = vm.usb_with_serial(serial)
    assert dev is not None and dev["authorized"] is False and vm.block_of(serial) is None
    vm.unplug("hand")


def test_two_interface_network_adapter_binds_fully(vm: VM) -> None:
    """cdc_ether binds the control interface and claims the data interface: both must be authorized first."""
    vm.guest.qmp.execute("netdev_add", type="user", id="un0")
    vm.guest.qmp.execute("device_add", driver="usb-net", bus="xhci.0", id="net", netdev="un0")

    def both_bound() -> bool:
        devs = [d for d in vm.call("state")["usb"] if any(i["class"].startswith("02:") for i in d["interfaces"])]
        return bool(devs) and all(i["driver"] == "cdc_ether" for i in devs[0]["interfaces"])

    vm.wait("both interfaces of usb-net bound to cdc_ether", both_bound, timeout=30)
    assert "cdc_ether" in vm.call("sh", cmd="ls -l /sys/class/net/*/device/driver")["out"]
    # usb.network audit (lgwan's default): allowed, and the network check reports it for NET-003.
    vm.call("sh", cmd="ip link set lo up; for n in $(ls /sys/class/net); do ip link set $n up; done; true")
    checked = vm.call("check_network", segment="lgwan")
    usb = checked["evidence"]["usb_network"]
    assert len(usb) == 1 and usb[0] != "lo", checked
    vm.unplug("net")


def test_usb_network_block_on_mynumber_no_network_interface_ever(vm: VM) -> None:
    vm.call("policy", segment="mynumber", usb={"mode": "block"})
    seen_before = len(vm.call("state")["seen"])
    vm.guest.qmp.execute("netdev_add", type="user", id="un1")
    vm.guest.qmp.execute("device_add", driver="usb-net", bus="xhci.0", id="net2", netdev="un1")
    refused = vm.wait(
        "usb.blocked for the network adapter",
        lambda: [e for e in vm.events("usb.blocked") if e["decided_by"] == "usb.network: block"],
        timeout=30,
    )
    assert any(c.startswith("02:06:") for c in refused[0]["interface_classes"])
    time.sleep(3)
    state = vm.call("state")
    assert [s for s in state["seen"][seen_before:] if s["subsystem"] == "net"] == []
    comm = [i for d in state["usb"] for i in d["interfaces"] if i["class"].startswith("02:")]
    assert comm and all(not i["authorized"] and not i["driver"] for i in comm)
    vm.unplug("net2")


def test_a_controller_added_later_denies_before_any_child_enumerates(vm: VM) -> None:
    vm.call("policy", usb={"mode": "block"})
    vm.call("sh", cmd="echo 0 > /sys/module/usb_storage/parameters/delay_use")
    before = set(vm.call("state")["hubs"])
    seen_before = len(vm.call("state")["seen"])
    # A dock: the controller and a stick on it arrive together, the stick is there when its ports are scanned.
    vm.guest.qmp.execute("device_add", driver="qemu-xhci", id="xhci2")
    vm.guest.qmp.execute(
        "device_add", driver="usb-storage", bus="xhci2.0", id="late", drive="plain", serial="LATE-CTRL-1"
    )
    vm.wait(
        "usb.blocked for the stick on the new controller", lambda: vm.events("usb.blocked", "LATE-CTRL-1"), timeout=60
    )
    time.sleep(2)
    state = vm.call("state")
    new = set(state["hubs"]) - before
    assert _block_adds({"seen": state["seen"][seen_before:]}) == [] and state["dev"] == []
    dev = vm.usb_with_serial("LATE-CTRL-1")
    assert dev is not None and dev["authorized"] is False
    # usbcore's own default is what makes a new controller deny from its first moment.
    assert state["core_default"] == "0"
    assert new and all(state["hubs"][h] == "0" and state["iface_hubs"][h] == "0" for h in new)
