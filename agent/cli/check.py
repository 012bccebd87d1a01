"""`mamori-agent check [--id ID] [--json]`: run the posture checks once and show the results."""

from __future__ import annotations

import argparse
import json
import re

from agent.cli.common import CliError
from agent.config import StateDir
from mamori.i18n import _
from mamori.labels import names
from mamori.table import pad, width

WIDTH = 80


def _policy(state: StateDir) -> tuple[dict, str]:
    """The cached policy when this terminal is enrolled; otherwise the strictest (fail closed)."""
    from agent.identity import NotEnrolled, load_identity
    from agent.policy_cache import PolicyCache
    from mamori import policy

    try:
        ident = load_identity(state)
    except NotEnrolled:
        return policy.strictest(), "strictest"
    eff = PolicyCache(state.policy, ident.segment).current
    return eff.document, eff.source


def _wrap(text: str, indent: str) -> list[str]:
    """Wrap to 80 columns counting double-width characters."""
    lines, line = [], indent
    # Latin words stay whole (with their trailing space); Japanese may break between any two characters.
    for token in re.findall(r"[\x21-\x7e]+ ?| |.", text):
        if width(line) + width(token.rstrip()) > WIDTH and line.strip():
            lines.append(line.rstrip())
            line = indent + token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _table(results: list, label: dict[str, str]) -> str:
    """Check | Result | Summary, the summary wrapped (not cut) so staff read the whole finding in 80 columns."""
    heads = [_("Check"), _("Result"), _("Summary")]
    w0 = max([width(heads[0])] + [width(r.title) for r in results])
    w1 = max([width(heads[1])] + [width(label[r.status]) for r in results])
    indent = " " * (w0 + w1 + 4)
    lines = [f"{pad(heads[0], w0)}  {pad(heads[1], w1)}  {heads[2]}"]
    for r in results:
        wrapped = _wrap(r.summary, indent) or [indent]
        lines.append(f"{pad(r.title, w0)}  {pad(label[r.status], w1)}  {wrapped[0][len(indent) :]}".rstrip())
        lines.extend(wrapped[1:])
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace, state: StateDir) -> int:
    from agent.checks import CHECKS
    from agent.checks.base import context, enabled, execute

    if args.id and args.id not in CHECKS:
        raise CliError(_("unknown check {id}; known checks: {ids}").format(id=args.id, ids=", ".join(CHECKS)))
    document, source = _policy(state)
    ctx = context(document, document["segment"], state.root if state.root.is_dir() else None)
    results = [execute(c, ctx) for c in enabled(CHECKS, ctx.settings, args.id)]
    if args.json:
        print(
            json.dumps(
                {
                    "policy_source": source,
                    "segment": document["segment"],
                    "results": [
                        {
                            "check_id": r.check_id,
                            "title": r.title,
                            "status": r.status,
                            "summary": r.summary,
                            "evidence": r.evidence,
                            "remediation": r.remediation,
                            "seconds": r.seconds,
                        }
                        for r in results
                    ],
                },
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
    else:
        label = names("check")
        print(_table(results, label))
        for r in results:
            if r.status in ("fail", "error"):
                print()
                print(f"■ {r.title} ({r.check_id}): {label[r.status]}")
                if r.status == "error":
                    print("\n".join(_wrap(r.summary, "  ")))
                if r.remediation:
                    print("\n".join(_wrap(_("What to do: ") + r.remediation, "  ")))
        if source == "strictest":
            print()
            print("\n".join(_wrap(_("No policy from the collector yet: judged against the strictest thresholds."), "")))
    return 1 if any(r.status in ("fail", "error") for r in results) else 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("check", parents=[common], help=_("run the posture checks once and show the results"))
    p.add_argument("--id", help=_("run only this check"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)
