"""mfa: verdicts on real PAM stacks built from Debian's own packages, sshd_config, and Windows registry."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.checks import base, mfa
from agent.host.windows import host as windows
from tests.agent.checks.conftest import make_ctx, pam_auth_update

DATA = Path(__file__).parent / "data" / "windows"


def check(root: Path, segment: str = "mynumber") -> base.Result:
    return base.execute(mfa, make_ctx(segment, root))


def login_with(root: Path, before: str = "", after: str = "") -> None:
    """Put lines before/after the `@include common-auth` of the shipped /etc/pam.d/login."""
    path = root / "etc/pam.d/login"
    text = path.read_text()
    assert "@include common-auth" in text
    path.write_text(text.replace("@include common-auth", f"{before}\n@include common-auth\n{after}", 1))


def no_sshd(root: Path) -> None:
    (root / "etc/ssh/sshd_config").unlink()


def logon(res: base.Result, service: str = "login") -> dict:
    return next(e for e in res.evidence["logon"] if e["service"] == service)


def test_stock_debian_password_only_fails_on_mynumber(pam_root):
    no_sshd(pam_root)
    res = check(pam_root)
    assert res.status == "fail"
    ev = logon(res)
    assert ev["weakest_way"]["factors"] == ["knowledge"]
    assert any(m.startswith("pam_unix@") for m in ev["weakest_way"]["modules"])
    assert "pam_unix" in res.summary and res.remediation
    assert base.severity(mfa, res) == "critical"


def test_stock_debian_is_only_a_recommendation_on_lgwan(pam_root):
    no_sshd(pam_root)
    res = check(pam_root, "lgwan")
    assert res.status == "pass"
    assert "recommended" in res.summary


@pytest.mark.parametrize(
    "line",
    [
        "auth required pam_u2f.so cue",
        "auth requisite pam_google_authenticator.so",
        "auth required pam_oath.so usersfile=/etc/users.oath window=20",
        "auth [success=ok default=die] pam_u2f.so",
    ],
)
def test_second_factor_required_after_password_passes(pam_root, line):
    no_sshd(pam_root)
    login_with(pam_root, after=line)
    res = check(pam_root)
    assert res.status == "pass", res.summary
    assert logon(res)["weakest_way"]["factors"] == ["knowledge", "possession"]


def test_sufficient_u2f_before_password_is_not_two_factors(pam_root):
    no_sshd(pam_root)
    login_with(pam_root, before="auth sufficient pam_u2f.so")
    res = check(pam_root)
    assert res.status == "fail"
    assert logon(res)["ways_in"] == 2  # the key alone, or the password alone
    assert len(logon(res)["weakest_way"]["factors"]) == 1


@pytest.mark.parametrize(
    "line", ["auth required pam_u2f.so nouserok", "auth required pam_google_authenticator.so nullok"]
)
def test_escape_options_let_unenrolled_users_in_with_a_password(pam_root, line):
    no_sshd(pam_root)
    login_with(pam_root, after=line)
    res = check(pam_root)
    assert res.status == "fail"
    assert logon(res)["weakest_way"]["factors"] == ["knowledge"]


def test_jump_over_deny_makes_the_key_mandatory(pam_root):
    """[success=1 default=ignore] pam_u2f + requisite pam_deny: only a key gets past, then the password."""
    no_sshd(pam_root)
    login_with(pam_root, before="auth [success=1 default=ignore] pam_u2f.so\nauth requisite pam_deny.so")
    assert check(pam_root).status == "pass"


def test_smart_card_as_the_only_primary_method_passes(pam_root):
    no_sshd(pam_root)
    common = pam_root / "etc/pam.d/common-auth"
    common.write_text(
        "auth [success=1 default=ignore] pam_pkcs11.so\nauth requisite pam_deny.so\nauth required pam_permit.so\n"
    )
    res = check(pam_root)
    assert res.status == "pass"
    assert logon(res)["weakest_way"]["modules"][0].startswith("pam_pkcs11@")


def test_smart_card_or_password_fails(pam_root):
    """A card reader offered next to the password still lets a password-only logon through."""
    no_sshd(pam_root)
    text = (pam_root / "etc/pam.d/common-auth").read_text()
    (pam_root / "etc/pam.d/common-auth").write_text(
        text.replace("auth\t[success=1", "auth\t[success=2 default=ignore] pam_pkcs11.so\nauth\t[success=1", 1)
    )
    assert check(pam_root).status == "fail"


def test_sssd_profile_password_fails_and_cert_auth_required_passes(pam_root):
    no_sshd(pam_root)
    generated = pam_auth_update(pam_root, ["unix", "sss"])
    assert "pam_sss.so use_first_pass" in generated
    assert check(pam_root).status == "fail"
    (pam_root / "etc/pam.d/common-auth").write_text(
        "auth [success=1 default=ignore] pam_sss.so require_cert_auth\nauth requisite pam_deny.so\n"
        "auth required pam_permit.so\n"
    )
    assert check(pam_root).status == "pass"


def test_display_manager_service_is_evaluated_too(pam_root):
    no_sshd(pam_root)
    login_with(pam_root, after="auth required pam_u2f.so")
    (pam_root / "etc/pam.d/gdm-password").write_text("auth requisite pam_nologin.so\n@include common-auth\n")
    res = check(pam_root)
    assert res.status == "fail"
    assert "gdm-password" in res.summary and "login" not in res.summary.split("(")[1].split(")")[0].split(", ")


def test_include_loop_terminates_and_is_reported(pam_root):
    no_sshd(pam_root)
    (pam_root / "etc/pam.d/common-auth").write_text("auth substack login\n@include common-auth\n")
    started = time.monotonic()
    res = check(pam_root)
    assert time.monotonic() - started < 5
    assert any("loop" in w for w in res.evidence.get("warnings", []))
    assert res.status == "error" and "include loop" in res.summary  # libpam fails on such a stack: never "pass"
    assert "local_mfa" not in res.evidence


def test_huge_and_binary_files_are_bounded(pam_root):
    no_sshd(pam_root)
    (pam_root / "etc/pam.d/common-auth").write_bytes(b"auth required pam_permit.so\n" * 400_000)
    res = check(pam_root)
    assert res.status == "fail"  # pam_permit proves nothing
    assert any("read limit" in p for p in logon(res)["problems"])
    (pam_root / "etc/pam.d/common-auth").write_bytes(bytes(range(256)) * 100)
    res = check(pam_root)
    assert any("binary" in p for p in logon(res)["problems"])


def test_module_not_installed_is_reported(pam_root):
    no_sshd(pam_root)
    login_with(pam_root, after="auth required pam_yubico.so")
    res = check(pam_root)
    assert any("pam_yubico.so is not installed" in w for w in res.evidence["warnings"])
    assert logon(res)["ways_in"] == 0  # a missing required module fails every logon


def test_missing_pam_directory_is_an_error(tmp_path):
    res = check(tmp_path)
    assert res.status == "error"
    assert "pam.d" in res.summary


# --- sshd -----------------------------------------------------------------------------------------


def test_shipped_sshd_config_allows_password_only(pam_root):
    login_with(pam_root, after="auth required pam_u2f.so")
    res = check(pam_root, "lgwan")
    assert res.status == "fail"
    assert "sshd" in res.summary and "password" in res.summary


def _verdict(rule_id: str, res: base.Result, segment: str = "mynumber"):
    """The real collector rule's verdict on this real check result."""
    from collector.rules import RULES
    from collector.rules.base import check as subject
    from collector.rules.engine import judge

    return judge(RULES[rule_id], subject(segment, "mfa", res.status, res.evidence))


