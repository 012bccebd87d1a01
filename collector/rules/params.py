"""Rule parameters from the segment's policy document: its `rules` section, defaults from each rule."""

from __future__ import annotations

from typing import Any

from collector.rules import RULES
from collector.rules.base import Rule


def params_for(document: dict[str, Any], rule: Rule) -> dict[str, Any] | None:
    """The rule's parameters for this policy; None when the policy disables the rule."""
    given = (document.get("rules") or {}).get(rule.id) or {}
    if given.get("enabled", True) is False:
        return None
    return {**rule.defaults(), **{k: v for k, v in given.items() if k in rule.params}}


def check_rules_section(section: Any) -> list[tuple[str, str]]:
    """Problems in a policy's `rules` section as (dotted key, reason); empty when it is valid."""
    if not isinstance(section, dict):
        return [("rules", "must be a table of rule ids")]
    problems = []
    for rule_id, values in section.items():
        rule = RULES.get(rule_id)
        if rule is None:
            problems.append((f"rules.{rule_id}", f"unknown rule (known: {', '.join(RULES)})"))
            continue
        if not isinstance(values, dict):
            problems.append((f"rules.{rule_id}", "must be a table of parameters"))
            continue
        for name, value in values.items():
            where = f"rules.{rule_id}.{name}"
            if name == "enabled":
                if not isinstance(value, bool):
                    problems.append((where, "must be true or false"))
                continue
            param = rule.params.get(name)
            if param is None:
                known = ", ".join(["enabled", *rule.params])
                problems.append((where, f"unknown parameter (known: {known})"))
                continue
            reason = param.check(value)
            if reason:
                problems.append((where, reason))
    return problems


def default_section() -> dict[str, dict[str, Any]]:
    """Every rule's parameters at their rules.md defaults (what `policy show` prints for a fresh segment)."""
    return {rule.id: rule.defaults() for rule in RULES.values() if rule.params}
