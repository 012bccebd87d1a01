"""Fixtures that start real collector and agent processes and always stop them."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Agent, Collector


@pytest.fixture
def procs():
    """Collects started processes; every one is killed at the end of the test, pass or fail."""
    started: list[Collector | Agent] = []
    yield started
    for item in started:
        if item.proc is not None:
            item.kill9()


@pytest.fixture
def collector(tmp_path, procs) -> Collector:
    c = Collector(tmp_path / "collector").init()
    procs.append(c)
    return c


@pytest.fixture
def make_agent(tmp_path, procs):
    def make(name: str = "agent", **config) -> Agent:
        a = Agent(tmp_path / name)
        procs.append(a)
        return a

    return make
