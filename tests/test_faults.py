"""Faults while masking (issue 8): an output folder that is missing or read-only, a full disk,
the GPU out of memory, and the process killed during a batch or during a correction's autosave.
Each ends in a one-line error or a notice, leaves only complete files (no ``.part`` either),
and a rerun finishes the work."""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import core.io.atomic
from core import cli
from core.errors import OutputWriteError
from core.io.atomic import write_bytes_atomic
from core.io.imageio import write_image
from core.masking.inference import Segmenter
from core.models.checkpoint import ModelConfig, save_model
from core.store.corrections import CorrectionStore, photo_key

PROJECT_ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_photos(folder: Path, count: int, size: tuple[int, int] = (64, 48)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        path = folder / f"car{index:03d}.jpg"
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def leftovers(folder: Path) -> list[str]:
    """Temporary files left in ``folder`` (or below)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.part")) if folder.exists() else []


def assert_complete_images(folder: Path) -> list[Path]:
    """Every visible image in ``folder`` decodes to the end; returns them."""
    images = sorted(p for p in folder.glob("*.png") if not p.name.startswith("."))
    for path in images:
        with Image.open(path) as image:
            image.load()
    return images


def predict(args: list[str], checkpoint: Path) -> int:
    return cli.main(["predict", *args, "--model", str(checkpoint)])


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error: ")]


# ---------------------------------------------------------------------------------------------
# The output folder: missing, not a folder, not creatable, read-only.


def test_missing_output_folder_is_created(tmp_path: Path, tiny_checkpoint: Path) -> None:
    make_photos(tmp_path / "in", 2)
    out = tmp_path / "not" / "there" / "yet"
    assert predict([str(tmp_path / "in"), "-o", str(out)], tiny_checkpoint) == 0
    assert len(assert_complete_images(out)) == 2


def test_output_path_that_is_a_file(tmp_path: Path, tiny_checkpoint: Path, capsys) -> None:
    make_photos(tmp_path / "in", 1)
    (tmp_path / "out.png").write_bytes(b"not a folder")
    assert predict([str(tmp_path / "in"), "-o", str(tmp_path / "out.png")], tiny_checkpoint) == 2
    assert error_lines(capsys.readouterr().err) == [f"error: {tmp_path / 'out.png'}: exists and is not a folder"]
    assert (tmp_path / "out.png").read_bytes() == b"not a folder"


def test_output_folder_that_cannot_be_created(tmp_path: Path, tiny_checkpoint: Path, monkeypatch, capsys) -> None:
    make_photos(tmp_path / "in", 1)
    out = tmp_path / "locked" / "out"
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self == out or out in self.parents or self in out.parents and self != tmp_path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert predict([str(tmp_path / "in"), "-o", str(out)], tiny_checkpoint) == 2
    assert error_lines(capsys.readouterr().err) == [f"error: {out}: cannot create the output folder (Permission denied)"]


def _run_without_root(function) -> int:
    """Run ``function()`` (returning an exit code) as a user without root's override of file
    permissions: directly when not root, else in a forked child that became ``nobody``."""
    if os.geteuid() != 0:
        return function()
    nobody = pwd.getpwnam("nobody")
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            signal.alarm(120)  # a forked copy of a threaded process must never hang the tests
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            code = function()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX permissions")
def test_read_only_output_folder(tiny_checkpoint: Path) -> None:
    """A real read-only folder (as root, the check runs as ``nobody`` in a forked child)."""
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("no 'nobody' user to drop root to")
    work = Path(tempfile.mkdtemp(prefix="maskingnet-ro-"))  # outside pytest's private tmp, for nobody
    try:
        make_photos(work / "in", 2)
        shutil.copy(tiny_checkpoint, work / "model.safetensors")
        (work / "out").mkdir()
        (work / "home").mkdir()
        for path in [work, *work.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o644)
        (work / "out").chmod(0o555)
        err_file = work / "home" / "stderr.txt"

        def run() -> int:
            os.environ["MASKINGNET_HOME"] = str(work / "home")
            with open(err_file, "w") as stream:
                sys.stderr = stream
                return cli.main(["predict", str(work / "in"), "-o", str(work / "out"),
                                 "--model", str(work / "model.safetensors")])

        code = _run_without_root(run)
        err = err_file.read_text()
        assert code == 2, err
        assert error_lines(err) == [f"error: {work / 'out'}: the output folder is not writable"]
        assert list((work / "out").iterdir()) == []
    finally:
        (work / "out").chmod(0o755)
        shutil.rmtree(work, ignore_errors=True)


def test_output_that_cannot_be_moved_into_place(tmp_path: Path, monkeypatch) -> None:
    """A rename refused (read-only file system, permissions): the old file stays, no temporary."""
    target = tmp_path / "cut.png"
    target.write_bytes(b"previous export")

    def refuse(source, destination):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(core.io.atomic.os, "replace", refuse)
    with pytest.raises(OutputWriteError) as caught:
        write_image(target, np.zeros((4, 4, 4), np.uint8))
    assert str(caught.value) == f"{target}: cannot write: Permission denied"
    assert target.read_bytes() == b"previous export"
    assert leftovers(tmp_path) == []


def test_read_only_output_per_photo_in_a_batch(tmp_path: Path, tiny_checkpoint: Path, monkeypatch, capsys) -> None:
    """When the folder passes the up-front check but each write is refused (a folder made
    read-only during the run): every photo fails with one line, nothing partial is left."""
    make_photos(tmp_path / "in", 3)
    out = tmp_path / "out"
    real_replace = os.replace

    def replace(source, destination):
        if Path(destination).suffix == ".png":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_replace(source, destination)

    monkeypatch.setattr(core.io.atomic.os, "replace", replace)
    assert predict([str(tmp_path / "in"), "-o", str(out)], tiny_checkpoint) == 1
    lines = error_lines(capsys.readouterr().err)
    assert sorted(lines) == [f"error: {out / f'car{i:03d}.png'}: cannot write: Permission denied" for i in range(3)]
    assert assert_complete_images(out) == [] and leftovers(out) == []


# ---------------------------------------------------------------------------------------------
# A full disk.


class DiskFull:
    """Replaces ``open`` in ``core.io.atomic``: after ``allowed`` files, each write stores half its
    data and then fails with ENOSPC, as a file system that has just filled up does."""

    def __init__(self, allowed: int = 0) -> None:
        self.allowed = allowed
        self.lock = threading.Lock()
        self.failures = 0

    def __call__(self, path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)
        if "w" not in mode:
            return handle
        with self.lock:
            if self.allowed > 0:
                self.allowed -= 1
                return handle
            self.failures += 1
        return _FillingFile(handle)


class _FillingFile:
    def __init__(self, handle) -> None:
        self.handle = handle

    def write(self, data: bytes) -> int:
        self.handle.write(bytes(data[: len(data) // 2]))
        self.handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()


def test_disk_full_leaves_no_partial_file_and_keeps_the_old_one(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "cut.png"
    target.write_bytes(b"previous export")
    monkeypatch.setattr(core.io.atomic, "open", DiskFull(), raising=False)
    with pytest.raises(OutputWriteError) as caught:
        write_image(target, np.zeros((64, 64, 4), np.uint8))
    assert str(caught.value) == f"{target}: cannot write: No space left on device"
    assert target.read_bytes() == b"previous export"
    with pytest.raises(OutputWriteError):
        write_bytes_atomic(tmp_path / "new.png", b"x" * 1000)
    assert not (tmp_path / "new.png").exists()
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["cut.png"]


def test_disk_full_reported_at_fsync(tmp_path: Path, monkeypatch) -> None:
    """Some file systems report a full disk only when the data is flushed."""

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(core.io.atomic.os, "fsync", fsync)
    with pytest.raises(OutputWriteError, match="No space left on device"):
        write_bytes_atomic(tmp_path / "mask.png", b"data")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_during_a_batch_then_rerun(tmp_path: Path, tiny_checkpoint: Path, monkeypatch, capsys) -> None:
    make_photos(tmp_path / "in", 6)
    out = tmp_path / "out"
    disk = DiskFull(allowed=2)
    monkeypatch.setattr(core.io.atomic, "open", disk, raising=False)
    args = [str(tmp_path / "in"), "-o", str(out), "--batch-size", "2", "--skip-existing"]
    assert predict(args, tiny_checkpoint) == 1
    err = capsys.readouterr().err
    lines = error_lines(err)
    assert disk.failures >= 1 and len(lines) == 6 - len(assert_complete_images(out))
    assert all(line.endswith(": cannot write: No space left on device") and "car0" in line for line in lines)
    assert leftovers(out) == []
    # space freed: the rerun does the rest
    monkeypatch.undo()
    assert predict(args, tiny_checkpoint) == 0
    err = capsys.readouterr().err
    assert len(assert_complete_images(out)) == 6 and leftovers(out) == []
    assert f"{len(lines)} masked, {6 - len(lines)} skipped, 0 failed" in err


def test_disk_full_while_saving_a_checkpoint(tmp_path: Path, monkeypatch) -> None:
    import safetensors.torch

    real = safetensors.torch.save_file

    def filling(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as handle:
            handle.truncate(os.path.getsize(filename) // 2)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", filling)
    config = ModelConfig(arch="maskingnet", width=4)
    with pytest.raises(OutputWriteError, match="No space left on device"):
        save_model(tmp_path / "model.safetensors", config.build(), config)
    assert list(tmp_path.iterdir()) == []


def test_disk_full_while_saving_a_correction_keeps_the_previous_one(tmp_path: Path, monkeypatch) -> None:
    photo = tmp_path / "car.png"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(photo)
    store = CorrectionStore(tmp_path / "corrections")
    first = np.zeros((20, 30), bool)
    first[5:15, 5:25] = True
    store.save(photo, first, predicted=np.zeros((20, 30), bool))
    monkeypatch.setattr(core.io.atomic, "open", DiskFull(), raising=False)
    with pytest.raises(OutputWriteError, match="No space left on device"):
        store.save(photo, ~first)
    monkeypatch.undo()
    assert (store.load(photo) == first).all()
    assert store.get(photo_key(photo)).saves == 1
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# The GPU out of memory (simulated: a pretend CUDA device whose memory holds ``capacity`` photos).


def fake_gpu(checkpoint: Path, monkeypatch, capacity: int) -> tuple[Segmenter, list[str]]:
    notices: list[str] = []
    segmenter = Segmenter.load(checkpoint, device="cpu", on_notice=notices.append)
    segmenter.device = torch.device("cuda")  # pretend; the model itself stays on the CPU
    real = Segmenter._probabilities

    def probabilities(self, batch, mirror, use_context_network=True):
        if self.device.type == "cuda":
            if len(batch) > capacity:
                raise torch.OutOfMemoryError(f"CUDA out of memory: {len(batch)} photos (simulated)")
            self.device = torch.device("cpu")
            try:
                return real(self, batch, mirror, use_context_network)
            finally:
                self.device = torch.device("cuda")
        return real(self, batch, mirror, use_context_network)

    monkeypatch.setattr(Segmenter, "_probabilities", probabilities)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    return segmenter, notices


def batch_of(count: int, size: int = 64) -> torch.Tensor:
    return torch.randn(count, 3, size, size, generator=torch.Generator().manual_seed(1))


def test_gpu_out_of_memory_halves_the_batch(tiny_checkpoint: Path, monkeypatch) -> None:
    reference = Segmenter.load(tiny_checkpoint, device="cpu").probabilities(batch_of(8))
    segmenter, notices = fake_gpu(tiny_checkpoint, monkeypatch, capacity=2)
    segmenter.batch_size = 8
    result = segmenter.probabilities(batch_of(8))
    assert np.allclose(result, reference, atol=1e-2)
    assert notices == ["out of GPU memory: batch size lowered to 4", "out of GPU memory: batch size lowered to 2"]
    assert segmenter.batch_size == 2 and segmenter.device.type == "cuda"
    segmenter.probabilities(batch_of(2))  # fits now: no more notices
    assert len(notices) == 2


def test_gpu_out_of_memory_for_one_photo_falls_back_to_the_cpu(tiny_checkpoint: Path, monkeypatch) -> None:
    reference = Segmenter.load(tiny_checkpoint, device="cpu").probabilities(batch_of(4))
    segmenter, notices = fake_gpu(tiny_checkpoint, monkeypatch, capacity=0)
    result = segmenter.probabilities(batch_of(4))
    assert np.allclose(result, reference, atol=1e-2)
    assert notices[-1] == "out of GPU memory even for one photo: masking on the CPU from now on"
    assert segmenter.device.type == "cpu" and segmenter.batch_size == 1
    assert next(segmenter.model.parameters()).device.type == "cpu"


def test_gpu_out_of_memory_through_the_cli(tmp_path: Path, tiny_checkpoint: Path, monkeypatch, capsys) -> None:
    make_photos(tmp_path / "in", 6)
    segmenter, _ = fake_gpu(tiny_checkpoint, monkeypatch, capacity=0)
    monkeypatch.setattr(Segmenter, "load", classmethod(lambda cls, *args, **kwargs: segmenter))
    assert cli.main(["predict", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--batch-size", "4"]) == 0
    err = capsys.readouterr().err
    # (how far the batch is halved first depends on how many photos the readers had ready)
    assert "note: out of GPU memory even for one photo: masking on the CPU from now on" in err
    assert "6 masked, 0 skipped, 0 failed" in err and "Traceback" not in err
    assert len(assert_complete_images(tmp_path / "out")) == 6


def test_out_of_memory_on_the_cpu_is_one_line(tmp_path: Path, tiny_checkpoint: Path, monkeypatch, capsys) -> None:
    make_photos(tmp_path / "in", 3)
    segmenter = Segmenter.load(tiny_checkpoint, device="cpu")

    def no_memory(self, batch, mirror, use_context_network=True):
        raise torch.OutOfMemoryError("DefaultCPUAllocator: not enough memory (simulated)")

    monkeypatch.setattr(Segmenter, "_probabilities", no_memory)
    monkeypatch.setattr(Segmenter, "load", classmethod(lambda cls, *args, **kwargs: segmenter))
    assert cli.main(["predict", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert lines == ["error: out of memory on the CPU even for one photo at 64x64; close other programs"]
    assert leftovers(tmp_path / "out") == []


# ---------------------------------------------------------------------------------------------
# The process killed.


def wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_killed_during_a_batch_leaves_complete_files_and_a_rerun_finishes(
    tmp_path: Path, tiny_checkpoint: Path, capsys
) -> None:
    count = 40
    make_photos(tmp_path / "in", count, size=(640, 480))  # writes long enough to be interrupted
    out = tmp_path / "out"
    command = [sys.executable, "-m", "core.cli", "predict", str(tmp_path / "in"), "-o", str(out),
               "--model", str(tiny_checkpoint), "--batch-size", "1"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        started = wait_for(lambda: out.is_dir() and len(list(out.glob("*.png"))) >= 3, timeout=120)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert started, process.stderr.read().decode()
    assert process.returncode == -signal.SIGKILL
    done_before = assert_complete_images(out)  # every export at its final name is whole
    assert 3 <= len(done_before) < count
    assert predict([str(tmp_path / "in"), "-o", str(out), "--skip-existing"], tiny_checkpoint) == 0
    err = capsys.readouterr().err
    assert f"{count - len(done_before)} masked, {len(done_before)} skipped, 0 failed" in err
    assert len(assert_complete_images(out)) == count
    assert leftovers(out) == []  # the killed run's temporary files were swept


SAVE_LOOP = """
import sys
import numpy as np
from core.store.corrections import CorrectionStore
store = CorrectionStore(sys.argv[1])
photo, key = sys.argv[2], sys.argv[3]
first = np.zeros((600, 800), bool); first[100:500, 100:700] = True
second = ~first
predicted = np.zeros((600, 800), bool)
index = 0
while True:
    store.save(photo, first if index % 2 == 0 else second, predicted=predicted, key=key, model="tiny")
    index += 1
    if index == 1:
        print("saved", flush=True)
"""


def test_killed_during_a_corrections_autosave(tmp_path: Path) -> None:
    """Kill processes that save corrections in a loop, at different moments: every store reads
    back a complete mask, either of the last two saved, with its record."""
    photo = tmp_path / "car.png"
    Image.fromarray(np.zeros((600, 800, 3), np.uint8)).save(photo)
    key = photo_key(photo)
    first = np.zeros((600, 800), bool)
    first[100:500, 100:700] = True
    delays = [0.0, 0.07, 0.23]
    processes = []
    for index in range(len(delays)):
        root = tmp_path / f"store{index}"
        processes.append(subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(root), str(photo), key],
                                          cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    try:
        for process, delay in zip(processes, delays):
            assert process.stdout.readline() == b"saved\n", process.stderr.read().decode()
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=30)
    for index in range(len(delays)):
        store = CorrectionStore(tmp_path / f"store{index}")
        record = store.get(key)
        assert record is not None and record.saves >= 1
        mask = store.load(photo, key=key)
        assert mask is not None and mask.shape == (600, 800)
        assert (mask == first).all() or (mask == ~first).all()
        assert [r.key for r in store.records()] == [key]


def test_ctrl_c_during_a_batch_stops_cleanly(tmp_path: Path, tiny_checkpoint: Path, capsys) -> None:
    """SIGINT (Ctrl-C): one line, exit 130, the writes under way finish, no temporary file left."""
    count = 40
    make_photos(tmp_path / "in", count, size=(640, 480))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "core.cli", "predict", str(tmp_path / "in"), "-o", str(out),
               "--model", str(tiny_checkpoint), "--batch-size", "1"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        started = wait_for(lambda: out.is_dir() and len(list(out.glob("*.png"))) >= 3, timeout=120)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert started
    assert process.returncode == 130 and err == "interrupted\n"
    written = assert_complete_images(out)
    assert 3 <= len(written) < count and leftovers(out) == []
