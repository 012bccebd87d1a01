"""Typed evidence per posture check: EVIDENCE maps a check id to the frozen dataclass its evidence follows."""

from __future__ import annotations

import json
from typing import Any

from mamori.evidence.auth import LocalAdmin, Mfa, ScreenLock
from mamori.evidence.base import Evidence
from mamori.evidence.network import NetworkSegment, TimeSync
from mamori.evidence.protection import Antivirus, DiskEncryption, Firewall
from mamori.evidence.software import Failure, MediaControl, Software
from mamori.evidence.updates import OsSupport, Patch

EVIDENCE: dict[str, type[Evidence]] = {
    cls.CHECK: cls
    for cls in (
        Mfa,
        Patch,
        OsSupport,
        Antivirus,
        ScreenLock,
        DiskEncryption,
        Firewall,
        TimeSync,
        Software,
        LocalAdmin,
        NetworkSegment,
        MediaControl,
    )
}

__all__ = ["EVIDENCE", "Evidence", "Failure", "parse", "stored", "decode_json", "nest"]


def parse(check_id: str, data: Any) -> Evidence | None:
    """Received evidence as its check's type; None for a check this collector does not know."""
    schema = EVIDENCE.get(check_id)
    return None if schema is None else schema.parse(data)


def decode_json(text: Any) -> dict[str, Any] | None:
    """evidence_json as an object; None when it is not a JSON object."""
    try:
        value = json.loads(text) if isinstance(text, str | bytes) and text else {}
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def nest(payload: dict[str, Any]) -> dict[str, Any]:
    """A check.result payload with its evidence_json text decoded into a nested `evidence` object, so it is
    stored (and shown) once, as data. Text that is no JSON object stays as the agent sent it."""
    if "evidence_json" not in payload:
        return payload
    decoded = decode_json(payload["evidence_json"])
    if decoded is None:
        return payload
    out = {k: v for k, v in payload.items() if k != "evidence_json"}
    out["evidence"] = decoded
    return out


def stored(payload: dict[str, Any]) -> dict[str, Any]:
    """The evidence of a stored check.result payload: the nested object the ingest edge decoded, or the
    evidence_json text of rows stored before it did."""
    nested = payload.get("evidence")
    if isinstance(nested, dict):
        return nested
    return decode_json(payload.get("evidence_json", "")) or {}
