"""fastann's module structure: no import cycles among its modules, and the layer families stay independent.

The import graph is read from the source with ``ast`` (nothing is imported): every ``import`` and
``from ... import`` statement in every module under python/fastann, at any depth (function-local imports
included), relative imports resolved against the module's package. ``from P import name`` is an edge to
``P.name`` when that is a fastann module, else to ``P`` (name is an attribute of P). Importing a submodule
also runs its parent packages' ``__init__``, but Python handles that order itself, so parents are not edges.
"""
from __future__ import annotations

import ast
import importlib.machinery
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "python" / "fastann"

#: fastann.layers modules every layer family may import (the families import nothing else of the package).
LAYERS_SHARED = {"fastann.layers.base"}


def module_names(package_dir: Path) -> dict:
    """Dotted module name -> source path, for every .py file under ``package_dir`` (a package named by its
    directory); compiled modules (an extension file or a .pyi stub, e.g. fastann._cpu) map to None: they
    import no fastann module."""
    root = package_dir.parent
    out = {}
    compiled = [p for p in package_dir.rglob("*") if p.suffix == ".pyi"
                or any(p.name.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)]
    for path in sorted(compiled):
        parts = path.relative_to(root).parts
        out[".".join(parts[:-1] + (path.name.split(".")[0],))] = None
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports_of(name: str, path: Path, modules: dict) -> set:
    """The fastann modules that module ``name`` (source ``path``) imports, anywhere in its body."""
    top = name.split(".")[0]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in modules:  # import a.b.c names module a.b.c
                    target = target.rpartition(".")[0]
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != top:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    found.discard(name)
    return {m for m in found if m in modules}


def import_graph(package_dir: Path | None = None) -> dict:
    """Module name -> set of fastann modules it imports (the package at PACKAGE_DIR by default)."""
    modules = module_names(package_dir or PACKAGE_DIR)
    return {name: _imports_of(name, path, modules) if path else set() for name, path in modules.items()}


def import_cycles(graph: dict) -> list:
    """The strongly connected components with more than one module (Tarjan's algorithm), each sorted."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def layer_family_violations(graph: dict) -> list:
    """(family module, fastann.layers module it imports) pairs other than the shared base."""
    bad = []
    for name, targets in sorted(graph.items()):
        if not name.startswith("fastann.layers.") or name in LAYERS_SHARED:
            continue
        bad += [(name, t) for t in sorted(targets)
                if (t == "fastann.layers" or t.startswith("fastann.layers.")) and t not in LAYERS_SHARED]
    return bad


# ---- the tests -------------------------------------------------------------------------------------
def test_graph_sees_the_package():
    """The parser finds the modules and resolves relative, absolute and function-local imports."""
    graph = import_graph()
    assert "fastann" in graph and "fastann.layers.base" in graph and "fastann.models.sequential" in graph
    assert "fastann.models" in graph["fastann"]                       # from .models import Sequential
    assert "fastann.layers.base" in graph["fastann.layers.core"]      # from .base import ...
    assert "fastann.ops" in graph["fastann.layers.core"]              # from .. import ops
    assert "fastann.cuda" in graph["fastann._device"]                 # a function-local from . import cuda
    assert "fastann._cpu" in graph["fastann._backend"]                # the compiled module


def test_no_import_cycles():
    cycles = import_cycles(import_graph())
    assert not cycles, "import cycles among fastann modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_layer_families_import_only_base():
    graph = import_graph()
    families = [m for m in graph if m.startswith("fastann.layers.") and m not in LAYERS_SHARED]
    assert len(families) >= 7, families
    bad = layer_family_violations(graph)
    assert not bad, "layer family modules import each other: " + ", ".join(f"{a} -> {b}" for a, b in bad)


def test_checks_catch_cycles_and_family_imports(tmp_path):
    """The checks fail on a package laid out wrongly: a cycle through a function-local relative import,
    and one layer family importing another."""
    pkg = tmp_path / "fastann"
    (pkg / "layers").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("import fastann.b\n")
    (pkg / "b.py").write_text("def f():\n    from .layers.core import Dense\n")
    (pkg / "layers" / "__init__.py").write_text("from .core import *\n")
    (pkg / "layers" / "base.py").write_text("")
    (pkg / "layers" / "core.py").write_text("from .base import Layer\nfrom ..a import x\n")
    (pkg / "layers" / "pooling.py").write_text("from . import base, core\n")
    graph = import_graph(pkg)
    assert import_cycles(graph) == [["fastann.a", "fastann.b", "fastann.layers.core"]]
    assert layer_family_violations(graph) == [("fastann.layers.pooling", "fastann.layers.core")]
