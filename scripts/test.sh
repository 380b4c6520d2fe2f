#!/usr/bin/env bash
# Set everything up, then run the linter and the test suite (offscreen Qt).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check .
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q "$@"
