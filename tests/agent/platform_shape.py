"""Run as a script: import every agent module on an interpreter shaped like the other OS; print the failures.

`python tests/agent/platform_shape.py windows` patches sys.platform to "win32", makes the POSIX-only standard
modules unimportable and puts the pywin32 recorder (tests/agent/host/winfakes.py) in place of pywin32;
`... linux` makes the Windows-only modules unimportable. Output: one JSON object {module: "Error: message"}.
"""

from __future__ import annotations

import importlib
import importlib.abc
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POSIX_ONLY = (
    "fcntl",
    "termios",
    "tty",
    "pty",
    "pwd",
    "grp",
    "resource",
    "syslog",
    "posix",
    "crypt",
    "spwd",
    "_posixsubprocess",
    "_posixshmem",
    "readline",
)
# The standard library picks its own implementation by sys.platform when first imported (subprocess needs
# _winapi once it believes it is on Windows): load these with the real platform, as Windows has its own.
STDLIB_FIRST = (
    "subprocess",
    "selectors",
    "shutil",
    "tempfile",
    "socket",
    "ssl",
    "platform",
    "uuid",
    "ctypes",
    "ctypes.util",
    "asyncio",
    "concurrent.futures",
    "logging.handlers",
    "multiprocessing",
    "mimetypes",
)
WINDOWS_ONLY = ("winreg", "msvcrt", "_winapi", "nt", "winsound", "_overlapped")
PYWIN32 = (
    "win32service",
    "win32serviceutil",
    "servicemanager",
    "pywintypes",
    "win32security",
    "ntsecuritycon",
    "win32evtlogutil",
    "win32api",
    "win32con",
    "win32event",
    "win32file",
    "win32pipe",
    "win32process",
    "win32ts",
    "win32com",
    "wmi",
)


class Refuse(importlib.abc.MetaPathFinder):
    """The named modules do not exist on this interpreter."""

    def __init__(self, names: tuple[str, ...]):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not on this platform)", name=fullname)
        return None


def shape(target: str) -> None:
    sys.path.insert(0, str(REPO))
    if target == "windows":
        from tests.agent.host.winfakes import Recorder

        for name in STDLIB_FIRST:
            importlib.import_module(name)

        for name in POSIX_ONLY:
            sys.modules.pop(name, None)
        sys.meta_path.insert(0, Refuse(POSIX_ONLY))
        calls: list = []
        for name in PYWIN32 + ("winreg", "msvcrt"):
            sys.modules[name] = Recorder(calls, {"__name__": name, "__path__": []})  # type: ignore[assignment]
        sys.platform = "win32"
    else:
        for name in WINDOWS_ONLY + PYWIN32:
            sys.modules.pop(name, None)
        sys.meta_path.insert(0, Refuse(WINDOWS_ONLY + PYWIN32))


def modules() -> list[str]:
    names = []
    for path in sorted((REPO / "agent").rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__main__":
            continue  # running it is the CLI itself
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def _import(names: list[str], failures: dict[str, str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - SystemExit from a module is a failure to import as well
            failures[name] = f"{type(exc).__name__}: {exc}"


def main() -> None:
    target = sys.argv[1]
    shape(target)
    other = "agent.host.linux" if target == "windows" else "agent.host.windows"
    theirs = [n for n in modules() if n == other or n.startswith(other + ".")]
    failures: dict[str, str] = {}
    # This platform's modules first: none of them may pull in the other platform's backend on the way.
    _import([n for n in modules() if n not in theirs], failures)
    leaked = sorted(n for n in sys.modules if n in theirs)
    _import(theirs, failures)
    print(json.dumps({"failures": failures, "leaked": leaked}))


if __name__ == "__main__":
    main()