def test_a_weak_sshd_alone_is_aut_002_not_aut_001(pam_root):
    from collector.rules.base import Clear, Flag

    login_with(pam_root, after="auth required pam_u2f.so")
    res = check(pam_root)
    assert res.status == "fail" and res.evidence["local_mfa"] is True
    assert isinstance(_verdict("AUT-001", res), Clear)
    assert isinstance(_verdict("AUT-002", res), Flag)
    no_sshd(pam_root)
    (pam_root / "etc/pam.d/login").write_text("auth required pam_unix.so\n")
    weak = check(pam_root)
    assert weak.evidence["local_mfa"] is False and isinstance(_verdict("AUT-001", weak), Flag)


def test_sshd_publickey_plus_otp_passes_and_match_block_weakens(pam_root):
    login_with(pam_root, after="auth required pam_u2f.so")
    (pam_root / "etc/pam.d/sshd").write_text(
        (pam_root / "etc/pam.d/sshd")
        .read_text()
        .replace("@include common-auth", "@include common-auth\nauth required pam_google_authenticator.so", 1)
    )
    conf = pam_root / "etc/ssh/sshd_config.d/50-mfa.conf"
    conf.write_text(
        "KbdInteractiveAuthentication yes\nPasswordAuthentication no\n"
        "AuthenticationMethods publickey,keyboard-interactive\n"
    )
    res = check(pam_root)
    assert res.status == "pass", res.summary
    assert (res.evidence["remote_logon_enabled"], res.evidence["remote_mfa"]) == (True, True)  # AUT-002 reads these
    lists = res.evidence["sshd"]["contexts"][0]["method_lists"]
    assert lists == [{"methods": ["publickey", "keyboard-interactive"], "factors": ["knowledge", "possession"]}]
    with (pam_root / "etc/ssh/sshd_config").open("a") as fh:
        fh.write("Match User backup\n    AuthenticationMethods publickey\n")
    res = check(pam_root)
    assert res.status == "fail"
    assert "Match User backup" in res.summary
    assert (res.evidence["remote_logon_enabled"], res.evidence["remote_mfa"]) == (True, False)


