"""Evidence schemas' shared behaviour: strict building on the agent, tolerant parsing on the collector."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class Evidence:
    """A check's evidence. Every field has a default: an old agent's (or a failed run's) evidence still parses,
    and None means "not reported" — never a verdict."""

    CHECK: ClassVar[str] = ""

    def as_dict(self) -> dict[str, Any]:
        """The wire form (evidence_json): the fields that were reported."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    @classmethod
    def build(cls, data: Mapping[str, Any]) -> Self:
        """From a check's own dict: a key the schema does not declare is a programming error (TypeError)."""
        return cls(**data)

    @classmethod
    def parse(cls, data: Any) -> Self:
        """From received evidence: undeclared keys are ignored, a value of the wrong type counts as not reported
        (a rule never judges a string "false" as a bool)."""
        if not isinstance(data, Mapping):
            return cls()
        hints = _hints(typing.cast(type, cls))  # typeshed's Hashable check rejects type[Self]
        return cls(**{k: v for k, v in data.items() if k in hints and v is not None and _fits(v, hints[k])})

    @classmethod
    def declared(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return {k: v for k, v in typing.get_type_hints(cls).items() if k in {f.name for f in fields(cls)}}


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the declared type (shallow for containers: their items stay as sent)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is list or hint is list:
        return isinstance(value, list)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return isinstance(value, hint) if isinstance(hint, type) else False
