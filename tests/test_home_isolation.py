"""The tests never touch the user's home: every test, and every process it starts, sees
temporary HOME, XDG and MaskingNet folders (set up in conftest.py, checked at the end of the run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import HOME_VARIABLES, USER_HOME, _snapshot


def test_every_home_variable_points_at_a_temporary_folder(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    for name in HOME_VARIABLES:
        assert Path(os.environ[name]).is_relative_to(base), name


def test_a_started_app_process_keeps_its_settings_out_of_the_users_home():
    code = ("import sys; from PySide6.QtCore import QSettings, QStandardPaths as P; from core.models.model_store import app_home;"
            "print(QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, 'MaskingNet', 'MaskingNet').fileName());"
            "print(P.writableLocation(P.StandardLocation.AppDataLocation)); print(app_home())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    allowed = (Path(os.environ["HOME"]), Path(os.environ["MASKINGNET_HOME"]))
    for line in done.stdout.splitlines():
        assert any(Path(line).is_relative_to(folder) for folder in allowed), line
        assert not Path(line).is_relative_to(USER_HOME / ".config") and not Path(line).is_relative_to(USER_HOME / ".local")


def test_the_end_of_run_check_sees_a_new_or_changed_file(tmp_path):
    folder = tmp_path / "MaskingNet"
    before = _snapshot((folder,))
    folder.mkdir()
    (folder / "MaskingNet.ini").write_text("[General]\n")
    after = _snapshot((folder,))
    assert before != after and after[str(folder / "MaskingNet.ini")] is not None
    os.utime(folder / "MaskingNet.ini", ns=(1, 1))
    assert _snapshot((folder,)) != after
