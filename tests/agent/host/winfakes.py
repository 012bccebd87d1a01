"""A registry and PnP fake fed with recorded Windows output (a `reg export` file, Win32_PnPEntity JSON)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
HKLM = "HKEY_LOCAL_MACHINE\\"


def parse_reg_export(text: str) -> dict[tuple[str, str], Any]:
    """Values of a .reg export: (key without HKLM\\, lower-case value name) -> int or str (others as raw text)."""
    values: dict[tuple[str, str], Any] = {}
    key = ""
    logical: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if logical and logical[-1].endswith("\\"):
            logical[-1] = logical[-1][:-1] + line.strip()
            continue
        logical.append(line)
    for line in logical:
        if not line or line.startswith(";") or line.startswith("Windows Registry Editor"):
            continue
        if line.startswith("[") and line.endswith("]"):
            key = line[1:-1].removeprefix(HKLM)
            continue
        m = re.match(r'^"((?:[^"\\]|\\.)*)"=(.*)$', line)
        if not m:
            raise ValueError(f"not a .reg value line: {line!r}")
        name, data = m.group(1).replace('\\"', '"').replace("\\\\", "\\"), m.group(2)
        if data.startswith("dword:"):
            values[(key.lower(), name.lower())] = int(data[6:], 16)
        elif data.startswith('"'):
            values[(key.lower(), name.lower())] = data[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        else:
            values[(key.lower(), name.lower())] = data
    return values


class FakeRegistry:
    """Case-insensitive HKLM like the real one; records every write."""

    def __init__(self, export: str = ""):
        self.values = parse_reg_export(export) if export else {}
        self.writes: list[tuple[str, str, str, int | None]] = []

    def get(self, key: str, name: str) -> int | str | None:
        return self.values.get((key.lower(), name.lower()))

    def set_dword(self, key: str, name: str, value: int) -> None:
        self.values[(key.lower(), name.lower())] = value
        self.writes.append(("set", key, name, value))

    def delete(self, key: str, name: str) -> None:
        self.values.pop((key.lower(), name.lower()), None)
        self.writes.append(("delete", key, name, None))


class FakePnp:
    def __init__(self, entities: Any):
        self.records = entities
        self.calls: list[tuple[str, bool]] = []

    def entities(self) -> Any:
        return self.records

    def set_enabled(self, instance_id: str, enabled: bool) -> bool:
        self.calls.append((instance_id, enabled))
        return True


def recorded_registry() -> FakeRegistry:
    return FakeRegistry((DATA / "removable_policies_before.reg").read_text(encoding="utf-8"))


def recorded_pnp() -> FakePnp:
    return FakePnp(json.loads((DATA / "pnp_entities.json").read_text(encoding="utf-8")))
