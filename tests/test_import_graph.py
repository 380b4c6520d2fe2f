"""Imports run one way: no cycle among the modules of ``core`` and of ``maskingnet_app``, and
``core`` never imports ``maskingnet_app`` (beside ``test_core_is_qt_free.py``). The graph is
read from the source with ``ast`` (``scripts/import_graph.py``): module-level, function-level
and ``TYPE_CHECKING`` imports all count."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("import_graph", PROJECT_ROOT / "scripts" / "import_graph.py")
import_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_graph)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_check_finds_cycles_through_every_kind_of_import(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import thing\n",
        "pkg/b.py": "def f():\n    from pkg import c\n",
        "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import X\n",
        "pkg/d.py": "from . import e\n",
        "pkg/e.py": "import pkg.d\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/f.py": "from ..a import thing\nimport os\n",
    })
    graph = import_graph.import_graph(tmp_path, ("pkg",))
    assert graph["pkg.b"] == {"pkg.c"} and graph["pkg.sub.f"] == {"pkg.a"}
    assert import_graph.cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.d", "pkg.e"]]


def test_no_import_cycles():
    graph = import_graph.import_graph()
    assert len(graph) > 60 and "core.batch.pipeline" in graph and "maskingnet_app.main_window" in graph
    found = import_graph.cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(component) for component in found)


def test_core_never_imports_the_app():
    graph = import_graph.import_graph()
    upward = [f"{module} imports {target}" for module, targets in sorted(graph.items()) if module.startswith("core")
              for target in sorted(targets) if target.split(".")[0] == "maskingnet_app"]
    assert not upward, "core/ must not import maskingnet_app:\n" + "\n".join(upward)


def test_the_features_reach_the_window_only_through_its_protocol():
    graph = import_graph.import_graph()
    reaching_up = [module for module, targets in sorted(graph.items())
                   if "maskingnet_app.main_window" in targets and module != "maskingnet_app.main"]
    assert not reaching_up, f"only maskingnet_app.main composes the window; these import it: {reaching_up}"


def test_the_architecture_document_shows_the_graph_as_it_is():
    document = (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert import_graph.markdown(import_graph.import_graph()) in document, (
        "docs/architecture.md is out of date: run scripts/import_graph.py --update-doc")


def test_no_cycles_between_the_sub_packages():
    """Coarser than modules: the flows' sub-packages (``core.batch``, ``maskingnet_app.editor``,
    ...) import one another one way too."""
    groups = import_graph.group_graph(import_graph.import_graph())
    found = import_graph.cycles(groups)
    assert not found, "cycles between sub-packages:\n" + "\n".join(" <-> ".join(component) for component in found)
