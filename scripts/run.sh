#!/usr/bin/env bash
# Set everything up, then open the app on the shipped default model (arguments: photos or folders).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/maskingnet-app "$@"
