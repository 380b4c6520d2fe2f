#!/usr/bin/env bash
# Set everything up, then open the app on the shipped default model (arguments: photos or folders).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Stop with the one apt-get line to run, rather than let Qt abort on a missing library.
.venv/bin/python scripts/qt_system_libs.py --install || exit 1
exec .venv/bin/maskingnet-app "$@"
