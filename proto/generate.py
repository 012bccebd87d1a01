"""Regenerate committed artefacts: protobuf/gRPC code and the gettext .mo catalogues (python proto/generate.py)."""

from __future__ import annotations

import os
import pathlib
import shutil
import sys

PROTO_ROOT = pathlib.Path(__file__).resolve().parent
REPO = PROTO_ROOT.parent  # generated modules land in the top-level mamori package


def _plugin(name: str) -> str:
    """Path of a protoc plugin installed by a dev dependency (beside this interpreter first, then on PATH)."""
    # The venv's bin/ is not on PATH when the generator runs as .venv/bin/python proto/generate.py.
    beside = pathlib.Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: install the dev dependencies (mypy-protobuf)")
    return found


def generate(out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Run protoc over every .proto into out_dir; return the files written."""
    from grpc_tools import protoc  # dev-only dependency

    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "mamori" / "v1").glob("*.proto"))
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out_dir}",
        # mypy-protobuf's stubs (not protoc's --pyi_out) so mypy sees typed messages and gRPC stubs/servicers.
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *sources,
    ]
    # protoc resolves relative paths against the cwd; sources are relative to PROTO_ROOT.
    cwd = os.getcwd()
    os.chdir(PROTO_ROOT)
    try:
        rc = protoc.main(args)
    finally:
        os.chdir(cwd)
    if rc != 0:
        raise SystemExit(f"protoc failed with exit code {rc}")
    return sorted((out_dir / "mamori" / "v1").glob("*_pb2*.py*"))


def compile_catalogs(locale_dir: pathlib.Path, out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Compile every locale/*/LC_MESSAGES/*.po into a .mo under out_dir (same relative layout)."""
    from babel.messages.mofile import write_mo  # dev-only dependency
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parent.parent.name)
        mo_path = out_dir / po_path.relative_to(locale_dir).with_suffix(".mo")
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with mo_path.open("wb") as handle:
            write_mo(handle, catalog)
        written.append(mo_path)
    return written


if __name__ == "__main__":
    locale = REPO / "mamori" / "locale"
    for path in compile_catalogs(locale, locale):
        print(path.relative_to(REPO))
    written = generate(REPO)
    for path in written:
        print(path.relative_to(REPO))
    sys.exit(0)
