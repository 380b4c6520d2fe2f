"""With a model that knows cars, the doubt ranking puts damaged inputs first.

Needs a trained model: the shipped default (resources/models/default.safetensors), or the
checkpoint named by MASKINGNET_REVIEW_MODEL; skipped when neither is there.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.batch.pipeline import plan_jobs, run_batch
from core.batch.review import ReviewLog, rank_by_doubt
from core.masking.export import ExportOptions
from core.masking.inference import Segmenter
from core.models.model_store import shipped_model_path


@pytest.fixture(scope="module")
def trained() -> Segmenter:
    path = Path(os.environ.get("MASKINGNET_REVIEW_MODEL") or shipped_model_path())
    if not path.is_file():
        pytest.skip(f"no trained model at {path} (the shipped default is added when it is trained)")
    return Segmenter.load(path, device="cpu")


def test_damaged_inputs_rank_first(trained, carvana_dir, tmp_path):
    src = tmp_path / "lot"
    src.mkdir()
    cars = sorted({path.stem[:12] for path in (carvana_dir / "images").glob("*.jpg")})[:12]
    photos = [carvana_dir / "images" / f"{car}_{i + 1:02d}.jpg" for i, car in enumerate(cars)]  # 12 cars, 12 angles
    for photo in photos:
        (src / photo.name).symlink_to(photo)
    rng = np.random.default_rng(0)
    car = np.asarray(Image.open(photos[0]), dtype=np.float32)
    noisy = np.clip(car + rng.normal(0, 90, car.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(src / "zz_noisy.png")
    backdrop = Image.open(photos[1]).crop((0, 0, 120, 120)).resize((512, 512))  # the studio, no car
    backdrop.save(src / "zz_no_car.png")
    out = tmp_path / "out"
    options = ExportOptions(format="mask")
    results = list(run_batch(plan_jobs([src], out, options), trained, options, out_dir=out))
    assert len(results) == 14 and all(r.status == "done" for r in results)
    top = [item.output for item in rank_by_doubt(ReviewLog(out).items().values())[:3]]
    assert {"zz_noisy.png", "zz_no_car.png"} <= set(top), top
