"""The import graph of ``core`` and ``maskingnet_app``, read from the source with ``ast``.

Every import counts: module level, inside functions, and under ``TYPE_CHECKING`` (a type-only
import is still a dependency a reader has to follow). ``tests/test_import_graph.py`` checks
that the graph has no cycle and that ``core`` never imports ``maskingnet_app``;
``docs/architecture.md`` embeds what this script prints:

    .venv/bin/python scripts/import_graph.py            # the Markdown table and diagram
    .venv/bin/python scripts/import_graph.py --check    # exit 1 (and name them) on cycles
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "maskingnet_app")


def module_name(path: Path, root: Path = PROJECT_ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(root: Path = PROJECT_ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` file of ``packages``."""
    files = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[module_name(path, root)] = path
    return files


def _imported(node: ast.AST, module: str, is_package: bool, files: dict[str, Path]) -> list[str]:
    """The dotted names an import statement refers to: ``from a import b`` is ``a.b`` when that
    is a module, else ``a``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in files else prefix for alias in node.names]


def import_graph(root: Path = PROJECT_ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports (a name that is not a module, such as a
    class imported from one, stands for its module)."""
    files = source_files(root, packages)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = set()
        for node in ast.walk(tree):
            for name in _imported(node, module, path.name == "__init__.py", files):
                while name and name not in files:  # core.review.ReviewLog -> core.review
                    name = name.rpartition(".")[0]
                if name and name != module:
                    targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(start: str) -> None:  # iterative: no recursion limit on deep graphs
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def group_of(module: str) -> str:
    """The sub-package a module belongs to: ``core.store.corrections`` -> ``core.store``; a
    top-level module is its own group (``core.errors`` -> ``core.errors``)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def group_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between sub-packages (and top-level modules), without self-loops."""
    groups: dict[str, set[str]] = {}
    for module, targets in graph.items():
        source = group_of(module)
        groups.setdefault(source, set())
        groups[source] |= {group_of(t) for t in targets if group_of(t) != source}
    return groups


# Used by nearly everything: in the table, left out of the diagram to keep it readable.
FOUNDATION = ("core.errors", "core.io", "core.grouping", "maskingnet_app.app_settings", "maskingnet_app.qt_compat")


def markdown(graph: dict[str, set[str]]) -> str:
    """A Mermaid diagram (one box per package, edges to ``FOUNDATION`` left out) and a table of
    what each sub-package and top-level module imports."""
    groups = group_graph(graph)
    lines = ["```mermaid", "flowchart TD"]
    for package in PACKAGES:
        lines.append(f"    subgraph {package}")
        for name in sorted(groups):
            if group_of(name).split(".")[0] == package and name not in FOUNDATION and "." in name:
                lines.append(f"        {name.replace('.', '_')}[{name.split('.', 1)[1]}]")
        lines.append("    end")
    for name in sorted(groups):
        for target in sorted(groups[name]):
            if name not in FOUNDATION and target not in FOUNDATION and "." in name and "." in target:
                lines.append(f"    {name.replace('.', '_')} --> {target.replace('.', '_')}")
    lines += ["```", "", "| package or module | imports (inside core and maskingnet_app) |", "|---|---|"]
    for name in sorted(groups):
        lines.append(f"| `{name}` | {', '.join(f'`{t}`' for t in sorted(groups[name])) or '(nothing)'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when there is an import cycle")
    args = parser.parse_args(argv)
    graph = import_graph()
    if args.check:
        found = cycles(graph)
        for component in found:
            print("import cycle: " + " <-> ".join(component))
        return 1 if found else 0
    sys.stdout.write(markdown(graph))
    return 0


if __name__ == "__main__":
    sys.exit(main())
