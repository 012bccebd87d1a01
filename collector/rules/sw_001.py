"""SW-001: software outside the permitted list installed (無許可ソフトウェア)."""

import fnmatch

from collector.rules.base import Clear, Flag, Param, Rule, check, check_fallback

# Check "software" evidence: {"unauthorised": [names the agent found outside its list],
#   "installed": [names]}; with a non-empty `permitted` parameter the collector also checks "installed".


def evaluate(s, params):
    found = [str(x) for x in s.evidence.get("unauthorised", [])]
    # The software check: "forbidden" (deny-listed, always) and "not_permitted" (when an allowlist is enforced).
    found += [str(x.get("name")) for x in s.evidence.get("forbidden", []) if isinstance(x, dict)]
    if s.evidence.get("allowlist_enforced"):
        found += [str(x.get("name") if isinstance(x, dict) else x) for x in s.evidence.get("not_permitted", [])]
    installed = s.evidence.get("installed")
    if params["permitted"] and isinstance(installed, list):
        found += [str(n) for n in installed
                  if not any(fnmatch.fnmatch(str(n).lower(), p.lower()) for p in params["permitted"])]
    found = sorted(set(found))
    if found:
        return Flag(", ".join(found)[:200], {"unauthorised": found})
    if any(k in s.evidence for k in ("unauthorised", "forbidden")) or isinstance(installed, list):
        return Clear("no unauthorised software", {"unauthorised": []})
    return check_fallback(s, "software check failed")


RULE = Rule(
    id="SW-001",
    title_ja="無許可ソフトウェアのインストール",
    title_en="Unauthorised software installed",
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP3(2)",), clause_g=("6.1",),
    evidence_ja="check.result (software): 許可リスト外のソフトウェア名",
    evidence_en="check.result (software): names outside the permitted list",
    remediation_ja="無許可ソフトウェアを削除するか、利用申請により許可リストへ追加してください。",
    remediation_en="Remove the software, or have it approved and added to the permitted list.",
    evaluate=evaluate, kinds=("check.result",), check_id="software",
    params={"permitted": Param([], "permitted software name patterns (glob); empty: the agent's verdict only")},
)

FLAGS = [check("internet", "software", "fail", {"unauthorised": ["Dropbox"]})]
PASSES = [check("internet", "software", "pass", {"unauthorised": []})]
# As the software check reports it.
FLAGS.append(check("internet", "software", "fail", {"installed": 812, "forbidden": [
    {"name": "dropbox", "version": "1.0", "pattern": "dropbox*"}], "not_permitted": [], "allowlist_enforced": False}))
PASSES.append(check("internet", "software", "pass", {"installed": 812, "forbidden": [], "not_permitted": ["vim"],
                                                     "allowlist_enforced": False}))
