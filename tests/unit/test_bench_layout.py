"""The bench's modules import in one direction (no cycles) and ship no experiment."""

from __future__ import annotations

import ast
from pathlib import Path

import stockpulse_toolbox.bench

BENCH = Path(stockpulse_toolbox.bench.__file__).parent


def bench_imports() -> dict[str, set[str]]:
    """Module -> the bench modules it imports (``from .x import``, also inside functions)."""
    graph: dict[str, set[str]] = {}
    for path in BENCH.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    names.add(node.module.split(".")[0])
                else:
                    names.update(alias.name for alias in node.names)
        graph[path.stem] = names
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_bench_modules_import_without_cycles():
    graph = bench_imports()
    assert "runner" in graph and "benchstack" in graph["runner"]
    assert cycle({name: deps - {"__init__"} for name, deps in graph.items() if name != "__init__"}) is None


def test_finished_experiments_are_gone():
    assert not {"experiment_app", "publisher_latency", "compare", "sparklog"} & set(bench_imports())
