"""The installed packages import one way, with no cycle: kernels → core → pipelines → eval, demos → CLI.

The command-line entry points (``mmcache.cli``, the ``__main__`` modules) sit on top of everything.

The graph is read from the source (every ``import``, also inside functions, except under
``if TYPE_CHECKING:``), so a cycle hidden behind a function-level import fails here too.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# import root → folder, as setup.py maps them
ROOTS = {"mmcache": "mmcache", "mmcache.pipelines": "pipelines", "mmcache.kernels": "kernels",
         "mmcache.eval": "eval", "mmcache.demos": "demos"}
# layer of a module (longest matching prefix); an import may only go to the same or a lower layer
LAYERS = {"mmcache.kernels": 0, "mmcache": 1, "mmcache.pipelines": 2, "mmcache.eval": 3, "mmcache.demos": 3,
          "mmcache.cli": 4, "mmcache.__main__": 4, "mmcache.eval.__main__": 4}


def module_files() -> dict[str, tuple[Path, bool]]:
    """Module name → (file, is a package ``__init__``) for every installed Python file."""
    found: dict[str, tuple[Path, bool]] = {}
    for root, folder in ROOTS.items():
        for file in (REPO / folder).rglob("*.py"):
            parts = file.relative_to(REPO / folder).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join((root, *(parts[:-1] if is_package else parts)))
            if "models" not in parts:
                found[name] = (file, is_package)
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _resolve(name: str, modules: dict) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, file: Path, is_package: bool, modules: dict) -> set[str]:
    """The installed modules ``name`` imports."""
    tree = ast.parse(file.read_text())
    skipped = _type_checking_lines(tree)
    package = name if is_package else name.rpartition(".")[0]
    targets: set[str | None] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets.update(_resolve(alias.name, modules) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in modules else _resolve(base, modules))
    return {target for target in targets if target and target != name}


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, file, is_package, modules) for name, (file, is_package) in modules.items()}


def layer(name: str) -> int:
    prefix = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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
    return found


def test_the_graph_is_read():
    graph = import_graph()
    assert "mmcache.api" in graph["mmcache"]
    assert "mmcache.methods.base" in graph["mmcache.methods.easycache"]


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_imports_flow_one_way():
    wrong = sorted(f"{source} -> {target}" for source, targets in import_graph().items() for target in targets
                   if layer(target) > layer(source) or (layer(target) == layer(source) == 3
                                                        and target.split(".")[1] != source.split(".")[1]))
    assert wrong == []


def test_a_cycle_would_be_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
