"""USBGuard compatibility: its own parser corpus, its device hash on a sysfs recording, and its rule lines.

The recorded expectations come from the real usbguard binaries (tests/fixtures/usbguard/README.md); with
MAMORI_USBGUARD_ROOT pointing at the unpacked Debian packages the binaries are run again here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agent.host.linux.usb import Sysfs
from mamori.usbrules import RuleErrors, first_match, parse_rule, parse_rules, rule_line

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "usbguard"
USBGUARD_ROOT = os.environ.get("MAMORI_USBGUARD_ROOT", "")

# Where Mamori is deliberately stricter than usbguard-rule-parser (documented in mamori/usbrules.py).
STRICTER = {
    'allow label "x" label "y"',
    "allow if random(2)",
    "match",
    "device",
    "match id 1234:5678",
    'allow hash ""',
    "allow if localtime(1:00garbage)",
}
EDGE_CASES = [
    "allow#c",
    "allow id 1234:5678#c",
    'allow name "a"#c',
    'allow name "a"hash "b"',
    'allow name {"a" "b"}',
    'allow name {"a""b"}',
    'allow name one-of{ "a" }',
    'allow name match-all { "a" }',
    r'allow name "\x41"',
    r'allow name "\x4"',
    r'allow name "\n"',
    r'allow name "\0"',
    r'allow name "a\\b"',
    "allow 1234:5678",
    "allow *:*",
    "allow id 12345:5678",
    "allow id 1234:5678x",
    "allow with-interface 08:06:*",
    "allow with-interface 8:06:50",
    'allow label "x"',
    "allow if localtime(08:30-17:15)",
    "allow if localtime(17:15-08:30)",
    "allow if localtime",
    "allow if localtime()",
    "allow if localtime(25:00)",
    "allow if random(0.5)",
    "allow if random(x)",
    "allow if rule-applied(10)",
    "allow if rule-evaluated(xx)",
    "allow if allowed-matches",
    "allow if allowed-matches(id 1234:5678)",
    "allow if true(x)",
    "allow if { true false }",
    "allow if {true}",
    "allow id one-of { }",
    "allow id one-of {1234:5678}",
    "allow Id 1234:5678",
    "ALLOW",
    'allow name "a\\"b"',
    'allow parent-hash "x"',
    'allow name ""',
    'allow if allowed-matches(name "a)")',
    'allow via-port "1-1" via-port "1-2"',
    *sorted(STRICTER),
]


def corpus(kind: str) -> list[str]:
    """The corpus lines as test-rules.sh reads them (`read -r`: outer blanks cut); our `##` header skipped."""
    lines = (FIXTURES / f"test-rules.{kind}").read_text(encoding="utf-8").split("\n")[:-1]
    while lines and lines[0].startswith("##"):
        lines.pop(0)
    return [line.strip(" \t") for line in lines]


def accepted(line: str) -> bool:
    try:
        parse_rules(line)
        return True
    except RuleErrors:
        return False


def test_usbguard_corpus_every_good_line_accepted():
    good = corpus("good")
    assert len(good) == 770
    refused = [line for line in good if not accepted(line)]
    assert refused == []


def test_usbguard_corpus_every_bad_line_refused():
    bad = corpus("bad")
    assert len(bad) == 75
    assert [line for line in bad if accepted(line)] == []


def _binary(name: str) -> list[str] | None:
    if not USBGUARD_ROOT:
        return None
    root = Path(USBGUARD_ROOT)
    path = next((p for p in (root / "usr/bin" / name, root / "usr/sbin" / name) if p.exists()), None)
    return [str(path)] if path else None


def _env() -> dict[str, str]:
    return os.environ | {"LD_LIBRARY_PATH": str(Path(USBGUARD_ROOT) / "usr/lib/x86_64-linux-gnu")}


@pytest.mark.skipif(not _binary("usbguard-rule-parser"), reason="set MAMORI_USBGUARD_ROOT to unpacked usbguard debs")
def test_same_verdict_as_the_real_usbguard_rule_parser():
    parser = _binary("usbguard-rule-parser")
    assert parser
    differ = []
    for line in corpus("good") + corpus("bad") + EDGE_CASES:
        theirs = subprocess.run([*parser, line], env=_env(), capture_output=True, timeout=20).returncode == 0
        if theirs != accepted(line) and not (line in STRICTER and theirs):
            differ.append(line)
    assert differ == []


def test_stricter_than_usbguard_only_where_documented():
    assert not any(accepted(line) for line in STRICTER)


# --- the device hash -------------------------------------------------------------------------------------------


def build_sysfs(root: Path, recording: Path) -> None:
    """Lay a umockdev recording out as a sysfs tree below root/sys, with the bus/usb/devices links."""
    sys_root = root / "sys"
    links = sys_root / "bus/usb/devices"
    links.mkdir(parents=True)
    for block in recording.read_text(encoding="utf-8").strip().split("\n\n"):
        lines = block.splitlines()
        devpath = lines[0].removeprefix("P: ")
        here = sys_root / devpath.lstrip("/")
        here.mkdir(parents=True, exist_ok=True)
        uevent = []
        for line in lines[1:]:
            kind, _, rest = line.partition(": ")
            key, _, value = rest.partition("=")
            if kind == "E":
                uevent.append(f"{key}={value}\n")
            elif kind in ("A", "H"):
                (here / key).parent.mkdir(parents=True, exist_ok=True)
                data = bytes.fromhex(value) if kind == "H" else (value + "\n").encode()
                (here / key).write_bytes(data)
        (here / "uevent").write_text("".join(uevent))
        if "DEVTYPE=usb_device\n" in uevent:
            (links / here.name).symlink_to(here)


@pytest.fixture
def recorded(tmp_path):
    build_sysfs(tmp_path, FIXTURES / "sysfs.umockdev")
    sysfs = Sysfs(tmp_path)
    return {p.name: sysfs.describe(p) for p in sysfs.root_hubs() + sysfs.usb_devices()}


def _policy_lines() -> list[str]:
    text = (FIXTURES / "generate-policy.rules").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_hash_parent_hash_and_rule_lines_are_usbguards(recorded):
    lines = _policy_lines()
    ports = ["usb1", "1-1", "1-2", "1-3", "1-3.1"]
    assert [rule_line(recorded[p]) for p in ports] == lines
    assert recorded["1-1"].hash == "WaOlmxEyX9XKRJZ7ReOAb5FaSlxekSLhq8phYIaw1eM="
    assert recorded["1-3.1"].parent_hash == recorded["1-3"].hash  # behind a hub: the hub's hash
    assert recorded["1-3.1"].interface_types == ("01:01:00", "01:02:00", "01:02:00", "03:00:00")
    assert recorded["1-3.1"].interfaces == ("01:01:00", "01:02:00", "03:00:00")  # what the guard authorizes
    assert recorded["1-3.1"].name_raw == ' USB Audio "Device"'


def test_a_generated_policy_allows_exactly_the_devices_it_names(recorded):
    """usbguard generate-policy's file, imported as is: each line matches its own device and no other."""
    rules = parse_rules((FIXTURES / "generate-policy.rules").read_text(encoding="utf-8"))
    for device in recorded.values():
        assert [r.text for r in rules if r.matches(device)] == [rule_line(device)]
    only_ok = [r for r in rules if 'serial "MAMORI-OK-0001"' in r.text]
    assert first_match(only_ok, recorded["1-1"]) is not None
    assert first_match(only_ok, recorded["1-2"]) is None  # same id and name, another serial: not allowed
    by_hash = parse_rule(f'allow hash "{recorded["1-1"].hash}"')
    assert by_hash.matches(recorded["1-1"]) and not by_hash.matches(recorded["1-2"])


