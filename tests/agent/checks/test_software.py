"""software: real dpkg databases (the apt tree and this machine) and recorded Windows Uninstall keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.checks import base, software
from agent.host.windows import host as windows
from tests.agent.checks.conftest import make_ctx

DATA = Path(__file__).parent / "data" / "windows"


def check(root: Path, **settings) -> base.Result:
    return base.execute(software, make_ctx("lgwan", root, **settings))


def test_forbidden_package_installed_fails(apt_tree):
    tree = apt_tree(security_days_old=1)
    res = check(tree.root, software_forbidden=["Mamori-*"])
    assert res.status == "fail" and "mamori-demo" in res.summary
    assert res.evidence["forbidden"] == [{"name": "mamori-demo", "version": "1.0", "pattern": "Mamori-*"}]


def test_permitted_list_is_enforced_when_given(apt_tree):
    tree = apt_tree(security_days_old=1)
    assert check(tree.root, software_permitted=["mamori-*"]).status == "pass"
    res = check(tree.root, software_permitted=["libreoffice*"])
    assert res.status == "fail" and "1 not on the permitted list" in res.summary


def test_removed_package_is_not_counted(apt_tree):
    import subprocess

    tree = apt_tree(security_days_old=1)
    subprocess.run(
        ["dpkg", f"--root={tree.root}", f"--log={tree.root}/var/log/dpkg.log", "-r", "mamori-demo"],
        check=True,
        capture_output=True,
    )
    assert check(tree.root, software_forbidden=["mamori-*"]).status == "pass"


def test_this_machine_with_default_lists():
    res = check(Path("/"))
    assert res.status == "pass", res.summary
    assert res.evidence["installed"] > 100


def test_corrupt_dpkg_database_is_an_error(tmp_path):
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_bytes(b"Package: x\n\x00\xff garbage\nStatus: nonsense\n\n" * 10)
    assert check(tmp_path).status == "error"


def test_no_package_database_is_not_applicable(tmp_path):
    assert check(tmp_path).status == "not_applicable"


@pytest.mark.parametrize(("forbidden", "status"), [(["winny*", "share*"], "fail"), (["teamviewer*"], "pass")])
def test_windows_uninstall_keys(forbidden, status):
    ctx = make_ctx("lgwan", software_forbidden=forbidden)
    ctx.platform = "windows"
    ctx.windows = windows.RegFileSource([(DATA / "uninstall.reg").read_text(encoding="utf-16")])
    res = base.execute(software, ctx)
    assert res.status == status
    assert res.evidence["installed"] == 4  # the SystemComponent entry is hidden, as in Apps & features
    if status == "fail":
        assert "Winny" in res.summary


def test_verdict_is_a_pure_function_of_the_facts():
    from agent.host.facts import SoftwareFacts

    facts = SoftwareFacts(source="dpkg", packages=(("bash", "5.2"), ("wireshark", "4.0")))
    res = software.verdict(facts, {"software_forbidden": ["wire*"], "software_permitted": []})
    assert res.status == "fail" and res.evidence["forbidden"] == [
        {"name": "wireshark", "version": "4.0", "pattern": "wire*"}
    ]
    allow = software.verdict(facts, {"software_forbidden": [], "software_permitted": ["bash", "wireshark"]})
    assert allow.status == "pass" and allow.evidence["allowlist_enforced"] is True
    assert software.verdict(SoftwareFacts(missing="no dpkg or rpm database"), {}).status == "not_applicable"
    broken = software.verdict(SoftwareFacts(error="rpm -qa failed: x"), {})
    assert broken.status == "error" and broken.evidence == {"error": "rpm -qa failed: x"}
