"""docs/rules.md from the rule modules: `python -m collector.rules.catalogue [--write]` (a test keeps it current)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from collector.rules import MODULES, RULES
from collector.rules.base import Flag, Rule
from collector.rules.engine import judge, with_check
from mamori.evidence import EVIDENCE
from mamori.labels import SEGMENTS, names

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
SHORT = {"mynumber": "M", "lgwan": "L", "internet": "I"}
# Titles of the MIC guideline's 対策基準 sections a rule may cite, as municipal policies copy them (令和6/7年版).
GUIDELINE = {
    "3": "強靭性の向上 (三層の対策)",
    "4.4": "端末・電磁的記録媒体等の管理",
    "5.4": "ID及びパスワード等の管理",
    "6.1": "コンピュータ及びネットワークの管理",
    "6.2": "アクセス制御",
    "6.4": "不正プログラム対策",
    "6.5": "不正アクセス対策",
    "6.6": "セキュリティ情報の収集",
    "7.1": "情報システムの監視",
    "7.2": "遵守状況の確認",
    "7.4": "例外措置",
    "9.1": "監査",
    "9.2": "自己点検",
}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _severity(rule: Rule) -> str:
    """`critical` when every segment it covers agrees, else per segment (M critical, L high)."""
    values = set(rule.severity.values())
    if len(values) == 1:
        return values.pop()
    return ", ".join(f"{SHORT[s]} {rule.severity[s]}" for s in rule.segments)


def _severity_detail(rule: Rule) -> str:
    sev, seg = names("severity", "ja"), names("segment", "ja")
    if rule.segments == SEGMENTS and len(set(rule.severity.values())) == 1:
        return f"all segments: {rule.severity['mynumber']} {sev[rule.severity['mynumber']]}"
    return ", ".join(f"{seg[s]} (`{s}`): {rule.severity[s]} {sev[rule.severity[s]]}" for s in rule.segments)


def _segments(rule: Rule) -> str:
    return "all" if rule.segments == SEGMENTS else ",".join(SHORT[s] for s in rule.segments)


def _guideline(g: str) -> str:
    section = g.split(" ", 1)[0]
    title = GUIDELINE.get(section)
    return f"G{g} {title}" if title else f"G{g}"


def _default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_default(v) for v in value) + "]"
    return repr(value)


def _param_range(param: Any) -> str:
    low, high = getattr(param, "minimum", None), getattr(param, "maximum", None)
    if low is None and high is None:
        return ""
    return f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"


def _evaluated(rule: Rule) -> str:
    if rule.state:
        return f"on the schedule (state `{rule.state}`)"
    where = f"check.result `{rule.check_id}`" if rule.check_id else ", ".join(f"`{k}`" for k in rule.kinds)
    return where + ("; re-checked on the schedule" if rule.recheck else "")


def _recorded(rule: Rule) -> str:
    """The evidence fields a violation of the rule records: its findings, as its FLAGS examples show them, and for
    a check rule the check's result with the evidence fields its schema declares."""
    module = next(m for m in MODULES if m.RULE is rule)
    found: dict[str, None] = {}
    for subject in module.FLAGS:
        outcome = with_check(judge(rule, subject), subject)
        if isinstance(outcome, Flag):
            found.update(dict.fromkeys(outcome.evidence))
    text = ", ".join(f"`{f}`" for f in found if f != "check")
    schema = EVIDENCE.get(rule.check_id or "")
    if schema is not None:
        declared = ", ".join(f"`{f.name}`" for f in fields(schema))
        text += ("; " if text else "") + (
            f"`check`: the {rule.check_id} result (`check_id`, `status`, `summary`, "
            f"`evidence`: {schema.__name__} {declared})"
        )
    return text


def _rule(rule: Rule) -> list[str]:
    lines = [
        f"### {rule.id} — {rule.title('ja')}",
        "",
        f"*{rule.title('en')}*",
        "",
        "| | |",
        "|---|---|",
        f"| severity | {_severity_detail(rule)} |",
        f"| clause | {_cell('; '.join((*rule.clause_bp, *map(_guideline, rule.clause_g))))} |",
        f"| evaluated | {_cell(_evaluated(rule))} |",
        f"| evidence | {_cell(rule.evidence('ja'))}<br>{_cell(rule.evidence('en'))} |",
        f"| evidence fields | {_cell(_recorded(rule))} |",
        f"| remediation | {_cell(rule.remediation('ja'))}<br>{_cell(rule.remediation('en'))} |",
        "",
    ]
    if rule.params:
        lines += [
            f"Parameters (`[rules.{rule.id}]` of the segment policy; `enabled = false` turns the rule off):",
            "",
            "| parameter | default | range | meaning |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{name}` | `{_cell(_default(p.default))}` | {_param_range(p)} | {_cell(p.doc)} |"
            for name, p in rule.params.items()
        ]
        lines.append("")
    return lines


def render() -> str:
    """The whole catalogue as Markdown; the same rule modules always give the same text."""
    seg = names("segment", "ja")
    lines = [
        "# Rule catalogue (点検項目一覧)",
        "",
        "<!-- Generated by `python -m collector.rules.catalogue --write` from collector/rules/*.py: "
        "edit the rule modules, not this file. -->",
        "",
        "Each rule the collector evaluates: its id, titles, severity per segment, the clauses it enforces, the "
        "evidence behind a violation, the remediation and the policy parameters with their defaults.",
        "",
        "Segments: " + ", ".join(f"{SHORT[s]} = {seg[s]} (`{s}`)" for s in SEGMENTS) + ".",
        "",
        "Clauses: `BP` is the association's 情報セキュリティポリシー 基本方針 (e.g. BP6(3)①); `G` is the section of "
        "the MIC guideline's 対策基準 as municipal policies number it. Clauses are data in each rule module "
        "(`clause_bp`, `clause_g`): a site whose 対策基準 numbers differ corrects them there; `[?]` marks a "
        "reference not yet verified.",
        "",
        "## Summary",
        "",
        "| id | title | seg | severity | clause |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.id} | {_cell(r.title('en'))} | {_segments(r)} | {_severity(r)} | {_cell(r.clause)} |"
        for r in RULES.values()
    ]
    lines += ["", "## Rules", ""]
    for rule in RULES.values():
        lines += _rule(rule)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.rules.catalogue", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {DOC.relative_to(DOC.parents[1])}")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
