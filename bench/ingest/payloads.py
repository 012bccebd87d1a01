"""Realistic events, pre-encoded into serialized AgentMessage batches before any timing starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mamori import __version__
from mamori import events as ev
from mamori.v1 import events_pb2, telemetry_pb2

# What a terminal typically reports: mostly compliance check results, now and then a blocked USB device.
CHECK_RESULT: dict[str, Any] = {
    "check_id": "screen_lock.timeout",
    "status": "fail",
    "summary": "画面ロックまでの時間が 15 分を超えています",
    "evidence_json": '{"timeout_seconds":1800,"source":"gsettings"}',
    "remediation": "設定 > プライバシー > 画面ロック で 10 分以下にしてください",
}
USB_BLOCKED: dict[str, Any] = {
    "vendor_id": "0781",
    "product_id": "5581",
    "vendor_name": "SanDisk Corp.",
    "product_name": "Ultra USB 3.0",
    "serial": "4C530001230812108422",
    "interface_classes": ["08:06:50"],
    "port": "1-2.3",
    "decided_by": "default",
    "mode": "block",
}
USB_EVERY = 5  # one event in five is usb.blocked


def event_for(seq: int, occurred_at: datetime) -> bytes:
    """The wire form of the seq-th event of an agent, through the product's own encoder."""
    if seq % USB_EVERY == 0:
        return ev.encode("usb.blocked", USB_BLOCKED, seq=seq, occurred_at=occurred_at)
    return ev.encode("check.result", {**CHECK_RESULT, "full_report": seq % 2 == 0}, seq=seq, occurred_at=occurred_at)


def batch_message(batch_id: int, encoded: list[bytes]) -> bytes:
    """A serialized AgentMessage carrying one EventBatch of already encoded events."""
    batch = telemetry_pb2.EventBatch(batch_id=batch_id)
    batch.events.extend(events_pb2.Event.FromString(data) for data in encoded)
    return telemetry_pb2.AgentMessage(batch=batch).SerializeToString()


def agent_batches(events_per_agent: int, batch_size: int) -> list[tuple[int, bytes]]:
    """(last seq, message bytes) for batches 1.. of one agent, seqs 1..events_per_agent."""
    start = datetime.now(UTC) - timedelta(seconds=events_per_agent)
    out = []
    for batch_id, first in enumerate(range(1, events_per_agent + 1, batch_size), start=1):
        last = min(first + batch_size - 1, events_per_agent)
        encoded = [event_for(seq, start + timedelta(seconds=seq)) for seq in range(first, last + 1)]
        out.append((last, batch_message(batch_id, encoded)))
    return out


def hello_message() -> bytes:
    return telemetry_pb2.AgentMessage(
        hello=telemetry_pb2.Hello(agent_version=__version__, policy_version="", next_seq=1)
    ).SerializeToString()


def ping_message() -> bytes:
    """An empty batch (id 0): stores nothing, but its Ack proves the Hello was fully processed."""
    return telemetry_pb2.AgentMessage(batch=telemetry_pb2.EventBatch(batch_id=0)).SerializeToString()
