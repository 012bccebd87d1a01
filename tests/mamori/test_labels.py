"""One vocabulary: segments, severities, states, their label tables and Japan time are defined in one place each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mamori import i18n, labels

REPO = Path(__file__).resolve().parents[2]
HOMES = {"mamori/labels.py", "mamori/clock.py"}
# Migrations are history: they keep the literal CHECK constraints of the revision they created.
FROZEN = ("collector/store/migrations/",)

# A second definition looks like one of these (a tuple or list of the values, a label dict, a fixed +09:00).
COPIES = {
    "segments": re.compile(r'["\']mynumber["\'],\s*["\']lgwan["\'],\s*["\']internet["\']'),
    "severities": re.compile(r'["\']info["\'],\s*["\']low["\'],\s*["\']medium["\'],\s*["\']high["\']'),
    "violation statuses": re.compile(r'["\']open["\'],\s*["\']acknowledged["\'],\s*["\']resolved["\']'),
    "a label table": re.compile(
        r'["\'](critical|mynumber|open|acknowledged|expired|not_applicable)["\']:\s*(_\(|\(["\'])'
    ),
    "Japan time": re.compile(r'timedelta\(hours=9\)\)|ZoneInfo\(["\']Asia/Tokyo["\']\)'),
}


def _sources():
    for top in ("agent", "collector", "mamori", "tests", "bench", "proto", "packaging"):
        for path in sorted((REPO / top).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel in HOMES or rel.startswith(FROZEN) or "_pb2" in rel or rel == "tests/mamori/test_labels.py":
                continue
            yield rel, path.read_text(encoding="utf-8")


@pytest.mark.parametrize("what", COPIES)
def test_defined_only_in_the_shared_package(what):
    copies = [
        f"{rel}:{text.count(chr(10), 0, m.start()) + 1}"
        for rel, text in _sources()
        for m in COPIES[what].finditer(text)
    ]
    assert not copies, f"{what} defined again (import it from mamori.labels / mamori.clock): {copies}"


def test_the_homes_do_define_them():
    text = (REPO / "mamori/labels.py").read_text(encoding="utf-8")
    for what in ("segments", "severities", "violation statuses", "a label table"):
        assert COPIES[what].search(text), what
    assert COPIES["Japan time"].search((REPO / "mamori/clock.py").read_text(encoding="utf-8"))


def test_every_concept_has_a_label_for_each_value_in_both_languages():
    for concept, (keys, _table) in labels.TABLES.items():
        for lang in ("ja", "en"):
            named = labels.names(concept, lang)
            assert keys is None or list(named) == list(keys), (concept, lang)
            assert all(named.values()), (concept, lang)
        assert labels.names(concept, "ja") != labels.names(concept, "en"), concept


def test_labels_follow_the_given_language_or_the_process_language(monkeypatch):
    monkeypatch.setattr(i18n, "_translation", i18n.catalogue("en"))
    assert labels.label("severity", "critical") == "Critical"
    assert labels.label("severity", "critical", "ja") == "重大"
    assert labels.label("segment", "mynumber", "ja") == "マイナンバー利用事務系"
    assert labels.label("status", "resolved", "ja") == "是正済"
    # Withdrawn by staff (取消) is not a revoked certificate (失効), though both are "revoked" in English.
    assert labels.label("exception", "revoked", "ja") == "取消"
    assert labels.label("permission", "revoked", "ja") == "取消"
    assert labels.label("agent", "revoked", "ja") == "失効"
    assert labels.label("severity", "unheard-of", "ja") == "unheard-of"


def test_check_statuses_are_the_agents():
    from agent.checks.base import STATUSES

    assert tuple(labels.names("check", "ja")) == STATUSES
