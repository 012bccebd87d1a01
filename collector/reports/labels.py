"""Report wording (the terms of rules.md): English msgids, Japanese from the gettext catalogue."""

from __future__ import annotations

from mamori.i18n import catalogue

# key -> English text; the catalogue translates it under the context "report.<key>" (English repeats words
# such as "Violations" that Japanese tells apart: 違反明細 / 違反件数).
LABELS: dict[str, str] = {
    "title": "Information security inspection report",
    "overview": "Overview",
    "period": "Period",
    "generated": "Generated",
    "state": "State",
    "not_ended": " (period not yet ended: as of {when})",
    "future_period": "this period has not begun yet: give a period that has ended or the current one",
    "filters": "Filters",
    "by_department": "Summary by department",
    "by_clause": "Summary by clause",
    "by_segment": "Summary by segment",
    "detail": "Violations",
    "exceptions": "Exceptions in force during the period",
    "approvals": "Device approvals used",
    "approval": "Approval (register rule / temporary)",
    "serial": "Serial",
    "device": "Device",
    "uses": "Uses",
    "first_use": "First use",
    "last_use": "Last use",
    "department": "Department",
    "clause": "Clause",
    "rules": "Rules",
    "segment": "Segment",
    "targets": "Terminals",
    "compliance": "Compliance",
    "violations": "Violations",
    "unresolved": "Not corrected",
    "result": "Result",
    "rule_id": "Rule ID",
    "terminal": "Terminal",
    "user": "User",
    "occurred": "Occurred",
    "detected": "Detected",
    "severity": "Severity",
    "evidence_id": "Evidence ID",
    "exception_no": "Exception No.",
    "status": "Status",
    "checked_by": "Checked by",
    "checked_on": "Checked on",
    "no": "No.",
    "scope": "Scope",
    "from": "From",
    "until": "Until",
    "reason": "Reason",
    "approved_by": "Approved by",
    "weekly": "Violations per week by severity",
    "compliance_by_department": "Compliance rate by department",
    "compliance_by_segment": "Compliance rate by segment",
    "legend": "○ compliant / △ partly (all corrected) / × not compliant (uncorrected) / − not applicable",
    "none": "None",
    "temporary_approval": "temporary {ref}",
    "register_rule": "rule {ref}",
}
# Severity, segment, status and exception-state names are not here: mamori.labels has the one table of each.


def wording(key: str, lang: str) -> str:
    """The label in the report's language (a report is written in its own --lang, whatever the process's)."""
    return catalogue(lang).pgettext(f"report.{key}", LABELS.get(key, key))