# --- Windows (recorded registry exports) ----------------------------------------------------------


def win(*names: str) -> windows.RegFileSource:
    return windows.RegFileSource([(DATA / n).read_text(encoding="utf-16") for n in names])


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        (["credential_providers_stock.reg"], "fail", "password"),
        (["credential_providers_stock.reg", "whfb_enabled.reg"], "fail", "Windows Hello"),
        (["credential_providers_stock.reg", "whfb_enabled.reg", "password_excluded.reg"], "pass", "Windows Hello"),
        (["credential_providers_stock.reg", "scforceoption.reg"], "pass", "scforceoption"),
        (["credential_providers_stock.reg", "whfb_intune.reg", "password_excluded.reg"], "pass", "Windows Hello"),
        (["credential_providers_duo.reg"], "pass", "Duo"),
    ],
)
def test_windows_logon(files, status, words):
    ctx = make_ctx("mynumber")
    ctx.platform, ctx.windows = "windows", win(*files)
    res = base.execute(mfa, ctx)
    assert res.status == status, res.summary
    assert words in res.summary


def test_remote_desktop_without_mfa_fails_even_where_mfa_is_only_recommended():
    ctx = make_ctx("internet")
    ctx.platform, ctx.windows = "windows", win("credential_providers_stock.reg")
    assert base.execute(mfa, ctx).status == "pass"  # console MFA is only recommended on internet terminals
    ctx.windows = win("credential_providers_stock.reg", "rdp_enabled.reg")
    res = base.execute(mfa, ctx)
    assert res.status == "fail" and "Remote Desktop" in res.summary
    assert (res.evidence["remote_logon_enabled"], res.evidence["remote_mfa"]) == (True, False)
    ctx.windows = win("credential_providers_duo.reg", "rdp_enabled.reg")
    res = base.execute(mfa, ctx)
    assert res.status == "pass" and res.evidence["remote_mfa"] is True


def test_sshd_password_method_cannot_bypass_a_pam_second_factor(pam_root):
    login_with(pam_root, after="auth required pam_u2f.so")
    (pam_root / "etc/pam.d/sshd").write_text(
        (pam_root / "etc/pam.d/sshd")
        .read_text()
        .replace("@include common-auth", "@include common-auth\nauth required pam_google_authenticator.so", 1)
    )
    (pam_root / "etc/ssh/sshd_config.d/50-mfa.conf").write_text(
        "KbdInteractiveAuthentication yes\nPubkeyAuthentication no\n"
    )
    res = check(pam_root)
    assert res.status == "pass", res.summary  # password alone now meets the OTP prompt and fails
    (pam_root / "etc/ssh/sshd_config.d/50-mfa.conf").write_text("UsePAM no\nPubkeyAuthentication no\n")
    assert check(pam_root).status == "fail"


def test_windows_without_a_source_is_not_applicable():
    ctx = make_ctx("mynumber")
    ctx.platform = "windows"
    assert base.execute(mfa, ctx).status == "not_applicable"


def test_reg_parser_reads_regedit_export_types():
    keys = windows.parse_reg((DATA / "credential_providers_duo.reg").read_text(encoding="utf-16"))
    duo = keys[windows.CP_KEY.lower() + "\\{44e2ed41-48c7-4712-a3c3-250c5e6d5d84}"]
    assert duo[""] == "Duo Security Credential Provider"


def test_included_secret_file_content_never_reaches_evidence(pam_root):
    import json

    no_sshd(pam_root)
    (pam_root / "etc/shadow").write_text("root:$y$j9T$SECRETHASHVALUE:19000:0:99999:7:::\n")
    login_with(pam_root, after="@include ../shadow")
    res = check(pam_root)
    text = json.dumps(res.evidence)
    assert "SECRETHASHVALUE" not in text and "cannot parse the line" in text


# --- display managers: greeters and autologin (Debian's lightdm and gdm3 packages) ---------------------------

TOTP = "auth required pam_oath.so usersfile=/etc/users.oath window=20"


def with_totp(root: Path, service: str) -> None:
    path = root / "etc/pam.d" / service
    path.write_text(path.read_text().replace("@include common-auth", f"@include common-auth\n{TOTP}", 1))


