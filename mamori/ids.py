"""UUIDv7 event identifiers (RFC 9562): time-ordered, so ids sort the way events happened."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A new UUIDv7; monotonic within this process even when many are made in one millisecond."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            # Same (or a stepped-back) millisecond: keep order with the 12-bit rand_a counter,
            # borrowing the next millisecond when it runs out.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = 0
        rand_a = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


# Canonical lower-case form, version nibble 7, RFC 9562 variant (10xx): checked on every ingested event,
# so a regex rather than uuid.UUID (several times slower).
_UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def is_uuid7(text: str) -> bool:
    """True when text is a canonical (lower-case) UUID of version 7."""
    return isinstance(text, str) and _UUID7.fullmatch(text) is not None
