"""Client processes (multiprocessing, spawn) that share the agents, and the parent's side of their protocol."""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from typing import Any

from bench.ingest.enroll import Credentials

JOIN_TIMEOUT = 10.0


class ClientFailed(RuntimeError):
    """A client process reported an error or went silent."""


@dataclass
class ClientGroup:
    """Running client processes, their message queue and the start signal."""

    procs: list[BaseProcess]
    out: Any
    go: Any
    finished: bool = False

    def wait(self, tag: str, timeout: float) -> list[Any]:
        """One `tag` message from every process, within `timeout` seconds in total."""
        deadline = time.monotonic() + timeout
        got: list[Any] = []
        while len(got) < len(self.procs):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClientFailed(f"{len(self.procs) - len(got)} client process(es) not {tag} after {timeout:.0f}s")
            try:
                kind, value = self.out.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                self._check_alive()
                continue
            if kind == "error":
                raise ClientFailed(f"client process failed:\n{value}")
            if kind == tag:
                got.append(value)
        self.finished = tag == "done"
        return got

    def _check_alive(self) -> None:
        dead = [p for p in self.procs if p.exitcode not in (None, 0)]
        if dead:
            raise ClientFailed(f"client process {dead[0].pid} exited with {dead[0].exitcode}")

    def stop(self) -> None:
        for proc in self.procs:
            # Processes that reported their results exit by themselves; any others are stopped now.
            proc.join(timeout=JOIN_TIMEOUT if self.finished else 0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=JOIN_TIMEOUT)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=JOIN_TIMEOUT)


def split(agents: list[Credentials], parts: int) -> list[list[Credentials]]:
    """Agents dealt round-robin into at most `parts` non-empty groups."""
    groups = [agents[i::parts] for i in range(max(1, parts))]
    return [g for g in groups if g]


@contextmanager
def client_processes(
    target: Callable[..., None], spec: Any, agents: list[Credentials], processes: int
) -> Iterator[ClientGroup]:
    """Start `target(spec with its share of agents, out, go)` in each process; always stopped on exit."""
    ctx = mp.get_context("spawn")  # no inherited gRPC state from the parent, which has used gRPC
    out, go = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=target, args=(replace(spec, agents=share), out, go), daemon=True)
        for share in split(agents, processes)
    ]
    group = ClientGroup(procs, out, go)
    try:
        for proc in procs:
            proc.start()
        yield group
    finally:
        group.stop()
