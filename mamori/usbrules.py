"""A parser and matcher for the subset of USBGuard's rule language used for approved devices (agent and collector).

Supported: targets allow/block/reject; attributes id, serial, name, hash, via-port, with-interface;
single values or `[operator] { v1 v2 ... }` sets with the operators all-of, one-of, none-of, equals
(the default, as in USBGuard) and equals-ordered; `*` wildcards in `id` (VID:PID halves) and in
`with-interface` (CC:SS:PP fields). Anything else is rejected with the line and a reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

TARGETS = ("allow", "block", "reject")
ATTRIBUTES = ("id", "serial", "name", "hash", "via-port", "with-interface")
OPERATORS = ("all-of", "one-of", "none-of", "equals", "equals-ordered")
MAX_RULE_LENGTH = 4096

_HEX4 = re.compile(r"^(?:[0-9a-fA-F]{4}|\*)$")
_HEX2 = re.compile(r"^(?:[0-9a-fA-F]{2}|\*)$")


class RuleError(ValueError):
    """A rule that cannot be used; `line` is 1-based within its file (0 when parsed alone)."""

    def __init__(self, line: int, reason: str, text: str = ""):
        self.line = line
        self.reason = reason
        self.text = text
        super().__init__(f"line {line}: {reason}" if line else reason)


@dataclass(frozen=True)
class Device:
    """What a rule is matched against: the device's identity as the kernel reports it."""

    vendor_id: str = ""  # 4 lowercase hex digits
    product_id: str = ""
    name: str = ""  # the product string
    serial: str = ""
    port: str = ""  # "1-2.3"
    interfaces: tuple[str, ...] = ()  # "08:06:50"
    hash: str = ""

    @property
    def id(self) -> str:
        return f"{self.vendor_id}:{self.product_id}"


@dataclass(frozen=True)
class Condition:
    """One attribute with its operator and values, e.g. with-interface one-of { 08:*:* 03:00:01 }."""

    attribute: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    target: str
    conditions: tuple[Condition, ...] = field(default_factory=tuple)
    text: str = ""
    line: int = 0

    def matches(self, device: Device) -> bool:
        return all(_condition_matches(c, device) for c in self.conditions)

    def label(self) -> str:
        """How events name this rule: its source line number and text."""
        where = f"rule {self.line}" if self.line else "rule"
        return f"{where}: {self.text}"[:512]


# --- tokenizer -------------------------------------------------------------------------------------------------

def _tokens(text: str, line: int) -> list[tuple[str, bool]]:
    """Split a rule into (token, was_quoted) pairs; quoted strings understand \\" \\\\ and \\xHH escapes."""
    out: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "{}":
            out.append((ch, False))
            i += 1
        elif ch == '"':
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise RuleError(line, "unterminated quoted string", text)
                ch = text[i]
                if ch == '"':
                    i += 1
                    break
                if ch == "\\":
                    if i + 1 >= n:
                        raise RuleError(line, "unterminated escape in quoted string", text)
                    nxt = text[i + 1]
                    if nxt in '"\\':
                        buf.append(nxt)
                        i += 2
                    elif nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[i + 2:i + 4]):
                        buf.append(chr(int(text[i + 2:i + 4], 16)))
                        i += 4
                    else:
                        raise RuleError(line, f"unknown escape \\{nxt} in quoted string", text)
                else:
                    buf.append(ch)
                    i += 1
            out.append(("".join(buf), True))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '{}"':
                i += 1
            out.append((text[start:i], False))
    return out


# --- parser ----------------------------------------------------------------------------------------------------

def _check_value(attribute: str, value: str, quoted: bool, line: int, text: str) -> str:
    if attribute == "id":
        vid, sep, pid = value.partition(":")
        if not sep or not _HEX4.match(vid) or not _HEX4.match(pid):
            raise RuleError(line, f"id {value!r} is not VID:PID (4 hex digits or * each)", text)
        if vid == "*" and pid != "*":
            raise RuleError(line, f"id {value!r}: a product id needs a vendor id (use *:* or VID:*)", text)
        return value.lower()
    if attribute == "with-interface":
        parts = value.split(":")
        if len(parts) != 3 or not all(_HEX2.match(p) for p in parts):
            raise RuleError(line, f"with-interface {value!r} is not CC:SS:PP (2 hex digits or * each)", text)
        if "*" in parts and parts.index("*") < 2 and any(p != "*" for p in parts[parts.index("*"):]):
            raise RuleError(line, f"with-interface {value!r}: after a * every later field must be *", text)
        return value.lower()
    if not quoted:
        raise RuleError(line, f"{attribute} value {value!r} must be a quoted string", text)
    if attribute == "hash" and not value:
        raise RuleError(line, "hash must not be empty", text)
    return value


