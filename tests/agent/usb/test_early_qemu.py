"""Before the agent runs, on Debian's kernel under qemu: the shipped udev rule alone, then the kernel's alias table.

A boot of its own, so usbcore's default is untouched and no agent ever ran: Debian's systemd-udevd (from the
host root the guest sees) runs with nothing but packaging/linux/70-mamori-usb.rules in its rules directories,
a controller is hot-added with a stick already on it, and its root hub must deny before the stick enumerates.
Then the agent's StorageMatcher reads the guest kernel's own modules.alias, which qemu_kit lays under
/lib/modules/<release> in the guest, and the real stick is still refused.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.usb import qemu_kit
from tests.agent.usb.test_kernel_qemu import VM, WORKTREE, _block_adds, _skip_reason

UDEVD = "/lib/systemd/systemd-udevd"  # Debian's udev package; the guest sees the host's /
# udevadm refuses to act in a chroot (the guest driver runs in one) unless told it is the system.
UDEVADM = "SYSTEMD_IGNORE_CHROOT=1 udevadm"
RULE = WORKTREE / "packaging/linux/70-mamori-usb.rules"
EARLY_SERIAL = "EARLY-UDEV-1"
# A Feiya SD/SDHC reader: vendor class ff, claimed by usb-storage only through its unusual_devs entry.
UNUSUAL = "usb:v090Cp6000d0100dc00dsc00dp00icFFiscFFipFFin00"
KEYBOARD = "usb:v0627p0001d0000dc00dsc00dp00ic03isc01ip01in00"  # qemu's usb-kbd, a boot keyboard

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    reason = _skip_reason()
    if not reason and not Path(UDEVD).exists():
        reason = "udev is not installed (packaging/dev/bootstrap.sh installs it)"
    if reason:
        pytest.skip(reason)
    kernel, initrd = qemu_kit.build()
    with tempfile.TemporaryDirectory(prefix="mamori-qemu-") as tmp:
        work = Path(tmp)
        for name in ("early", "plain"):
            with open(work / f"{name}.img", "wb") as f:
                f.truncate(16 << 20)
        guest = qemu_kit.Guest(kernel, initrd, WORKTREE, work)
        try:
            guest.wait_ready()
            yield VM(guest, work)
        finally:
            guest.close()


def test_the_udev_rule_alone_denies_a_controller_added_later(vm: VM) -> None:
    state = vm.call("state")
    core = state["core_default"]  # usbcore's own default, -1: authorize all but wireless
    assert core != "0" and set(state["hubs"].values()) == {"1"}  # a fresh kernel, no agent
    # Only the project's rule: Debian's own rules (and the host's /etc ones) are hidden under empty tmpfs.
    setup = vm.call(
        "sh",
        cmd=(
            "for d in /etc/udev/rules.d /lib/udev/rules.d; do mount -t tmpfs rules $d || exit 1; done; "
            f"cp {RULE} /etc/udev/rules.d/ && {UDEVD} --daemon && {UDEVADM} settle -t 60"
        ),
    )
    assert setup["rc"] == 0, setup
    rules = vm.call("sh", cmd="ls /etc/udev/rules.d /lib/udev/rules.d /run/udev/rules.d 2>/dev/null; true")
    assert [word for word in rules["out"].split() if word.endswith(".rules")] == ["70-mamori-usb.rules"], rules
    vm.call("sh", cmd="echo 0 > /sys/module/usb_storage/parameters/delay_use")  # usb-storage scans at once
    before, seen_before = set(state["hubs"]), len(vm.call("state")["seen"])
    vm.guest.qmp.execute(
        "blockdev-add",
        **{"node-name": "early", "driver": "raw", "file": {"driver": "file", "filename": str(vm.work / "early.img")}},
    )
    # A dock: the controller and a stick on it arrive together, the stick is there when its ports are scanned.
    vm.guest.qmp.execute("device_add", driver="qemu-xhci", id="xhci2")
    vm.guest.qmp.execute(
        "device_add", driver="usb-storage", bus="xhci2.0", id="early", drive="early", serial=EARLY_SERIAL
    )
    vm.wait("the stick on the new controller", lambda: vm.usb_with_serial(EARLY_SERIAL), timeout=90)
    time.sleep(3)  # far longer than usb-storage needs to scan a configured stick
    state = vm.call("state")
    new = set(state["hubs"]) - before
    dev = vm.usb_with_serial(EARLY_SERIAL)
    assert dev is not None and dev["authorized"] is False and dev["interfaces"] == []
    assert _block_adds({"seen": state["seen"][seen_before:]}) == [] and state["dev"] == []
    assert new and all(state["hubs"][h] == "0" for h in new), state["hubs"]
    # Both buses of the new controller (USB 2 and the SuperSpeed one qemu's stick sits on) still work: their
    # hub interfaces were configured and bound, so the stick is seen and refused, not lost on a dead bus.
    hub_binds = {
        s["devpath"].rsplit("/", 1)[-1]
        for s in state["seen"][seen_before:]
        if s["action"] == "bind" and s["devtype"] == "usb_interface"
    }
    assert {f"{h[3:]}-0:1.0" for h in new} <= hub_binds, state["seen"][seen_before:]
    assert state["core_default"] == core  # the root-hub line did it, not usbcore's parameter
    vm.unplug("early")


def test_boot_coldplug_with_the_rule_denies_on_usbcore_and_every_root_hub(vm: VM) -> None:
    """What systemd-udev-trigger does at boot: replay "add" for modules and devices already there."""
    out = vm.call(
        "sh",
        cmd=f"{UDEVADM} trigger --type=subsystems --action=add --subsystem-match=module && "
        f"{UDEVADM} trigger --type=devices --action=add --subsystem-match=usb && "
        f"{UDEVADM} settle -t 60",
    )
    assert out["rc"] == 0, out
    state = vm.call("state")
    assert state["core_default"] == "0"  # the module line: controllers registered from now on start denying
    assert set(state["hubs"].values()) == {"0"}
    assert vm.call("sh", cmd=f"{UDEVADM} control --exit")["rc"] == 0  # the agent alone from here on


def test_the_kernels_own_alias_table_names_vendor_class_storage(vm: VM) -> None:
    release = vm.call("sh", cmd="uname -r")["out"].strip()
    vm.call("start", usb={"mode": "block"})
    vm.plug_stick("stick", "ALIAS-TABLE-1", "plain")
    vm.wait("usb.blocked for the real stick", lambda: vm.events("usb.blocked", "ALIAS-TABLE-1"))
    time.sleep(2)
    dev = vm.usb_with_serial("ALIAS-TABLE-1")
    assert dev is not None and dev["authorized"] is False and vm.block_of("ALIAS-TABLE-1") is None
    got = vm.call("classify", modaliases=[UNUSUAL, KEYBOARD])
    assert got["release"] == release and got["patterns"] > 100, got  # usb-storage alone has hundreds
    assert got["agent_patterns"] == got["patterns"]  # the running guard decided with that same table
    assert got["storage"] == {UNUSUAL: True, KEYBOARD: False}
    vm.unplug("stick")
    assert _block_adds(vm.call("state")) == []
