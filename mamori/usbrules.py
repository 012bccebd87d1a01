"""USBGuard's rule language (usbguard-rules.conf(5)): parsed as USBGuard's own parser does, matched with its meaning.

Targets allow/block/reject; an optional bare VID:PID after the target; the attributes id, name, hash,
parent-hash, serial, via-port, with-interface, with-connect-type, label and `if` (mamori/usbconditions.py),
each once, as a single value or `[operator] { v1 v2 ... }` with the operators all-of, one-of, none-of,
equals (the default), equals-ordered and match-all; `#` comments, also after a rule; strings in double
quotes with the escapes \\" \\\\ and \\xHH (the only ones USBGuard's parser accepts). The grammar follows
USBGuard's PEG (src/Library/RuleParser/Grammar.hpp): blanks separate everything, `{` `}` need none.

Matching is three-valued: an attribute the terminal cannot know (a hash it could not compute, the Windows
agent's connect type) or a condition it cannot evaluate is None, and None never lets an allow rule allow
while a block/reject rule with it applies (fail closed). Deviations from USBGuard, all stricter: `match`
and `device` targets (query-only in USBGuard) are refused in a policy; `label` may not repeat; ids and
interface classes compare case-insensitively (sysfs reports lowercase); match-all on a string attribute,
which USBGuard leaves unimplemented (always true), is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mamori.usbconditions import ConditionError, Context, RuleCondition, combine

TARGETS = ("allow", "block", "reject")
ATTRIBUTES = ("id", "name", "hash", "parent-hash", "serial", "via-port", "with-interface", "with-connect-type", "label")
STRING_ATTRIBUTES = frozenset(ATTRIBUTES) - {"id", "with-interface"}
OPERATORS = ("all-of", "one-of", "none-of", "equals", "equals-ordered", "match-all")
MAX_RULE_LENGTH = 4096

_ID = re.compile(r"([0-9a-fA-F]{4}|\*):([0-9a-fA-F]{4}|\*)")
_IFACE = re.compile(r"([0-9a-fA-F]{2}):([0-9a-fA-F]{2}|\*):([0-9a-fA-F]{2}|\*)")
_WORD = re.compile(r"[a-zA-Z-][a-zA-Z0-9-]*")
_HEX2 = re.compile(r"[0-9a-fA-F]{2}")
_BLANK = " \t"
# Escapes USBGuard's grammar knows but its unescapeString() then refuses: such a rule is refused.
_GRAMMAR_ONLY_ESCAPES = set("abfnrtv'0123456789\n")


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
    interfaces: tuple[str, ...] = ()  # "08:06:50", alternate setting 0, each once (what the guard authorizes)
    hash: str = ""  # USBGuard's device hash (mamori/usbhash.py); "" = not known here
    parent_hash: str = ""  # the parent's hash (a root hub's: of its controller's sysfs path); "" = not known
    connect_type: str | None = None  # sysfs port/connect_type ("hotplug", "hardwired", "" for root hubs)
    interface_types: tuple[str, ...] = ()  # every interface descriptor in order, as USBGuard lists them
    name_raw: str | None = None  # name and serial as USBGuard reads them (only trailing NUL/newline cut); None =
    serial_raw: str | None = None  # the same as name / serial, which are cleaned for display and events

    @property
    def id(self) -> str:
        return f"{self.vendor_id}:{self.product_id}"


@dataclass(frozen=True)
class Condition:
    """One attribute with its operator and values, e.g. with-interface one-of { 08:*:* 03:00:01 }."""

    attribute: str
    operator: str
    values: tuple[str, ...]

    def text(self) -> str:
        """The attribute as rule text again (strings quoted and escaped as USBGuard writes them)."""
        values = [quote(v) if self.attribute in STRING_ATTRIBUTES else v for v in self.values]
        if len(values) == 1 and self.operator == "equals":
            return f"{self.attribute} {values[0]}"
        operator = "" if self.operator == "equals" else self.operator + " "
        return f"{self.attribute} {operator}{{ {' '.join(values)} }}"

    def evaluate(self, device: Device) -> bool | None:
        if self.attribute == "label":
            return True  # a label names the rule; it matches nothing
        actual = _device_values(self.attribute, device)
        if actual is None:
            return None
        attr = self.attribute

        def some(pattern: str, values: Iterable[str]) -> bool:
            return any(_value_matches(attr, pattern, v) for v in values)

        op = self.operator
        if op == "all-of":
            return all(some(p, actual) for p in self.values)
        if op == "one-of":
            return any(some(p, actual) for p in self.values)
        if op == "none-of":
            return not any(some(p, actual) for p in self.values)
        if op == "equals-ordered":
            return len(actual) == len(self.values) and all(
                _value_matches(attr, p, a) for p, a in zip(self.values, actual, strict=True)
            )
        if op == "match-all":  # every device value covered by a rule value (USBGuard: isSupersetOf)
            if attr in STRING_ATTRIBUTES:
                return None
            if attr == "id":
                return all(any(_id_subset(a, p) for p in self.values) for a in actual)
            return all(any(_value_matches(attr, p, a) for p in self.values) for a in actual)
        # equals (the default): as many values, and every rule value matches one of the device's.
        return len(actual) == len(self.values) and all(some(p, actual) for p in self.values)


@dataclass(frozen=True)
class Rule:
    target: str
    conditions: tuple[Condition, ...] = field(default_factory=tuple)
    text: str = ""
    line: int = 0
    when: tuple[RuleCondition, ...] = ()  # the `if` conditions
    when_operator: str = "equals"

    def evaluate(self, device: Device, ctx: Context | None = None) -> bool | None:
        """True/False when the rule does/does not apply to the device, None when that cannot be known here."""
        result: bool | None = True
        for cond in self.conditions:
            value = cond.evaluate(device)
            if value is False:
                return False
            if value is None:
                result = None
        if self.when:
            ctx = ctx or Context()
            value = combine(self.when_operator, [c.evaluate(self, ctx) for c in self.when])
            if value is False:
                return False
            if value is None:
                result = None
        return result

    def matches(self, device: Device, ctx: Context | None = None) -> bool:
        """Whether the rule decides for the device; unknown counts for block/reject, never for allow."""
        value = self.evaluate(device, ctx)
        return value is True or (value is None and self.target != "allow")

    @property
    def labels(self) -> tuple[str, ...]:
        return next((c.values for c in self.conditions if c.attribute == "label"), ())

    def label(self) -> str:
        """How events name this rule: its source line number and text."""
        where = f"rule {self.line}" if self.line else "rule"
        return f"{where}: {self.text}"[:512]


# --- parser: a recursive descent over USBGuard's PEG -----------------------------------------------------------


class _Scan:
    def __init__(self, text: str, line: int):
        self.text, self.pos, self.line = text, 0, line

    def fail(self, reason: str) -> RuleError:
        return RuleError(self.line, reason, self.text)

    def blanks(self) -> int:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _BLANK:
            self.pos += 1
        return self.pos - start

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end_or_comment(self) -> bool:
        return self.peek() in ("", "#")

    def regex(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        m = pattern.match(self.text, self.pos)
        if m:
            self.pos = m.end()
        return m

    def upcoming(self) -> str:
        """The text up to the next blank or brace, to name what could not be read."""
        m = re.match(r"[^ \t{}]*", self.text[self.pos :])
        return m.group(0)[:40] if m else ""

    def word(self) -> str:
        m = _WORD.match(self.text, self.pos)
        if not m:
            return ""
        self.pos = m.end()
        return m.group(0)

    def string(self, attribute: str) -> str:
        if self.peek() != '"':
            raise self.fail(f"{attribute} value must be a quoted string")
        self.pos += 1
        out = bytearray()
        while True:
            ch = self.peek()
            if ch in ("", "\r", "\n"):
                raise self.fail("unterminated quoted string")
            self.pos += 1
            if ch == '"':
                return out.decode("utf-8", "surrogateescape")
            if ch != "\\":
                out += ch.encode("utf-8", "surrogateescape")
                continue
            nxt = self.peek()
            if nxt in ('"', "\\"):
                out += nxt.encode()
                self.pos += 1
            elif nxt == "x" and _HEX2.fullmatch(self.text, self.pos + 1, self.pos + 3):
                out.append(int(self.text[self.pos + 1 : self.pos + 3], 16))
                self.pos += 3
            elif nxt == "":
                raise self.fail("unterminated escape in quoted string")
            else:
                kind = "unsupported" if nxt in _GRAMMAR_ONLY_ESCAPES else "unknown"
                raise self.fail(f'{kind} escape \\{nxt} in quoted string (use \\", \\\\ or \\xHH)')

    def condition(self) -> RuleCondition:
        start = self.pos
        if self.peek() == "!":
            self.pos += 1
        if not self.word():
            raise self.fail("`if` needs a condition, e.g. if localtime(08:30-17:15)")
        if self.peek() == "(":
            self.pos += 1
            while True:
                ch = self.peek()
                if ch in ("", "\r", "\n"):
                    raise self.fail("condition parameter: missing closing )")
                self.pos += 1
                if ch == ")":
                    break
                if ch == "\\":
                    nxt = self.peek()
                    if nxt == "x" and _HEX2.fullmatch(self.text, self.pos + 1, self.pos + 3):
                        self.pos += 3
                    elif nxt.isdigit():
                        self.pos += 1
                        for _ in range(2):
                            if self.peek().isdigit():
                                self.pos += 1
                    elif nxt and nxt in "abfnrtv\\'0\n)":
                        self.pos += 1
                    else:
                        raise self.fail(f"bad escape \\{nxt} in a condition parameter")
        try:
            return RuleCondition.parse(self.text[start : self.pos])
        except ConditionError as exc:
            raise self.fail(str(exc)) from None

    def value(self, attribute: str) -> str | RuleCondition:
        if attribute == "id":
            m = self.regex(_ID)
            if not m:
                raise self.fail(f"id {self.upcoming()!r} is not VID:PID (4 hex digits or * each)")
            if m.group(1) == "*" and m.group(2) != "*":
                raise self.fail(f"id {m.group(0)}: a product id needs a vendor id (use *:* or VID:*)")
            return m.group(0).lower()
        if attribute == "with-interface":
            m = self.regex(_IFACE)
            if not m:
                raise self.fail(
                    f"with-interface {self.upcoming()!r} is not CC:SS:PP "
                    "(class 2 hex digits; subclass, protocol 2 hex digits or *)"
                )
            if m.group(2) == "*" and m.group(3) != "*":
                raise self.fail(f"with-interface {m.group(0)}: after a * subclass the protocol must be *")
            return m.group(0).lower()
        if attribute == "if":
            return self.condition()
        return self.string(attribute)

    def values(self, attribute: str) -> tuple[str, list[str | RuleCondition]]:
        """`value`, `{ v ... }` or `operator { v ... }`."""
        mark = self.pos
        operator = self.word()
        if operator in OPERATORS and self.blanks() and self.peek() == "{":
            pass
        elif operator in OPERATORS:
            raise self.fail(f"operator {operator} must be followed by {{ ... }}")
        else:
            self.pos, operator = mark, "equals"
        if self.peek() != "{":
            if self.peek() == "}":
                raise self.fail(f"{attribute}: unexpected }}")
            return operator, [self.value(attribute)]
        self.pos += 1
        self.blanks()
        out: list[str | RuleCondition] = []
        while True:
            if self.peek() == "}":
                raise self.fail(f"{attribute}: empty set {{ }}" if not out else f"{attribute}: unexpected }}")
            if self.peek() == "{":
                raise self.fail(f"{attribute}: nested {{ is not allowed")
            if self.peek() == "":
                raise self.fail(f"{attribute}: missing closing }}")
            out.append(self.value(attribute))
            gap = self.blanks()
            if self.peek() == "}":
                self.pos += 1
                return operator, out
            if self.peek() == "":
                raise self.fail(f"{attribute}: missing closing }}")
            if not gap:
                raise self.fail(f"{attribute}: values in {{ }} are separated by blanks")


def parse_rule(text: str, line: int = 0) -> Rule:
    """Parse one rule; raise RuleError with the line and reason."""
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(line, f"rule longer than {MAX_RULE_LENGTH} characters", text[:80])
    stripped = text.strip()
    scan = _Scan(stripped, line)
    if scan.at_end_or_comment():
        raise scan.fail("empty rule")
    target = scan.word()
    if target in ("match", "device"):
        raise scan.fail(f"target {target} only queries devices; a policy rule is allow, block or reject")
    if target not in TARGETS or not (scan.at_end_or_comment() or scan.peek() in _BLANK):
        raise scan.fail(f"unknown target {stripped.split()[0]!r} (use {', '.join(TARGETS)})")
    conditions: list[Condition] = []
    when: list[RuleCondition] = []
    when_operator = "equals"
    seen: set[str] = set()
    first = True
    while True:
        gap = scan.blanks()
        if scan.at_end_or_comment():
            break
        if not gap:
            raise scan.fail(f"a blank must separate the attributes (at {stripped[scan.pos : scan.pos + 12]!r})")
        if first and _ID.match(stripped, scan.pos):  # `allow 1234:5678 ...`: the id right after the target
            seen.add("id")
            conditions.append(Condition("id", "equals", (str(scan.value("id")),)))
            first = False
            continue
        first = False
        attribute = scan.word()
        if attribute not in ATTRIBUTES and attribute != "if":
            shown = attribute or stripped[scan.pos : scan.pos + 12]
            raise scan.fail(f"unknown attribute {shown!r} (use {', '.join(ATTRIBUTES)} or if)")
        if attribute in seen:
            raise scan.fail(f"attribute {attribute} given twice")
        seen.add(attribute)
        if not scan.blanks():
            raise scan.fail(f"{attribute} has no value")
        if scan.at_end_or_comment():
            raise scan.fail(f"{attribute} has no value")
        operator, values = scan.values(attribute)
        if attribute == "if":
            when = [v for v in values if isinstance(v, RuleCondition)]
            when_operator = operator
        else:
            conditions.append(Condition(attribute, operator, tuple(str(v) for v in values)))
    if "hash" in seen and any(c.attribute == "hash" and "" in c.values for c in conditions):
        raise scan.fail("hash must not be empty")
    return Rule(target, tuple(conditions), stripped, line, tuple(when), when_operator)


def parse_rules(text: str) -> list[Rule]:
    """Parse a USBGuard rules file: one rule a line, `#` comments and blank lines ignored.

    Every bad line is reported (all of them, in one RuleErrors) so staff can fix a file in one go.
    """
    rules: list[Rule] = []
    errors: list[RuleError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip(" \t")
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


def _id_subset(source: str, target: str) -> bool:
    """USBGuard's USBDeviceID::isSubsetOf: `source` (may hold *) covers `target`."""
    sv, _, sp = source.partition(":")
    tv, _, tp = target.lower().partition(":")
    if sv == "*":
        return True
    if sv != tv:
        return False
    return sp == "*" or sp == tp


