"""mfa: logon to the terminal and remote logon require two factors (AUT-001, AUT-002)."""

from __future__ import annotations

from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec
from agent.host.facts import MfaFacts, StackReport, WindowsLogon
from mamori.evidence.auth import Mfa
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="mfa",
    title=N_("Multi-factor authentication"),
    platforms=("linux", "windows"),
    interval_seconds=3600,
    severity="high",
    rules=("AUT-001", "AUT-002"),
    remediation=N_(
        "Require a second factor at logon: add pam_u2f/pam_pkcs11/pam_oath as `required` after the password "
        "(never `sufficient`), or on Windows enforce Windows Hello for Business / smart-card logon and "
        "filter the password credential provider. For sshd set AuthenticationMethods "
        "publickey,keyboard-interactive."
    ),
    reads={
        "linux": "PAM stacks (login, gdm-password, lightdm, sddm, ... with include/substack/jumps; greeters are no "
        "logon, lightdm/gdm autologin only when switched on; an include loop is `error`), sshd_config + Match, "
        "authselect",
        "windows": "Windows Hello for Business, scforceoption, credential providers, Remote Desktop",
    },
    settings=("mfa_required",),
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()


def run(ctx: Context) -> Result:
    return verdict(ctx.facts().mfa(), ctx.settings, ctx.segment)


def verdict(facts: MfaFacts, settings: dict[str, Any], segment: str) -> Result:
    """Pure: how logon and remote logon authenticate, whether the policy requires MFA and the segment -> the
    result (a single-factor logon on マイナンバー系 is critical)."""
    if facts.unavailable:
        return Result(NOT_APPLICABLE, _("no Windows data source"), {})
    if facts.windows is not None:
        return _windows(facts.windows, settings)
    required = bool(settings.get("mfa_required", True))
    if facts.pam_d_missing:
        return Result(
            ERROR,
            _("{pamd} not found: cannot tell how logon is authenticated").format(pamd=facts.pam_d),
            Mfa(pam_d=facts.pam_d),
        )
    services, not_logon, autologin = list(facts.services), dict(facts.not_logon), dict(facts.autologin)
    logon = dict(zip(services, facts.logon, strict=True))
    weak_logon = [s for s, r in logon.items() if r.ways and not r.multi_factor()]
    evidence: dict[str, Any] = {
        "mfa_required": required,
        "logon": [r.as_evidence() for r in logon.values()],
        "not_logon": not_logon,
        "autologin": autologin,
    }
    if facts.authselect:
        evidence["authselect"] = facts.authselect
    remote_weak: list[str] = []
    cfg = facts.sshd
    if cfg is not None:
        stack = cfg
        evidence["sshd_pam"] = stack.as_evidence()
        evidence["sshd"] = {"files": list(facts.sshd_files), "problems": list(facts.sshd_problems), "contexts": []}
        for label, opts in ((c.label, c.options) for c in facts.sshd_contexts):
            lists = _ssh_lists(opts, stack)
            weak = [lst for lst in lists if len(lst["factors"]) < 2]
            evidence["sshd"]["contexts"].append({"context": label, "options": opts, "method_lists": lists})
            if weak:
                remote_weak.append(f"{label}: " + ", ".join("+".join(w["methods"]) for w in weak))
    # What the collector's AUT-002 reads: is remote logon possible, and only with two factors?
    evidence["remote_logon_enabled"] = cfg is not None
    evidence["remote_mfa"] = cfg is not None and not remote_weak
    evidence["remote"] = ["sshd"] if cfg is not None else []
    problems = [f"{s}: {p}" for s, r in logon.items() for p in r.problems if "not installed" in p or "loop" in p]
    if problems:
        evidence["warnings"] = problems[:20]
    local_loops, ssh_loops = list(facts.local_loops), list(facts.ssh_loops)
    if ssh_loops:
        evidence.pop("remote_mfa")  # an sshd stack libpam cannot load says nothing either way about remote MFA
    if not local_loops:
        # What the collector's AUT-001 reads: does every local logon service need a second factor?
        evidence["local_mfa"] = not weak_logon
    loops = local_loops + ssh_loops
    typed = Mfa.build(evidence)  # the schema decides what may be sent
    if loops:
        # libpam itself fails on such a stack: nothing can be said about its factors, so never "pass".
        return Result(ERROR, _("PAM include loop, logon cannot be judged: {loop}").format(loop=loops[0]), typed)
    findings = []
    if weak_logon and required:
        way = logon[weak_logon[0]].weakest
        assert way is not None
        findings.append(
            _("logon ({services}) succeeds with {factors} alone via {modules}").format(
                services=", ".join(weak_logon),
                factors=_factors(way.factors),
                modules=", ".join(m.split("@")[0] for m in way.modules),
            )
        )
        auto = [f"{s} ({autologin[s]})" for s in weak_logon if s in autologin]
        if auto:
            findings.append(_("autologin is switched on: {auto}").format(auto=", ".join(auto)))
    if remote_weak:
        findings.append(_("sshd allows single-factor logon: {remote_weak}").format(remote_weak="; ".join(remote_weak)))
    if findings:
        res = Result(FAIL, " / ".join(findings), typed)
        if weak_logon and required and segment == "mynumber":
            res.severity = "critical"  # AUT-001: terminal logon without a second factor on マイナンバー系
        return res
    if weak_logon:
        return Result(
            PASS,
            _("MFA is recommended but not configured for {services} (not required in this segment)").format(
                services=", ".join(weak_logon)
            ),
            typed,
        )
    remote = _("sshd requires two factors") if cfg else _("no sshd")
    return Result(
        PASS,
        _("logon requires two factors ({services}); {remote}").format(services=", ".join(services), remote=remote),
        typed,
    )


