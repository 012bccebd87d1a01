"""The committed generated code and catalogues match their sources; every message has a translation."""

from __future__ import annotations

import importlib.util
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("proto_generate", REPO / "proto" / "generate.py")
generate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate)


def test_committed_protobuf_code_is_current(tmp_path):
    written = generate.generate(tmp_path)
    assert written, "protoc produced nothing"
    stale = []
    for fresh in written:
        committed = REPO / fresh.relative_to(tmp_path)
        if not committed.exists() or committed.read_bytes() != fresh.read_bytes():
            stale.append(str(committed.relative_to(REPO)))
    extra = {p.name for p in (REPO / "mamori/v1").glob("*_pb2*.py*")} - {p.name for p in written}
    assert not stale and not extra, f"regenerate with `python proto/generate.py`: {stale or extra}"


def test_committed_catalogues_are_current(tmp_path):
    locale = REPO / "mamori/locale"
    written = generate.compile_catalogs(locale, tmp_path)
    assert written
    for fresh in written:
        committed = locale / fresh.relative_to(tmp_path)
        assert committed.read_bytes() == fresh.read_bytes(), f"recompile with `python proto/generate.py`: {committed}"


def _source_messages() -> set[str]:
    """Every literal passed to _() or N_() (a message with named placeholders, shown later) in the product code."""
    pattern = re.compile(r'_\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)[,)]')
    found = set()
    for path in [*REPO.glob("agent/**/*.py"), *REPO.glob("collector/**/*.py"), *REPO.glob("mamori/*.py")]:
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            parts = re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1))
            found.add("".join(parts).encode().decode("unicode_escape").encode("latin-1").decode("utf-8"))
    return found


def test_every_message_has_a_japanese_translation():
    from babel.messages.pofile import read_po

    with open(REPO / "mamori/locale/ja/LC_MESSAGES/mamori.po", "rb") as handle:
        catalog = read_po(handle, locale="ja")
    translated = {m.id: m.string for m in catalog if m.id}
    missing = sorted(m for m in _source_messages() if not translated.get(m))
    assert len(_source_messages()) > 50
    assert not missing, f"add Japanese for these messages to mamori.po: {missing}"


@pytest.mark.parametrize(
    "env,expected",
    [
        ({}, "ja"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "C.UTF-8"}, "ja"),
        ({"MAMORI_LANG": "en", "LANG": "ja_JP.UTF-8"}, "en"),
    ],
)
def test_language_choice(monkeypatch, env, expected):
    from mamori import i18n

    for var in ("MAMORI_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert i18n.choose_language() == expected
    assert i18n.choose_language("en") == "en"


def test_japanese_is_the_default_and_english_on_request():
    from mamori import i18n

    i18n.setup("ja")
    assert i18n._("Segment") == "系"
    i18n.setup("en")
    assert i18n._("Segment") == "Segment"


def test_every_report_label_has_japanese_in_the_catalogue():
    from collector.reports.labels import LABELS
    from collector.reports.labels import wording as t

    missing = sorted(key for key, english in LABELS.items() if t(key, "ja") == english)
    assert not missing, f'add msgctxt "report.KEY" entries with Japanese to mamori.po: {missing}'
    assert t("detail", "ja") != t("violations", "ja")  # one English word, two Japanese terms
    assert t("detail", "en") == LABELS["detail"]
