#!/usr/bin/env bash
# Builds the MaskingNet desktop bundle (a folder to unpack and double-click) with PyInstaller.
#
#   bash packaging/build.sh [cpu|cuda] [--model FILE] [--archive]
#
#   cpu   (default) from packaging/.build-cpu-venv, created here from requirements-cpu.txt
#         (torch's +cpu wheel, no CUDA libraries): a small bundle that runs on any x86-64 Linux.
#   cuda  from the environment of $PYTHON (default: .venv/bin/python) with its CUDA torch and
#         pyinstaller installed: several GB, uses an NVIDIA GPU when there is one.
#   --model FILE  ship FILE as the default model (else resources/models/default.safetensors)
#   --archive     also pack the folder as packaging/dist/<name>.tar.gz
#
# Output: packaging/dist/maskingnet-<version>-<flavour>/ with the executables maskingnet-app
# and maskingnet; PyInstaller's work files go to packaging/build/<flavour>/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
flavour="cpu"
archive=0
while [ $# -gt 0 ]; do
    case "$1" in
        cpu|cuda) flavour="$1" ;;
        --model) export MASKINGNET_BUNDLE_MODEL="$(realpath "$2")"; shift ;;
        --archive) archive=1 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$flavour" = cpu ]; then
    venv="$here/.build-cpu-venv"
    python="$venv/bin/python"
    if [ ! -x "$python" ]; then
        "${BASE_PYTHON:-python3}" -m venv "$venv"
    fi
    stamp="$venv/.requirements-cpu.txt"
    if ! cmp -s "$here/requirements-cpu.txt" "$stamp"; then
        "$python" -m pip install -r "$here/requirements-cpu.txt"
        cp "$here/requirements-cpu.txt" "$stamp"
    fi
else
    python="${PYTHON:-$root/.venv/bin/python}"
    "$python" -c "import PyInstaller" 2>/dev/null \
        || { echo "build.sh: $python has no pyinstaller (pip install 'maskingnet[packaging]')" >&2; exit 2; }
fi

version="$("$python" -c "import re,sys; print(re.search(r'__version__\s*=\s*\"([^\"]+)\"', open(sys.argv[1]).read()).group(1))" "$root/core/__init__.py")"
name="maskingnet-$version-$flavour"
export MASKINGNET_BUNDLE_NAME="$name"
echo "building $name with $("$python" -c 'import torch; print("torch", torch.__version__)')"
start=$(date +%s)
"$python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$here/dist" --workpath "$here/build/$flavour" "$here/maskingnet.spec"
echo "built packaging/dist/$name in $(( $(date +%s) - start )) s ($(du -sh "$here/dist/$name" | cut -f1))"
if [ "$archive" = 1 ]; then
    tar -C "$here/dist" -czf "$here/dist/$name.tar.gz" "$name"
    echo "archive packaging/dist/$name.tar.gz ($(du -sh "$here/dist/$name.tar.gz" | cut -f1))"
fi
