#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: bootstrap, lint, then pytest.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bootstrap.sh
source "$repo/packaging/dev/bootstrap.sh"
cd "$repo"
ruff check .
exec python -m pytest -q "$@"
