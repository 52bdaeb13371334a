"""Code versions for rerun decisions, and the commit of a model from the hub.

Snakemake's `code` trigger sees a rule's own text, not the library modules it calls. A stage's code
version is a hash over the syntax trees (so comments and blank lines don't count) of its module and
every attnpipe module it imports, directly or not, and of the data files of the packages among them (the
HTML templates in attnpipe/report/templates/, byte for byte). Rules pass it as a param; an edit that changes
what a stage computes or writes marks that stage's outputs, and so everything below them, stale.
"""

import ast
import hashlib
import importlib.util
import json
import os
from functools import cache
from pathlib import Path

from .atomicfile import atomic_path

PACKAGE = "attnpipe"


@cache
def _root() -> Path:
    return Path(importlib.util.find_spec(PACKAGE).origin).parent


def _source(module: str) -> tuple[str, str] | None:
    """(path, text) of an attnpipe module, found on disk without importing it (no torch at parse time)."""
    root = _root()
    parts = module.split(".")[1:]
    candidates = [root / "__init__.py"] if not parts else [root.joinpath(*parts[:-1], parts[-1] + ".py")]
    for path in [*candidates, root.joinpath(*parts, "__init__.py")]:
        if path.is_file():
            return str(path), path.read_text(encoding="utf-8")
    return None


def _package_data(init: str) -> str:
    """sha256 of the files beside a package's __init__.py that are not Python (templates are code too)."""
    digest = hashlib.sha256()
    for path in sorted(Path(init).parent.iterdir()):
        if path.is_file() and path.suffix != ".py":
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _statements(node: ast.AST):
    """Every statement under `node`: imports are statements, so expressions (most of a tree) are skipped."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
            yield child
            yield from _statements(child)


def _imports(module: str, tree: ast.Module, is_package: bool) -> set[str]:
    """attnpipe modules named by the import statements of `module`."""
    found = set()
    here = module if is_package else module.rpartition(".")[0]
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = here.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


@cache  # the stages share most modules: each is read and parsed once per process, not once per stage
def _module(name: str) -> tuple[str, frozenset[str], tuple[str, ...]]:
    """(what counts as `name`'s code, the attnpipe modules it imports, the files it was read from); ("", none,
    none) for a name that is not a module (a name imported from a module)."""
    found = _source(name)
    if found is None:
        return "", frozenset(), ()
    origin, text = found
    tree = ast.parse(text)
    is_package = origin.endswith("__init__.py")
    code = ast.dump(tree) + (_package_data(origin) if is_package else "")
    data = [str(p) for p in Path(origin).parent.iterdir() if p.is_file() and p.suffix != ".py"] if is_package else []
    return code, frozenset(_imports(name, tree, is_package)), (origin, *sorted(data))


def stage_modules() -> list[str]:
    """The modules of attnpipe.stages (one per rule), found on disk without importing them."""
    return sorted(p.stem for p in (_root() / "stages").glob("*.py") if p.stem != "__init__")


def _version(module: str) -> tuple[str, list[str]]:
    """(sha256 (16 hex digits) of `module` and the attnpipe modules it imports transitively, their files)."""
    seen: dict[str, str] = {}
    files: list[str] = []
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen[name], imports, found = _module(name)
        files += found
        todo.extend(imports)
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(f"{name}\0{seen[name]}\0".encode())
    return digest.hexdigest()[:16], sorted(files)


def code_version(module: str) -> str:
    """sha256 (16 hex digits) of `module` and the attnpipe modules it imports transitively."""
    return _version(module)[0]


def _stamp(path: str) -> list[int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_mtime_ns, stat.st_size]


def code_versions(modules: list[str], cache_file: str | None = None) -> dict[str, str]:
    """module -> code_version(module). With `cache_file` (JSON, written whole), a version computed before is
    reused while each file it was computed from has the modification time and size it had then: a run that
    changed no library file stats ~60 files instead of parsing them (a no-op's cost, issue 24). Any change,
    even to an older time (a file copied with its time kept), recomputes that stage's version."""
    # the versions of this library (a copy of the workflow with its own src/ copies the .snakemake/ beside it)
    root = str(_root())
    found = _read_json(cache_file)
    cached = found.get("modules", {}) if found.get("root") == root else {}
    versions, changed = {}, False
    for module in modules:
        entry = cached.get(module)
        if isinstance(entry, dict) and isinstance(entry.get("files"), dict) and entry["files"] and \
                all(_stamp(path) == stamp for path, stamp in entry["files"].items()):
            versions[module] = entry["version"]
            continue
        version, files = _version(module)
        cached[module] = {"version": version, "files": {path: _stamp(path) for path in files}}
        versions[module], changed = version, True
    if changed and cache_file:
        Path(cache_file).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache_file) as tmp:
            Path(tmp).write_text(json.dumps({"root": root, "modules": cached}), encoding="utf-8")
    return versions


def _read_json(path: str | None) -> dict:
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):  # none yet, or damaged: computed afresh
        return {}
    return found if isinstance(found, dict) and isinstance(found.get("modules"), dict) else {}


def model_version(model) -> dict:
    """What a real model's jobs read besides their input files, as part of their params: a hub model's
    repository and the commit its revision resolved to, so a tag or branch that moves reruns that model's jobs
    (attnpipe.models.hub). A folder's files are its jobs' inputs: nothing here, its params as they were."""
    if model.hub is None:
        return {}
    return {"hub": model.hub.repo, "commit": model.hub.commit}
