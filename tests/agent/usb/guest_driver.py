"""Runs inside the qemu guest: the real guard on the real kernel, driven by JSON lines over ttyS1."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import termios
import threading
import time
import traceback
import tty
from pathlib import Path
from typing import Any

from agent.host.linux.media import LinuxMediaControl
from agent.host.linux.usb import Sysfs, UeventSocket
from agent.spool import Spool
from mamori import events
from mamori import policy as policy_doc

SPOOL = Path("/tmp/spool")


class Driver:
    def __init__(self) -> None:
        self.sysfs = Sysfs()
        self.lock = threading.Lock()
        self.spool: Spool | None = None
        self.control: LinuxMediaControl | None = None
        self.seen: list[dict[str, str]] = []  # every block/usb uevent the kernel sent, from an independent socket
        threading.Thread(target=self._log_uevents, args=(UeventSocket(),), daemon=True).start()

    def _log_uevents(self, sock: UeventSocket) -> None:
        while True:
            for ev in sock.receive(1.0):
                if ev.subsystem in ("block", "usb", "net"):
                    with self.lock:
                        self.seen.append(
                            {
                                "at": time.time(),
                                "action": ev.action,
                                "subsystem": ev.subsystem,
                                "devtype": ev.devtype,
                                "devpath": ev.devpath,
                                "devname": ev.env.get("DEVNAME", ""),
                            }
                        )

    def _emit(self, kind: str, payload: dict[str, Any], severity: str | None = None) -> None:
        with self.lock:
            assert self.spool is not None
            self.spool.append(kind, payload, severity=severity)

    def _policy(self, args: dict[str, Any]) -> dict[str, Any]:
        doc = json.loads(json.dumps(policy_doc.DEFAULTS[args.get("segment", "lgwan")]))
        doc["usb"].update(args["usb"])
        return policy_doc.validate(doc)

    def op_start(self, args: dict[str, Any]) -> Any:
        # The agent's own wiring (what `mamori-agent run` starts), not a re-assembly of its parts.
        self.spool = Spool.open(SPOOL)
        self.control = LinuxMediaControl(self._emit)
        self.control.start(self._policy(args))
        return "started"

    def op_policy(self, args: dict[str, Any]) -> Any:
        assert self.control is not None
        self.control.apply(self._policy(args))
        return "applied"

    def op_watched(self, args: dict[str, Any]) -> Any:
        assert self.control is not None and self.control.media is not None
        return self.control.media.watched()

    def op_state(self, args: dict[str, Any]) -> Any:
        block = []
        for path in self.sysfs.block_devices():
            if path.name.startswith(("sd", "sr")):
                owner = self.sysfs.usb_ancestor(path)
                block.append(
                    {"name": path.name, "ro": (path / "ro").read_text().strip(), "usb": owner.name if owner else ""}
                )
        usb = []
        for dev in self.sysfs.usb_devices():
            ifaces = []
            for iface in self.sysfs.interfaces(dev):
                driver = iface / "driver"
                ifaces.append(
                    {
                        "name": iface.name,
                        "class": self.sysfs.interface_class(iface),
                        "authorized": self.sysfs.is_authorized(iface),
                        "driver": os.path.basename(os.readlink(driver)) if driver.exists() else "",
                    }
                )
            desc = self.sysfs.describe(dev)
            usb.append(
                {
                    "name": dev.name,
                    "serial": desc.serial if desc else "",
                    "authorized": self.sysfs.is_authorized(dev),
                    "interfaces": ifaces,
                }
            )
        hubs = {h.name: (h / "authorized_default").read_text().strip() for h in self.sysfs.root_hubs()}
        iface_hubs = {h.name: (h / "interface_authorized_default").read_text().strip() for h in self.sysfs.root_hubs()}
        with self.lock:
            seen = list(self.seen)
        dev_nodes = sorted(p.name for p in Path("/dev").iterdir() if p.name.startswith("sd"))
        core = Path("/sys/module/usbcore/parameters/authorized_default").read_text().strip()
        return {
            "block": block,
            "usb": usb,
            "hubs": hubs,
            "iface_hubs": iface_hubs,
            "core_default": core,
            "seen": seen,
            "dev": dev_nodes,
        }

    def op_events(self, args: dict[str, Any]) -> Any:
        with self.lock:
            assert self.spool is not None
            items = self.spool.pending(0, 100000)
        out = []
        for _, data in items:
            ev = events.decode_bytes(data)
            out.append(
                {
                    "kind": ev.kind,
                    "payload": ev.payload,
                    "severity": ev.severity,
                    "at": ev.occurred_at.timestamp() if ev.occurred_at else 0.0,
                }
            )
        return out

    def op_agent_start(self, args: dict[str, Any]) -> Any:
        """The real `mamori-agent run` as its own process (what the service starts)."""
        log = open("/tmp/agent.log", "wb")
        self.agent = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "run", "--state-dir", args["state_dir"]],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self.agent.pid

    def op_agent_stop(self, args: dict[str, Any]) -> Any:
        self.agent.terminate()
        code = self.agent.wait(30)
        return {"rc": code, "log": Path("/tmp/agent.log").read_text(errors="replace")[-8000:]}

    def op_check_network(self, args: dict[str, Any]) -> Any:
        """The real network_segment check on the guest's interfaces (what NET-003 is judged from)."""
        from agent.checks import base, network_segment

        segment = args.get("segment", "lgwan")
        ctx = base.Context(settings=policy_doc.check_settings(policy_doc.DEFAULTS[segment]), segment=segment)
        res = base.execute(network_segment, ctx)
        return {"status": res.status, "summary": res.summary, "evidence": res.evidence}

    def op_classify(self, args: dict[str, Any]) -> Any:
        """The agent's own StorageMatcher as Sysfs builds it: from the guest kernel's modules.alias on /lib/modules."""
        matcher = Sysfs().matcher
        running = self.control.sysfs.matcher if self.control is not None else None
        return {
            "release": os.uname().release,
            "patterns": len(matcher.patterns),
            "agent_patterns": len(running.patterns) if running is not None else -1,
            "storage": {m: matcher.matches(m) for m in args["modaliases"]},
        }

    def op_sh(self, args: dict[str, Any]) -> Any:
        proc = subprocess.run(args["cmd"], shell=True, capture_output=True, text=True, timeout=120)
        return {"rc": proc.returncode, "out": proc.stdout + proc.stderr}


def main(tty_path: str) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="guest %(name)s: %(message)s")
    fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    termios.tcflush(fd, termios.TCIOFLUSH)
    reader = os.fdopen(fd, "rb", buffering=0)
    writer = os.fdopen(os.dup(fd), "wb", buffering=0)
    driver = Driver()
    writer.write(b'{"ready": true}\n')
    buf = b""
    while True:
        chunk = reader.read(4096)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                request = json.loads(line.decode())
                result = getattr(driver, "op_" + request.pop("op"))(request)
                reply = {"result": result}
            except Exception as exc:
                reply = {"error": f"{exc!r}\n{traceback.format_exc()}"}
            writer.write(json.dumps(reply).encode() + b"\n")
