"""Windows stand-ins: pywin32 as a call recorder, a registry and PnP fed with recorded output (`reg export`, JSON)."""

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


class Win32Error(Exception):
    def __init__(self, winerror: int, funcname: str, strerror: str):
        super().__init__(winerror, funcname, strerror)
        self.winerror, self.funcname, self.strerror = winerror, funcname, strerror


class Recorder:
    """Stands in for a pywin32 module: constants are attributes, every function call is recorded."""

    def __init__(self, calls: list, consts: dict, results: dict | None = None):
        self.__dict__.update(consts)
        self._calls, self._results = calls, results or {}

    def __getattr__(self, name: str):
        def call(*args):
            self._calls.append((name, *args))
            result = self._results.get(name)
            if isinstance(result, Exception):
                raise result
            return result(*args) if callable(result) else result

        return call
