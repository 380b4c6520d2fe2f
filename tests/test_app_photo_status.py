"""The photo list's status line: the model's doubt shows as "Masked, check" in amber; statuses
stay short, with the whole story (the export's full path) in the tooltip."""

from __future__ import annotations

import torch
from PIL import Image
from PySide6.QtCore import Qt
from test_app_helpers import MASK_TIMEOUT_MS, make_window, open_and_wait
from test_bad_inputs import red_segmenter, two_colour
from torch import nn

from core.masking.doubt import CHECK_DOUBT
from core.masking.inference import Segmenter
from core.models.checkpoint import ModelConfig
from core.models.preprocess import Preprocess
from maskingnet_app.editor.documents import STATUS_ROLE, PhotoStatus
from maskingnet_app.editor.photo_list import CHECK_COLOR, STATUS_COLORS


class Unsure(nn.Module):
    """Logits close to a tie everywhere: every pixel is undecided."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = 0.2 * x[:, :1]
        return torch.cat([-score, score], dim=1)


def unsure_segmenter() -> Segmenter:
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"name": "unsure"})
    return Segmenter(Unsure(), config, device="cpu", name="unsure")


def open_with(qtbot, monkeypatch, tmp_path, tiny_checkpoint, make_segmenter):
    monkeypatch.setattr(Segmenter, "load", classmethod(lambda cls, *args, **kwargs: make_segmenter()))
    window = make_window(qtbot, tiny_checkpoint)
    rgb, _ = two_colour(320, 200)
    Image.fromarray(rgb).save(tmp_path / "car.png")
    (document,) = open_and_wait(qtbot, window, [tmp_path / "car.png"])
    row = window.session.model.index(window.session.model.row_of(document))
    return window, document, row


def test_a_doubtful_mask_says_check_in_amber(qtbot, monkeypatch, tmp_path, tiny_checkpoint, one_torch_thread):
    window, document, row = open_with(qtbot, monkeypatch, tmp_path, tiny_checkpoint, unsure_segmenter)
    assert document.status == PhotoStatus.MASKED and document.doubt > CHECK_DOUBT
    assert row.data(STATUS_ROLE) == "Masked, check" and document.needs_check
    assert "unsure" in row.data(Qt.ItemDataRole.ToolTipRole)
    assert CHECK_COLOR not in STATUS_COLORS.values()
    window.close()


def test_a_confident_mask_says_masked_and_an_export_is_short_with_the_path_in_the_tooltip(
        qtbot, monkeypatch, tmp_path, tiny_checkpoint, one_torch_thread):
    window, document, row = open_with(qtbot, monkeypatch, tmp_path, tiny_checkpoint, red_segmenter)
    assert document.doubt is not None and document.doubt < CHECK_DOUBT
    assert row.data(STATUS_ROLE) == "Masked" and not document.needs_check
    out = tmp_path / "a-long-output-folder-name" / "00087a6bd4dc-more-words"
    window.exports.ask = lambda settings, sources: settings.with_folder(out)
    window.photo_list.select_document(document)
    with qtbot.waitSignal(window.exports.finished, timeout=MASK_TIMEOUT_MS):
        window.export_current()
    assert row.data(STATUS_ROLE) == "Exported"
    assert str(out / "car.png") in row.data(Qt.ItemDataRole.ToolTipRole)
    window.close()


def test_a_prediction_carries_the_mirror_disagreement_into_its_doubt(one_torch_thread):
    rgb, _ = two_colour(96, 64)
    prediction = red_segmenter().predict(rgb)
    assert prediction.mirror is not None and prediction.area > 0.1
    assert prediction.doubt == prediction.uncertainty + prediction.mirror
