"""The context look (core.masking.context_look): the smaller look, which regions it clears, and how the
segmenter uses it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from fake_networks import InputDrawn, logits_of

from core.masking.context_look import (
    REGION_SHARE,
    clear_with_context,
    context_logits,
    large_regions,
    surrounded_regions,
)
from core.masking.inference import Segmenter
from core.models.checkpoint import ModelConfig
from core.models.context_network import ContextNetworkRule
from core.models.networks.blocks import smaller_input_size
from core.models.preprocess import Preprocess


def test_smaller_input_size_is_a_multiple_of_32_or_none():
    assert [smaller_input_size(size, 0.625) for size in (512, 384, 256, 64, 32)] == [320, 256, 160, 32, None]


def test_large_regions_keeps_only_regions_of_the_least_size():
    mask = np.zeros((20, 20), bool)
    mask[:10, :10] = True  # 100 pixels
    mask[15:17, 15:17] = True  # 4 pixels
    assert large_regions(mask, 50).sum() == 100
    assert large_regions(mask, 4).sum() == 104
    assert not large_regions(mask, 101).any()


def test_surrounded_regions_count_only_the_border_inside_the_frame():
    car = np.zeros((40, 40), bool)
    car[:, :30] = True  # a van filling the left of the frame
    holes = np.zeros((40, 40), bool)
    holes[0:8, 5:15] = True  # a hole at the frame's top: its border inside the frame is all car
    holes[15:25, 10:20] = True  # a hole inside the van
    holes[10:30, 30:40] = True  # background right of the van: car on one side only
    car &= ~holes
    assert np.array_equal(surrounded_regions(holes, car, 50, 0.6), holes & (np.arange(40) < 30)[None, :])
    assert not surrounded_regions(holes, car, 101, 0.6).any()  # none as large as that


def test_context_clears_large_regions_only_and_never_adds_car():
    size = 100
    car, canopy, mirror, missed = (torch.zeros(size, size) for _ in range(4))
    car[50:90, 10:90] = 1
    canopy[0:30, 0:100] = 1  # 30 % of the area, joined to nothing the context look calls car
    mirror[45:50, 85:88] = 1  # 15 pixels, under REGION_SHARE of the area
    missed[92:100, 0:100] = 1  # car in the context look only
    main = logits_of(car + canopy + mirror)
    context = logits_of(car + missed)
    combined, cleared = clear_with_context(main, context)
    kept = (combined[0, 1] > combined[0, 0])
    assert torch.equal(kept, (car + mirror).bool())  # the canopy goes, the mirror stays, nothing is added
    assert cleared.tolist() == pytest.approx([canopy.mean().item()])
    assert REGION_SHARE * size * size > mirror.sum()
    same, nothing = clear_with_context(logits_of(car), logits_of(car))
    assert torch.equal(same, logits_of(car)) and nothing.tolist() == [0.0]


def test_context_logits_look_smaller_and_mirrored_and_come_back_at_the_working_size():
    batch = -torch.ones(2, 3, 64, 64)
    batch[:, 0, 16:48, 8:40] = 1
    model = InputDrawn()
    logits = context_logits(model, batch)
    assert model.inputs == [(2, 3, 32, 32), (2, 3, 32, 32)]  # the view and its mirror image
    assert logits.shape == (2, 2, 64, 64)
    assert (logits[0, 1] > logits[0, 0])[32, 24] and not (logits[0, 1] > logits[0, 0])[32, 60]
    assert context_logits(InputDrawn(), torch.zeros(1, 3, 32, 32)) is None  # nothing smaller to look at


class SizeAware(torch.nn.Module):
    """At 64x64 the car is wherever the input's first channel is above 0; at any smaller size, above 0.5
    and with twice the margin: a faint region is car to the working-size look and not to the context look."""

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        full = batch.shape[-1] == 64
        return torch.cat([logits_of(view[0] > (0 if full else 0.5), 4.0 if full else 8.0) for view in batch])


def segmenter(**options) -> Segmenter:
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"name": "sized"})
    return Segmenter(SizeAware(), config, device="cpu", close_up=False, frame_edge=False, **options)


def test_segmenter_clears_with_the_mirror_pass_only_and_only_toward_background():
    batch = -torch.ones(2, 3, 64, 64)
    batch[:, 0, 32:60, 8:56] = 1  # the car: car to both looks
    batch[0, 0, 0:24, :] = 0.25  # a faint canopy: car to the working-size look only
    batch[0, 0, 26:30, 50:53] = 0.25  # a faint mirror, too small to clear
    looking, plain = segmenter(), segmenter(context_look=False)
    with_context, without = looking.probabilities(batch), plain.probabilities(batch)
    assert (without[0] > 0.5).sum() == 28 * 48 + 24 * 64 + 4 * 3
    assert (with_context[0] > 0.5).sum() == 28 * 48 + 4 * 3  # the canopy cleared, the car and the mirror kept
    assert np.array_equal(with_context[1], without[1])  # nothing to clear
    assert looking.context_cleared == 1
    single = segmenter(flip_tta=False)
    assert np.array_equal(single.probabilities(batch), segmenter(flip_tta=False, context_look=False).probabilities(batch))
    assert single.context_cleared == 0


def test_the_timing_benchmark_times_both_ways(tmp_path, monkeypatch, capsys):
    from PIL import Image

    import benchmarks.bench_context_look as bench
    from core.models.checkpoint import save_model

    torch.manual_seed(0)
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"name": "tiny"})
    path = tmp_path / "tiny.safetensors"
    save_model(path, config.build().eval(), config)
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        Image.fromarray(rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)).save(folder / f"car{index}_01.png")
    monkeypatch.setattr("sys.argv", ["bench", str(folder), "--model", str(path), "--photos", "3"])
    assert bench.main() == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{folder} (3 photos): with the context look ") and "; without it " in line
    assert line.endswith("views it cleared a region of: 0, filled one of: 0")
    assert set(bench.WAYS) == {"with the context look", "without it"}
    assert "without the context network" not in line  # the model holds none
    with_network = tmp_path / "with-network.safetensors"
    save_model(with_network, config.build().eval(), replace(config, context_network=ContextNetworkRule()),
               context_network=config.build().eval())
    monkeypatch.setattr("sys.argv", ["bench", str(folder), "--model", str(with_network), "--photos", "3"])
    assert bench.main() == 0
    line = capsys.readouterr().out.strip()
    assert "; without it " in line and "; with the context look without the context network " in line
    assert "without the fill" not in line  # its rule fills nothing
    filling = tmp_path / "filling.safetensors"
    save_model(filling, config.build().eval(), replace(config, context_network=ContextNetworkRule(fill_region=0.02)),
               context_network=config.build().eval())
    monkeypatch.setattr("sys.argv", ["bench", str(folder), "--model", str(filling), "--photos", "3"])
    assert bench.main() == 0
    line = capsys.readouterr().out.strip()
    assert "; with the context look without the context network " in line
    assert "; with the context look without the fill " in line
