"""The library's floors, read from its own imports (every `import`, at the top or inside a function): no module
outside attnpipe.stages imports from it (a stage is a rule's entry point, the top floor), and no module
reaches back to one that imports it (no loops)."""

import ast
from pathlib import Path

from conftest import REPO

SRC = REPO / "src"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """The attnpipe modules `path` imports (a package's submodule where `from package import name` names one)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    modules = {module_name(p) for p in (SRC / "attnpipe").rglob("*.py")}
    return {m for m in found if m in modules} - {module_name(path)}


def graph() -> dict[str, set[str]]:
    return {module_name(p): imported(p) for p in (SRC / "attnpipe").rglob("*.py")}


def test_nothing_outside_the_stages_imports_them():
    edges = graph()
    assert len(edges) > 30  # the whole library was read
    upward = sorted((a, b) for a, targets in edges.items() for b in targets
                    if b.startswith("attnpipe.stages") and not a.startswith("attnpipe.stages"))
    assert not upward, upward


def test_the_import_graph_has_no_loop():
    edges, state, loops = graph(), {}, []

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if nxt.endswith("__init__") or (nxt in edges and nxt == node.rpartition(".")[0]):
                continue
            if state.get(nxt) == "open" and nxt != node.rpartition(".")[0]:
                loops.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not loops, loops
