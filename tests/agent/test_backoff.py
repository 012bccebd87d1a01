"""Reconnect delays grow exponentially up to the cap and are jittered."""

from __future__ import annotations

from agent.shipper import backoff_delay


def test_backoff_grows_caps_and_jitters():
    samples = {attempt: [backoff_delay(attempt, 0.5, 30.0) for _ in range(200)] for attempt in range(12)}
    for attempt, values in samples.items():
        ceiling = min(30.0, 0.5 * 2**attempt)
        assert all(0.25 <= v <= max(ceiling, 0.25) for v in values)
    assert max(samples[11]) <= 30.0 and max(samples[11]) > 20.0
    assert len({round(v, 6) for v in samples[8]}) > 150, "jitter spreads reconnects"
    assert sum(samples[6]) / 200 > sum(samples[1]) / 200
