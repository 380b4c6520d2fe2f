"""Hard examples for the context network (tools/outdoor_labels/hard_examples.py): the photos whose context
answer is furthest from their label are linked into a source of their own; none the model held out."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from core.masking.inference import Segmenter
from core.models.checkpoint import save_model
from core.models.context_network import ContextNetworkRule
from core.training.data import Sample
from tests.test_close_up import RedIsCar, red_segmenter, street_photo
from tests.test_view_context_look import tiny
from tools.outdoor_labels.hard_examples import Scored, context_score, hardest, main, teacher_labelled


def labelled_photo(folder: Path, stem: str, *, wrong: bool = False, trusted: int = 255) -> Sample:
    """A red car on a grey street with its label (inverted where ``wrong``) and a confidence map."""
    photo, truth = street_photo()
    for kind in ("images", "masks", "confidence"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo).save(folder / "images" / f"{stem}.jpg", quality=95)
    Image.fromarray(((truth != wrong) * 255).astype(np.uint8)).save(folder / "masks" / f"{stem}.png")
    Image.fromarray(np.full(truth.shape, trusted, np.uint8)).save(folder / "confidence" / f"{stem}.png")
    return Sample(folder / "images" / f"{stem}.jpg", folder / "masks" / f"{stem}.png", group=stem,
                  confidence=folder / "confidence" / f"{stem}.png", source="street")


def test_the_context_network_is_scored_on_trusted_pixels_only(tmp_path):
    plain = red_segmenter()
    segmenter = Segmenter(plain.model, replace(plain.config, context_network=ContextNetworkRule()), device="cpu",
                          context_network=RedIsCar())  # its context network also calls red car
    right = context_score(segmenter, labelled_photo(tmp_path, "right"))
    wrong = context_score(segmenter, labelled_photo(tmp_path, "wrong", wrong=True))
    assert right.dice > 0.8 and wrong.dice < 0.2
    assert wrong.false_car < 0.1  # the inverted label calls the street car: most wrong pixels are missed car
    assert context_score(segmenter, labelled_photo(tmp_path, "unknown", wrong=True, trusted=0)) is None
    assert context_score(plain, labelled_photo(tmp_path, "right")) is None  # no context network to score


def test_each_photo_counts_once_and_the_worst_share_is_picked(tmp_path):
    right = labelled_photo(tmp_path, "a")
    studio = Sample(right.image, right.mask, group="car1", source="carvana")  # exact masks: not a teacher's
    assert teacher_labelled([right, right, studio, right]) == [right]
    scored = sorted((Scored(right, value) for value in (0.9, 0.3, 0.99, 0.6)), key=lambda item: item.dice)
    assert [item.dice for item in hardest(scored, 0.5)] == [0.3, 0.6]
    assert [item.dice for item in hardest(scored, 0.01)] == [0.3]  # at least one
    assert hardest([], 0.5) == []


def test_the_script_links_the_worst_photos_and_reports_every_score(tmp_path, capsys):
    labels = tmp_path / "labels"
    for index in range(10):
        labelled_photo(labels / "street", f"photo{index}", wrong=index in (2, 7))
    mix = tmp_path / "mix.json"
    folders = {kind: str(labels / "street" / kind) for kind in ("images", "masks", "confidence")}
    mix.write_text(json.dumps({"sources": [{"name": "street", **folders, "split": "photo", "val_fraction": 0.0}]}))
    config, model, network = tiny(context_network=True)
    checkpoint = tmp_path / "tiny.safetensors"
    save_model(checkpoint, model, config, context_network=network)
    assert main(["--mix", str(mix), "--model", str(checkpoint), "--cache", str(labels), "--share", "0.3"]) == 0
    out = labels / "hard-context"
    report = json.loads((out / "report.json").read_text())
    assert report["scored"] == 10 and report["picked"] == 3 and report["picked_by_source"] == {"street": 3}
    scores = [score for score, _ in report["photos"].values()]
    assert scores == sorted(scores) and report["threshold_dice"] == scores[2]
    linked = sorted(path.name for path in (out / "images").iterdir())
    assert linked == sorted(f"{name}.jpg" for name in list(report["photos"])[:3])
    for name in linked:  # each link's label travels with it, under the same name
        stem = Path(name).stem
        assert (out / "masks" / f"{stem}.png").resolve() == (labels / "street" / "masks" / f"{stem[8:]}.png")
        assert (out / "confidence" / f"{stem}.png").is_file()
    assert "3 of 10 photos linked" in capsys.readouterr().out
    # a rerun rebuilds the folder rather than adding to it
    assert main(["--mix", str(mix), "--model", str(checkpoint), "--cache", str(labels), "--share", "0.1"]) == 0
    assert len(list((out / "images").iterdir())) == 1


def test_a_model_without_a_context_network_is_a_one_line_error(tmp_path, capsys):
    labelled_photo(tmp_path / "street", "photo")
    mix = tmp_path / "mix.json"
    folders = {kind: str(tmp_path / "street" / kind) for kind in ("images", "masks", "confidence")}
    mix.write_text(json.dumps({"sources": [{"name": "street", **folders, "split": "photo"}]}))
    config, model, _ = tiny(context_network=False)
    save_model(tmp_path / "plain.safetensors", model, config)
    assert main(["--mix", str(mix), "--model", str(tmp_path / "plain.safetensors"), "--cache", str(tmp_path)]) == 1
    assert "holds no context network" in capsys.readouterr().err
