"""USBGuard's `if` conditions and the rest of the matching semantics, three-valued so unknown fails closed."""

from datetime import UTC, datetime

from mamori.usbconditions import Context, RuleHistory
from mamori.usbrules import Device, first_match, parse_rule, parse_rules, quote

STICK = Device("0781", "5581", "Stick", "S1", "1-2", ("08:06:50",), hash="H1", parent_hash="P1", connect_type="hotplug")
KBD = Device("046d", "c31c", "Keyboard", "", "1-3", ("03:01:01",))
NOON_JST = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)  # 12:00 in Japan
NIGHT_JST = datetime(2026, 4, 1, 14, 0, tzinfo=UTC)  # 23:00 in Japan


def test_localtime_window_is_japan_time_from_the_given_clock():
    office = parse_rule("allow id 0781:5581 if localtime(08:30-17:15)")
    assert office.matches(STICK, Context(now=NOON_JST))
    assert not office.matches(STICK, Context(now=NIGHT_JST))
    assert parse_rule("allow if !localtime(08:30-17:15)").matches(STICK, Context(now=NIGHT_JST))
    assert parse_rule("allow if localtime(12:00)").matches(STICK, Context(now=NOON_JST))  # one second


def test_random_never_allows_and_always_blocks():
    assert not parse_rule("allow id 0781:5581 if random").matches(STICK)
    assert not parse_rule("allow if !random(0.9)").matches(STICK)
    assert parse_rule("block id 0781:5581 if random(0.1)").matches(STICK)
    assert parse_rule("reject if random").matches(KBD)
    assert not parse_rule("block id 1234:* if random").matches(STICK)  # the attributes still decide first


def test_condition_lists_with_set_operators():
    ctx = Context(now=NOON_JST)
    assert parse_rule("allow if { true !false }").matches(STICK, ctx)
    assert not parse_rule("allow if { true false }").matches(STICK, ctx)
    assert parse_rule("allow if one-of { false localtime(11:00-13:00) }").matches(STICK, ctx)
    assert parse_rule("allow if none-of { false localtime(01:00-02:00) }").matches(STICK, ctx)
    assert parse_rule("allow if one-of { true random }").matches(STICK, ctx)  # known true decides
    assert not parse_rule("allow if one-of { false random }").matches(STICK, ctx)  # unknown: no allow


def test_rule_applied_and_evaluated_from_the_history():
    clock = {"t": 100.0}
    history = RuleHistory(monotonic=lambda: clock["t"])
    ctx = Context(now=NOON_JST, history=history)
    rules = parse_rules("block id 0781:5581 if !rule-applied(00:01)\nallow id 0781:5581 if rule-evaluated(30)\n")
    # First plug: the block rule was never applied -> applies (and is recorded).
    assert first_match(rules, STICK, ctx).target == "block"
    clock["t"] = 120.0  # within a minute of that block: the block rule stays out; the allow rule is evaluated
    # for the first time now, so rule-evaluated is still false -> nothing matches.
    assert first_match(rules, STICK, ctx) is None
    clock["t"] = 130.0  # the allow rule was evaluated 10 s ago
    assert first_match(rules, STICK, ctx).target == "allow"
    assert first_match(rules, STICK, Context(now=NOON_JST)).target == "block"  # no history: unknown, fail closed


def test_allowed_matches_needs_the_attached_devices():
    rule = parse_rule('allow id 0781:5581 if allowed-matches(id 046d:c31c name "Keyboard")')
    assert rule.matches(STICK, Context(present=lambda: [KBD]))
    assert not rule.matches(STICK, Context(present=lambda: []))
    assert not rule.matches(STICK)  # the collector or a dry run: unknown, no allow


def test_unknown_attributes_fail_closed():
    windows = Device("0781", "5581", "Stick", "S1", "", ("08:06:50",))  # no hash, no connect type
    assert not parse_rule('allow hash "H1"').matches(windows)
    assert parse_rule('block hash "H1"').matches(windows)
    assert parse_rule('block with-connect-type "hardwired"').matches(windows)
    assert not parse_rule('block with-connect-type "hardwired"').matches(STICK)
    assert parse_rule('allow hash "H1" parent-hash "P1" with-connect-type "hotplug"').matches(STICK)


def test_set_operator_semantics_as_usbguard():
    two = Device("0930", "6545", "", "X", "1-4", ("08:06:50", "03:00:00"))
    assert not parse_rule("allow with-interface { 08:*:* 08:*:* }").matches(STICK)  # equals: as many values
    assert parse_rule("allow with-interface match-all { 08:*:* 03:*:* 0e:*:* }").matches(two)
    assert not parse_rule("allow with-interface match-all { 08:*:* }").matches(two)
    assert parse_rule("allow id match-all { 0781:5581 }").matches(STICK)
    assert not parse_rule('allow serial match-all { "S1" }').matches(STICK)  # unimplemented upstream: unknown
    assert parse_rule("allow 0781:5581").matches(STICK)  # the id right after the target
    assert parse_rule('allow id 0781:5581 label "経理課の許可" # note').matches(STICK)
    assert parse_rule('allow id 0781:5581 label "x"').labels == ("x",)


def test_escapes_are_bytes_like_usbguards_and_quote_round_trips():
    name = 'マイナンバー "用" \\ \x07'
    assert quote("マ") == r'"\xe3\x83\x9e"'
    rule = parse_rule(f"allow name {quote(name)}")
    assert rule.matches(Device("1", "2", name))
    assert parse_rule(r'allow name "\xe3\x83\x9e"').matches(Device("1", "2", "マ"))
    raw = Device("1", "2", "Stick", name_raw=" Stick\x07")  # USBGuard keeps what display text drops
    assert parse_rule(r'allow name " Stick\x07"').matches(raw) and not parse_rule('allow name "Stick"').matches(raw)