def _value_matches(attribute: str, pattern: str, actual: str) -> bool:
    if attribute == "id":
        return _id_subset(pattern, actual)
    if attribute == "with-interface":
        fields = actual.lower().split(":")
        return len(fields) == 3 and all(p == "*" or p == a for p, a in zip(pattern.split(":"), fields, strict=True))
    return pattern == actual


def _device_values(attribute: str, device: Device) -> tuple[str, ...] | None:
    if attribute == "with-interface":
        return device.interface_types or device.interfaces
    if attribute == "id":
        return (device.id,)
    name = device.name if device.name_raw is None else device.name_raw
    serial = device.serial if device.serial_raw is None else device.serial_raw
    value = {
        "serial": serial,
        "name": name,
        "via-port": device.port,
        "hash": device.hash or None,
        "parent-hash": device.parent_hash or None,
        "with-connect-type": device.connect_type,
    }[attribute]
    return None if value is None else (value,)


def first_match(rules: Iterable[Rule], device: Device, ctx: Context | None = None) -> Rule | None:
    """USBGuard semantics: the first rule that matches decides (rule-evaluated/-applied recorded in ctx.history)."""
    history = ctx.history if ctx else None
    for rule in rules:
        matched = rule.matches(device, ctx)
        if history is not None:
            history.record(rule, applied=matched)
        if matched:
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
        perm_id, _sep, when = text[len("temporary ") :].partition(" until ")
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
        return Basis("mode", text[len("mode:") :].split(" ", 1)[0])
    return Basis("other", text)


