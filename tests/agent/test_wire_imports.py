"""Only agent/transport/grpc_transport.py sees the wire: no other agent module imports grpc, protobuf or mamori.v1.

A source scan (the AST, so docstrings and comments do not count) of every module under agent/, including imports
inside functions and names handed to importlib.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WIRE_MODULE = REPO / "agent/transport/grpc_transport.py"
WIRE = ("grpc", "google.protobuf", "mamori.v1")


def _is_wire(name: str) -> bool:
    return any(name == w or name.startswith(w + ".") for w in WIRE)


def findings(source: str, where: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        at = f"{where}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{at} imports {a.name}" for a in node.names if _is_wire(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from mamori import v1` and `from google import protobuf` name the package in the alias.
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            hit = next((n for n in names if _is_wire(n)), None)
            if hit:
                found.append(f"{at} imports {hit}")
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and _is_wire(node.args[0].value)
            and (getattr(node.func, "attr", "") == "import_module" or getattr(node.func, "id", "") == "__import__")
        ):
            found.append(f"{at} imports {node.args[0].value} dynamically")
    return found


def test_the_scan_sees_every_way_of_importing_the_wire():
    snippets = [
        "import grpc",
        "import grpc.aio as aio",
        "from grpc import aio",
        "from google.protobuf import json_format",
        "from google import protobuf",
        "from mamori.v1 import enrollment_pb2",
        "from mamori import v1",
        "import mamori.v1.events_pb2",
        "def f():\n    import grpc",
        "import importlib\nimportlib.import_module('mamori.v1.telemetry_pb2')",
        "__import__('grpc')",
    ]
    for snippet in snippets:
        assert len(findings(snippet, "x")) == 1, snippet
    clean = [
        "from mamori import events, clock",
        "import grpclib_is_not_grpc",
        "'''mamori.v1.Event in a docstring'''",
        "from agent.transport import grpc_transport",
    ]
    for snippet in clean:
        assert findings(snippet, "x") == [], snippet


def test_only_the_grpc_transport_imports_grpc_protobuf_or_the_generated_code():
    modules = sorted((REPO / "agent").rglob("*.py"))
    assert WIRE_MODULE in modules and len(modules) > 50
    found = []
    for path in modules:
        if path != WIRE_MODULE:
            found += findings(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert found == [], "move these behind agent/transport (grpc_transport):\n" + "\n".join(found)
    assert findings(WIRE_MODULE.read_text(encoding="utf-8"), "grpc_transport"), "the scan still finds the real one"
