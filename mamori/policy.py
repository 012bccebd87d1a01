"""The per-segment policy document: its schema, validation, version, segment defaults and the strictest mode."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from typing import Any

from mamori import thresholds
from mamori.labels import SEGMENTS
from mamori.usbrules import RuleError, parse_rule

USB_MODES = ("block", "allowlist", "read_only", "audit")
# USB network adapters (Ethernet, RNDIS/CDC, a tethering phone) are a second network path: refused or reported.
USB_NETWORK = ("block", "audit")


def usb_network(document: dict[str, Any]) -> str:
    """usb.network in force: the document's, else the segment's default (block on mynumber, audit elsewhere)."""
    value = document.get("usb", {}).get("network")
    if value in USB_NETWORK:
        return str(value)
    return "block" if document.get("segment") == "mynumber" else "audit"


SCHEMA_VERSION = 1


class PolicyError(ValueError):
    """A policy document that must not be applied; the previous one (or the strictest) stays."""


# Software usually forbidden on any government terminal (P2P file sharing, unmanaged remote control);
# administrators extend or replace this list per segment. Patterns are fnmatch-style package names.
FORBIDDEN_SOFTWARE = [
    "winny*",
    "share",
    "share ex*",
    "perfect dark*",
    "qbittorrent*",
    "transmission-*",
    "deluge*",
    "amule*",
    "ktorrent*",
    "teamviewer*",
    "anydesk*",
]

# Settings only the agent's checks use: (type, minimum, maximum). A threshold a rule judges too is never here:
# it is that rule's parameter (mamori/thresholds.py), so the terminal and the collector apply the same value.
CHECK_NUMBERS: dict[str, tuple[type, float, float]] = {
    "probe_timeout_seconds": (float, 0.05, 10),
}
CHECK_LISTS = ("software_forbidden", "networks", "probe_targets", "admin_accounts", "disabled")


def _checks(segment: str, mfa_required: bool) -> dict[str, Any]:
    return {
        "mfa_required": mfa_required,
        "probe_timeout_seconds": 2.0,
        # The permitted list is SW-001's `permitted` parameter; the forbidden list applies in any case.
        "software_forbidden": list(FORBIDDEN_SOFTWARE),
        # Registered networks (CIDR) of the segment and other-segment probe targets ("IP:port");
        # both are site data the administrator fills in.
        "networks": [],
        "probe_targets": [],
        # Accounts allowed in sudo/wheel/Administrators besides root and the built-in Administrator.
        "admin_accounts": [],
        "disabled": [],
    }


def check_settings(document: dict[str, Any]) -> dict[str, Any]:
    """What the checks read: the checks section over its segment defaults, and the thresholds from the rules
    section (the parameters the collector judges with)."""
    declared = document.get("segment")
    segment = declared if isinstance(declared, str) and declared in SEGMENTS else "mynumber"
    merged = copy.deepcopy(DEFAULTS[segment]["checks"])
    merged.update(copy.deepcopy(document.get("checks", {})))
    merged.update(thresholds.check_settings(document))
    return merged


def upgrade(document: Any) -> Any:
    """A document stored or cached before thresholds moved to the rules section, with each one moved there (a
    value the rules section already sets wins). Files staff edit are never upgraded: validate() names the key."""
    if not isinstance(document, dict) or not isinstance(document.get("checks"), dict):
        return document
    legacy = [k for k in document["checks"] if k in thresholds.CHECK_SETTINGS]
    if not legacy:
        return document
    doc = copy.deepcopy(document)
    rules = doc.setdefault("rules", {})
    if not isinstance(rules, dict):
        return document  # validate() refuses it as it is
    for key in legacy:
        rule_id, name = thresholds.CHECK_SETTINGS[key]
        given = rules.setdefault(rule_id, {})
        value = doc["checks"].pop(key)
        if isinstance(given, dict):
            given.setdefault(name, value)
    return doc


def _valid_cidr(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _valid_target(text: str) -> bool:
    """An IP literal and port ("10.1.2.3:443", "[fd00::1]:22"): probes never resolve names."""
    import ipaddress

    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        return False
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _validate_checks(checks: dict[str, Any]) -> None:
    for key in checks:
        if key in thresholds.CHECK_SETTINGS:
            rule_id, name = thresholds.CHECK_SETTINGS[key]
            _expect(False, f"checks.{key}", f"set it as rules.{rule_id}.{name} (one setting per threshold)")
    _only_keys(checks, {"mfa_required", *CHECK_NUMBERS, *CHECK_LISTS}, "checks")
    _expect(isinstance(checks.get("mfa_required", True), bool), "checks.mfa_required", "must be true or false")
    for key, (kind, low, high) in CHECK_NUMBERS.items():
        if key not in checks:
            continue
        value = checks[key]
        ok = (
            isinstance(value, int | float) and not isinstance(value, bool) and (kind is float or isinstance(value, int))
        )
        _expect(
            ok and low <= value <= high,
            f"checks.{key}",
            f"must be {'an integer' if kind is int else 'a number'} from {low:g} to {high:g}",
        )
    for key in CHECK_LISTS:
        items = checks.get(key, [])
        _expect(
            isinstance(items, list)
            and all(isinstance(x, str) and 0 < len(x) <= 200 for x in items)
            and len(items) <= 10000,
            f"checks.{key}",
            "must be a list of non-empty strings",
        )
    for net in checks.get("networks", []):
        _expect(_valid_cidr(net), "checks.networks", f"{net!r} is not a network like 10.20.0.0/16")
    for target in checks.get("probe_targets", []):
        _expect(
            _valid_target(target),
            "checks.probe_targets",
            f"{target!r} is not an IP address and port like 10.30.0.1:443 (names are not resolved)",
        )


def _base(segment: str, usb_mode: str, mfa_required: bool) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "segment": segment,
        "usb": {
            "mode": usb_mode,
            "allow": [],
            "temporary": [],
            "restore_on_exit": False,
            "network": "block" if segment == "mynumber" else "audit",
        },
        "media_write_log": True,
        "checks": _checks(segment, mfa_required),
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
    # Registered networks and probe targets are site data: without a policy there are none to check.
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
    _only_keys(usb, {"mode", "allow", "temporary", "restore_on_exit", "network"}, "usb")
    _expect(usb.get("network", "audit") in USB_NETWORK, "usb.network", f"must be one of {', '.join(USB_NETWORK)}")
    _expect(usb.get("mode") in USB_MODES, "usb.mode", f"must be one of {', '.join(USB_MODES)}")
    allow = usb.get("allow", [])
    _expect(
        isinstance(allow, list) and all(isinstance(r, str) for r in allow),
        "usb.allow",
        "must be a list of rule strings",
    )
    for n, text in enumerate(allow):
        # The agents' own parser: a rule every terminal would refuse must not be stored as the segment's policy.
        try:
            parse_rule(text)
        except RuleError as exc:
            _expect(False, "usb.allow", f"rule {n + 1} ({text[:80]!r}): {exc}")
    _expect(isinstance(usb.get("restore_on_exit", False), bool), "usb.restore_on_exit", "must be true or false")
    temporary = usb.get("temporary", [])
    _expect(isinstance(temporary, list), "usb.temporary", "must be a list")
    for n, item in enumerate(temporary):
        _validate_temporary(item, f"usb.temporary[{n}]")
    _expect(isinstance(doc.get("media_write_log", True), bool), "media_write_log", "must be true or false")
    checks = doc.get("checks", {})
    _expect(isinstance(checks, dict), "checks", "must be an object")
    _validate_checks(checks)
    # The agent reads its thresholds from here: a bad value is refused on the terminal too, not only by the
    # collector's full check of the section.
    for where, reason in thresholds.problems(doc.get("rules", {}))[:1]:
        _expect(False, where, reason)
    return doc


def _validate_temporary(item: Any, where: str) -> None:
    """A 一時許可: {"id", "serial", "until" (ISO 8601 with time zone), "reason"[, "vendor_id", "product_id"]}."""
    _expect(isinstance(item, dict), where, "must be an object")
    _only_keys(item, {"id", "serial", "until", "reason", "vendor_id", "product_id"}, where)
    for key in ("id", "serial", "until"):
        _expect(isinstance(item.get(key), str) and item[key] != "", f"{where}.{key}", "must be a non-empty string")
    for key in ("reason", "vendor_id", "product_id"):
        _expect(isinstance(item.get(key, ""), str), f"{where}.{key}", "must be a string")
    try:
        until = datetime.fromisoformat(item["until"])
    except ValueError:
        until = None
    _expect(
        until is not None and until.tzinfo is not None,
        f"{where}.until",
        "must be an ISO 8601 date-time with a time zone",
    )


def parse(data: bytes) -> dict[str, Any]:
    """Decode and validate a policy document received as bytes."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"policy is not valid JSON: {exc}") from None
    return validate(upgrade(document))  # a collector of an earlier release may still send the old layout