# --- rule lines for devices: what `usbguard generate-policy` / `list-devices` print --------------------------


def quote(value: str) -> str:
    """A rule string as USBGuard writes it: \\" and \\\\ escaped, every byte outside printable ASCII as \\xHH."""
    out = []
    for byte in value.encode("utf-8", "surrogateescape"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"'


def rule_line(device: Device, target: str = "allow", *, with_port: bool | None = None) -> str:
    """The device's rule in generate-policy's order; the port only for serial-less devices unless told.

    Attributes this terminal could not compute (a hash on Windows) are left out, so the line stays honest.
    """
    name = device.name if device.name_raw is None else device.name_raw
    serial = device.serial if device.serial_raw is None else device.serial_raw
    parts = [target, f"id {device.id}", f"serial {quote(serial)}", f"name {quote(name)}"]
    if device.hash:
        parts.append(f"hash {quote(device.hash)}")
    if device.parent_hash:
        parts.append(f"parent-hash {quote(device.parent_hash)}")
    if with_port if with_port is not None else not serial:
        parts.append(f"via-port {quote(device.port)}")
    ifaces = device.interface_types or device.interfaces
    if len(ifaces) == 1:
        parts.append(f"with-interface {ifaces[0]}")
    elif ifaces:
        parts.append("with-interface { " + " ".join(ifaces) + " }")
    if device.connect_type is not None:
        parts.append(f"with-connect-type {quote(device.connect_type)}")
    return " ".join(parts)
