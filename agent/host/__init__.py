"""OS-facing layer: the only place in the agent that knows which operating system it runs on.

Each OS is one folder, agent/host/<name>/, named by PLATFORM: host.py (its Host), media.py (its MediaControl),
facts.py (its FactsReader, `reader(root, source)`). Nothing outside this package imports from those folders.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from agent.host.base import FactsReader, Host, HostFacts
from mamori.usbrules import Device

# sys.platform -> the folder of its backend; another OS is another folder (docs/architecture.md).
PLATFORM = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform.rstrip("0123456789"))


def current() -> Host:
    """The Host implementation for this machine."""
    return importlib.import_module(f"agent.host.{PLATFORM}.host").HOST()


def facts(platform: str, root: Path = Path("/"), source: Any = None) -> FactsReader:
    """The facts reader of `platform` (tests read a prepared tree or recordings of another OS)."""
    return importlib.import_module(f"agent.host.{platform}.facts").reader(root, source)


def data_source(platform: str) -> Any:
    """The live data source the platform's facts reader queries (the registry/WMI on Windows), or None."""
    return importlib.import_module(f"agent.host.{platform}.facts").live_source()


def attached_usb(root: Path = Path("/")) -> list[Device]:
    """The USB devices attached now, as this OS enumerates them (below `root` where it reads files);
    FileNotFoundError (with the folder as its filename) when there is nothing to enumerate there."""
    return importlib.import_module(f"agent.host.{PLATFORM}.media").attached(root)


def control_transport() -> Any:
    """The control channel's transport for this machine: listen(root), connect(root, timeout), address(root)."""
    return importlib.import_module(f"agent.host.{PLATFORM}.control")


__all__ = [
    "PLATFORM",
    "FactsReader",
    "Host",
    "HostFacts",
    "attached_usb",
    "control_transport",
    "current",
    "data_source",
    "facts",
]
