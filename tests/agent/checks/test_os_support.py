"""os_support: os-release and the Windows build against the support table (data)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.checks import base, os_support
from agent.host.windows import host as windows
from tests.agent.checks.conftest import make_ctx

DATA = Path(__file__).parent / "data" / "windows"
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def linux(tmp_path: Path, text: str | bytes | None) -> base.Result:
    if text is not None:
        (tmp_path / "etc").mkdir(exist_ok=True)
        data = text.encode() if isinstance(text, str) else text
        (tmp_path / "etc/os-release").write_bytes(data)
    ctx = make_ctx("lgwan", tmp_path)
    ctx.now = NOW
    return base.execute(os_support, ctx)


def test_this_machine_is_judged():
    res = base.execute(os_support, make_ctx("lgwan"))
    assert res.status in ("pass", "fail", "not_applicable")
    assert res.evidence["release"]


def test_supported_debian_passes(tmp_path):
    res = linux(tmp_path, 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')
    assert res.status == "pass" and "2028-06-30" in res.summary
    assert "regular security support ended" in res.evidence["note"]


def test_debian_10_is_past_support(tmp_path):
    res = linux(tmp_path, 'PRETTY_NAME="Debian GNU/Linux 10 (buster)"\nID=debian\nVERSION_ID="10"\n')
    assert res.status == "fail" and "2024-06-30" in res.summary and res.remediation


def test_ubuntu_point_release_uses_its_series(tmp_path):
    res = linux(tmp_path, 'ID=ubuntu\nVERSION_ID="20.04"\nPRETTY_NAME="Ubuntu 20.04.6 LTS"\n')
    assert res.status == "fail"


def test_unknown_distribution_is_not_applicable(tmp_path):
    assert linux(tmp_path, "ID=plan9\nVERSION_ID=4\n").status == "not_applicable"


@pytest.mark.parametrize("content", [None, b"\x00\xff" * 5000])
def test_missing_or_junk_os_release_is_an_error(tmp_path, content):
    assert linux(tmp_path, content).status == "error"


@pytest.mark.parametrize(
    ("reg", "status", "date"),
    [
        ("currentversion_11_23h2_enterprise.reg", "fail", "2026-11-10"),
        ("currentversion_11_24h2_pro.reg", "pass", "2026-10-13"),
        ("currentversion_10_ltsc2021.reg", "pass", "2027-01-12"),
    ],
)
def test_windows_builds(reg, status, date):
    ctx = make_ctx("lgwan")
    ctx.platform, ctx.now = "windows", datetime(2026, 11, 29, tzinfo=UTC)
    ctx.windows = windows.RegFileSource([(DATA / reg).read_text(encoding="utf-16")])
    if reg == "currentversion_11_24h2_pro.reg":
        ctx.now = datetime(2026, 6, 1, tzinfo=UTC)
    res = base.execute(os_support, ctx)
    assert res.status == status, res.summary
    assert date in res.summary


def test_table_is_well_formed():
    from datetime import date

    data = os_support.table()
    for releases in data["linux"].values():
        for entry in releases.values():
            date.fromisoformat(entry[0])
    for entry in data["windows"].values():
        assert entry["name"] and date.fromisoformat(entry["default"])


def test_verdict_is_a_pure_function_of_the_facts():
    from datetime import date

    from agent.host.facts import OsReleaseFacts

    data = {"linux": {"debian": {"12": ["2028-06-30", "LTS"]}}, "windows": {"26100": {"default": "2026-10-13"}}}
    debian = OsReleaseFacts(family="linux", os_id="debian", version="12.7", label="Debian 12")
    assert os_support.verdict(debian, data, date(2028, 7, 1)).status == "fail"
    ok = os_support.verdict(debian, data, date(2028, 6, 1))
    assert ok.status == "pass" and ok.evidence["days_left"] == 29 and "(ends in 29 days)" in ok.summary
    pro = OsReleaseFacts(family="windows", version="26100", label="Windows 11", edition="Professional")
    assert os_support.verdict(pro, data, date(2026, 1, 1)).evidence["note"] == "default"
    broken = os_support.verdict(OsReleaseFacts(family="linux", problem="os-release has no ID"), data, date(2026, 1, 1))
    assert broken.status == "error" and broken.evidence == {"problem": "os-release has no ID"}
