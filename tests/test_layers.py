"""The library's layers: core -> simulation -> ML -> experiments -> app. Imports point down (or sideways
within a layer) and never form a cycle; function-level imports count as much as module-level ones."""
import ast
from pathlib import Path
import pytest

PKG = Path(__file__).resolve().parents[1] / "convda"
LAYERS = {
    "core": ("core", "profiles"),
    "simulation": ("terrain", "weather", "sbm", "io", "simulate"),
    "ML": ("preprocess", "model", "metrics", "baselines", "losses", "train", "sequence", "evaluate", "largegrid", "parallel"),
    "experiments": ("tuning", "sensitivity", "assimilation"),
    "app": ("dashboard", "cli"),
}
RANK = {m: i for i, mods in enumerate(LAYERS.values()) for m in mods}
MODULES = sorted(p.stem for p in PKG.glob("*.py") if not p.stem.startswith("_"))

def imports_of(module: str) -> set:
    "convda modules that `module` imports anywhere in its file (relative or absolute, top level or inside functions)."
    out = set()
    for n in ast.walk(ast.parse((PKG / f"{module}.py").read_text())):
        if isinstance(n, ast.ImportFrom):
            if n.level >= 1: out |= {n.module.split(".")[0]} if n.module else {a.name for a in n.names}
            elif n.module and n.module.startswith("convda."): out.add(n.module.split(".")[1])
            elif n.module == "convda": out |= {a.name for a in n.names}
        elif isinstance(n, ast.Import):
            out |= {a.name.split(".")[1] for a in n.names if a.name.startswith("convda.")}
    return (out & set(MODULES)) - {module}

GRAPH = {m: imports_of(m) for m in MODULES}

def cycles(graph: dict) -> list:
    "Every module that lies on an import cycle, found by depth-first search."
    on_cycle, state = set(), {}
    def visit(m, path):
        state[m] = "open"
        for n in graph[m]:
            if state.get(n) == "open": on_cycle.update(path[path.index(n):])
            elif n not in state: visit(n, path + [n])
        state[m] = "done"
    for m in graph:
        if m not in state: visit(m, [m])
    return sorted(on_cycle)

def test_every_module_has_a_layer():
    assert not set(MODULES) - set(RANK), f"place these modules in a layer of tests/test_layers.py: {sorted(set(MODULES) - set(RANK))}"

def test_no_import_cycle():
    assert cycles(GRAPH) == [], f"modules on an import cycle: {cycles(GRAPH)}"

def test_imports_point_down():
    up = [f"{m} ({k}) imports {n} ({RANK_NAME[n]})" for m in MODULES for n in sorted(GRAPH[m])
          if m in RANK and n in RANK and RANK[n] > RANK[m] for k in [RANK_NAME[m]]]
    assert not up, "upward imports: " + "; ".join(up)

RANK_NAME = {m: layer for layer, mods in LAYERS.items() for m in mods}

def test_the_checks_catch_what_they_should():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c"]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert "evaluate" in GRAPH["train"] and "core" in GRAPH["preprocess"]   # relative and function-level imports are seen
