#!/usr/bin/env bash
# Retrain the shipped default model from ../shared/data/carvana512 in fourteen stages (each resumes
# if interrupted), then copy it into resources/models with a fresh model card.
#   stage 1: from scratch at working size 256 (cheap epochs learn the shapes)
#   stage 2: from stage 1's best weights at working size 384 (finer edges)
#   stage 3: from stage 2's best weights at 512, the masks' own size
#   stage 4: from stage 3's best weights at 512 without augmentation, at a low learning rate
#   stage 5: from stage 4's best weights, the outdoor mix (resources/recipes/outdoor-mix.json:
#            Carvana + teacher-labelled stanford-cars and car-parts photos) at 384
#   stage 6: from stage 5's best weights, the outdoor mix at 512
#   stage 7: from stage 6's last weights, the outdoor mix at 512 again, longer (outdoor-512-long.json),
#            with all the labels made by then and the composites
#   stage 8: from stage 7's best weights, at 512 on the relabelled set (outdoor-512-relabelled.json:
#            every photo labelled, background the teachers doubt unknown; outdoor-mix-relabelled.json:
#            stanford-cars listed once, as it has three times the photos)
#   stage 9: from stage 8's best weights, at 512 with cars shrunk in the frame (outdoor-512-zoom-emphasis.json:
#            zoom_out 0.3) and the car-parts mirror and wheel pixels weighing 5 times
#            (outdoor-mix-parts-emphasis.json)
#   stage 10: from stage 9's best weights, a short polish at a lower rate (outdoor-512-edge-polish.json)
#            on stage 9's mix where the band 2 px either side of a teacher label's outline is unknown
#            and the same band along each exact outline (Carvana, composites) weighs 5 times
#            (outdoor-mix-edge-emphasis.json): the outline is taught by exact masks only
#   stages 11, 12: from stage 9's best weights, stage 10's recipe with seeds 33 and 34 on stage 10's mix
#            where the exact-mask sources (Carvana, composites) are also panned (the background streaked,
#            the car sharp) and degraded as a poor camera or a video frame would (blur, low resolution,
#            noise, JPEG) (outdoor-mix-degrade.json); the shipped weights are the average of stages 10,
#            11 and 12 (scripts/ship_default_model.py --average), shipped first as an intermediate default
#   stage 13: three fine-tunes of that average (seeds 301-303; outdoor-512-gpu.json: 16 x 100 steps of 8
#            photos, about 7.5 min each on one GPU, hours each on a CPU) on W's mix packed to travel to a
#            lent GPU machine (tools/pack_training_mix.py: half the Carvana views and the stanford-cars
#            training photos, WebP), averaged (`maskingnet average`)
#   stage 14: from stage 13, the polish at a low rate on W's full mix (outdoor-512-polish.json); the
#            shipped weights are the average of stage 14 and the intermediate default (--average-shipped)
#   the shipped file also holds stage 4's network as its studio outline expert (core.models.outline_expert:
#            it draws a car's outline on studio-like photos where both networks agree on the car)
#   the context network (core.models.context_network): the shipped main network trained 4 x 300 steps further at
#            320 on the outdoor mix with crowded-lot composites (context-320.json, context-mix-crowd.json); the
#            shipped file holds it beside the main network, blended half and half in the smaller context look
#            and clearing large regions both call background, filling large holes the car surrounds that
#            both call car (the --context-rule of the last line)
# Stages 5-10 and the context network need the outdoor labels: bash scripts/make_outdoor_labels.sh (hours; resumable).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/carvana512}
RUN=${RUN:-runs/default}
.venv/bin/maskingnet train --recipe resources/recipes/default-256.json \
    --images "$DATA/images" --masks "$DATA/masks" -o "$RUN/stage1-256"
.venv/bin/maskingnet train --recipe resources/recipes/default-384.json --init "$RUN/stage1-256/best.safetensors" \
    --images "$DATA/images" --masks "$DATA/masks" -o "$RUN/stage2-384"
.venv/bin/maskingnet train --recipe resources/recipes/default-512.json --init "$RUN/stage2-384/best.safetensors" \
    --images "$DATA/images" --masks "$DATA/masks" -o "$RUN/stage3-512"
.venv/bin/maskingnet train --recipe resources/recipes/default-512-clean.json --init "$RUN/stage3-512/best.safetensors" \
    --images "$DATA/images" --masks "$DATA/masks" -o "$RUN/stage4-512-clean"
