"""``maskingnet predict``: the batch engine on the command line, including a run killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from core.batch.review import ReviewLog
from core.cli import main

MASKINGNET = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "maskingnet"


def _outputs(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))


def _assert_complete_png(path: Path, size: tuple[int, int]) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == size
        image.load()  # raises on a truncated file


def test_predict_recursive_mirrors_folders_and_skip_existing_resumes(few_cars, tiny_checkpoint, tmp_path, capsys):
    src = tmp_path / "lot"
    for i, photo in enumerate(sorted((few_cars / "images").iterdir())):
        target = src / (f"shoot{i % 2}" if i % 3 else "") / photo.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(photo.resolve())
    out = tmp_path / "out"
    args = [str(src), "-o", str(out), "--model", str(tiny_checkpoint), "--device", "cpu"]
    assert main(["predict", *args]) == 0
    flat = _outputs(out)
    assert [p.parent for p in flat] == [out] * len(flat) and 0 < len(flat) < 8  # top level only
    assert main(["predict", *args, "--recursive", "--skip-existing"]) == 0
    found = _outputs(out)
    assert len(found) == 8
    assert {p.relative_to(out).parent.as_posix() for p in found} == {".", "shoot0", "shoot1"}
    for path in found:
        _assert_complete_png(path, (512, 512))
    summary = capsys.readouterr().err
    assert f"{8 - len(flat)} masked, {len(flat)} skipped, 0 failed" in summary
    assert "check first:" in summary
    assert len(ReviewLog(out).items()) == 8


def test_predict_reports_a_missing_model_in_one_line(few_cars, tmp_path, capsys):
    code = main(["predict", str(few_cars / "images"), "-o", str(tmp_path / "out"), "--model",
                 str(tmp_path / "nope.safetensors")])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and "nope.safetensors" in error and "\n" not in error


@pytest.mark.skipif(not MASKINGNET.exists() or sys.platform == "win32", reason="needs .venv/bin/maskingnet on POSIX")
def test_a_run_killed_with_sigkill_leaves_only_complete_files_and_a_rerun_finishes(carvana_dir, tiny_checkpoint, tmp_path):
    src = tmp_path / "big"
    src.mkdir()
    originals = sorted((carvana_dir / "images").glob("*.jpg"))[:4]
    for i, photo in enumerate(originals):  # four full-size (1918x1280) photos, linked under 16 names
        Image.open(photo).convert("RGB").resize((1918, 1280), Image.BICUBIC).save(tmp_path / f"full{i}.jpg", quality=90)
    for n in range(16):
        (src / f"photo_{n:02d}.jpg").symlink_to(tmp_path / f"full{n % 4}.jpg")
    out = tmp_path / "out"
    command = [str(MASKINGNET), "predict", str(src), "-o", str(out), "--model", str(tiny_checkpoint), "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    deadline = time.monotonic() + 120
    while not (out.is_dir() and _outputs(out)) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL, stderr
    existing = _outputs(out)
    assert 1 <= len(existing) < 16, "the run should have been killed in the middle"
    for path in existing:
        _assert_complete_png(path, (1918, 1280))
    before = {path: path.stat().st_mtime_ns for path in existing}

    rerun = subprocess.run([*command, "--skip-existing"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{16 - len(existing)} masked, {len(existing)} skipped, 0 failed" in rerun.stderr
    finished = _outputs(out)
    assert len(finished) == 16
    for path in finished:
        _assert_complete_png(path, (1918, 1280))
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in before.items())
    assert not list(out.glob(".*.part")), "temporary files of the killed run are cleaned up"
    assert len(ReviewLog(out).items()) == 16