def _factors(factors: frozenset[str]) -> str:
    if not factors:
        return _("no factor")
    names = {"knowledge": _("knowledge"), "possession": _("possession"), "inherence": _("inherence")}
    return "+".join(names.get(f, f) for f in sorted(factors))


def _ssh_lists(opts: dict[str, str], stack: StackReport) -> list[dict[str, Any]]:
    """Each list of methods a client may complete, with the factor categories it proves."""
    enabled = {
        "publickey": opts["pubkeyauthentication"] == "yes",
        "password": opts["passwordauthentication"] == "yes",
        "keyboard-interactive": opts["kbdinteractiveauthentication"] == "yes",
    }
    pam_on = opts["usepam"] == "yes"
    weakest = stack.weakest
    if pam_on:
        kbd = set(weakest.factors) if weakest else None  # None: the PAM stack never lets anyone in
    else:
        kbd = {"knowledge"}
    # With UsePAM, the password method feeds its one secret to the PAM stack: if the stack also asks for a
    # code or a key, that method can no longer succeed on its own.
    password = {"knowledge"} if not pam_on or (weakest and set(weakest.factors) <= {"knowledge"}) else None
    factors_of = {"publickey": {"possession"}, "password": password, "keyboard-interactive": kbd}
    spec = opts["authenticationmethods"].strip()
    if spec.lower() == "any" or not spec:
        lists = [[m] for m in enabled]
    else:
        lists = [item.split(",") for item in spec.split()]
    out = []
    for methods in lists:
        base = [m.split(":", 1)[0] for m in methods]
        if not all(enabled.get(m, False) for m in base) or any(factors_of.get(m) is None for m in base):
            continue
        got: set[str] = set()
        for m in base:
            got |= factors_of[m] or set()
        out.append({"methods": methods, "factors": sorted(got)})
    return out


def _windows(state: WindowsLogon, settings: dict[str, Any]) -> Result:
    evidence = dict(state.evidence)
    rdp = state.rdp_enabled
    evidence.update(
        remote_logon_enabled=rdp,
        remote_mfa=rdp and bool(state.enforced),
        remote=["rdp"] if rdp else [],
        local_mfa=bool(state.enforced),
    )
    typed = Mfa.build(evidence)
    required = bool(settings.get("mfa_required", True))
    if rdp and not state.enforced:
        return Result(
            FAIL, _("Remote Desktop is enabled without a second factor: {reason}").format(reason=state.reason), typed
        )
    if state.enforced:
        return Result(PASS, _("logon requires two factors: {reason}").format(reason=state.reason), typed)
    if not required:
        return Result(PASS, _("MFA recommended but not enforced: {reason}").format(reason=state.reason), typed)
    return Result(FAIL, _("password-only logon is possible: {reason}").format(reason=state.reason), typed)
