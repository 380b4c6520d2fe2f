#!/usr/bin/env bash
# Create .venv and install MaskingNet with PyTorch 2.14.1 (usage: scripts/setup.sh [extra], extra = test|packaging).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
extra=${1:-}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
if [ -n "$extra" ]; then
    .venv/bin/python -m pip install --quiet -e ".[$extra]"
else
    .venv/bin/python -m pip install --quiet -e .
fi
# Qt needs a few system libraries; install them where they are missing and we may.
if ! QT_QPA_PLATFORM=offscreen .venv/bin/python -c "from PySide6.QtWidgets import QApplication; QApplication([])" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 >/dev/null
    else
        echo "warning: Qt cannot start; install libegl1 libgl1 libxkbcommon0 libfontconfig1 with your package manager" >&2
    fi
fi
# On a desktop (an X display in use) Qt opens windows through its xcb plugin, which needs more
# system libraries: as root, install the missing ones (scripts/run.sh says which to the others).
if [ "$(id -u)" = 0 ]; then
    .venv/bin/python scripts/qt_system_libs.py --install --warn-only
fi
