"""serve --workers N: N serving processes on one port; none outlives its parent, even killed with SIGKILL."""

from __future__ import annotations

import re

import psutil

from tests.e2e.harness import wait_for
from tests.e2e.test_delivery import delivered_all, enrolled


def _workers(pid: int) -> list[psutil.Process]:
    return [
        c
        for c in psutil.Process(pid).children()
        if "multiprocessing.spawn" in " ".join(c.cmdline()) and "resource_tracker" not in " ".join(c.cmdline())
    ]


def test_two_workers_serve_one_port_and_die_with_their_parent(collector, make_agent):
    config = collector.data_dir / "collector.toml"
    text = re.sub(r"(?m)^#? ?workers = .*\n", "", config.read_text())
    config.write_text(text.replace("[server]\n", "[server]\nworkers = 2\n", 1))
    collector.start()
    workers = wait_for(lambda: len(w := _workers(collector.proc.pid)) == 2 and w, what="two workers")
    agents = [enrolled(collector, make_agent, f"a{i}") for i in range(3)]
    for a in agents:
        a.start()
        a.emit(200)
    for a in agents:
        got = delivered_all(collector, a, 201)
        assert got == list(range(1, len(got) + 1))
    collector.kill9()
    wait_for(
        lambda: not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers),
        what="workers gone with their parent",
    )
    collector.start()  # the ports are free again
    assert len(wait_for(lambda: _workers(collector.proc.pid), what="workers again")) == 2
