"""Entry points, the headless self-check, lazy torch, shortcuts table, About, the Qt work-around."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from test_app_helpers import make_photo

from core import __version__
from maskingnet_app.actions import ACTION_SPECS, MOUSE_CONTROLS, ActionSpec, shortcut_rows, shortcuts_markdown
from maskingnet_app.help_dialogs import ShortcutsDialog, about_text
from maskingnet_app.main import _run, build_parser, compose_window, self_check
from maskingnet_app.model.model_service import ModelService

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def run_app(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    return subprocess.run([sys.executable, "-m", "maskingnet_app.main", *args], cwd=PROJECT_ROOT, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def test_self_check_writes_the_cut_out(tmp_path, tiny_checkpoint, capsys):
    photo = make_photo(tmp_path / "car.png", size=(160, 96))
    out = tmp_path / "out" / "car.png"
    assert self_check(photo, out, str(tiny_checkpoint), "cpu") == 0
    assert capsys.readouterr().out.startswith(f"self-check ok: {out} (tiny on CPU")
    rgba = np.asarray(Image.open(out))
    assert rgba.shape == (96, 160, 4) and set(np.unique(rgba[..., 3])) <= {0, 255}


def test_self_check_fails_with_one_line(tmp_path, tiny_checkpoint, capsys):
    assert self_check(tmp_path / "missing.jpg", tmp_path / "o.png", str(tiny_checkpoint), "cpu") == 1
    error = capsys.readouterr().err
    assert error.startswith("self-check failed: ") and "missing.jpg" in error and error.count("\n") == 1
    assert self_check(make_photo(tmp_path / "p.png"), tmp_path / "o.png", str(tmp_path / "nope.safetensors"), "cpu") == 1
    assert "nope.safetensors" in capsys.readouterr().err


def test_the_command_line(tmp_path, tiny_checkpoint, capsys):
    args = build_parser().parse_args(["a.jpg", "folder", "--model", "m", "--device", "cpu"])
    assert (args.files, args.model, args.device, args.self_check) == (["a.jpg", "folder"], "m", "cpu", None)
    photo = make_photo(tmp_path / "car.png")
    code = _run(["--self-check", str(photo), str(tmp_path / "cut.png"), "--model", str(tiny_checkpoint), "--device", "cpu"])
    assert code == 0 and (tmp_path / "cut.png").is_file() and capsys.readouterr().out.startswith("self-check ok:")


def test_the_window_is_up_before_torch_loads(tmp_path, tiny_checkpoint):
    done = run_app("--model", str(tiny_checkpoint), "--device", "cpu",
                   env={"MASKINGNET_STARTUP_REPORT": "1", "MASKINGNET_HOME": str(tmp_path)})
    lines = [line for line in done.stdout.splitlines() if line.startswith(("window-shown", "model-"))]
    assert done.returncode == 0, done.stderr
    assert lines[0].startswith("window-shown") and lines[0].endswith("torch-loaded=False")
    assert lines[1].startswith("model-ready")
    assert float(lines[0].split()[1]) <= float(lines[1].split()[1])


def test_every_shortcut_is_listed_once_and_in_the_readme(qtbot, tiny_checkpoint):
    keys = [key for spec in ACTION_SPECS if isinstance(spec, ActionSpec) for key in spec.shortcuts]
    assert len(keys) == len(set(keys)), "a key must not do two things"
    window = compose_window(ModelService(str(tiny_checkpoint), "cpu"), load_model=False)
    qtbot.addWidget(window)
    rows = shortcut_rows(window.menus)  # the window's own actions and those the feature dialogs added
    assert set(shortcut_rows()) <= set(rows)
    assert ("Edit", "Undo", "Ctrl+Z") in rows and ("File", "Open Folder", "Ctrl+Shift+O") in rows
    live_keys = [key.strip() for _, _, keys in rows[: -len(MOUSE_CONTROLS)] for key in keys.split(", ")]
    assert len(live_keys) == len(set(live_keys)), "a key must not do two things"
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert shortcuts_markdown(rows) in readme, "README's shortcut table is out of date: paste shortcuts_markdown(rows)"


def test_shortcuts_dialog_and_about(qtbot):
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == len(shortcut_rows())
    text = about_text("tiny", "CPU, 2 threads")
    assert __version__ in text and "tiny" in text and "CPU, 2 threads" in text
    assert "no default model" in about_text("", "", "no default model is installed")


def test_void_qt_calls_cannot_exhaust_none():
    code = ("import maskingnet_app\nfrom PySide6.QtCore import QRect\nr = QRect()\n"
            "for _ in range(200000):\n    r.setWidth(1)\nprint('alive')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "alive", done.stderr[-500:]
