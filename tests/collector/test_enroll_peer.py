"""The address an enrollment came from, as the audit log and the throttle name it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.server import peer_address
from collector.store import enrollments


@pytest.mark.parametrize(
    "peer,address",
    [
        ("ipv4:127.0.0.1:51234", "127.0.0.1"),
        ("ipv6:%5B::1%5D:51234", "::1"),
        ("ipv6:[fe80::1]:7", "fe80::1"),
        ("unix:/run/x.sock", "unix:/run/x.sock"),
    ],
)
def test_peer_address_drops_the_port(peer, address):
    assert peer_address(peer) == address


def test_throttle_counts_one_address_within_the_window(engine):
    t0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    for i in range(5):
        enrollments.record_refusal(
            engine, at=t0 + timedelta(minutes=i), address="10.0.0.5", reason="unknown", token_id=None, hostname="pc"
        )
    window = timedelta(minutes=10)
    assert enrollments.throttled(engine, "10.0.0.5", t0 + timedelta(minutes=5), 5, window)
    assert not enrollments.throttled(engine, "10.0.0.6", t0 + timedelta(minutes=5), 5, window)
    assert not enrollments.throttled(engine, "10.0.0.5", t0 + timedelta(minutes=10, seconds=1), 5, window)
