"""Desktop screen-lock settings as the system imposes them: GSettings schema defaults and vendor overrides,
dconf system databases with their locks (GNOME), and kscreenlockerrc (KDE)."""

from __future__ import annotations

import configparser
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from agent.host.facts import GnomeLock, ScreenLockFacts, Setting
from agent.host.sysio import HostIOError, read_or_none, read_text

SCHEMAS = "usr/share/glib-2.0/schemas"
KEYS = {
    ("org.gnome.desktop.session", "idle-delay"),
    ("org.gnome.desktop.screensaver", "lock-enabled"),
    ("org.gnome.desktop.screensaver", "lock-delay"),
}


def _value(text: str) -> str:
    text = text.strip()
    m = re.match(r"^(?:uint32|int32|uint64)\s+(\d+)$", text)
    return m.group(1) if m else text.strip("'\"")


# Schemas alone are pulled in by many libraries; a GNOME session needs its shell or display manager.
GNOME_PROGRAMS = ("usr/bin/gnome-shell", "usr/sbin/gdm3", "usr/sbin/gdm")


def gnome_present(root: Path) -> bool:
    return (root / SCHEMAS / "org.gnome.desktop.session.gschema.xml").is_file() and any(
        (root / p).exists() for p in GNOME_PROGRAMS
    )


def gnome(root: Path) -> GnomeLock:
    out = GnomeLock()
    for schema, key in KEYS:
        path = root / SCHEMAS / f"{schema}.gschema.xml"
        try:
            tree = ET.fromstring(read_text(path).text)
        except (HostIOError, ET.ParseError) as exc:
            out.problems.append(f"{path}: {exc}")
            continue
        for node in tree.iter("key"):
            if node.get("name") == key and node.findtext("default") is not None:
                out.settings[f"{schema}/{key}"] = Setting(_value(node.findtext("default") or ""), str(path))
    # Vendor overrides (*.gschema.override), applied in name order.
    for path in sorted((root / SCHEMAS).glob("*.gschema.override"))[:100]:
        _apply_ini(path, out, lambda section: section.replace("/", "."), locked=False)
    # dconf system databases named in the user profile, lowest priority last in the file.
    profile = read_or_none(root / "etc/dconf/profile/user", 65536)
    dbs = [
        line.split(":", 1)[1].strip()
        for line in (profile.text.splitlines() if profile else [])
        if line.strip().startswith("system-db:")
    ]
    for db in reversed(dbs):
        d = root / "etc/dconf/db" / f"{db}.d"
        for path in sorted(d.glob("*"))[:200] if d.is_dir() else []:
            if path.is_file():
                _apply_ini(path, out, lambda section: section.strip("/").replace("/", "."), locked=False)
        for path in sorted((d / "locks").glob("*"))[:200] if (d / "locks").is_dir() else []:
            text = read_or_none(path)
            for line in text.text.splitlines() if text else []:
                name = line.strip()
                for schema, key in KEYS:
                    if name == "/" + schema.replace(".", "/") + "/" + key:
                        s = out.settings.setdefault(f"{schema}/{key}", Setting("", str(path)))
                        s.locked = True
    if not dbs and (root / "etc/dconf/db").is_dir():
        out.problems.append("no system-db in /etc/dconf/profile/user: dconf keyfiles are not in force")
    return out


def _apply_ini(path: Path, out: GnomeLock, schema_of, locked: bool) -> None:
    text = read_or_none(path)
    if text is None or text.binary:
        if text is not None:
            out.problems.append(f"{path}: binary data, ignored")
        return
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text.text)
    except configparser.Error as exc:
        out.problems.append(f"{path}: {str(exc)[:200]}")
        return
    for section in parser.sections():
        schema = schema_of(section)
        for key, value in parser.items(section):
            if (schema, key) in KEYS:
                prev = out.settings.get(f"{schema}/{key}")
                keep = bool(prev and prev.locked) or locked
                out.settings[f"{schema}/{key}"] = Setting(_value(value), str(path), keep)


def kde(root: Path) -> dict[str, object] | None:
    """/etc/xdg/kscreenlockerrc [Daemon]: Autolock, Timeout (minutes), LockOnResume; [$i] makes it immutable."""
    text = read_or_none(root / "etc/xdg/kscreenlockerrc", 65536)
    if text is None:
        return None
    values: dict[str, object] = {"Autolock": "true", "Timeout": "5", "LockOnResume": "true", "immutable": False}
    section = ""
    for line in text.text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
            if line.startswith("[Daemon]") and "[$i]" in line:
                values["immutable"] = True
            continue
        if section.startswith("[Daemon]") and "=" in line:
            key, _, value = line.partition("=")
            key = key.strip()
            if key.endswith("[$i]"):
                key = key[:-4]
                values[f"{key}_immutable"] = True
            values[key] = value.strip()
    return values


def read(root: Path) -> ScreenLockFacts:
    return ScreenLockFacts(root=str(root), gnome=gnome(root) if gnome_present(root) else None, kde=kde(root))
