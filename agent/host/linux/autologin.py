"""Display-manager logon paths: the greeter PAM services (not logons) and autologin, only where it is switched on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from agent.host.sysio import HostIOError, read_text

# The greeter's own session runs as the display manager's user before anyone logs on (pam_permit by design).
GREETERS = ("lightdm-greeter", "gdm-launch-environment")
# lightdm reads these in order, later files overriding earlier ones (lightdm(1), "CONFIGURATION").
LIGHTDM_DIRS = ("usr/share/lightdm/lightdm.conf.d", "etc/xdg/lightdm/lightdm.conf.d", "etc/lightdm/lightdm.conf.d")
GDM_FILES = ("etc/gdm3/daemon.conf", "etc/gdm3/custom.conf", "etc/gdm/custom.conf")  # Debian, then RHEL
# GLib reads "true"/"1"; any case is taken as on, so a near-miss spelling is flagged rather than missed.
TRUE = {"true", "1"}


@dataclass
class DisplayManagers:
    """Which PAM services a display manager uses for the greeter and for an autologin that is enabled."""

    greeters: list[str] = field(default_factory=list)
    autologin: dict[str, str] = field(default_factory=dict)  # PAM service -> where it is switched on
    problems: list[str] = field(default_factory=list)


def _ini(path: Path, out: DisplayManagers) -> dict[str, dict[str, str]]:
    """GKeyFile-like sections; keys lower-cased, later duplicates win (as lightdm and GLib read them)."""
    try:
        text = read_text(path, 256 * 1024)
    except HostIOError as exc:
        if path.exists():
            out.problems.append(str(exc))
        return {}
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("", {})
    for raw in text.text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        head = re.fullmatch(r"\[(.+)\]", line)
        if head:
            current = sections.setdefault(head.group(1).strip(), {})
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key.strip().lower()] = value.strip()
    return sections


def _lightdm(root: Path, out: DisplayManagers) -> None:
    files = [f for d in LIGHTDM_DIRS for f in sorted((root / d).glob("*.conf"))] + [root / "etc/lightdm/lightdm.conf"]
    seat: dict[str, str] = {}
    where: dict[str, str] = {}
    for path in files:
        for name, values in _ini(path, out).items():
            # [Seat:*] (and the older [SeatDefaults]) hold every seat's defaults; [Seat:seat0] the first seat's.
            if name in ("Seat:*", "SeatDefaults", "Seat:seat0"):
                seat.update(values)
                where.update(dict.fromkeys(values, str(path)))
    if not any(p.is_file() for p in files) and not (root / "etc/pam.d/lightdm").is_file():
        return
    out.greeters.append(seat.get("pam-greeter-service") or "lightdm-greeter")
    for key in ("autologin-user", "autologin-guest"):
        value = seat.get(key, "")
        if value and (key == "autologin-user" or value.lower() in TRUE):
            service = seat.get("pam-autologin-service") or "lightdm-autologin"
            out.autologin[service] = f"{where[key]}: {key}={value}"
            return


def _gdm(root: Path, out: DisplayManagers) -> None:
    for rel in GDM_FILES:
        daemon = _ini(root / rel, out).get("daemon", {})
        for key in ("automaticloginenable", "timedloginenable"):  # a timed login is an autologin with a delay
            if daemon.get(key, "").lower() in TRUE:
                out.autologin["gdm-autologin"] = f"{root / rel}: {key}={daemon[key]}"


def display_managers(root: Path) -> DisplayManagers:
    out = DisplayManagers()
    _lightdm(root, out)
    _gdm(root, out)
    out.greeters += [g for g in GREETERS if g not in out.greeters]
    return out
