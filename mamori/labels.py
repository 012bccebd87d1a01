"""The product's vocabulary: segments, severities, states, and the one staff-facing label table of each."""

from __future__ import annotations

from collections.abc import Callable

from mamori.i18n import catalogue, current

SEGMENTS = ("mynumber", "lgwan", "internet")
SEVERITIES = ("info", "low", "medium", "high", "critical")  # ascending: the wire enum and SEVERITY_RANK order
VIOLATION_STATUSES = ("open", "acknowledged", "resolved")
EXCEPTION_STATES = ("active", "expired", "revoked", "pending")
PERMISSION_STATES = ("active", "expired", "revoked")  # temporary device permissions (一時許可)
AGENT_STATES = ("active", "revoked", "superseded")  # superseded: the terminal enrolled again
TOKEN_STATES = ("active", "expired", "used_up", "revoked")  # enrollment tokens


# Each table is a function of the language: CLIs follow the process's language (i18n.setup), a report its own
# --lang. The texts are gettext messages (mamori.po), the one translation mechanism.
def _segment(tr) -> dict[str, str]:
    _ = tr.gettext
    return {"mynumber": _("My Number"), "lgwan": _("LGWAN"), "internet": _("Internet")}


def _severity(tr) -> dict[str, str]:
    _ = tr.gettext
    return {"critical": _("Critical"), "high": _("High"), "medium": _("Medium"), "low": _("Low"), "info": _("Info")}


def _status(tr) -> dict[str, str]:
    _ = tr.gettext
    return {"open": _("Open"), "acknowledged": _("Acknowledged"), "resolved": _("Resolved")}


def _exception(tr) -> dict[str, str]:
    _ = tr.gettext
    # A permission withdrawn by staff is 取消, an agent's revoked certificate 失効: same English, two contexts.
    return {
        "active": _("in force"),
        "expired": _("expired"),
        "revoked": tr.pgettext("permission", "revoked"),
        "pending": _("not yet valid"),
    }


def _permission(tr) -> dict[str, str]:
    _ = tr.gettext
    return {"active": _("active"), "expired": _("expired"), "revoked": tr.pgettext("permission", "revoked")}


def _agent(tr) -> dict[str, str]:
    _ = tr.gettext
    return {"active": _("active"), "revoked": _("revoked"), "superseded": _("superseded")}


def _token(tr) -> dict[str, str]:
    _ = tr.gettext
    # A token withdrawn by staff is 取消 like a permission, not 失効 like a certificate.
    return {
        "active": _("active"),
        "expired": _("expired"),
        "used_up": _("used up"),
        "revoked": tr.pgettext("permission", "revoked"),
    }


def _check(tr) -> dict[str, str]:
    # Keyed by the agent's check statuses (agent.checks.base.STATUSES, their one definition).
    _ = tr.gettext
    return {"pass": _("Pass"), "fail": _("Fail"), "not_applicable": _("N/A"), "error": _("Error")}


TABLES: dict[str, tuple[tuple[str, ...] | None, Callable]] = {
    "segment": (SEGMENTS, _segment),
    "severity": (SEVERITIES, _severity),
    "status": (VIOLATION_STATUSES, _status),
    "exception": (EXCEPTION_STATES, _exception),
    "permission": (PERMISSION_STATES, _permission),
    "agent": (AGENT_STATES, _agent),
    "token": (TOKEN_STATES, _token),
    "check": (None, _check),
}


def names(concept: str, lang: str | None = None) -> dict[str, str]:
    """Value -> label for one concept, in the order of its constant; lang None means the process's language."""
    keys, table = TABLES[concept]
    labels = table(catalogue(lang) if lang else current())
    return labels if keys is None else {k: labels[k] for k in keys}


def label(concept: str, value: str, lang: str | None = None) -> str:
    """The label of one value; an unknown value (an old row, a newer agent) is shown as it is."""
    return names(concept, lang).get(value, value)
