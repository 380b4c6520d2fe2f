"""``core/`` never imports Qt: checked in the source, and by importing every module with Qt blocked."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORE = PROJECT_ROOT / "core"
QT_PACKAGES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2", "qtpy")


def _core_files() -> list[Path]:
    return sorted(path for path in CORE.rglob("*.py") if "__pycache__" not in path.parts)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _qt_imports(path: Path, root: Path = PROJECT_ROOT) -> list[str]:
    """Every import of a Qt binding in ``path``: plain, from-, nested and importlib imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
              and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("import_module", "__import__")
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        else:
            continue
        found += [f"{path.relative_to(root)}:{node.lineno} imports {name}" for name in names
                  if name.split(".")[0] in QT_PACKAGES]
    return found


def test_the_check_finds_qt_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom PySide6.QtCore import QObject\nimport PyQt5.QtGui as g\n"
                      "def f():\n    import shiboken6\n    importlib.import_module('PyQt6.QtWidgets')\n")
    found = _qt_imports(sample, root=tmp_path)
    assert [line.split(" imports ")[1] for line in found] == ["PySide6.QtCore", "PyQt5.QtGui", "shiboken6", "PyQt6.QtWidgets"]


def test_no_core_source_file_imports_qt():
    files = _core_files()
    assert len(files) > 10 and CORE / "masking" / "inference.py" in files
    found = [line for path in files for line in _qt_imports(path)]
    assert not found, "core/ must stay Qt-free:\n" + "\n".join(found)


_IMPORT_ALL_WITH_QT_BLOCKED = """
import importlib, importlib.abc, json, sys

BLOCKED = {blocked!r}

class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"Qt is blocked in this check: {{name}}")
        return None

sys.meta_path.insert(0, BlockQt())
failed = {{}}
for name in {modules!r}:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = f"{{type(error).__name__}}: {{error}}"
qt_loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps({{"failed": failed, "qt_loaded": qt_loaded}}))
"""


def test_every_core_module_imports_with_qt_blocked():
    modules = [_module_name(path) for path in _core_files()]
    code = _IMPORT_ALL_WITH_QT_BLOCKED.format(blocked=QT_PACKAGES, modules=modules)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT,
                          env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}, result["failed"]
    assert result["qt_loaded"] == []


def test_the_blocker_really_blocks():
    code = _IMPORT_ALL_WITH_QT_BLOCKED.format(blocked=QT_PACKAGES, modules=["PySide6.QtCore"])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Qt is blocked" in result["failed"]["PySide6.QtCore"]


def test_the_correction_store_imports_without_torch():
    """Issue 15: the store (the editor's autosave, the review) is read and written without torch."""
    code = ("import sys, core.store.corrections, core.batch.review\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision')))")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing the correction store loads torch: {done.stdout.strip()[:200]}"
