#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: bootstrap, lint, type check, then pytest.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bootstrap.sh
source "$repo/packaging/dev/bootstrap.sh"
cd "$repo"
ruff check .
ruff format --check .
mypy  # the packages in pyproject.toml's [tool.mypy] (mamori, collector, agent), as Linux
mypy --config-file packaging/dev/mypy-windows.toml  # the agent again, as Windows
exec python -m pytest -q "$@"
