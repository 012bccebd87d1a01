"""The CHECKS registry: every check module registered once, metadata complete, tests for each verdict."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import agent.checks
from agent.checks import CHECKS
from agent.checks.base import ERROR, METADATA, STATUSES, Context, Result, execute
from mamori.events import SEVERITIES
from mamori.i18n import N_, Message, catalogue

NOT_CHECKS = {"base", "catalogue", "spec"}
TESTS = Path(__file__).parent


def test_every_check_module_is_registered_once():
    modules = {m.name for m in pkgutil.iter_modules(agent.checks.__path__)} - NOT_CHECKS
    assert modules == set(CHECKS), "each module under agent/checks/ is one check in CHECKS"
    assert all(CHECKS[name].ID == name for name in CHECKS), "a check's id is its module name"


def test_metadata_is_complete():
    for cid, check in CHECKS.items():
        for attr in METADATA:
            assert getattr(check, attr, None), f"{cid}: {attr} missing"
        assert re.fullmatch(r"[a-z][a-z_]{1,30}", cid)
        for text in (check.TITLE, check.REMEDIATION):  # English msgids, shown through gettext
            assert isinstance(text, Message) and text.msgid and not text.params
            assert catalogue("ja").gettext(text.msgid) != text.msgid, f"{cid}: no Japanese for {text.msgid!r}"
        assert set(check.PLATFORMS) <= {"linux", "windows"}
        assert 60 <= check.INTERVAL_SECONDS <= 86400
        assert check.SEVERITY in SEVERITIES
        assert check.__doc__ and check.__doc__.strip().splitlines()[0]
        assert callable(check.run)


def test_each_check_has_tests_for_each_verdict():
    for cid in CHECKS:
        path = TESTS / f"test_{cid}.py"
        assert path.exists(), f"{cid} needs {path.name}"
        text = path.read_text()
        for status in STATUSES:
            assert f'"{status}"' in text, f"{path.name} asserts no {status} verdict"


def test_a_crashing_check_is_an_error_result_not_an_exception():
    import types

    broken = types.SimpleNamespace(
        ID="broken",
        PLATFORMS=("linux", "windows"),
        SEVERITY="low",
        TITLE=N_("B"),
        REMEDIATION=N_("x"),
        run=lambda ctx: 1 / 0,
    )
    res = execute(broken, Context(settings={}))
    assert res.status == ERROR and res.evidence["exception"] == "ZeroDivisionError"
    assert res.check_id == "broken"


def test_a_hanging_check_times_out():
    import threading
    import types

    release = threading.Event()
    hang = types.SimpleNamespace(
        ID="hang",
        PLATFORMS=("linux", "windows"),
        SEVERITY="low",
        TITLE=N_("H"),
        REMEDIATION=N_("x"),
        run=lambda ctx: release.wait(10) and Result("pass", ""),
    )
    res = execute(hang, Context(settings={}), timeout=0.2)
    release.set()
    assert res.status == ERROR and "did not finish" in res.summary


def test_oversized_evidence_stays_valid_json():
    import json

    from agent.checks.base import evidence_json

    evidence = {"small": 1, "big": ["x" * 100] * 2000, "bigger": {str(i): "y" * 50 for i in range(3000)}}
    text = evidence_json(evidence, limit=5000)
    data = json.loads(text)
    assert len(text) <= 5000 and data["small"] == 1
    assert data["bigger"]["truncated"] is True and data["bigger"]["items"] == 3000
