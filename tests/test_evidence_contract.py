"""The evidence contract: each check's evidence has a typed schema (mamori.evidence), every field a rule reads is
declared there and sent by its check, and a check cannot send a field its schema does not declare."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import types
from pathlib import Path

import pytest

from agent.checks import CHECKS
from agent.checks.base import ERROR, PASS, Context, Result, execute
from collector.rules import MODULES
from mamori.evidence import EVIDENCE
from mamori.i18n import N_

REPO = Path(__file__).resolve().parents[1]
# Evidence not built by a scheduled posture check: the agent reports its own media control.
SENDERS = {"media_control": "agent/usb/state.py"}
CHECK_RULES = [m for m in MODULES if m.RULE.check_id]


def evidence_reads(source: str) -> set[str]:
    """Attributes read from `s.evidence` (directly or through a local name bound to it) in a rule's source."""
    tree = ast.parse(textwrap.dedent(source))

    def is_evidence(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "evidence" and isinstance(node.value, ast.Name)

    aliases = {
        t.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and is_evidence(n.value)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    reads = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (
            is_evidence(node.value) or (isinstance(node.value, ast.Name) and node.value.id in aliases)
        ):
            reads.add(node.attr)
        if isinstance(node, ast.Subscript) and (
            is_evidence(node.value) or (isinstance(node.value, ast.Name) and node.value.id in aliases)
        ):
            reads.add("[subscript]")  # typed evidence has fields, not keys
    return reads


def test_the_scanner_sees_direct_and_aliased_reads():
    src = "def evaluate(s, params):\n    ev = s.evidence\n    return s.evidence.a, ev.b, ev['c']\n"
    assert evidence_reads(src) == {"a", "b", "[subscript]"}


def test_every_check_has_a_schema():
    assert set(CHECKS) <= set(EVIDENCE)
    assert set(EVIDENCE) - set(CHECKS) == set(SENDERS)
    for check_id, schema in EVIDENCE.items():
        assert schema.CHECK == check_id
        assert schema.parse({}) == schema(), "every field needs a default: old agents' evidence must still parse"


@pytest.mark.parametrize("module", CHECK_RULES, ids=lambda m: m.RULE.id)
def test_rules_read_only_fields_their_checks_schema_declares(module):
    reads = evidence_reads(inspect.getsource(module.evaluate))
    declared = EVIDENCE[module.RULE.check_id].declared()
    assert reads, f"{module.RULE.id} reads no evidence field"
    undeclared = sorted(reads - declared)
    assert not undeclared, (
        f"{module.RULE.id} reads fields the {module.RULE.check_id} schema does not declare: {undeclared}"
    )


def _sent_by(check_id: str) -> str:
    """The text of the check and the OS readers it builds its evidence with."""
    sources = [
        REPO / SENDERS.get(check_id, f"agent/checks/{check_id}.py"),
        *sorted((REPO / "agent/host").rglob("*.py")),
    ]
    return "\n".join(p.read_text(encoding="utf-8") for p in sources)


@pytest.mark.parametrize("module", CHECK_RULES, ids=lambda m: m.RULE.id)
def test_every_field_a_rule_reads_is_one_its_check_sets(module):
    # Declared is not enough: a field no code ever sets would leave the rule judging on its default forever.
    sent = _sent_by(module.RULE.check_id)
    unset = sorted(
        f for f in evidence_reads(inspect.getsource(module.evaluate)) if not re.search(rf"""["']{f}["']|\b{f}=""", sent)
    )
    assert not unset, f"{module.RULE.id} reads evidence the {module.RULE.check_id} check never sets: {unset}"


def test_a_check_sending_an_undeclared_field_is_an_error_not_a_silent_send():
    fake = types.ModuleType("fake")
    fake.ID, fake.TITLE, fake.PLATFORMS, fake.SEVERITY = "firewall", N_("x"), ("linux",), "low"
    fake.REMEDIATION = N_("x")
    fake.run = lambda ctx: Result(PASS, "ok", {"enabled": True, "firewal_on": True})
    res = execute(fake, Context(settings={}, platform="linux"))
    assert res.status == ERROR and "firewal_on" in res.evidence["message"]


def test_wrongly_typed_values_count_as_not_reported():
    mfa = EVIDENCE["mfa"].parse({"local_mfa": "false", "remote_mfa": 0, "remote": ["sshd"], "unknown": 1})
    assert (mfa.local_mfa, mfa.remote_mfa, mfa.remote) == (None, None, ["sshd"])
    assert EVIDENCE["patch"].parse({"oldest_security_days": 3}).oldest_security_days == 3


def test_the_agents_media_control_report_fits_its_schema():
    # Built outside the scheduled checks (agent/usb/state.py), so checked here rather than by execute().
    from agent.usb import state

    for active in (True, False):
        assert EVIDENCE["media_control"].build(state.result(active, "block", "why", "LinuxHost").evidence)
