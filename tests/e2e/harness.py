"""Real collector and agent processes on 127.0.0.1 with ephemeral ports, driven through their CLIs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["MAMORI_LANG"] = "en"
    env.update(extra or {})
    return env


def run_cli(
    module: str, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, env=_env(env), timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{module} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class _Process:
    """One long-running process of ours: started with a numbered log beside its folder, stopped by signal."""

    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    log_path: Path | None = field(default=None, init=False)
    starts: int = field(default=0, init=False)

    def _spawn(self, folder: Path, argv: list[str]) -> None:
        self.starts += 1
        self.log_path = folder.parent / f"{folder.name}-{self.starts}.log"
        with self.log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", *argv], stdout=log, stderr=subprocess.STDOUT, env=_env()
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)


@dataclass
class Collector(_Process):
    data_dir: Path = Path()
    port: int = field(default_factory=free_port)
    enroll_port: int = field(default_factory=free_port)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli("collector.cli", "--data-dir", str(self.data_dir), *args, check=check)

    def init(self, database_url: str | None = None) -> Collector:
        args = [
            "init",
            "--host",
            "127.0.0.1,localhost",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--enroll-listen",
            f"127.0.0.1:{self.enroll_port}",
        ]
        if database_url:
            args += ["--database-url", database_url]
        self.cli(*args)
        return self

    def token(self, segment: str = "lgwan", department: str = "情報政策課", uses: int = 1, expires: str = "1h") -> str:
        out = self.cli(
            "token",
            "create",
            "--segment",
            segment,
            "--department",
            department,
            "--uses",
            str(uses),
            "--expires",
            expires,
            "--json",
        )
        return json.loads(out.stdout)["token"]

    def start(self) -> Collector:
        self._spawn(
            self.data_dir,
            [
                "collector.cli",
                "--data-dir",
                str(self.data_dir),
                "serve",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--enroll-listen",
                f"127.0.0.1:{self.enroll_port}",
            ],
        )
        wait_for(
            lambda: b"serving telemetry" in self.log_path.read_bytes() or self.proc.poll() is not None,
            what="collector start",
        )
        if self.proc.poll() is not None:
            raise AssertionError(f"collector exited:\n{self.log_path.read_text()}")
        return self

    def events(self, *args: str) -> list[dict[str, Any]]:
        return json.loads(self.cli("events", "list", "--limit", "1000000", "--json", *args).stdout)

    def agents(self) -> list[dict[str, Any]]:
        return json.loads(self.cli("agents", "list", "--json").stdout)


@dataclass
class Agent(_Process):
    state_dir: Path = Path()
    agent_id: str = ""
    started_at: float = 0.0

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli("agent.cli", "--state-dir", str(self.state_dir), *args, check=check)

    def enroll(self, collector: Collector, token: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = self.cli(
            "enroll",
            "--collector",
            f"127.0.0.1:{collector.enroll_port}",
            "--token",
            token,
            "--ca-cert",
            str(collector.data_dir / "ca.crt"),
            "--json",
            check=check,
        )
        if proc.returncode == 0:
            self.agent_id = json.loads(proc.stdout)["agent_id"]
        return proc

    def write_config(self, **sections: dict[str, Any]) -> Path:
        lines = []
        for section, values in sections.items():
            lines.append(f"[{section}]")
            for key, value in values.items():
                lines.append(f"{key} = {json.dumps(value)}")
        path = self.state_dir / "agent.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def _channel_up(self) -> bool:
        """This run's socket: one a run killed with -9 left behind is older than this start."""
        try:
            return (self.state_dir / "control.sock").stat().st_ctime >= self.started_at
        except OSError:
            return False

    def start(self) -> Agent:
        self.started_at = time.time() - 0.05  # the file system's clock may round down
        self._spawn(self.state_dir, ["agent.cli", "--state-dir", str(self.state_dir), "run"])
        return self

    def emit(self, count: int, kind: str = "check.result") -> None:
        """Test events through `mamori-agent debug emit`: the running agent records them (it is the spool's
        only writer); a stopped one gets them with --offline, to send at its next start."""
        if self.proc is None or self.proc.poll() is not None:
            self.cli("debug", "emit", "--count", str(count), "--kind", kind, "--offline")
            return
        # Just started: wait for its control channel rather than racing the interpreter's start-up.
        wait_for(lambda: self._channel_up() or self.proc.poll() is not None, what="the agent's control channel")
        self.cli("debug", "emit", "--count", str(count), "--kind", kind)

    def spool_depth(self) -> int:
        return json.loads(self.cli("status", "--json").stdout)["spool_depth"]
