"""antivirus: Debian's real ClamAV packages extracted into a root, real processes named clamd/clamonacc,
signature database headers in the CVD format; recorded Microsoft Defender status."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.checks import antivirus, base
from agent.host.linux import clamav
from agent.host.windows import host as windows
from tests.agent.checks.conftest import debs, make_ctx

DATA = Path(__file__).parent / "data" / "windows"


@pytest.fixture
def clam_root(tmp_path) -> Path:
    root = tmp_path / "root"
    for deb in debs(("clamav-daemon", "clamav-freshclam")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=60)
    (root / clamav.DB_DIR).mkdir(parents=True)
    return root


@pytest.fixture
def started(tmp_path):
    """Run stand-in processes under the daemons' names (copies of sleep), stopped after the test."""
    procs = []

    def start(name: str) -> None:
        exe = tmp_path / name
        shutil.copy("/bin/sleep", exe)
        procs.append(subprocess.Popen([str(exe), "60"]))

    yield start
    for p in procs:
        p.kill()
        p.wait()


def signatures(root: Path, days_old: float, name: str = "daily.cld") -> None:
    built = datetime.now(UTC) - timedelta(days=days_old)
    header = (
        f"ClamAV-VDB:{built.strftime('%d %b %Y %H-%M')} +0000:27470:2074563:90:"
        f"5c1f7d3ef2ad4a2e2d2b7a8ed5b3c5a1:X:raynman:{int(built.timestamp())}"
    ).encode()
    (root / clamav.DB_DIR / name).write_bytes(header.ljust(512, b" ") + b"\x1f\x8b" + b"\x00" * 64)


def check(root: Path, **settings) -> base.Result:
    return base.execute(antivirus, make_ctx("lgwan", root, **settings))


def test_running_with_on_access_and_fresh_signatures_passes(clam_root, started):
    signatures(clam_root, 0.5)
    signatures(clam_root, 40, "main.cvd")
    started("clamd")
    started("clamonacc")
    time.sleep(0.1)
    res = check(clam_root)
    assert res.status == "pass", res.summary
    assert res.evidence["signature_age_days"] == 0.5


def test_daemon_without_on_access_fails(clam_root, started):
    signatures(clam_root, 0.5)
    started("clamd")
    res = check(clam_root)
    assert res.status == "fail" and "clamonacc not running" in res.summary


def test_stale_signatures_fail_against_policy(clam_root, started):
    signatures(clam_root, 5)
    started("clamd")
    started("clamonacc")
    res = check(clam_root)
    assert res.status == "fail" and "5 days old (allowed 3)" in res.summary
    assert check(clam_root, signature_max_age_days=7).status == "pass"


def test_not_installed_fails(tmp_path):
    res = check(tmp_path)
    assert res.status == "fail" and "no anti-malware" in res.summary


def test_junk_database_header(clam_root, started):
    (clam_root / clamav.DB_DIR / "daily.cld").write_bytes(b"\x00\xff" * 10000)
    started("clamd")
    started("clamonacc")
    res = check(clam_root)
    assert res.status == "fail" and "no readable daily signature database" in res.summary
    assert res.evidence["databases"] == {"daily.cld": "unreadable header"}


def test_header_date_without_stime():
    built = clamav.cvd_built(b"ClamAV-VDB:06 Jun 2024 08-47 +0000:27298:2063871:90:abc:def:raynman")
    assert built == datetime(2024, 6, 6, 8, 47, tzinfo=UTC)


@pytest.mark.parametrize(
    ("recorded", "status", "words"),
    [
        ("defender_ok.json", "pass", "real-time protection on"),
        ("defender_rtp_off.json", "fail", "real-time protection is off"),
        ("defender_passive.json", "fail", "Passive mode"),
    ],
)
def test_defender(recorded, status, words):
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    ctx.windows = windows.RegFileSource([], {"defender": json.loads((DATA / recorded).read_text("utf-8-sig"))})
    res = base.execute(antivirus, ctx)
    assert res.status == status and words in res.summary


def test_defender_unavailable():
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    assert base.execute(antivirus, ctx).status == "not_applicable"
    ctx.windows = windows.RegFileSource([])
    assert base.execute(antivirus, ctx).status == "error"


def test_verdict_is_a_pure_function_of_the_facts():
    from agent.host.facts import AntivirusFacts, SignatureDatabase

    now = datetime(2026, 11, 29, tzinfo=UTC)
    daily = SignatureDatabase("daily.cld", now - timedelta(days=3))
    facts = AntivirusFacts(product="ClamAV", clamd_installed=True, running=("clamd", "clamonacc"), databases=(daily,))
    res = antivirus.verdict(facts, {"signature_max_age_days": 7}, now)
    assert res.status == "pass" and res.evidence["signature_age_days"] == 3.0
    stale = antivirus.verdict(facts, {"signature_max_age_days": 2}, now)
    assert stale.status == "fail" and "3 days old" in stale.summary
    none = antivirus.verdict(AntivirusFacts(root="/r"), {"signature_max_age_days": 7}, now)
    assert none.status == "fail" and none.evidence == {"root": "/r", "installed": False}
