"""Network interfaces and TCP reachability probes (psutil and sockets: the same code on Linux and Windows)."""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Interface:
    name: str
    up: bool
    addresses: tuple[str, ...]  # "10.20.1.5/24"


def interfaces() -> list[Interface]:
    import psutil

    stats = psutil.net_if_stats()
    out = []
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        found = []
        for a in addrs:
            if a.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            ip = a.address.split("%", 1)[0]
            prefix = ""
            if a.netmask:
                try:
                    prefix = f"/{ipaddress.ip_network(f'{ip}/{a.netmask}', strict=False).prefixlen}"
                except ValueError:
                    prefix = f"/{a.netmask}" if a.netmask.isdigit() else ""
            found.append(ip + prefix)
        st = stats.get(name)
        out.append(Interface(name, bool(st and st.isup), tuple(found)))
    return out


def usb_interfaces(names: Iterable[str], root: Path = Path("/")) -> list[str]:
    """Which of these interfaces sit on a USB device: adapters, RNDIS/CDC, tethering phones (NET-003).

    Linux: the interface's sysfs device path runs through a USB device. Elsewhere none are known (the
    Windows agent does not report them yet).
    """
    if not sys.platform.startswith("linux"):
        return []
    out = []
    for name in names:
        try:
            path = (root / "sys/class/net" / name).resolve()
        except OSError:
            continue
        if any((p / "idVendor").exists() and ":" not in p.name for p in path.parents):
            out.append(name)
    return out


def is_global(address: str) -> bool:
    ip = ipaddress.ip_interface(address).ip
    return not (ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified)


def probe(target: str, timeout: float) -> dict[str, object]:
    """One TCP connect to an IP literal from the policy (never a name, so nothing is resolved)."""
    host, _, port = target.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    started = time.monotonic()
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host, int(port)))
        result = "connected"
    except TimeoutError:
        result = "timeout"
    except ConnectionRefusedError:
        result = "refused"  # a host answered: the path is open up to it, but no service listens
    except OSError as exc:
        result = {
            errno.ENETUNREACH: "unreachable",
            errno.EHOSTUNREACH: "unreachable",
            errno.EACCES: "filtered",
            errno.EPERM: "filtered",
        }.get(exc.errno or 0, f"error:{exc.errno}")
    finally:
        sock.close()
    return {"target": target, "result": result, "seconds": round(time.monotonic() - started, 3)}
