"""mfa: logon to the terminal and remote logon require two factors (AUT-001, AUT-002)."""

from __future__ import annotations

from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec
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
# Console and display-manager logon services (common-auth is judged through them: it is only ever
# included). Greeters are no logon; autologin services count only where the display manager enables them.
LOGON_SERVICES = ("login", "gdm-password", "gdm-fingerprint", "gdm-smartcard", "lightdm", "sddm", "kde",
                  "xscreensaver")
AUTOLOGIN_SERVICES = ("lightdm-autologin", "gdm-autologin")


def run(ctx: Context) -> Result:
    if ctx.platform == "windows":
        return _windows(ctx)
    return _linux(ctx)


def _linux(ctx: Context) -> Result:
    from agent.host.linux import pam, sshd

    required = bool(ctx.settings.get("mfa_required", True))
    config = pam.PamConfig(ctx.root)
    if not config.pamd.is_dir():
        return Result(ERROR, _("{pamd} not found: cannot tell how logon is authenticated").format(pamd=config.pamd),
                      Mfa(pam_d=str(config.pamd)))
    services, not_logon, autologin = _logon_services(config, ctx)
    logon = {s: config.evaluate(s) for s in services}
    weak_logon = [s for s, r in logon.items() if r.ways and not r.multi_factor()]
    evidence: dict[str, Any] = {"mfa_required": required, "logon": [r.as_evidence() for r in logon.values()],
                                "not_logon": not_logon, "autologin": autologin}
    authselect = _authselect(ctx)
    if authselect:
        evidence["authselect"] = authselect
    remote_weak: list[str] = []
    cfg = sshd.load(ctx.root)
    if cfg is not None:
        stack = config.evaluate("sshd")
        evidence["sshd_pam"] = stack.as_evidence()
        contexts = [("global", cfg.effective())] + [(f"Match {crit}", cfg.effective(block))
                                                    for crit, block in cfg.matches]
        evidence["sshd"] = {"files": cfg.files, "problems": cfg.problems, "contexts": []}
        for label, opts in contexts:
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
    local_loops = [f"{s}: {p}" for s in services for p in config.include_loops(s)]
    ssh_loops = [f"sshd: {p}" for p in config.include_loops("sshd")] if cfg is not None else []
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
        findings.append(_("logon ({services}) succeeds with {factors} alone via {modules}").format(
                            services=', '.join(weak_logon), factors=_factors(way.factors),
                            modules=', '.join(m.split('@')[0] for m in way.modules)))
        auto = [f"{s} ({autologin[s]})" for s in weak_logon if s in autologin]
        if auto:
            findings.append(_("autologin is switched on: {auto}").format(auto=', '.join(auto)))
    if remote_weak:
        findings.append(_("sshd allows single-factor logon: {remote_weak}").format(remote_weak='; '.join(remote_weak)))
    if findings:
        res = Result(FAIL, " / ".join(findings), typed)
        if weak_logon and required and ctx.segment == "mynumber":
            res.severity = "critical"  # AUT-001: terminal logon without a second factor on マイナンバー系
        return res
    if weak_logon:
        return Result(PASS, _("MFA is recommended but not configured for {services} "
                              "(not required in this segment)").format(services=', '.join(weak_logon)), typed)
    remote = _("sshd requires two factors") if cfg else _("no sshd")
    return Result(PASS, _("logon requires two factors ({services}); {remote}").format(services=', '.join(services),
                            remote=remote), typed)


def _logon_services(config: Any, ctx: Context) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The PAM services a person logs on through, why the other display-manager services are not, and
    where an autologin is switched on."""
    from agent.host.linux.autologin import display_managers

    dm = display_managers(ctx.root)
    services = [s for s in LOGON_SERVICES if (s == "login" or config.exists(s)) and s not in dm.greeters]
    services += [s for s in dm.autologin if s not in services]  # no password asked: a logon all the same
    not_logon = {g: "greeter" for g in dm.greeters if config.exists(g)}
    not_logon |= {s: "autologin not enabled" for s in AUTOLOGIN_SERVICES if config.exists(s) and s not in dm.autologin}
    return services, not_logon, dm.autologin


def _factors(factors: frozenset[str]) -> str:
    if not factors:
        return _("no factor")
    names = {"knowledge": _("knowledge"), "possession": _("possession"), "inherence": _("inherence")}
    return "+".join(names.get(f, f) for f in sorted(factors))


def _ssh_lists(opts: dict[str, str], stack: Any) -> list[dict[str, Any]]:
    """Each list of methods a client may complete, with the factor categories it proves."""
    enabled = {"publickey": opts["pubkeyauthentication"] == "yes",
               "password": opts["passwordauthentication"] == "yes",
               "keyboard-interactive": opts["kbdinteractiveauthentication"] == "yes"}
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


def _authselect(ctx: Context) -> dict[str, Any] | None:
    """RHEL family: the authselect profile and features that generated /etc/pam.d (evidence only)."""
    from agent.host.sysio import HostIOError, read_text

    path = ctx.root / "etc/authselect/authselect.conf"
    if not path.exists():
        return None
    try:
        lines = [x.strip() for x in read_text(path, 65536).text.splitlines() if x.strip() and
                 not x.startswith("#")]
    except HostIOError as exc:
        return {"error": str(exc)}
    return {"profile": lines[0] if lines else "", "features": lines[1:20],
            "smartcard_required": "with-smartcard-required" in lines, "mfa": "with-mfa" in lines}


def _windows(ctx: Context) -> Result:
    from agent.host.windows import host as windows

    if ctx.windows is None:
        return Result(NOT_APPLICABLE, _("no Windows data source"), {})
    state = windows.logon_mfa(ctx.windows)
    evidence = state.evidence()
    rdp = bool(state.facts.get("rdp_enabled"))
    evidence.update(remote_logon_enabled=rdp, remote_mfa=rdp and bool(state.enforced), remote=["rdp"] if rdp else [],
                    local_mfa=bool(state.enforced))
    typed = Mfa.build(evidence)
    required = bool(ctx.settings.get("mfa_required", True))
    if state.facts.get("rdp_enabled") and not state.enforced:
        return Result(FAIL, _("Remote Desktop is enabled without a second factor: {reason}").format(
                                reason=state.reason), typed)
    if state.enforced:
        return Result(PASS, _("logon requires two factors: {reason}").format(reason=state.reason), typed)
    if not required:
        return Result(PASS, _("MFA recommended but not enforced: {reason}").format(reason=state.reason), typed)
    return Result(FAIL, _("password-only logon is possible: {reason}").format(reason=state.reason), typed)