def test_a_changed_descriptor_byte_changes_the_hash(tmp_path, recorded):
    stick = tmp_path / "sys/bus/usb/devices/1-1"
    raw = bytearray((stick / "descriptors").read_bytes())
    raw[-1] ^= 1
    (stick / "descriptors").write_bytes(bytes(raw))
    assert Sysfs(tmp_path).describe(stick).hash != recorded["1-1"].hash
    (stick / "descriptors").write_bytes(bytes(raw[:20]))  # truncated: USBGuard refuses it, no hash here either
    changed = Sysfs(tmp_path).describe(stick)
    assert changed.hash == ""
    assert not parse_rule(f'allow hash "{recorded["1-1"].hash}"').matches(changed)
    assert parse_rule(f'block hash "{recorded["1-1"].hash}"').matches(changed)  # unknown: block applies


def _real_generate_policy(tmp_path: Path) -> list[str]:
    run = _binary("umockdev-run")
    usbguard = _binary("usbguard")
    assert run and usbguard
    out = subprocess.run(
        [*run, "-d", str(FIXTURES / "sysfs.umockdev"), "--", *usbguard, "generate-policy"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    return [line for line in out.stdout.splitlines() if line]


@pytest.mark.skipif(
    not (_binary("usbguard") and _binary("umockdev-run")),
    reason="set MAMORI_USBGUARD_ROOT to unpacked usbguard and umockdev debs",
)
def test_the_real_usbguard_computes_the_same_today(tmp_path, recorded):
    assert _real_generate_policy(tmp_path) == _policy_lines()