def parse_rule(text: str, line: int = 0) -> Rule:
    """Parse one rule; raise RuleError with the line and reason."""
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(line, f"rule longer than {MAX_RULE_LENGTH} characters", text[:80])
    stripped = text.strip()
    toks = _tokens(stripped, line)
    if not toks:
        raise RuleError(line, "empty rule", text)
    target, quoted = toks[0]
    if quoted or target not in TARGETS:
        raise RuleError(line, f"unknown target {target!r} (use {', '.join(TARGETS)})", text)
    conditions: list[Condition] = []
    seen: set[str] = set()
    i = 1
    while i < len(toks):
        attribute, quoted = toks[i]
        if quoted or attribute not in ATTRIBUTES:
            raise RuleError(line, f"unknown or unsupported attribute {attribute!r} "
                            f"(supported: {', '.join(ATTRIBUTES)})", text)
        if attribute in seen:
            raise RuleError(line, f"attribute {attribute} given twice", text)
        seen.add(attribute)
        i += 1
        if i >= len(toks):
            raise RuleError(line, f"{attribute} has no value", text)
        operator = "equals"
        tok, quoted = toks[i]
        if not quoted and tok in OPERATORS:
            operator = tok
            i += 1
            if i >= len(toks) or toks[i] != ("{", False):
                raise RuleError(line, f"operator {operator} must be followed by {{ ... }}", text)
            tok, quoted = toks[i]
        if tok == "{" and not quoted:
            values: list[str] = []
            i += 1
            while True:
                if i >= len(toks):
                    raise RuleError(line, f"{attribute}: missing closing }}", text)
                tok, quoted = toks[i]
                i += 1
                if tok == "}" and not quoted:
                    break
                if tok == "{" and not quoted:
                    raise RuleError(line, f"{attribute}: nested {{ is not allowed", text)
                values.append(_check_value(attribute, tok, quoted, line, text))
            if not values:
                raise RuleError(line, f"{attribute}: empty set {{ }}", text)
        else:
            if tok in "{}" and not quoted:
                raise RuleError(line, f"{attribute}: unexpected {tok}", text)
            values = [_check_value(attribute, tok, quoted, line, text)]
            i += 1
        conditions.append(Condition(attribute, operator, tuple(values)))
    return Rule(target, tuple(conditions), stripped, line)


def parse_rules(text: str) -> list[Rule]:
    """Parse a USBGuard rules file: one rule a line, `#` comments and blank lines ignored.

    Every bad line is reported (all of them, in one RuleErrors) so staff can fix a file in one go.
    """
    rules: list[Rule] = []
    errors: list[RuleError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            rules.append(parse_rule(line, number))
        except RuleError as exc:
            errors.append(exc)
    if errors:
        raise RuleErrors(errors)
    return rules


class RuleErrors(ValueError):
    """All the bad lines of a rules file."""

    def __init__(self, errors: Sequence[RuleError]):
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


# --- matching --------------------------------------------------------------------------------------------------

def _value_matches(attribute: str, pattern: str, actual: str) -> bool:
    if attribute == "id":
        pv, pp = pattern.split(":")
        av, _, ap = actual.partition(":")
        return (pv == "*" or pv == av.lower()) and (pp == "*" or pp == ap.lower())
    if attribute == "with-interface":
        fields = actual.lower().split(":")
        return len(fields) == 3 and all(p == "*" or p == a for p, a in zip(pattern.split(":"), fields, strict=True))
    return pattern == actual


def _device_values(attribute: str, device: Device) -> tuple[str, ...]:
    if attribute == "with-interface":
        return device.interfaces
    value = {"id": device.id, "serial": device.serial, "name": device.name, "hash": device.hash,
             "via-port": device.port}[attribute]
    return (value,)


def _condition_matches(cond: Condition, device: Device) -> bool:
    actual = _device_values(cond.attribute, device)

    def some(pattern: str, values: Iterable[str]) -> bool:
        return any(_value_matches(cond.attribute, pattern, v) for v in values)

    op = cond.operator
    if op == "all-of":
        return all(some(p, actual) for p in cond.values)
    if op == "one-of":
        return any(some(p, actual) for p in cond.values)
    if op == "none-of":
        return not any(some(p, actual) for p in cond.values)
    if op == "equals-ordered":
        return len(actual) == len(cond.values) and all(
            _value_matches(cond.attribute, p, a) for p, a in zip(cond.values, actual, strict=True))
    # equals: every rule value matches some device value and every device value matches some rule value.
    return bool(actual) and all(some(p, actual) for p in cond.values) and all(
        any(_value_matches(cond.attribute, p, a) for p in cond.values) for a in actual)


def first_match(rules: Iterable[Rule], device: Device) -> Rule | None:
    """USBGuard semantics: the first rule that matches decides."""
    for rule in rules:
        if rule.matches(device):
            return rule
    return None


# --- decided_by: how usb.* events name what decided ------------------------------------------------------------
# The agent writes it (agent/usb/policy.py); the collector's rules and reports read it. One format, one parser:
#   "rule N: <target> <rule text>"   an entry of the approved-device register (Rule.label())
#   "temporary <id> until <time>"    a 一時許可
#   "mode:<mode>[ (...)]"            no approval: the mode alone decided


@dataclass(frozen=True)
class Basis:
    kind: str  # "rule" | "temporary" | "mode" | "other"
    ref: str = ""  # the rule label, the permission id, or the mode
    target: str = ""  # for rules: allow / block / reject
    until: datetime | None = None  # for temporary permissions


def temporary_basis(perm_id: str, until: datetime) -> str:
    return f"temporary {perm_id} until {until.isoformat()}"


def parse_basis(text: str) -> Basis:
    text = str(text or "")
    if text.startswith("temporary "):
        perm_id, _sep, when = text[len("temporary "):].partition(" until ")
        try:
            until = datetime.fromisoformat(when) if when else None
        except ValueError:
            until = None
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        return Basis("temporary", perm_id, until=until)
    if text.startswith("rule"):
        _where, _sep, rest = text.partition(": ")
        return Basis("rule", text, target=rest.split(" ", 1)[0])
    if text.startswith("mode:"):
        return Basis("mode", text[len("mode:"):].split(" ", 1)[0])
    return Basis("other", text)
