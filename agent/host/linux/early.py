"""Deny-by-default before the agent runs: the udev rule and usbcore option shipped with the agent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("mamori.agent.early")

UDEV_NAME = "70-mamori-usb.rules"
MODPROBE_NAME = "mamori-usb.conf"

UDEV_RULE = """\
# Mamori: deny by default on every USB root hub the moment it appears (at boot, a controller added later,
# a dock), and on usbcore itself when it loads, before mamori-agent runs. The agent then authorizes what
# its policy allows (keyboards, smart-card readers, approved sticks). Installed by mamori-agent.
ACTION=="add", SUBSYSTEM=="module", KERNEL=="usbcore", ATTR{parameters/authorized_default}="0"
# Not interface_authorized_default: written from this event it can land before the root hub configures
# itself, its own hub interface is then born unauthorized and every port of that bus stays dead. Devices
# denied need no interface default; the agent sets it before it authorizes any device.
ACTION=="add", SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", KERNEL=="usb[0-9]*", ATTR{authorized_default}="0"
"""

MODPROBE_CONF = """\
# Mamori: every USB host controller starts deny-by-default (usbcore's own default, so no device on it is
# configured before mamori-agent decides) whenever usbcore is loaded from the installed system. Not copied
# into the initramfs by the package: a USB keyboard must work at a disk-unlock prompt. Sites without one
# can run update-initramfs -u, or set usbcore.authorized_default=0 on the kernel command line.
# Installed by mamori-agent.
options usbcore authorized_default=0
"""


@dataclass(frozen=True)
class EarlyFiles:
    """Where `mamori-agent service install` puts them (the .deb uses /lib/udev/rules.d and /lib/modprobe.d)."""

    udev_dir: Path = Path("/etc/udev/rules.d")
    modprobe_dir: Path = Path("/etc/modprobe.d")

    def files(self) -> dict[Path, str]:
        return {self.udev_dir / UDEV_NAME: UDEV_RULE, self.modprobe_dir / MODPROBE_NAME: MODPROBE_CONF}

    def install(self) -> list[Path]:
        written = []
        for path, text in self.files().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.chmod(0o644)
            tmp.replace(path)
            written.append(path)
        return written

    def uninstall(self) -> None:
        for path in self.files():
            path.unlink(missing_ok=True)
