"""The USBGuard rule-language subset: a good/bad corpus, the operators, wildcards and first-match order."""

from pathlib import Path

import pytest

from mamori.usbrules import Device, RuleError, RuleErrors, first_match, parse_rule, parse_rules

DATA = Path(__file__).parent / "data"

STICK = Device("0781", "5581", " SanDisk 3.2Gen1", "4C530001230927117325", "1-2", ("08:06:50",))
KBD = Device("046d", "c31c", "USB Keyboard", "", "1-3", ("03:01:01", "03:00:00"))
COMPOSITE = Device("0930", "6545", "Combo", "X1", "1-4", ("08:06:50", "03:00:00"))


def test_good_corpus_parses_every_rule():
    rules = parse_rules((DATA / "good.rules").read_text(encoding="utf-8"))
    assert len(rules) == 10
    assert [r.target for r in rules][:3] == ["allow", "allow", "allow"]
    assert rules[0].line == 2 and rules[0].text.startswith("allow id 1d6b:0002")
    escaped = rules[7]
    serial = next(c for c in escaped.conditions if c.attribute == "serial")
    assert serial.values == ('ab"c\\dA',)


def _bad_lines():
    for number, line in enumerate((DATA / "bad.rules").read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("#"):
            continue
        rule, _, reason = line.partition(" ## ")
        yield pytest.param(rule, reason, number, id=f"line{number}")


@pytest.mark.parametrize("rule,reason,number", list(_bad_lines()))
def test_bad_corpus_rejected_with_line_and_reason(rule, reason, number):
    with pytest.raises(RuleError) as err:
        parse_rule(rule, number)
    assert err.value.line == number
    assert reason in err.value.reason
    assert str(err.value).startswith(f"line {number}: ")


def test_a_file_reports_every_bad_line():
    text = (DATA / "good.rules").read_text(encoding="utf-8") + "allow id zz:zz\n\nfoo\n"
    with pytest.raises(RuleErrors) as err:
        parse_rules(text)
    assert [e.line for e in err.value.errors] == [14, 16]


def test_huge_rule_rejected():
    with pytest.raises(RuleError, match="longer than"):
        parse_rule('allow serial "' + "x" * 5000 + '"', 3)


def test_id_wildcards_and_serial():
    assert parse_rule("allow id 0781:*").matches(STICK)
    assert parse_rule("allow id *:*").matches(KBD)
    assert not parse_rule("allow id 0781:5582").matches(STICK)
    assert parse_rule('allow id 0781:5581 serial "4C530001230927117325"').matches(STICK)
    assert not parse_rule('allow id 0781:5581 serial "OTHER"').matches(STICK)
    assert parse_rule('allow id 0781:5581 serial ""').matches(Device("0781", "5581"))
    assert parse_rule('allow via-port "1-2"').matches(STICK) and not parse_rule('allow via-port "1-3"').matches(STICK)
    assert parse_rule('allow name " SanDisk 3.2Gen1"').matches(STICK)


def test_with_interface_operators():
    single = parse_rule("allow with-interface 08:*:*")  # single value: every interface must be storage
    assert single.matches(STICK) and not single.matches(COMPOSITE) and not single.matches(KBD)
    assert parse_rule("allow with-interface { 08:*:* 03:*:* }").matches(COMPOSITE)
    assert not parse_rule("allow with-interface { 08:*:* 03:*:* }").matches(STICK)  # equals: 03 missing
    assert parse_rule("allow with-interface one-of { 08:06:50 0b:00:00 }").matches(COMPOSITE)
    assert parse_rule("allow with-interface all-of { 08:06:50 03:00:00 }").matches(COMPOSITE)
    assert not parse_rule("allow with-interface all-of { 08:06:50 03:00:00 }").matches(STICK)
    assert parse_rule("allow with-interface none-of { 08:*:* }").matches(KBD)
    assert not parse_rule("allow with-interface none-of { 08:*:* }").matches(COMPOSITE)
    ordered = parse_rule("allow with-interface equals-ordered { 08:06:50 03:00:00 }")
    assert ordered.matches(COMPOSITE)
    assert not ordered.matches(Device("0930", "6545", "", "", "", ("03:00:00", "08:06:50")))
    assert not parse_rule("allow with-interface 08:*:*").matches(Device("1", "2"))  # no interfaces known


def test_first_match_decides():
    rules = parse_rules('block serial "4C530001230927117325"\nallow id 0781:*\n')
    assert first_match(rules, STICK).target == "block"
    assert first_match(rules, Device("0781", "0001", serial="S")).target == "allow"
    assert first_match(rules, KBD) is None


def test_decided_by_is_written_and_read_through_one_format():
    from datetime import UTC, datetime

    from mamori.usbrules import parse_basis, temporary_basis

    until = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    temp = parse_basis(temporary_basis("p-1", until))
    assert (temp.kind, temp.ref, temp.until) == ("temporary", "p-1", until)
    rule = parse_basis(parse_rule('allow id 0781:5567 serial "S1"', line=3).label())
    assert (rule.kind, rule.target, rule.ref) == ("rule", "allow", 'rule 3: allow id 0781:5567 serial "S1"')
    assert parse_basis("rule 4: block id *:*").target == "block"
    assert (parse_basis("mode:allowlist (no rule matched)").kind, parse_basis("mode:audit").ref) == ("mode", "audit")
    assert parse_basis("temporary x until not-a-time").until is None
    assert parse_basis("").kind == "other"
