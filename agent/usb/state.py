"""Whether removable-media control is in force, as the check.result `media_control` that MED-006 reads."""

from __future__ import annotations

from typing import Any

from agent.checks.base import FAIL, PASS, Result
from mamori.i18n import _

CHECK_ID = "media_control"


def result(active: bool, mode: str, reason: str = "", host: str = "") -> Result:
    """The verdict on the control itself; evidence {active, mode, reason, host} is what the collector judges."""
    evidence: dict[str, Any] = {"active": active, "mode": mode, "reason": reason[:500], "host": host}
    if active:
        return Result(
            PASS, _("removable-media control in force (mode {mode})").format(mode=mode), evidence, check_id=CHECK_ID
        )
    return Result(
        FAIL,
        _("removable-media control NOT in force: {reason}").format(reason=reason),
        evidence,
        remediation=_(
            "Remove the cause shown (run mamori-agent as its service, as root / administrator, "
            "on a system with USB control), then restart the agent."
        ),
        check_id=CHECK_ID,
    )


def payload(active: bool, mode: str, reason: str = "", host: str = "") -> dict[str, Any]:
    return result(active, mode, reason, host).payload()


def is_state(kind: str, body: dict[str, Any]) -> bool:
    return kind == "check.result" and body.get("check_id") == CHECK_ID


def severity(body: dict[str, Any], segment: str) -> str:
    # Silence is never compliant: a terminal without control is as exposed as one with a stick left in.
    if body.get("status") == PASS:
        return "info"
    return "critical" if segment == "mynumber" else "high"
