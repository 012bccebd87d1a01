"""USBGuard rule conditions (`if ...`): parsed with USBGuard's checks, evaluated three-valued so unknown fails closed.

A condition evaluates to True, False or None ("cannot be evaluated here"). None never lets an allow rule
allow (see usbrules.Rule.evaluate): the terminal decides without the collector, so a condition whose
answer it does not know must not open a port.

- true / false: fixed.
- localtime(HH:MM[:SS][-HH:MM[:SS]]): the time of day in Japan time (mamori.clock.JST), from the
  terminal's own clock, so it works offline. usbguard-rules.conf(5) says "local time"; USBGuard's code
  actually compares UTC seconds of the day. We follow the documented meaning.
- rule-applied[(T)] / rule-evaluated[(T)]: from the evaluating process's RuleHistory (the agent keeps one
  per policy); without a history (the collector, a dry run) they are None.
- allowed-matches(SPEC): whether an attached, allowed device matches `allow SPEC`; None unless the caller
  passes the attached devices.
- random[(P)]: never evaluated (None). A verdict that changes by chance cannot be proven or audited on a
  マイナンバー系 terminal; an allow rule with `random` never allows, a block/reject rule with it always applies.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from mamori import clock

if TYPE_CHECKING:
    from mamori.usbrules import Device, Rule

IDENTIFIERS = ("allowed-matches", "localtime", "true", "false", "random", "rule-applied", "rule-evaluated")
_DAYTIME = re.compile(r"^([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2}))?$")
_SECONDS = re.compile(r"^[0-9]{1,9}$")


class ConditionError(ValueError):
    """A condition USBGuard would refuse; the message is the reason."""


def _daytime(text: str) -> int:
    m = _DAYTIME.match(text)
    if not m:
        raise ConditionError(f"time {text!r} is not HH:MM or HH:MM:SS")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or s > 60:
        raise ConditionError(f"time {text!r} is out of range")
    return h * 3600 + mi * 60 + s


def _elapsed(text: str) -> int:
    if not text:
        return 0
    if _SECONDS.match(text):
        return int(text)
    return _daytime(text)


@dataclass(frozen=True)
class RuleCondition:
    """One condition of an `if`: [!]identifier[(parameter)], the parameter checked as USBGuard checks it."""

    identifier: str
    parameter: str = ""
    negated: bool = False
    begin: int = 0  # localtime: seconds of the day; rule-applied/-evaluated: the window in seconds
    end: int = 0
    query: Rule | None = None  # allowed-matches: the parsed `allow SPEC`

    @staticmethod
    def parse(text: str) -> RuleCondition:
        negated = text.startswith("!")
        body = text[1:] if negated else text
        ident, paren, rest = body.partition("(")
        parameter = ""
        if paren:
            if len(rest) < 2 or not rest.endswith(")"):  # USBGuard: "(" + at least one character + ")"
                raise ConditionError(f"condition {text!r}: empty or malformed parameter")
            parameter = rest[:-1]
        if ident not in IDENTIFIERS:
            raise ConditionError(f"unknown condition {ident!r} (use {', '.join(IDENTIFIERS)})")
        begin = end = 0
        query = None
        if ident == "localtime":
            if not parameter:
                raise ConditionError("localtime needs a time or a range, e.g. localtime(08:30-17:15)")
            first, dash, second = parameter.partition("-")
            begin = _daytime(first)
            end = _daytime(second) if dash else begin
            if begin > end:
                raise ConditionError(f"localtime({parameter}): the range begins after it ends")
        elif ident in ("rule-applied", "rule-evaluated"):
            begin = _elapsed(parameter)
        elif ident == "random" and parameter:
            try:
                p = float(parameter)
            except ValueError:
                raise ConditionError(f"random({parameter}): not a probability") from None
            if not 0.0 <= p <= 1.0:
                raise ConditionError(f"random({parameter}): a probability is between 0 and 1")
        elif ident == "allowed-matches":
            from mamori.usbrules import RuleError, parse_rule

            if not parameter:  # USBGuard: "allow " alone is no rule
                raise ConditionError("allowed-matches needs a device, e.g. allowed-matches(id 1234:5678)")
            try:
                query = parse_rule("allow " + parameter)
            except RuleError as exc:
                raise ConditionError(f"allowed-matches({parameter}): {exc.reason}") from None
        return RuleCondition(ident, parameter, negated, begin, end, query)

    def text(self) -> str:
        arg = f"({self.parameter})" if self.parameter else ""
        return f"{'!' if self.negated else ''}{self.identifier}{arg}"

    def evaluate(self, rule: Rule, ctx: Context) -> bool | None:
        value = self._value(rule, ctx)
        return None if value is None else value != self.negated

    def _value(self, rule: Rule, ctx: Context) -> bool | None:
        ident = self.identifier
        if ident in ("true", "false"):
            return ident == "true"
        if ident == "localtime":
            local = ctx.when().astimezone(clock.JST)
            daytime = local.hour * 3600 + local.minute * 60 + local.second
            return self.begin <= daytime <= self.end
        if ident in ("rule-applied", "rule-evaluated"):
            if ctx.history is None:
                return None
            last = ctx.history.last(rule, applied=ident == "rule-applied")
            if last is None:
                return False
            return self.begin == 0 or ctx.history.monotonic() - last <= self.begin
        if ident == "allowed-matches" and ctx.present is not None and self.query is not None:
            query = self.query
            return any(query.evaluate(d) is True for d in ctx.present())
        return None  # random, or allowed-matches without the attached devices


@dataclass
class RuleHistory:
    """When each rule was last evaluated / applied in this process (steady clock), for rule-applied/-evaluated."""

    monotonic: Callable[[], float] = time.monotonic
    evaluated: dict[tuple[int, str], float] = field(default_factory=dict)
    applied: dict[tuple[int, str], float] = field(default_factory=dict)

    def last(self, rule: Rule, *, applied: bool) -> float | None:
        return (self.applied if applied else self.evaluated).get((rule.line, rule.text))

    def record(self, rule: Rule, *, applied: bool) -> None:
        now = self.monotonic()
        self.evaluated[(rule.line, rule.text)] = now
        if applied:
            self.applied[(rule.line, rule.text)] = now


@dataclass(frozen=True)
class Context:
    """What conditions may look at; each part left out makes the conditions that need it unknown (None)."""

    now: datetime | None = None  # aware; None = mamori.clock.now()
    history: RuleHistory | None = None
    present: Callable[[], Sequence[Device]] | None = None  # attached devices that are allowed

    def when(self) -> datetime:
        return self.now or clock.now()


def combine(operator: str, values: Sequence[bool | None]) -> bool | None:
    """USBGuard's set operators over condition results (one-of: any, none-of: none, the rest: all), three-valued."""
    if operator == "one-of":
        return True if any(v is True for v in values) else (False if all(v is False for v in values) else None)
    if operator == "none-of":
        some = combine("one-of", values)
        return None if some is None else not some
    return False if any(v is False for v in values) else (True if all(v is True for v in values) else None)
