"""local_admin: account databases edited with the real shadow tools (useradd/usermod --root); Windows."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.checks import base, local_admin
from agent.host.windows import host as windows
from tests.agent.checks.conftest import make_ctx, need_root

DATA = Path(__file__).parent / "data" / "windows"


@pytest.fixture
def root(tmp_path) -> Path:
    need_root("useradd --root")
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        if Path("/etc", name).exists():
            shutil.copy(Path("/etc", name), r / "etc" / name)
    if b"\nsudo:" not in b"\n" + (r / "etc/group").read_bytes():
        sh(["groupadd", "--root", str(r), "sudo"])
    sh(["useradd", "--root", str(r), "-s", "/bin/bash", "-u", "1500", "tanaka"])
    sh(["useradd", "--root", str(r), "-s", "/usr/sbin/nologin", "-u", "1501", "backupsvc"])
    return r


def sh(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def check(root: Path, **settings) -> base.Result:
    return base.execute(local_admin, make_ctx("lgwan", root, **settings))


def test_plain_staff_account_passes(root):
    res = check(root)
    assert res.status == "pass", res.summary
    assert res.evidence["staff_accounts"] >= 1


def test_staff_account_in_sudo_fails_unless_permitted(root):
    sh(["usermod", "--root", str(root), "-aG", "sudo", "tanaka"])
    res = check(root)
    assert res.status == "fail" and "tanaka (group sudo)" in res.summary
    assert check(root, admin_accounts=["tanaka"]).status == "pass"


def test_service_account_without_login_is_not_staff(root):
    sh(["usermod", "--root", str(root), "-aG", "sudo", "backupsvc"])
    assert check(root).status == "pass"


def test_sudoers_grant_fails(root):
    (root / "etc/sudoers.d").mkdir()
    (root / "etc/sudoers.d/90-staff").write_text("# temporary\ntanaka ALL=(ALL:ALL) NOPASSWD: ALL\n")
    (root / "etc/sudoers.d/README.dpkg-old").write_text("tanaka ALL=(ALL) ALL\n")  # ignored by sudo too
    res = check(root)
    assert res.status == "fail" and "sudoers" in res.summary


def test_missing_passwd_is_an_error(tmp_path):
    assert check(tmp_path).status == "error"


def test_hostile_group_file(root):
    (root / "etc/group").write_bytes(b"\x00\xffsudo:x:27:" + b"a," * 2_000_000)
    res = check(root)
    assert res.status in ("pass", "fail")


def test_this_machine():
    assert base.execute(local_admin, make_ctx("lgwan")).status in ("pass", "fail")


@pytest.mark.parametrize(
    ("recorded", "status"), [("local_admins_ok.json", "pass"), ("local_admins_staff.json", "fail")]
)
def test_windows(recorded, status):
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    ctx.windows = windows.RegFileSource([], {"local_admins": json.loads((DATA / recorded).read_text("utf-8-sig"))})
    res = base.execute(local_admin, ctx)
    assert res.status == status
    if status == "fail":
        assert "CITY\\yamada" in res.summary


def test_windows_missing():
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    assert base.execute(local_admin, ctx).status == "not_applicable"
    ctx.windows = windows.RegFileSource([])
    assert base.execute(local_admin, ctx).status == "error"


def test_verdict_is_a_pure_function_of_the_facts():
    from agent.host.facts import Account, Group, LocalAdminFacts

    facts = LocalAdminFacts(
        source="accounts",
        accounts=(
            Account("tanaka", "1001", "1001", "/bin/bash"),
            Account("backup", "1002", "1002", "/usr/sbin/nologin"),
        ),
        groups=(Group("sudo", "27", ("tanaka", "backup")),),
        sudo_users=("tanaka",),
    )
    res = local_admin.verdict(facts, {"admin_accounts": []})
    assert res.status == "fail" and res.evidence["admin_holders"]["tanaka"] == ["group sudo", "sudoers"]
    assert res.evidence["staff_accounts"] == 1
    assert local_admin.verdict(facts, {"admin_accounts": ["tanaka"]}).status == "pass"
    refused = local_admin.verdict(LocalAdminFacts(source="Get-LocalGroupMember S-1-5-32-544", error="denied"), {})
    assert refused.status == "error" and "Administrators" in refused.summary
