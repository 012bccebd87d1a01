"""A check as a spec: what it is, where it runs, what it reads and the thresholds and evidence it works with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mamori import thresholds
from mamori.evidence import EVIDENCE, Evidence
from mamori.i18n import Message


@dataclass(frozen=True)
class Threshold:
    """A threshold the check applies: one rule parameter of the policy (mamori/thresholds.py), read from the
    check's settings under `setting`. Type, range and default are the rule parameter's, so the check on the
    terminal and the rule on the collector judge with the same number."""

    setting: str
    rule: str
    name: str
    kind: str  # "int", "float", "bool", "list"
    default: Any
    minimum: float | None
    maximum: float | None
    doc: str

    @classmethod
    def of(cls, setting: str) -> Threshold:
        rule, name = thresholds.CHECK_SETTINGS[setting]
        param = thresholds.PARAMS[rule][name]
        return cls(
            setting, rule, name, type(param.default).__name__, param.default, param.minimum, param.maximum, param.doc
        )


@dataclass(frozen=True)
class CheckSpec:
    """Everything about a check but its verdict: the registry, the README table and the scheduler read this."""

    id: str
    title: Message  # English msgid (N_), shown in the staff's language
    platforms: tuple[str, ...]
    interval_seconds: int
    severity: str
    rules: tuple[str, ...]
    remediation: Message
    reads: dict[str, str]  # platform -> what its reader consults (documentation, English)
    thresholds: tuple[Threshold, ...] = ()
    settings: tuple[str, ...] = ()  # agent-only settings from the policy's `checks` section
    timeout_seconds: float = 120.0

    @property
    def evidence(self) -> type[Evidence]:
        """The typed evidence schema of the verdict (mamori/evidence/)."""
        return EVIDENCE[self.id]

    def metadata(self) -> tuple[str, Message, tuple[str, ...], int, str, tuple[str, ...], Message]:
        """The module constants callers read (check.ID, check.TITLE, ...), in base.METADATA's order."""
        return (self.id, self.title, self.platforms, self.interval_seconds, self.severity, self.rules, self.remediation)