.venv/bin/maskingnet train --mix resources/recipes/outdoor-mix.json --recipe resources/recipes/outdoor-384.json \
    --init "$RUN/stage4-512-clean/best.safetensors" -o "$RUN/stage5-outdoor-384"
.venv/bin/maskingnet train --mix resources/recipes/outdoor-mix.json --recipe resources/recipes/outdoor-512.json \
    --init "$RUN/stage5-outdoor-384/best.safetensors" -o "$RUN/stage6-outdoor-512"
.venv/bin/maskingnet train --mix resources/recipes/outdoor-mix.json --recipe resources/recipes/outdoor-512-long.json \
    --init "$RUN/stage6-outdoor-512/last.safetensors" -o "$RUN/stage7-outdoor-512-long"
.venv/bin/maskingnet train --mix resources/recipes/outdoor-mix-relabelled.json --recipe resources/recipes/outdoor-512-relabelled.json \
    --init "$RUN/stage7-outdoor-512-long/best.safetensors" -o "$RUN/stage8-outdoor-512-relabelled"
.venv/bin/maskingnet train --mix resources/recipes/outdoor-mix-parts-emphasis.json --recipe resources/recipes/outdoor-512-zoom-emphasis.json \
    --init "$RUN/stage8-outdoor-512-relabelled/best.safetensors" -o "$RUN/stage9-outdoor-512-zoom"
.venv/bin/maskingnet train --mix resources/recipes/outdoor-mix-edge-emphasis.json --recipe resources/recipes/outdoor-512-edge-polish.json \
    --init "$RUN/stage9-outdoor-512-zoom/best.safetensors" -o "$RUN/stage10-edge-polish"
.venv/bin/maskingnet train --mix resources/recipes/outdoor-mix-degrade.json --recipe resources/recipes/outdoor-512-edge-polish.json \
    --seed 33 --init "$RUN/stage9-outdoor-512-zoom/best.safetensors" -o "$RUN/stage11-degrade-seed33"
.venv/bin/maskingnet train --mix resources/recipes/outdoor-mix-degrade.json --recipe resources/recipes/outdoor-512-edge-polish.json \
    --seed 34 --init "$RUN/stage9-outdoor-512-zoom/best.safetensors" -o "$RUN/stage12-degrade-seed34"
.venv/bin/python scripts/ship_default_model.py "$RUN/stage1-256" "$RUN/stage2-384" "$RUN/stage3-512" \
    "$RUN/stage4-512-clean" \
    "$RUN/stage5-outdoor-384" "$RUN/stage6-outdoor-512" "$RUN/stage7-outdoor-512-long" \
    "$RUN/stage8-outdoor-512-relabelled" "$RUN/stage9-outdoor-512-zoom" "$RUN/stage10-edge-polish" --data "$DATA" \
    --average "$RUN/stage11-degrade-seed33" "$RUN/stage12-degrade-seed34"
.venv/bin/python tools/pack_training_mix.py --mix resources/recipes/outdoor-mix-degrade.json --init default \
    --out "$RUN/gpu-pack"
for seed in 301 302 303; do .venv/bin/maskingnet train --mix "$RUN/gpu-pack-b/mix.json" --recipe resources/recipes/outdoor-512-gpu.json --seed "$seed" --init default -o "$RUN/stage13-gpu-seed$seed"; done
mkdir -p "$RUN/stage13-gpu"
.venv/bin/maskingnet average -o "$RUN/stage13-gpu/best.safetensors" "$RUN"/stage13-gpu-seed30{1,2,3}/last.safetensors
.venv/bin/maskingnet train --mix resources/recipes/outdoor-mix-degrade.json --recipe resources/recipes/outdoor-512-polish.json \
    --init "$RUN/stage13-gpu/best.safetensors" -o "$RUN/stage14-polish"
.venv/bin/python scripts/ship_default_model.py "$RUN/stage13-gpu" "$RUN/stage14-polish" --after-shipped \
    --average-shipped --data "$DATA" --outline-expert "$RUN/stage4-512-clean/best.safetensors"
.venv/bin/maskingnet train --mix resources/recipes/context-mix-crowd.json --recipe resources/recipes/context-320.json \
    --init default -o "$RUN/context-320"
.venv/bin/python scripts/ship_default_model.py --after-shipped --data "$DATA" --context-network "$RUN/context-320" \
    --context-rule '{"own_share": 0.5, "weight": 1.0, "fill_region": 0.02}'
