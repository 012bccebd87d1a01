"""The shipper's timers (heartbeats, polls, reconnect delays), swappable like its transport so tests need no sleeps."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Handle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle: ...


class LoopClock:
    """Real time: the running event loop's timers (whose clock is time.monotonic)."""

    def monotonic(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        return asyncio.get_running_loop().call_later(delay, callback)


async def wait_or_timeout(clock: Clock, event: asyncio.Event, timeout: float) -> bool:
    """Wait for event at most timeout seconds of clock time; True when the event was set."""
    if event.is_set():
        return True
    expired = asyncio.Event()
    handle = clock.call_later(max(0.0, timeout), expired.set)
    waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(expired.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        handle.cancel()
        for waiter in waiters:
            waiter.cancel()
    return event.is_set()


class _FakeHandle:
    def __init__(self, clock: FakeClock, deadline: float) -> None:
        self._clock = clock
        self.deadline = deadline
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self._clock.changed()


class FakeClock:
    """Time that moves only when a test calls advance(); timers due by then run, in deadline order."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._timers: list[tuple[float, int, _FakeHandle, Callable[[], None]]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()

    def monotonic(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        handle = _FakeHandle(self, self.now + max(0.0, delay))
        heapq.heappush(self._timers, (handle.deadline, next(self._order), handle, callback))
        self.changed()
        return handle

    def changed(self) -> None:
        self._changed.set()

    @property
    def deadlines(self) -> list[float]:
        """Deadlines of the armed timers, soonest first (what the code under test is waiting for)."""
        return sorted(h.deadline for _d, _n, h, _cb in self._timers if not h.cancelled)

    def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while self._timers and self._timers[0][0] <= target:
            deadline, _n, handle, callback = heapq.heappop(self._timers)
            if not handle.cancelled:
                self.now = deadline
                callback()
        self.now = target
        self.changed()

    async def until_armed(self, count: int = 1, timeout: float = 10.0) -> list[float]:
        """Wait (real time, as a safety net only) until count timers are armed; returns their deadlines."""
        async with asyncio.timeout(timeout):
            while len(self.deadlines) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.deadlines
