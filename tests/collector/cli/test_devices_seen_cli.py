"""`devices seen` and `devices approve REF`: devices from usb.* events, their rule lines, --force where it matters."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from collector.policies import current_policy
from collector.store import queries
from mamori import policy as policy_doc
from mamori.usbrules import Device, parse_rule

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "usbguard"
# What the agent reports for the approved qemu stick: its generate-policy line (tests/fixtures/usbguard).
GENERATED = next(
    line for line in (FIXTURES / "generate-policy.rules").read_text().splitlines() if 'serial "MAMORI-OK-0001"' in line
)
STICK = {
    "vendor_id": "46f4",
    "product_id": "0001",
    "product_name": "QEMU USB HARDDRIVE",
    "serial": "MAMORI-OK-0001",
    "interface_classes": ["08:06:50"],
    "port": "1-1",
    "decided_by": "mode:block",
    "mode": "block",
    "rule": GENERATED,
}
HASH = "WaOlmxEyX9XKRJZ7ReOAb5FaSlxekSLhq8phYIaw1eM="


def _seen(cli) -> list[dict]:
    return cli.json("devices", "seen")


def test_seen_lists_each_device_once_with_its_terminals_and_a_portable_rule(cli):
    a = cli.agent("lgwan", "市民課", "住民-01")
    b = cli.agent("lgwan", "税務課", "税務-01")
    cli.send(a, "usb.blocked", STICK, at=cli.now - timedelta(hours=2))
    cli.send(b, "usb.blocked", {**STICK, "port": "2-4"}, at=cli.now - timedelta(hours=1))
    cli.send(
        b,
        "usb.allowed",
        {
            "vendor_id": "046d",
            "product_id": "c31c",
            "product_name": "Keyboard",
            "serial": "",
            "interface_classes": ["03:01:01"],
            "decided_by": "mode:block",
        },
    )
    seen = _seen(cli)
    assert [d["name"] for d in seen] == ["Keyboard", "QEMU USB HARDDRIVE"]  # latest first
    stick = seen[1]
    assert stick["count"] == 2 and [t["hostname"] for t in stick["terminals"]] == ["住民-01", "税務-01"]
    # The agent's generate-policy line without the location-bound parts: approved on any port.
    assert (
        stick["rule"] == f'allow id 46f4:0001 serial "MAMORI-OK-0001" name "QEMU USB HARDDRIVE" hash "{HASH}" '
        "with-interface 08:06:50"
    )
    assert seen[0]["rule"] == 'allow id 046d:c31c serial "" name "Keyboard" with-interface 03:01:01'
    assert [d["ref"] for d in cli.json("devices", "seen", "--department", "市民課")] == [stick["ref"]]
    code, out, _ = cli.run("devices", "seen")
    assert code == 0 and stick["ref"] in out and "遮断" in out and "税務-01" in out and stick["rule"] in out


def test_an_agents_rule_that_does_not_name_its_device_is_not_trusted(cli):
    a = cli.agent("lgwan", "市民課", "住民-02")
    for hostile in (
        "allow id *:*",
        'allow id 46f4:0001 serial "X" name "Y" if true',
        'allow id 1234:5678 serial "MAMORI-OK-0001" name "QEMU USB HARDDRIVE"',
        'block id 46f4:0001 serial "" name ""',
        "allow \x1b[2J id 46f4:0001",
        'allow id 46f4:0001 serial one-of { "A" "B" } name "N"',
    ):
        cli.send(a, "usb.blocked", {**STICK, "rule": hostile})
    rules = {d["rule"] for d in _seen(cli)}
    assert rules == {'allow id 46f4:0001 serial "MAMORI-OK-0001" name "QEMU USB HARDDRIVE" with-interface 08:06:50'}


def test_approve_a_seen_device_into_the_register_and_only_that_stick_passes(cli):
    a = cli.agent("lgwan", "市民課", "住民-03")
    cli.send(a, "usb.blocked", STICK)
    ref = _seen(cli)[0]["ref"]
    done = cli.json("devices", "approve", ref[:8], "--department", "市民課", "--reason", "住民票の受け渡し")
    assert done["device"] == ref and not done["forced"]
    _version, data = current_policy(cli.engine, "lgwan", a, "市民課")
    allow = policy_doc.parse(data)["usb"]["allow"]
    assert allow == [done["rule"]]
    rule = parse_rule(allow[0])
    ok = Device("46f4", "0001", "QEMU USB HARDDRIVE", "MAMORI-OK-0001", "3-1", ("08:06:50",), hash=HASH)
    other = Device(
        "46f4",
        "0001",
        "QEMU USB HARDDRIVE",
        "MAMORI-OTHER-0002",
        "3-1",
        ("08:06:50",),
        hash="KobIBiI6NQ9G3MLncwI7RilqaPZ6EJ9UotMnmKS/OTg=",
    )
    assert rule.matches(ok) and not rule.matches(other)
    audit = cli.json("audit-log", "list")[0]
    assert (audit["action"], audit["target"]) == ("devices.approve", f"device:{ref}")


def test_approve_a_seen_device_for_one_terminal_until_a_time(cli):
    a = cli.agent("lgwan", "市民課", "住民-04")
    cli.send(a, "usb.blocked", STICK)
    ref = _seen(cli)[0]["ref"]
    perm = cli.json("devices", "approve", ref, "--agent", a, "--until", "2026-11-21T17:00", "--reason", "r")
    assert perm["serial"] == "MAMORI-OK-0001" and perm["device"] == ref
    code, _, err = cli.run("devices", "approve", ref, "--agent", a, "--reason", "r")
    assert code == 2 and "--until" in err


def test_mynumber_and_revoked_terminals_need_force_and_say_why(cli):
    mine = cli.agent("mynumber", "市民課", "住民-M1")
    cli.send(mine, "usb.blocked", STICK)
    ref = _seen(cli)[0]["ref"]
    for scope in (["--agent", mine, "--until", "2026-11-21"], ["--department", "市民課"], []):
        code, out, err = cli.run("devices", "approve", ref, *scope, "--reason", "r")
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "マイナンバー利用事務系" in err and "住民-M1" in err and "--force" in err
    assert cli.json("devices", "list") == {"rules": [], "temporary": []}
    forced = cli.json("devices", "approve", ref, "--agent", mine, "--until", "2026-11-21", "--reason", "r", "--force")
    assert forced["forced"] is True
    assert "マイナンバー" in cli.json("audit-log", "list")[0]["details"]["forced"]
    lgwan = cli.agent("lgwan", "税務課", "税務-R1")
    queries.revoke_agent(cli.engine, lgwan, by="admin", at=cli.now)
    code, _, err = cli.run(
        "devices", "approve", "--serial", "S1", "--agent", lgwan, "--until", "2026-11-21", "--reason", "r"
    )
    assert code == 2 and "失効" in err and "--force" in err and err.count("\n") == 1
    code, _, err = cli.run(
        "devices",
        "approve",
        "--serial",
        "S1",
        "--agent",
        lgwan,
        "--until",
        "2026-11-21",
        "--reason",
        "r",
        "--force",
        "--lang",
        "en",
    )
    assert code == 0, err


def test_approve_errors_are_one_line(cli):
    a = cli.agent("lgwan", "市民課", "住民-05")
    cli.send(a, "usb.allowed", {**STICK, "serial": "", "rule": ""})
    ref = _seen(cli)[0]["ref"]
    for args, text in (
        (["ffffff0000"], "devices seen"),
        ([ref, "--serial", "S"], "--serial"),
        ([], "--serial"),
        ([ref, "--agent", a, "--until", "2026-11-21"], "シリアル番号"),
        ([ref, "--agent", a], "--until"),
    ):
        code, out, err = cli.run("devices", "approve", *args, "--reason", "r")
        assert code == 2 and err.count("\n") == 1 and text in err, err
    assert json.loads(json.dumps(cli.json("devices", "list")))["temporary"] == []


def test_import_a_generate_policy_file_as_is_and_the_agent_accepts_it(cli):
    from agent.usb.policy import compile_usb, decide

    a = cli.agent("lgwan", "市民課", "住民-06")
    done = cli.json("devices", "import", str(FIXTURES / "generate-policy.rules"), "--segment", "lgwan")
    assert done["imported"] == 5
    _version, data = current_policy(cli.engine, "lgwan", a, "市民課")
    doc = policy_doc.parse(data)
    doc["usb"]["mode"] = "allowlist"
    usb = compile_usb(doc)
    ok = Device(
        "46f4",
        "0001",
        "QEMU USB HARDDRIVE",
        "MAMORI-OK-0001",
        "1-1",
        ("08:06:50",),
        hash=HASH,
        parent_hash="RAoFFbYf/KvLFlugqasSHbVw4bRPRWOkutI4A/2Fg+o=",
        connect_type="hotplug",
    )
    other = Device(
        "46f4",
        "0001",
        "QEMU USB HARDDRIVE",
        "MAMORI-OTHER-0003",
        "1-1",
        ("08:06:50",),
        hash="x",
        parent_hash=ok.parent_hash,
        connect_type="hotplug",
    )
    assert decide(ok, usb, cli.now).storage == "allow"
    assert decide(other, usb, cli.now).storage == "block"
    bad = FIXTURES.parent.parent / "mamori" / "data" / "bad.rules"
    code, _, err = cli.run("devices", "import", str(bad))
    assert code == 2 and "何も取り込んでいません" in err
