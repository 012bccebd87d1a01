"""The project documents itself: docs/rules.md is what the rule modules generate, and no doc points outside the repo."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from collector.rules import RULES, catalogue

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")  # [text](target)
# A path in backticks (`bench/README.md`, `bash packaging/dev/test.sh`): a relative name with a folder and a suffix.
CODE_PATH = re.compile(r"`(?:[^`]*\s)?((?:\.\./|[\w.-]+/)[\w./-]*\.(?:md|py|sh|json|proto|ini|txt))`")


def test_rule_catalogue_is_current():
    text = (REPO / "docs/rules.md").read_text(encoding="utf-8")
    assert text == catalogue.render(), "docs/rules.md is stale: run `python -m collector.rules.catalogue --write`"


def test_rule_catalogue_lists_every_rule_with_its_parameters():
    text = catalogue.render()
    for rule in RULES.values():
        assert f"### {rule.id} — {rule.title('ja')}" in text and rule.title("en") in text
        assert rule.remediation("en") in text
        for name, param in rule.params.items():
            assert f"| `{name}` |" in text and param.doc in text
    assert "G7.4 例外措置" in text and "| OPS-005 | Exception used after its expiry | all | high |" in text


def test_catalogue_command_prints_and_writes(tmp_path, monkeypatch):
    out = subprocess.run(
        [sys.executable, "-m", "collector.rules.catalogue"],
        cwd=REPO,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    ).stdout
    assert out == catalogue.render()
    monkeypatch.setattr(catalogue, "DOC", tmp_path / "docs" / "rules.md")
    assert catalogue.main(["--write"]) == 0
    assert (tmp_path / "docs" / "rules.md").read_text(encoding="utf-8") == out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_docs_refer_only_to_files_in_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    assert "../shared" not in text and "shared/" not in text
    # design.md and rules.md lived outside the repository: a mention must be docs/rules.md (link targets are
    # checked below, so they are left out here).
    prose = LINK.sub("]", text)
    assert not re.search(r"(?<![\w/])(design|rules)\.md", prose), "refer to docs/architecture.md or docs/rules.md"
    wrong = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # a URL
        path = (doc.parent / target).resolve()
        if not path.is_relative_to(REPO) or not path.exists():
            wrong.append(target)
    for target in CODE_PATH.findall(text):
        path = (REPO / target).resolve()
        if not path.is_relative_to(REPO) or not (path.exists() or (doc.parent / target).resolve().exists()):
            wrong.append(target)
    assert not wrong, f"{doc.name} points at files not in the repository: {wrong}"