def test_lightdm_greeter_is_no_logon_and_totp_on_login_and_lightdm_passes(pam_root, add_dm):
    no_sshd(pam_root)
    add_dm(pam_root, "lightdm")
    assert "pam_permit.so" in (pam_root / "etc/pam.d/lightdm-greeter").read_text()
    with_totp(pam_root, "login")
    with_totp(pam_root, "lightdm")
    res = check(pam_root)
    assert res.status == "pass", res.summary
    assert [e["service"] for e in res.evidence["logon"]] == ["login", "lightdm"]
    assert res.evidence["not_logon"] == {"lightdm-greeter": "greeter", "lightdm-autologin": "autologin not enabled"}
    assert res.evidence["local_mfa"] is True


@pytest.mark.parametrize(
    "conf, section",
    [("etc/lightdm/lightdm.conf.d/50-autologin.conf", "[Seat:*]"), ("etc/lightdm/lightdm.conf", "[SeatDefaults]")],
)
def test_lightdm_autologin_switched_on_is_a_logon_without_a_factor(pam_root, add_dm, conf, section):
    no_sshd(pam_root)
    add_dm(pam_root, "lightdm")
    with_totp(pam_root, "login")
    with_totp(pam_root, "lightdm")
    path = pam_root / conf
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else "") + f"\n{section}\nautologin-user=madoguchi01\n")
    res = check(pam_root)
    assert res.status == "fail" and res.evidence["local_mfa"] is False
    assert "lightdm-autologin" in res.summary and "no factor" in res.summary and "autologin-user" in res.summary
    assert logon(res, "lightdm-autologin")["weakest_way"]["factors"] == []
    assert base.severity(mfa, res) == "critical"


def test_gdm_launch_environment_is_no_logon_and_autologin_counts_only_when_enabled(pam_root, add_dm):
    no_sshd(pam_root)
    add_dm(pam_root, "gdm3")
    with_totp(pam_root, "login")
    with_totp(pam_root, "gdm-password")
    fingerprint = pam_root / "etc/pam.d/gdm-fingerprint"
    fingerprint.write_text(fingerprint.read_text().replace("pam_fprintd.so", "pam_fprintd.so\n" + TOTP, 1))
    res = check(pam_root)
    assert res.status == "pass", res.summary
    assert res.evidence["not_logon"] == {"gdm-launch-environment": "greeter", "gdm-autologin": "autologin not enabled"}
    daemon = pam_root / "etc/gdm3/daemon.conf"
    daemon.write_text(daemon.read_text().replace("#  AutomaticLoginEnable = true", "AutomaticLoginEnable = true"))
    res = check(pam_root)
    assert res.status == "fail" and "gdm-autologin" in res.summary
    assert res.evidence["autologin"]["gdm-autologin"].endswith("automaticloginenable=true")


@pytest.mark.parametrize(
    "service, text",
    [
        ("common-session", "session required pam_unix.so\nsession include common-session\n"),  # not the auth stack
        ("sshd", "@include common-auth\n@include sshd\n"),
    ],
)
def test_an_include_loop_in_any_stack_libpam_loads_is_an_error(pam_root, service, text):
    login_with(pam_root, after="auth required pam_u2f.so")
    ssh = pam_root / "etc/ssh/sshd_config"
    ssh.write_text(
        "AuthenticationMethods publickey,keyboard-interactive\nKbdInteractiveAuthentication yes\n" + ssh.read_text()
    )
    (pam_root / "etc/pam.d" / service).write_text(text)
    res = check(pam_root)
    assert res.status == "error" and "include loop" in res.summary, res.summary
    # sshd loads common-session too: an unloadable sshd stack clears no AUT-002 either.
    assert "remote_mfa" not in res.evidence
    assert ("local_mfa" in res.evidence) == (service == "sshd")  # logon itself is still judged without sshd


def test_verdict_is_a_pure_function_of_the_facts():
    from agent.host.facts import MfaFacts, StackReport, Way, WindowsLogon

    password = StackReport("login", files=["/p/login"], ways=[Way(frozenset({"knowledge"}), ("pam_unix@x",))])
    facts = MfaFacts(pam_d="/p", services=("login",), logon=(password,))
    strict = mfa.verdict(facts, {"mfa_required": True}, "mynumber")
    assert strict.status == "fail" and strict.severity == "critical" and strict.evidence["local_mfa"] is False
    assert mfa.verdict(facts, {"mfa_required": False}, "lgwan").status == "pass"
    loop = mfa.verdict(MfaFacts(pam_d="/p", services=("login",), logon=(password,), local_loops=("login: a",)), {}, "")
    assert loop.status == "error" and "local_mfa" not in loop.evidence
    rdp = WindowsLogon(enforced=False, reason="r", rdp_enabled=True, evidence={"source": "registry"})
    assert mfa.verdict(MfaFacts(windows=rdp), {"mfa_required": False}, "lgwan").status == "fail"
