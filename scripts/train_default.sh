#!/usr/bin/env bash
# Retrain the shipped default model from ../shared/data/carvana512 (resumes an interrupted run),
# then copy it into resources/models with a fresh model card.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/carvana512}
RUN=${RUN:-runs/default}
.venv/bin/maskingnet train --recipe resources/recipes/default.json \
    --images "$DATA/images" --masks "$DATA/masks" -o "$RUN"
.venv/bin/python scripts/ship_default_model.py "$RUN" --data "$DATA"
