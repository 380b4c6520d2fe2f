"""The model service: loading on a worker thread, mask jobs with signals, cancel, settings."""

from __future__ import annotations

import numpy as np
import pytest
from test_app_helpers import MASK_TIMEOUT_MS, make_photo

from core.models.model_versions import active_model
from maskingnet_app import app_settings
from maskingnet_app.model.model_service import MaskResult, ModelService


@pytest.fixture
def service(qtbot, tiny_checkpoint):
    service = ModelService(str(tiny_checkpoint), "cpu")
    yield service
    service.shutdown()


def test_loads_in_the_background_and_remembers_the_model(qtbot, service, tiny_checkpoint):
    assert service.state == "idle" and service.device_label == ""
    with qtbot.waitSignal(service.modelLoaded, timeout=MASK_TIMEOUT_MS) as loaded:
        service.load()
        assert service.state == "loading"
    assert loaded.args[0] == "tiny" and loaded.args[1].startswith("CPU, ")
    assert service.is_ready and service.device_label == loaded.args[1]
    assert active_model() == str(tiny_checkpoint.resolve())


def test_a_load_that_is_not_remembered_keeps_the_setting(qtbot, service):
    with qtbot.waitSignal(service.modelLoaded, timeout=MASK_TIMEOUT_MS):
        service.load(remember=False)
    assert active_model() == "default"
    assert ModelService().spec == "default"


