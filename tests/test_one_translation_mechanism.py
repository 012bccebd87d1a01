"""Agent, collector and shared code translate through gettext only: no table keeping English and Japanese together.

A message is an English msgid passed to _() or N_() (mamori.i18n); its Japanese lives in mamori.po, where
tests/mamori/test_generated.py requires it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Japanese that is data, not wording: 令和 era names in dates, the MIC guideline's section titles in the generated
# catalogue, and a rule's example file name.
DATA_JAPANESE = {"collector/reports/period.py", "collector/rules/catalogue.py", "collector/rules/med_002.py"}
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
TEXT = (ast.Constant, ast.JoinedStr)


def _modules() -> list[Path]:
    return sorted(
        p for top in ("agent", "collector", "mamori") for p in (REPO / top).rglob("*.py") if "_pb2" not in p.name
    )


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def bilingual(source: str) -> list[str]:
    """Where a module keeps two languages itself: a t(en, ja)-style helper, its calls, or {"en": …, "ja": …}."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            params = [a.arg for a in node.args.args]
            if node.name == "t" or {"en", "ja"} <= set(params):
                found.append(f"line {node.lineno}: defines {node.name}({', '.join(params)})")
        elif isinstance(node, ast.Call):
            texts = [a for a in node.args if _is_text(a)]
            if _callee(node) == "t" and len(node.args) == 2 and len(texts) == 2:
                found.append(f"line {node.lineno}: calls t() with two texts")
        elif isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if keys == {"en", "ja"} and len(node.keys) == 2:
                found.append(f"line {node.lineno}: a dict keyed by language")
        elif isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if re.search(r"_(ja|en)$", name, re.IGNORECASE):
                found.append(f"line {node.lineno}: per-language name {name}")
    return found


def japanese_outside_msgids(source: str) -> list[str]:
    """Japanese string literals that are not an msgid's gloss (an English msgid may name a Japanese term)."""
    tree = ast.parse(source)
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node) in ("_", "N_", "ngettext"):
            allowed.update(id(a) for a in node.args)
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            allowed.add(id(body[0].value))  # docstrings
    return [
        f"line {n.lineno}: {n.value[:40]!r}"
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and JAPANESE.search(n.value)
        and id(n) not in allowed
    ]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_second_translation_mechanism(path):
    source = path.read_text(encoding="utf-8")
    assert not bilingual(source), f"{path.name}: translate with _()/N_() and mamori.po: {bilingual(source)}"
    if str(path.relative_to(REPO)) in DATA_JAPANESE:
        return
    assert not japanese_outside_msgids(source), (
        f"{path.name}: Japanese belongs in mamori.po: {japanese_outside_msgids(source)}"
    )


def test_the_scan_finds_the_old_mechanism():
    old = """
def t(en, ja):
    return en
TITLE = {"en": "Screen lock", "ja": "画面ロック"}
summary = t(f"KDE locks after {m} min", f"KDE のロックまで {m} 分")
state.reason_ja = "第二要素なし"
"""
    found = bilingual(old)
    assert len(found) == 4, found
    assert len(japanese_outside_msgids(old)) == 4  # the f-string has two Japanese pieces
    assert not bilingual('summary = _("KDE locks after {m} min").format(m=m)\nTITLE = N_("Screen lock")')
    assert not japanese_outside_msgids('N_("have it added through an exception (例外措置).")')
