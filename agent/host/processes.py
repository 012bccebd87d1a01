"""Which named programs are running (psutil: the same on Linux and Windows)."""

from __future__ import annotations


def running(names: tuple[str, ...]) -> list[str]:
    import psutil

    wanted = {n.lower() for n in names}
    found = set()
    for proc in psutil.process_iter(["name"]):
        name = (proc.info.get("name") or "").lower().removesuffix(".exe")
        if name in wanted:
            found.add(name)
    return sorted(found)