def test_a_missing_default_model_fails_with_one_line(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr("core.models.model_store.SHIPPED_MODELS_DIR", tmp_path / "none")
    service = ModelService("default", "cpu")
    with qtbot.waitSignal(service.modelFailed, timeout=MASK_TIMEOUT_MS) as failed:
        service.load()
    message = failed.args[0]
    assert "no default model is installed" in message and "\n" not in message
    assert service.state == "failed" and service.error == message
    with pytest.raises(RuntimeError, match="no default model"), service.borrow():
        pass
    with qtbot.waitSignal(service.jobFailed, timeout=MASK_TIMEOUT_MS) as job_failed:
        service.submit(make_photo(tmp_path / "p.png"))
    assert "no default model" in job_failed.args[2]


def test_an_unavailable_device_is_reported(qtbot, service):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with qtbot.waitSignal(service.modelFailed, timeout=MASK_TIMEOUT_MS) as failed:
        service.set_device("cuda")
    assert "CUDA" in failed.args[0]
    assert app_settings.value(app_settings.MODEL_DEVICE, "", str) == "cuda"
    with pytest.raises(ValueError, match="unknown device"):
        service.set_device("tpu")


def test_mask_jobs_run_after_the_load_and_report_results(qtbot, service, tmp_path):
    path = make_photo(tmp_path / "car.png", size=(200, 120))
    service.load()
    progress = []
    service.progress.connect(lambda done, total: progress.append((done, total)))
    started = []
    service.jobStarted.connect(lambda job, path: started.append(job))
    with qtbot.waitSignal(service.jobFinished, timeout=MASK_TIMEOUT_MS) as finished:
        job = service.submit(path)
    result: MaskResult = finished.args[1]
    assert started == [job] and finished.args[0] == job
    assert result.job == job and result.path == path and result.model == "tiny"
    assert result.alpha.shape == (120, 200) and set(np.unique(result.alpha)) <= {0, 255}
    assert service.last_seconds == result.seconds > 0
    assert progress[0] == (0, 1) and progress[-1] == (0, 0) and not service.is_busy
    with qtbot.waitSignal(service.jobFailed, timeout=MASK_TIMEOUT_MS) as failed:
        service.submit(tmp_path / "missing.jpg")
    assert "missing.jpg" in failed.args[2]


def test_cancelled_jobs_never_finish(qtbot, service, tmp_path):
    paths = [make_photo(tmp_path / f"p{i}.png", seed=i) for i in range(4)]
    with qtbot.waitSignal(service.modelLoaded, timeout=MASK_TIMEOUT_MS):
        service.load()
    outcomes: dict[int, str] = {}
    service.jobFinished.connect(lambda job, result: outcomes.__setitem__(job, "finished"))
    service.jobCancelled.connect(lambda job: outcomes.__setitem__(job, "cancelled"))
    jobs = [service.submit(p) for p in paths]
    service.cancel(jobs[1])
    service.cancel_all()
    qtbot.waitUntil(lambda: len(outcomes) == 4, timeout=MASK_TIMEOUT_MS)
    assert outcomes[jobs[1]] == outcomes[jobs[3]] == "cancelled"
    assert service.pending_count == 0


def test_borrow_lends_the_model_to_other_threads(qtbot, service, tmp_path):
    with qtbot.waitSignal(service.modelLoaded, timeout=MASK_TIMEOUT_MS):
        service.load()
    import threading

    seen = []

    def worker():
        with service.borrow() as segmenter:
            seen.append(segmenter.predict(np.zeros((40, 60, 3), np.uint8)).mask.shape)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(30)
    assert seen == [(40, 60)]


def test_the_batch_borrows_the_model_for_every_call_and_stops_when_it_is_switched(qtbot, service):
    """Issue 15: the batch's model calls (``probabilities_and_disagreement`` included) hold the
    service's lock, so the editor and the batch never run the model at once, and a model switched
    during the batch stops it with one line instead of running the old one."""
    import threading

    import torch

    from core.errors import MaskingNetError
    from maskingnet_app.batch.batch_menu import ServiceSegmenter

    with qtbot.waitSignal(service.modelLoaded, timeout=MASK_TIMEOUT_MS):
        service.load()
    borrowed = ServiceSegmenter(service)
    batch = torch.zeros((1, 3, borrowed.config.preprocess.size, borrowed.config.preprocess.size))
    for call in (lambda: borrowed.probabilities_and_disagreement(batch, mirror=True), lambda: borrowed.probabilities(batch)):
        done = threading.Event()
        thread = threading.Thread(target=lambda call=call, done=done: (call(), done.set()))
        with service.borrow():  # the editor is using the model
            thread.start()
            assert not done.wait(0.5), "the batch ran the model while the editor held it"
        assert done.wait(30)
        thread.join(30)
    probabilities, disagreement = borrowed.probabilities_and_disagreement(batch, mirror=True)
    assert probabilities.shape[0] == 1 and disagreement is not None

    with qtbot.waitSignal(service.modelLoaded, timeout=MASK_TIMEOUT_MS):
        service.load(remember=False)  # the user switches the model: a new Segmenter
    for call in (lambda: borrowed.probabilities_and_disagreement(batch, mirror=False), lambda: borrowed.probabilities(batch)):
        with pytest.raises(MaskingNetError, match="switched during the batch"):
            call()


def test_the_app_and_the_cli_start_on_the_version_the_user_chose(qtbot, tiny_checkpoint, monkeypatch, tmp_path):
    """Issue 15: one record of the model in use (``core.models.model_versions``): a version the app
    loaded is what the next app session and the command line (without ``--model``) start on."""
    from test_bad_inputs import red_segmenter, two_colour
    from test_model_versions import record

    from core import cli
    from core.masking.inference import Segmenter
    from core.models import model_versions as mv

    mv.save_version("mine", tiny_checkpoint, record())
    chosen = ModelService("mine", "cpu")  # Model menu -> mine
    with qtbot.waitSignal(chosen.modelLoaded, timeout=MASK_TIMEOUT_MS):
        chosen.load()
    chosen.shutdown()
    assert mv.active_model() == "mine"
    assert ModelService().spec == "mine"  # the app's next start

    loaded = []
    monkeypatch.setattr(Segmenter, "load", classmethod(lambda cls, spec=None, **kwargs: loaded.append(spec) or red_segmenter()))
    from PIL import Image

    Image.fromarray(two_colour(60, 40)[0]).save(tmp_path / "car.png")
    assert cli.main(["predict", str(tmp_path / "car.png"), "-o", str(tmp_path / "out")]) == 0
    assert loaded == ["mine"]  # the command line's start, without --model
