"""The exported alpha is anti-aliased along the car's outline (the model's upsampled probability
on a thin band), exactly 0 or 255 elsewhere, and exact where the user painted: in the core, the
CLI's batch and the app."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_app_helpers import MASK_TIMEOUT_MS, drag, make_window, open_and_wait, show_document
from test_bad_inputs import red_segmenter, two_colour, use_red_segmenter

from core import cli
from core.masking import export as core_export
from core.masking.export import EDGE_BAND, soft_edge_alpha
from core.masking.inference import Segmenter


def near_outline(hard: np.ndarray, distance: int) -> np.ndarray:
    """Pixels within ``distance`` of the boundary between True and False."""
    import cv2

    kernel = np.ones((2 * distance + 1, 2 * distance + 1), np.uint8)
    hard = hard.astype(np.uint8)
    return cv2.dilate(hard, kernel) != cv2.erode(hard, kernel)


def ramp_probability(width: int = 300, height: int = 200) -> np.ndarray:
    """A disk whose probability falls from 255 to 0 over 8 pixels, as an upsampled answer does."""
    yy, xx = np.mgrid[0:height, 0:width]
    radius = np.hypot(yy - height / 2, xx - width / 2)
    return np.clip((70 - radius) / 8 * 255 + 128, 0, 255).astype(np.uint8)


def check_soft_edge(alpha: np.ndarray, hard: np.ndarray) -> None:
    soft = (alpha > 0) & (alpha < 255)
    assert soft.sum() > 100, "the outline must have intermediate alpha values"
    assert not (soft & ~near_outline(hard, EDGE_BAND)).any(), "only a thin band along the outline is soft"
    assert np.array_equal(alpha >= 128, hard)


def test_soft_edge_alpha_is_the_probability_on_the_outline_only(monkeypatch):
    probability = ramp_probability()
    alpha = soft_edge_alpha(probability)
    hard = probability >= 128
    check_soft_edge(alpha, hard)
    band = near_outline(hard, EDGE_BAND)
    assert np.array_equal(alpha[band], probability[band])
    assert np.all(alpha[hard & ~band] == 255) and np.all(alpha[~hard & ~band] == 0)
    monkeypatch.setattr(core_export, "STRIP_BYTES", 7 * 300)  # strips of 7 rows, in place: the same answer
    in_place = probability.copy()
    assert soft_edge_alpha(in_place, out=in_place) is in_place and np.array_equal(in_place, alpha)


def test_a_prediction_alpha_is_soft_along_the_edge(one_torch_thread):
    rgb, truth = two_colour(300, 200)
    prediction = red_segmenter().predict(rgb)
    check_soft_edge(prediction.alpha, prediction.mask)
    assert float(np.mean(prediction.mask != truth)) < 0.03


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_the_cli_exports_an_anti_aliased_edge(tmp_path, monkeypatch, capsys, fmt, one_torch_thread):
    use_red_segmenter(monkeypatch)
    rgb, _ = two_colour(300, 200)
    Image.fromarray(rgb).save(tmp_path / "car.png")
    assert cli.main(["predict", str(tmp_path / "car.png"), "-o", str(tmp_path / "out"), "--format", fmt]) == 0
    written = np.asarray(Image.open(tmp_path / "out" / f"car.{'png' if fmt == 'png' else 'jpg'}")).astype(int)
    prediction = Segmenter.load().predict(rgb)
    if fmt == "png":
        check_soft_edge(written[..., 3].astype(np.uint8), prediction.mask)
        assert np.array_equal(written[..., 3], prediction.alpha)
    else:  # on white: the edge pixels are blends of the photo and the background
        expected = core_export.composite_on(rgb, prediction.alpha, (255, 255, 255)).astype(int)
        assert np.abs(written - expected).mean() < 2


def test_the_app_exports_the_models_soft_edge_and_the_painted_pixels_exactly(qtbot, tiny_checkpoint, tmp_path,
                                                                            monkeypatch):
    monkeypatch.setattr(Segmenter, "load", classmethod(lambda cls, *args, **kwargs: red_segmenter()))
    window = make_window(qtbot, tiny_checkpoint)
    rgb, _ = two_colour(320, 200)
    Image.fromarray(rgb).save(tmp_path / "car.png")
    (document,) = open_and_wait(qtbot, window, [tmp_path / "car.png"])
    show_document(qtbot, window, document)
    editor = document.editor
    model_alpha = editor.alpha.copy()
    check_soft_edge(model_alpha, model_alpha >= 128)
    window.state.set("smart", False)  # the plain brush: painted pixels are exactly 0 or 255
    window.state.set("brush_size", 12)
    window.state.set("hardness", 1.0)
    window.actions["tool_brush"].trigger()
    drag(window.canvas, [(40, 150), (280, 150)])  # a hard stroke across the background
    window.actions["tool_eraser"].trigger()
    drag(window.canvas, [(60, 80), (60, 120)])  # across the car's lower outline (row 100)
    painted = editor.alpha != model_alpha
    was_soft = (model_alpha > 0) & (model_alpha < 255)
    assert (painted & was_soft).any() and set(np.unique(editor.alpha[painted])) <= {0, 255}
    window.exports.ask = lambda settings, sources: settings.with_folder(tmp_path / "out")
    with qtbot.waitSignal(window.exports.finished, timeout=MASK_TIMEOUT_MS):
        window.export_current()
    exported = np.asarray(Image.open(tmp_path / "out" / "car.png"))[..., 3]
    assert np.array_equal(exported, editor.alpha)
    assert ((exported > 0) & (exported < 255) & ~painted).sum() > 100  # the model's soft outline is kept
    window.close()


def test_one_correction_gives_one_cut_out_in_the_editor_the_batch_and_the_review(tmp_path, monkeypatch, one_torch_thread):
    """Issue 15: the store keeps the soft alpha itself (``alpha.png``), so the editor's export,
    the batch's and the review's re-export of one saved correction carry the same alpha."""
    from core.batch.review import ReviewLog, reexport_from_correction
    from core.io.imageio import read_photo
    from core.masking.export import ExportOptions
    from core.store.corrections import ALPHA_FILE, CorrectionStore, photo_key
    from maskingnet_app.export.exporter import export_alpha

    use_red_segmenter(monkeypatch)
    rgb, truth = two_colour(120, 80)
    photo_path = tmp_path / "car.png"
    Image.fromarray(rgb).save(photo_path)
    alpha = truth.astype(np.uint8) * 255
    alpha[40:45, 10:30] = [[200], [150], [100], [60], [20]]  # a soft brush edge the user painted
    store = CorrectionStore()
    key = photo_key(photo_path)
    store.save(photo_path, alpha, model="red-is-car", key=key)  # what the editor's autosave does
    assert (store.folder_for(key) / ALPHA_FILE).is_file()
    assert np.array_equal(store.load_alpha(photo_path), alpha)
    assert np.array_equal(store.restore(key, (120, 80)).alpha, alpha)  # the editor reopens it exactly

    def exported(path):
        return np.asarray(Image.open(path))[..., 3]

    export_alpha(read_photo(photo_path), store.restore(key, (120, 80)).alpha, tmp_path / "editor.png",
                 ExportOptions(format="png"))
    assert cli.main(["predict", str(photo_path), "-o", str(tmp_path / "batch")]) == 0
    log = ReviewLog(tmp_path / "batch")
    item = log.items()["car.png"]
    (tmp_path / "batch" / "car.png").unlink()
    reexport_from_correction(item, log, store)
    for cut_out in (tmp_path / "editor.png", tmp_path / "batch" / "car.png"):
        assert np.array_equal(exported(cut_out), alpha), cut_out

    store.save(photo_path, alpha >= 128, key=key)  # a binary save replaces the soft alpha
    assert not (store.folder_for(key) / ALPHA_FILE).exists()
    store.save(photo_path, alpha, key=key)
    (store.folder_for(key) / ALPHA_FILE).write_bytes((store.folder_for(key) / "mask.png").read_bytes()[:40])  # torn
    assert np.array_equal(store.load_alpha(photo_path), (alpha >= 128).astype(np.uint8) * 255)
