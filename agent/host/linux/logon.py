"""Logon authentication on Linux as MfaFacts: the logon services' PAM stacks, sshd with its Match blocks,
authselect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.host.facts import MfaFacts, SshdContext
from agent.host.linux import pam, sshd
from agent.host.linux.autologin import display_managers
from agent.host.sysio import HostIOError, read_text

# Console and display-manager logon services (common-auth is judged through them: it is only ever
# included). Greeters are no logon; autologin services count only where the display manager enables them.
LOGON_SERVICES = ("login", "gdm-password", "gdm-fingerprint", "gdm-smartcard", "lightdm", "sddm", "kde", "xscreensaver")
AUTOLOGIN_SERVICES = ("lightdm-autologin", "gdm-autologin")


def _logon_services(config: pam.PamConfig, root: Path) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The PAM services a person logs on through, why the other display-manager services are not, and
    where an autologin is switched on."""
    dm = display_managers(root)
    services = [s for s in LOGON_SERVICES if (s == "login" or config.exists(s)) and s not in dm.greeters]
    services += [s for s in dm.autologin if s not in services]  # no password asked: a logon all the same
    not_logon = {g: "greeter" for g in dm.greeters if config.exists(g)}
    not_logon |= {s: "autologin not enabled" for s in AUTOLOGIN_SERVICES if config.exists(s) and s not in dm.autologin}
    return services, not_logon, dm.autologin


def _authselect(root: Path) -> dict[str, Any] | None:
    """RHEL family: the authselect profile and features that generated /etc/pam.d (evidence only)."""
    path = root / "etc/authselect/authselect.conf"
    if not path.exists():
        return None
    try:
        lines = [x.strip() for x in read_text(path, 65536).text.splitlines() if x.strip() and not x.startswith("#")]
    except HostIOError as exc:
        return {"error": str(exc)}
    return {
        "profile": lines[0] if lines else "",
        "features": lines[1:20],
        "smartcard_required": "with-smartcard-required" in lines,
        "mfa": "with-mfa" in lines,
    }


def read(root: Path) -> MfaFacts:
    config = pam.PamConfig(root)
    if not config.pamd.is_dir():
        return MfaFacts(pam_d=str(config.pamd), pam_d_missing=True)
    services, not_logon, autologin = _logon_services(config, root)
    cfg = sshd.load(root)
    ssh: dict[str, Any] = {}
    if cfg is not None:
        contexts = [("global", cfg.effective())] + [
            (f"Match {crit}", cfg.effective(block)) for crit, block in cfg.matches
        ]
        ssh = {
            "sshd": config.evaluate("sshd"),
            "sshd_files": tuple(cfg.files),
            "sshd_problems": tuple(cfg.problems),
            "sshd_contexts": tuple(SshdContext(label, opts) for label, opts in contexts),
            "ssh_loops": tuple(f"sshd: {p}" for p in config.include_loops("sshd")),
        }
    return MfaFacts(
        pam_d=str(config.pamd),
        services=tuple(services),
        logon=tuple(config.evaluate(s) for s in services),
        not_logon=not_logon,
        autologin=autologin,
        local_loops=tuple(f"{s}: {p}" for s in services for p in config.include_loops(s)),
        authselect=_authselect(root),
        **ssh,
    )
