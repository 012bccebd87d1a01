"""Policy documents: what each agent receives, and the per-segment policy files staff edit (TOML).

The document pushed to an agent is its segment's (stored or default) with the usb part computed per agent:
the segment's own rules, then the approved-device register's rules for all terminals, the agent's segment
and its department (in import order), and the agent's active temporary permissions (一時許可). The version
is the document's hash, so any change reaches the agent.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from collector.rules import RULES
from collector.rules.params import check_rules_section
from collector.store import devices, queries
from collector.store.db import read_only
from collector.store.models import approved_devices, policies, temporary_permissions
from mamori import clock, policy, tomlconf

log = logging.getLogger("mamori.collector.policies")


def current_policy(
    engine: Engine, segment: str, agent_id: str = "", department: str = "", now: datetime | None = None
) -> tuple[str, bytes]:
    """(version, canonical JSON bytes) of the policy in force for one agent."""
    now = now or clock.now()
    document = copy.deepcopy(current_document(engine, segment))
    rules, temps = devices.for_agent(engine, agent_id=agent_id, segment=segment, department=department, now=now)
    usb = document["usb"]
    usb["allow"] = list(usb.get("allow", [])) + [r.rule for r in rules]
    usb["temporary"] = list(usb.get("temporary", [])) + [
        {"id": t.id, "serial": t.serial, "until": t.until.astimezone(UTC).isoformat(), "reason": t.reason}
        for t in temps
    ]
    try:
        document = policy.validate(document)
    except policy.PolicyError as exc:  # never push what the agent would refuse: push the segment default
        log.error("policy for agent %s does not validate (%s); sending the strictest policy", agent_id, exc)
        document = policy.strictest(segment)
    return policy.version_of(document), policy.canonical(document)


def current_document(bind, segment: str) -> dict[str, Any]:
    stored = queries.get_policy(bind, segment)
    return policy.upgrade(stored["document"]) if stored else policy.DEFAULTS[segment]


def with_rule_defaults(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every rule parameter spelled out (values given in it win), for staff to edit."""
    doc = copy.deepcopy(document)
    given = doc.get("rules") or {}
    rules = {}
    for rule in RULES.values():
        if rule.segments and doc["segment"] not in rule.segments:
            continue
        values = {**rule.defaults(), **given.get(rule.id, {})}
        if values:
            rules[rule.id] = values
    doc["rules"] = rules
    return doc


def load_file(path: Path) -> dict[str, Any]:
    """Read and fully check a policy file; ConfigError names the file, line and reason. Nothing is stored."""
    text, document = tomlconf.read(path)
    document.setdefault("schema", policy.SCHEMA_VERSION)
    try:
        document = policy.validate(document)
    except policy.PolicyError as exc:
        dotted, _, reason = str(exc).partition(": ")
        raise tomlconf.problem(path, text, dotted, reason) from None
    problems = check_rules_section(document.get("rules", {}))
    if problems:
        dotted, reason = problems[0]
        raise tomlconf.problem(path, text, dotted, reason)
    return document


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def render_file(document: dict[str, Any]) -> str:
    """A policy document as the commented TOML file `policy set` reads back."""
    doc = with_rule_defaults(document)
    lines = [
        f"# Mamori policy for segment {doc['segment']} (version {policy.version_of(document)}).",
        "# Edit, check with `mamori-collector policy validate FILE`, apply with `policy set FILE`.",
        "",
    ]
    tables = {k: v for k, v in doc.items() if isinstance(v, dict) and k != "rules"}
    for key, value in doc.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables.items():
        lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    for rule_id, values in doc["rules"].items():
        rule = RULES.get(rule_id)
        lines += ["", f"# {rule_id} {rule.title('en') if rule else ''}".rstrip(), f"[rules.{rule_id}]"]
        for k, v in values.items():
            if rule and k in rule.params:
                lines.append(f"# {rule.params[k].doc}")
            lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def generation(engine: Engine) -> str:
    """A value that changes whenever an input of some agent's policy changes (cheap to poll).

    Inputs: segment documents, the approved-device register, temporary permissions (granted or revoked).
    A permission running out needs no push: agents expire it by their own clock.
    """
    with engine.connect() as conn, read_only(conn):
        parts = [
            conn.execute(select(func.max(policies.c.updated_at), func.count()).select_from(policies)).one(),
            conn.execute(
                select(func.max(approved_devices.c.created_at), func.count()).select_from(approved_devices)
            ).one(),
            conn.execute(
                select(
                    func.max(temporary_permissions.c.created_at),
                    func.max(temporary_permissions.c.revoked_at),
                    func.count(),
                ).select_from(temporary_permissions)
            ).one(),
        ]
    return "|".join(str(v) for row in parts for v in row)
