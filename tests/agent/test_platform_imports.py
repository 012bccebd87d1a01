"""Every agent module imports on a Windows-shaped and a Linux-shaped interpreter, except the other OS's backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SHAPE = Path(__file__).with_name("platform_shape.py")


def _shaped(target: str) -> dict:
    run = subprocess.run([sys.executable, str(SHAPE), target], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("target, other", [("windows", "agent.host.linux"), ("linux", "agent.host.windows")])
def test_only_the_other_platforms_backend_may_fail_to_import(target, other):
    result = _shaped(target)
    outside = {name: why for name, why in result["failures"].items() if not name.startswith(other + ".")}
    assert outside == {}
    assert result["leaked"] == []  # nothing of this platform pulls in the other platform's folder


def test_the_windows_shape_really_lacks_posix():
    # The Linux USB backend needs fcntl (BLKROSET): on the Windows shape it must be what fails, proving the shape.
    failures = _shaped("windows")["failures"]
    assert "fcntl" in failures["agent.host.linux.usb"]
    assert "agent.host.windows.media" not in failures  # issue 14: it imported agent.usb.guard, hence fcntl
