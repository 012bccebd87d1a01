"""Self-watchdog limits: memory twice in a row, CPU averaged over the window."""

from __future__ import annotations

from agent.watchdog import MIB, ResourceWatchdog, Sample, sample


def test_memory_spike_tolerated_sustained_excess_restarts():
    dog = ResourceWatchdog(200, 10.0, 60.0)
    assert dog.observe(Sample(0, 250 * MIB, 0.0)) is None
    assert dog.observe(Sample(10, 150 * MIB, 0.1)) is None
    assert dog.observe(Sample(20, 201 * MIB, 0.2)) is None
    reason = dog.observe(Sample(30, 230 * MIB, 0.3))
    assert reason == "watchdog: memory 230 MiB above the limit of 200 MiB"


def test_cpu_averaged_over_the_window():
    dog = ResourceWatchdog(200, 10.0, 60.0)
    # A 5-second burst at 100% inside an idle minute: 8% average, fine.
    assert dog.observe(Sample(0, MIB, 0.0)) is None
    assert dog.observe(Sample(30, MIB, 5.0)) is None
    assert dog.observe(Sample(60, MIB, 5.0)) is None
    # Then 20% of a core for a minute.
    for t in range(70, 130, 10):
        reason = dog.observe(Sample(t, MIB, 5.0 + (t - 60) * 0.2))
    assert reason is not None and reason.startswith("watchdog: CPU 20.0% of a core over 60 s")


def test_no_verdict_before_a_full_window():
    dog = ResourceWatchdog(200, 10.0, 60.0)
    assert dog.observe(Sample(0, MIB, 0.0)) is None
    assert dog.observe(Sample(30, MIB, 30.0)) is None  # 100% but only for 30 s


def test_sample_reads_this_process():
    s = sample()
    assert s.rss > 5 * MIB and s.cpu > 0
