"""Report wording in Japanese and English (the terms of rules.md)."""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    "title": ("情報セキュリティ点検結果報告書", "Information security inspection report"),
    "period": ("対象期間", "Period"),
    "generated": ("作成日時", "Generated"),
    "state": ("状態", "State"),
    "not_ended": ("（期間終了前の集計: {when} 時点）", " (period not yet ended: as of {when})"),
    "future_period": ("この期間はまだ始まっていません: 終了した期間か現在の期間を指定してください",
                      "this period has not begun yet: give a period that has ended or the current one"),
    "filters": ("絞り込み", "Filters"),
    "by_department": ("所属別集計", "Summary by department"),
    "by_clause": ("条項別集計", "Summary by clause"),
    "by_segment": ("系別集計", "Summary by segment"),
    "detail": ("違反明細", "Violations"),
    "exceptions": ("例外措置", "Exceptions in force during the period"),
    "approvals": ("使用された許可デバイス", "Device approvals used"),
    "approval": ("許可 (台帳の規則 / 一時許可)", "Approval (register rule / temporary)"),
    "serial": ("シリアル番号", "Serial"),
    "device": ("デバイス", "Device"),
    "uses": ("使用回数", "Uses"),
    "first_use": ("初回使用", "First use"),
    "last_use": ("最終使用", "Last use"),
    "department": ("所属", "Department"),
    "clause": ("対応条項", "Clause"),
    "rules": ("点検項目", "Rules"),
    "segment": ("系", "Segment"),
    "targets": ("対象台数", "Terminals"),
    "compliance": ("適合率", "Compliance"),
    "violations": ("違反件数", "Violations"),
    "unresolved": ("未是正件数", "Not corrected"),
    "result": ("結果", "Result"),
    "rule_id": ("点検項目ID", "Rule ID"),
    "terminal": ("端末名", "Terminal"),
    "user": ("利用者", "User"),
    "occurred": ("発生日時", "Occurred"),
    "detected": ("検知内容", "Detected"),
    "severity": ("重要度", "Severity"),
    "evidence_id": ("証跡ID", "Evidence ID"),
    "exception_no": ("例外措置番号", "Exception No."),
    "status": ("是正状況", "Status"),
    "checked_by": ("確認者", "Checked by"),
    "checked_on": ("確認日", "Checked on"),
    "no": ("番号", "No."),
    "scope": ("対象", "Scope"),
    "from": ("開始", "From"),
    "until": ("期限", "Until"),
    "reason": ("理由", "Reason"),
    "approved_by": ("承認者", "Approved by"),
    "weekly": ("週別の違反件数 (重要度別)", "Violations per week by severity"),
    "compliance_by_department": ("所属別の適合率", "Compliance rate by department"),
    "compliance_by_segment": ("系別の適合率", "Compliance rate by segment"),
    "legend": ("○ 適合 / △ 一部適合 (是正済) / × 不適合 (未是正あり) / − 対象外",
               "○ compliant / △ partly (all corrected) / × not compliant (uncorrected) / − not applicable"),
    "none": ("該当なし", "None"),
    # The approval column: what let a device in, from the agent's decided_by (the rule text is USBGuard's language).
    "temporary_approval": ("一時許可 {ref}", "temporary {ref}"),
    "register_rule": ("台帳の規則 {ref}", "rule {ref}"),
}
# Severity, segment, status and exception-state names are not here: mamori.labels has the one table of each.


def t(key: str, lang: str, table: dict[str, tuple[str, str]] = LABELS) -> str:
    ja, en = table.get(key, (key, key))
    return en if lang == "en" else ja
