"""Thresholds the agent's checks and the collector's rules share: each is one rule parameter of the policy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    """A rule parameter set per segment in the policy's `rules` section (defaults from rules.md)."""

    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    extra: Callable[[Any], str | None] | None = None  # further check on a value of the right type

    def check(self, value: Any) -> str | None:
        """An error text for a value of the wrong type or range, else None."""
        kind = type(self.default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            return f"expected {kind.__name__}, got {type(value).__name__} {value!r}"
        if kind is list:
            item = type(self.default[0]) if self.default else str
            if not all(isinstance(v, item) and not isinstance(v, bool) for v in value):
                return f"expected a list of {item.__name__} values"
        if self.minimum is not None and value < self.minimum:
            return f"must be at least {self.minimum:g}"
        if self.maximum is not None and value > self.maximum:
            return f"must be at most {self.maximum:g}"
        return self.extra(value) if self.extra else None


def _patterns(value: list[str]) -> str | None:
    return "must be non-empty patterns of at most 200 characters" if any(not 0 < len(v) <= 200 for v in value) else None


# The home of every threshold a check applies on the terminal and a rule applies on the collector. The
# collector pushes the segment's policy, rules section included, so both read the same value.
PARAMS: dict[str, dict[str, Param]] = {
    "AUT-003": {"max_minutes": Param(10, "longest allowed idle time before the screen locks, minutes", 1, 240)},
    "PAT-001": {
        "days": Param(30, "days a security update may stay pending", 1, 365),
        "critical_days": Param(14, "days a critical update may stay pending", 1, 365),
    },
    "PAT-002": {"days": Param(7, "days since the last refresh of the update source", 1, 90)},
    "PAT-003": {"days": Param(7, "days a reboot may stay pending", 1, 90)},
    "MAL-002": {"days": Param(3, "oldest allowed signature age, days", 1, 60)},
    "NET-003": {"max_active_interfaces": Param(1, "active network interfaces allowed at once", 1, 8)},
    "SW-001": {
        "permitted": Param(
            [],
            "permitted software name patterns (glob); empty: only the forbidden list "
            "(checks.software_forbidden) applies",
            extra=_patterns,
        )
    },
    "OPS-001": {"max_offset_seconds": Param(60.0, "largest allowed clock offset, seconds", 0.1, 3600)},
}
# The name a check reads from its settings -> the rule parameter it is (the settings are derived, never set).
CHECK_SETTINGS: dict[str, tuple[str, str]] = {
    "screen_lock_max_minutes": ("AUT-003", "max_minutes"),
    "patch_max_age_days": ("PAT-001", "days"),
    "patch_critical_max_age_days": ("PAT-001", "critical_days"),
    "package_lists_max_age_days": ("PAT-002", "days"),
    "reboot_max_days": ("PAT-003", "days"),
    "signature_max_age_days": ("MAL-002", "days"),
    "max_active_interfaces": ("NET-003", "max_active_interfaces"),
    "software_permitted": ("SW-001", "permitted"),
    "clock_max_offset_seconds": ("OPS-001", "max_offset_seconds"),
}


def value(document: dict[str, Any], rule_id: str, name: str) -> Any:
    """The parameter's value in a policy document, else its default (a value that does not validate never
    reaches here: the document was refused)."""
    given = (document.get("rules") or {}).get(rule_id) or {}
    return copy.deepcopy(given[name] if name in given else PARAMS[rule_id][name].default)


def check_settings(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value(document, rule_id, name) for key, (rule_id, name) in CHECK_SETTINGS.items()}


def problems(section: Any) -> list[tuple[str, str]]:
    """Problems of the shared thresholds in a `rules` section as (dotted key, reason); the collector checks the
    rest of the section (unknown rules and parameters) against its rule catalogue."""
    if not isinstance(section, dict):
        return [("rules", "must be a table of rule ids")]
    found = []
    for rule_id, values in section.items():
        if not isinstance(values, dict):
            found.append((f"rules.{rule_id}", "must be a table of parameters"))
            continue
        for name, param in PARAMS.get(rule_id, {}).items():
            reason = param.check(values[name]) if name in values else None
            if reason:
                found.append((f"rules.{rule_id}.{name}", reason))
    return found
