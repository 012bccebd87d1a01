"""Every evidence field a collector rule reads is one its posture check sends (a rule reading a field no check
produces would judge on a default forever)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from collector.rules import MODULES

REPO = Path(__file__).resolve().parents[1]
# Field names some rules still accept beside the one their check sends (shapes imagined before the checks
# existed). Sent by no check, so never decisive; listed so that no new dead read can appear. Shrink, never grow.
TOLERATED_ALIASES = {"PAT-001": {"oldest_pending_since"}, "PAT-002": {"last_refresh"},
                     "MAL-002": {"signatures_updated"}, "NET-003": {"registered_network", "active_interfaces"},
                     "SW-001": {"unauthorised"}, "OPS-001": {"synchronized"}}
# Evidence not built by a scheduled posture check: the agent reports its own media control.
SENDERS = {"media_control": "agent/usb/state.py"}
READ = re.compile(r"""(?:ev|evidence)\.get\(\s*["']([a-z_]+)["']|(?:ev|evidence)\[\s*["']([a-z_]+)["']\]""")


def _sent_by(check_id: str) -> str:
    """The text of the check and the OS readers it builds its evidence with."""
    sources = [REPO / SENDERS.get(check_id, f"agent/checks/{check_id}.py"),
               *sorted((REPO / "agent/host").rglob("*.py"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in sources)


@pytest.mark.parametrize("module", [m for m in MODULES if m.RULE.check_id], ids=lambda m: m.RULE.id)
def test_rules_read_only_fields_their_check_sends(module):
    source = inspect.getsource(module.evaluate)
    read = {a or b for a, b in READ.findall(source)}
    sent = _sent_by(module.RULE.check_id)
    missing = sorted(f for f in read - TOLERATED_ALIASES.get(module.RULE.id, set())
                     if not re.search(rf"""["']{f}["']|\b{f}=""", sent))
    assert not missing, f"{module.RULE.id} reads evidence the {module.RULE.check_id} check never sends: {missing}"
