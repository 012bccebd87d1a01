"""screen_lock: Debian's real gsettings-desktop-schemas with dconf keyfiles and locks; KDE; Windows policy."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agent.checks import base, screen_lock
from agent.host.windows import host as windows
from agent.host.windows import posture
from tests.agent.checks.conftest import debs, make_ctx


@pytest.fixture(scope="session")
def schemas_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("schemas")
    subprocess.run(["dpkg-deb", "-x", str(debs(("gsettings-desktop-schemas",))[0]), str(root)], check=True)
    return root


@pytest.fixture
def gnome(schemas_tree, tmp_path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(schemas_tree, root)
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    (root / "usr/bin/gnome-shell").write_text("")  # marks a GNOME session as installed
    return root


def dconf(root: Path, settings: str, locks: list[str], profile: bool = True) -> None:
    d = root / "etc/dconf/db/local.d"
    (d / "locks").mkdir(parents=True, exist_ok=True)
    (d / "00-mamori-screenlock").write_text(settings)
    (d / "locks/screenlock").write_text("\n".join(locks) + "\n")
    if profile:
        (root / "etc/dconf/profile").mkdir(parents=True, exist_ok=True)
        (root / "etc/dconf/profile/user").write_text("user-db:user\nsystem-db:local\n")


LOCKS = ["/org/gnome/desktop/session/idle-delay", "/org/gnome/desktop/screensaver/lock-enabled"]
GOOD = "[org/gnome/desktop/session]\nidle-delay=uint32 600\n\n[org/gnome/desktop/screensaver]\nlock-enabled=true\n"


def check(root: Path, **settings) -> base.Result:
    return base.execute(screen_lock, make_ctx("lgwan", root, **settings))


def test_shipped_defaults_are_not_enforced(gnome):
    res = check(gnome)
    assert res.status == "fail" and "staff can change idle-delay, lock-enabled" in res.summary
    assert res.evidence["GNOME"]["settings"]["org.gnome.desktop.session/idle-delay"]["value"] == "300"


def test_locked_dconf_settings_pass(gnome):
    dconf(gnome, GOOD, LOCKS)
    res = check(gnome)
    assert res.status == "pass", res.summary


def test_long_idle_delay_fails_unless_policy_allows(gnome):
    dconf(gnome, GOOD.replace("600", "1800"), LOCKS)
    res = check(gnome)
    assert res.status == "fail" and "30 min" in res.summary
    assert check(gnome, screen_lock_max_minutes=30).status == "pass"


def test_lock_disabled_fails(gnome):
    dconf(gnome, GOOD.replace("lock-enabled=true", "lock-enabled=false"), LOCKS)
    assert "lock-enabled is false" in check(gnome).summary


def test_keyfiles_without_a_profile_are_not_in_force(gnome):
    dconf(gnome, GOOD, LOCKS, profile=False)
    res = check(gnome)
    assert res.status == "fail"
    assert any("system-db" in p for p in res.evidence["GNOME"]["problems"])


def test_junk_keyfile_is_ignored(gnome):
    dconf(gnome, GOOD, LOCKS)
    (gnome / "etc/dconf/db/local.d/99-junk").write_bytes(b"\x00\x01[[[" * 1000)
    res = check(gnome)
    assert res.status == "pass"
    assert any("binary" in p for p in res.evidence["GNOME"]["problems"])


def test_corrupt_schema_is_an_error(gnome):
    (gnome / "usr/share/glib-2.0/schemas/org.gnome.desktop.session.gschema.xml").write_text("<schemalist><")
    assert check(gnome).status == "error"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("[Daemon][$i]\nAutolock=true\nTimeout=10\nLockOnResume=true\n", "pass"),
        ("[Daemon][$i]\nAutolock=true\nTimeout=15\n", "fail"),
        ("[Daemon]\nTimeout=5\n", "fail"),
        ("[Daemon][$i]\nAutolock=false\n", "fail"),
    ],
)
def test_kde(tmp_path, text, status):
    (tmp_path / "etc/xdg").mkdir(parents=True)
    (tmp_path / "etc/xdg/kscreenlockerrc").write_text(text)
    assert check(tmp_path).status == status


def test_no_desktop_is_not_applicable(tmp_path):
    assert check(tmp_path).status == "not_applicable"


@pytest.mark.parametrize(("value", "status"), [("dword:00000258", "pass"), ("dword:00000384", "fail"), (None, "fail")])
def test_windows_inactivity_limit(value, status):
    body = f'[{posture.SYSTEM_POLICY}]\r\n"EnableLUA"=dword:00000001\r\n'
    if value:
        body += f'"InactivityTimeoutSecs"={value}\r\n'
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    ctx.windows = windows.RegFileSource(["Windows Registry Editor Version 5.00\r\n\r\n" + body])
    assert base.execute(screen_lock, ctx).status == status


def _aut_003(res: base.Result, max_minutes: int):
    from collector.rules import RULES
    from collector.rules.base import check as subject
    from collector.rules.engine import judge

    rule = RULES["AUT-003"]
    return judge(rule, subject("lgwan", "screen_lock", res.status, res.evidence), {"max_minutes": max_minutes})


def test_the_real_rule_reads_the_real_evidence_and_max_minutes_decides(gnome):
    from collector.rules.base import Clear, Flag

    dconf(gnome, GOOD.replace("600", "1200"), LOCKS)  # 20 minutes, enforced
    res = check(gnome, screen_lock_max_minutes=30)
    assert (res.evidence["enabled"], res.evidence["timeout_seconds"], res.evidence["enforced"]) == (True, 1200, True)
    assert isinstance(_aut_003(res, 30), Clear) and isinstance(_aut_003(res, 10), Flag)


def test_a_lock_staff_can_change_is_aut_003(gnome):
    from collector.rules.base import Flag

    res = check(gnome)  # shipped defaults: 5 minutes, but no dconf lock
    assert res.evidence["enforced"] is False and isinstance(_aut_003(res, 10), Flag)


def test_verdict_is_a_pure_function_of_the_facts():
    from agent.host.facts import GnomeLock, ScreenLockFacts, Setting

    settings = {"screen_lock_max_minutes": 10}
    g = GnomeLock(
        settings={
            "org.gnome.desktop.session/idle-delay": Setting("300", "db", locked=True),
            "org.gnome.desktop.screensaver/lock-enabled": Setting("true", "db", locked=True),
        }
    )
    res = screen_lock.verdict(ScreenLockFacts(root="/", gnome=g), settings)
    assert res.status == "pass" and res.evidence["timeout_seconds"] == 300 and res.evidence["enforced"] is True
    assert screen_lock.verdict(ScreenLockFacts(root="/x"), settings).evidence == {"root": "/x"}
    windows_facts = ScreenLockFacts(inactivity_key=posture.SYSTEM_POLICY, inactivity_seconds=900)
    too_long = screen_lock.verdict(windows_facts, settings)
    assert too_long.status == "fail" and too_long.evidence["InactivityTimeoutSecs"] == 900
