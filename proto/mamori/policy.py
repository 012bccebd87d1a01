"""The per-segment policy document: its schema, validation, version, segment defaults and the strictest mode."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

SEGMENTS = ("mynumber", "lgwan", "internet")
USB_MODES = ("block", "allowlist", "read_only", "audit")
SCHEMA_VERSION = 1


class PolicyError(ValueError):
    """A policy document that must not be applied; the previous one (or the strictest) stays."""


def _base(segment: str, usb_mode: str, mfa_required: bool) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "segment": segment,
        "usb": {"mode": usb_mode, "allow": []},
        "media_write_log": True,
        "checks": {"mfa_required": mfa_required},
    }


# Segment defaults from rules.md: mynumber blocks removable storage and requires MFA;
# LGWAN and internet terminals may use registered devices only.
DEFAULTS: dict[str, dict[str, Any]] = {
    "mynumber": _base("mynumber", "block", True),
    "lgwan": _base("lgwan", "allowlist", False),
    "internet": _base("internet", "allowlist", False),
}


def strictest(segment: str = "") -> dict[str, Any]:
    """What a terminal enforces with no valid policy: block all removable storage, require MFA."""
    doc = _base(segment if segment in SEGMENTS else "mynumber", "block", True)
    doc["usb"]["allow"] = []
    return doc


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def version_of(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(document)).hexdigest()[:16]


def _expect(cond: bool, where: str, reason: str) -> None:
    if not cond:
        raise PolicyError(f"{where}: {reason}")


def _only_keys(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(obj) - allowed)
    _expect(not extra, where, f"unknown key(s): {', '.join(extra)}")


def validate(document: Any) -> dict[str, Any]:
    """Check a policy document; return a deep copy or raise PolicyError naming the bad field."""
    _expect(isinstance(document, dict), "policy", "must be a JSON object")
    doc = copy.deepcopy(document)
    _only_keys(doc, {"schema", "segment", "usb", "media_write_log", "checks", "rules"}, "policy")
    _expect(doc.get("schema") == SCHEMA_VERSION, "schema", f"must be {SCHEMA_VERSION}")
    _expect(doc.get("segment") in SEGMENTS, "segment", f"must be one of {', '.join(SEGMENTS)}")
    usb = doc.get("usb")
    _expect(isinstance(usb, dict), "usb", "must be an object")
    _only_keys(usb, {"mode", "allow"}, "usb")
    _expect(usb.get("mode") in USB_MODES, "usb.mode", f"must be one of {', '.join(USB_MODES)}")
    allow = usb.get("allow", [])
    _expect(isinstance(allow, list) and all(isinstance(r, str) for r in allow), "usb.allow",
            "must be a list of rule strings")
    _expect(isinstance(doc.get("media_write_log", True), bool), "media_write_log", "must be true or false")
    checks = doc.get("checks", {})
    _expect(isinstance(checks, dict), "checks", "must be an object")
    _only_keys(doc, {"schema", "segment", "usb", "media_write_log", "checks", "rules"}, "policy")
    return doc


def parse(data: bytes) -> dict[str, Any]:
    """Decode and validate a policy document received as bytes."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"policy is not valid JSON: {exc}") from None
    return validate(document)
