"""Self-watchdog: the agent restarts itself when its memory or CPU use stays above its limits."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    at: float  # monotonic seconds
    rss: int  # bytes
    cpu: float  # user + system CPU seconds consumed so far


def sample() -> Sample:
    """This process, now (psutil works the same on Linux and Windows)."""
    import time

    import psutil

    proc = psutil.Process()
    times = proc.cpu_times()
    return Sample(time.monotonic(), proc.memory_info().rss, times.user + times.system)


class ResourceWatchdog:
    """Feed samples; `observe` returns why to restart, or None.

    Memory must be over the limit in two samples in a row (one allocation spike is not a leak); CPU is the
    average over the whole window (a burst while sending a backlog is normal, a minute of it is not).
    """

    def __init__(self, memory_limit_mib: int, cpu_limit_percent: float, cpu_window_seconds: float):
        self.memory_limit = memory_limit_mib * MIB
        self.cpu_limit = cpu_limit_percent / 100.0
        self.window = cpu_window_seconds
        self.samples: deque[Sample] = deque()
        self._over_memory = 0

    def observe(self, s: Sample) -> str | None:
        self.samples.append(s)
        # Keep exactly one sample at least a window old as the base of the average.
        while len(self.samples) > 2 and s.at - self.samples[1].at >= self.window:
            self.samples.popleft()
        self._over_memory = self._over_memory + 1 if s.rss > self.memory_limit else 0
        if self._over_memory >= 2:
            return f"watchdog: memory {s.rss / MIB:.0f} MiB above the limit of {self.memory_limit / MIB:.0f} MiB"
        base = self.samples[0]
        elapsed = s.at - base.at
        if elapsed >= self.window:
            usage = (s.cpu - base.cpu) / elapsed
            if usage > self.cpu_limit:
                return (
                    f"watchdog: CPU {usage * 100:.1f}% of a core over {elapsed:.0f} s, above the limit of "
                    f"{self.cpu_limit * 100:.1f}%"
                )
        return None
