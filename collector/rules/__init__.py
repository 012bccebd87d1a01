"""The rule catalogue (rules.md Wave 1): one module per rule, RULES keyed by id, in catalogue order."""

from __future__ import annotations

from collector.rules import (
    aut_001,
    aut_002,
    aut_003,
    enc_001,
    mal_001,
    mal_002,
    med_001,
    med_002,
    med_003,
    med_004,
    med_005,
    med_006,
    net_001,
    net_002,
    net_003,
    ops_001,
    ops_002,
    ops_003,
    ops_004,
    ops_005,
    ops_006,
    pat_001,
    pat_002,
    pat_003,
    pat_004,
    sw_001,
)
from collector.rules.base import Rule

MODULES = (
    med_001,
    med_002,
    med_003,
    med_004,
    med_005,
    med_006,
    aut_001,
    aut_002,
    aut_003,
    pat_001,
    pat_002,
    pat_003,
    pat_004,
    mal_001,
    mal_002,
    enc_001,
    net_001,
    net_002,
    net_003,
    sw_001,
    ops_001,
    ops_002,
    ops_003,
    ops_004,
    ops_005,
    ops_006,
)
RULES: dict[str, Rule] = {m.RULE.id: m.RULE for m in MODULES}

# Event kinds that have at least one rule: only these are evaluated on the ingest path.
EVENT_KINDS: frozenset[str] = frozenset(k for r in RULES.values() for k in r.kinds)


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
