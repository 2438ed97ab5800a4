"""The architecture, checked: no import cycles, the layering rules, small files.

Imports are read with ``ast`` (nothing is imported); relative imports are resolved against the
importing module.  Function-level (deferred) imports count for the layering rules too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gossip", "topologies")
MAX_LINES = 420  # "about 400"


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = p
    return out


def imports(name: str, path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = base[:len(base) - node.level + 1]
                mod = ".".join(prefix + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return found


def graph(top_level_only: bool) -> dict[str, set[str]]:
    mods = modules()
    return {m: {i for i in imports(m, p, top_level_only) if i in mods and i != m}
            for m, p in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def _parents_removed(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's __init__ importing its own submodules is not a cycle with them."""
    return {m: {i for i in deps if not m.startswith(i + ".") and not i.startswith(m + ".")}
            for m, deps in g.items()}


def test_no_import_cycles():
    for top_level_only in (True, False):  # deferred imports may not close a cycle either
        assert cycles(_parents_removed(graph(top_level_only))) == []


def test_layering_rules():
    g = graph(top_level_only=False)
    every = {m: imports(m, p, False) for m, p in modules().items()}
    bad = [f"{m} imports analysis" for m, deps in every.items()
           if any(d == "analysis" or d.startswith("analysis.") for d in deps)]
    pure = ("gossip.compressors", "gossip.codecs", "topologies", "gossip.messages")
    banned = ("gossip.comm", "gossip.algorithms", "gossip.run", "gossip.cli", "gossip.tools")
    for m, deps in g.items():
        if m.startswith(pure):
            bad += [f"{m} imports {d}" for d in deps if d.startswith(banned)]
        if m.startswith("gossip.codecs"):
            bad += [f"{m} imports {d}" for d in deps if d.startswith("gossip.compressors")]
        if not m.startswith(("gossip.tools", "gossip.cli")):
            bad += [f"{m} imports {d}" for d in deps if d.startswith("gossip.tools")]
    assert bad == []


def test_files_are_small():
    big = {str(p.relative_to(ROOT)): n for p in modules().values()
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert big == {}
