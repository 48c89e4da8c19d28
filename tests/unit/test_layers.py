"""The import graph of the product and the toolbox: layers that only run downward, no cycle.

Every import counts, those in function bodies included. An import between two of the
project's packages inside a function body must say why on its line or the line above
(the cost of loading it, or a library the image lacks), never to dodge a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "stockpulse": ROOT / "services" / "stockpulse",
    "stockpulse_toolbox": ROOT / "toolbox" / "stockpulse_toolbox",
}

#: Each package and the packages it may import. Lower layers first; a package imports only
#: what sits below it. ``stockpulse`` alone (its ``__init__``) is the bottom.
ALLOWED: dict[str, set[str]] = {
    "stockpulse": set(),
    "stockpulse.settings": {"stockpulse"},
    "stockpulse.logconfig": {"stockpulse"},
    "stockpulse.arguments": {"stockpulse", "stockpulse.settings", "stockpulse.logconfig"},
    "stockpulse.events": {"stockpulse", "stockpulse.settings"},
    "stockpulse.prices": {"stockpulse", "stockpulse.settings"},
    "stockpulse.api": {
        "stockpulse",
        "stockpulse.settings",
        "stockpulse.logconfig",
        "stockpulse.events",
        "stockpulse.prices",
    },
    "stockpulse.lake": {"stockpulse", "stockpulse.settings", "stockpulse.events"},
    "stockpulse.insights": {"stockpulse", "stockpulse.settings", "stockpulse.events", "stockpulse.lake"},
    "stockpulse.jobs": {
        "stockpulse",
        "stockpulse.arguments",
        "stockpulse.settings",
        "stockpulse.logconfig",
        "stockpulse.events",
        "stockpulse.lake",
        "stockpulse.insights",
    },
    "stockpulse.cli": {
        "stockpulse",
        "stockpulse.arguments",
        "stockpulse.settings",
        "stockpulse.logconfig",
        "stockpulse.events",
        "stockpulse.lake",
        "stockpulse.jobs",
    },
}
PRODUCT = set(ALLOWED)
TOOLBOX_ALLOWED: dict[str, set[str]] = {
    "stockpulse_toolbox": set(),
    "stockpulse_toolbox.devstack": {"stockpulse_toolbox"},
    "stockpulse_toolbox.customers": {"stockpulse_toolbox"},
    "stockpulse_toolbox.dashboards": {"stockpulse_toolbox"},
    "stockpulse_toolbox.demo": {"stockpulse_toolbox", "stockpulse_toolbox.devstack", "stockpulse_toolbox.customers"},
    "stockpulse_toolbox.bench": {"stockpulse_toolbox", "stockpulse_toolbox.devstack", "stockpulse_toolbox.customers"},
    "stockpulse_toolbox.figures": {"stockpulse_toolbox", "stockpulse_toolbox.bench"},
    "stockpulse_toolbox.commands": {
        "stockpulse_toolbox",
        "stockpulse_toolbox.devstack",
        "stockpulse_toolbox.demo",
        "stockpulse_toolbox.bench",
        "stockpulse_toolbox.dashboards",
    },
}
for _name, _deps in TOOLBOX_ALLOWED.items():
    ALLOWED[_name] = _deps | PRODUCT  # the toolbox stands on the whole product


def module_name(path: Path) -> str:
    for top, folder in SOURCES.items():
        if path.is_relative_to(folder):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise ValueError(path)


def package_of(module: str) -> str:
    """The unit of layering: ``stockpulse.lake.writer`` -> ``stockpulse.lake``."""
    parts = module.split(".")
    return ".".join(parts[:2])


class Import:
    def __init__(self, source: str, target: str, line: int, in_function: bool, explained: bool) -> None:
        self.source, self.target, self.line = source, target, line
        self.in_function, self.explained = in_function, explained

    def __repr__(self) -> str:
        return f"{self.source}:{self.line} -> {self.target}"


def imports_of(path: Path) -> list[Import]:
    text = path.read_text()
    lines = text.splitlines()
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def explained(node: ast.stmt) -> bool:
        """A comment on the import's lines, or above the block of imports it belongs to."""
        if any("#" in line for line in lines[node.lineno - 1 : node.end_lineno]):
            return True
        above = node.lineno - 2
        while above >= 0 and lines[above].strip().startswith(("from ", "import ")):
            above -= 1
        return above >= 0 and lines[above].strip().startswith("#")

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    stem = ".".join(base + ([child.module] if child.module else []))
                else:
                    stem = child.module or ""
                # a name imported from a package may be a module of it (``resolve`` finds which)
                targets = [f"{stem}.{alias.name}" for alias in child.names]
            for target in targets:
                if target.split(".")[0] in SOURCES:
                    found.append(Import(module, target, child.lineno, in_function, explained(child)))
            visit(child, inner)

    visit(ast.parse(text), False)
    return found


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for folder in SOURCES.values() for p in sorted(folder.rglob("*.py"))}


MODULES = all_modules()
IMPORTS = [imp for path in MODULES.values() for imp in imports_of(path)]


def resolve(target: str) -> str | None:
    """The module an import name refers to (``from x import name`` may name a function)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def target_package(imp: Import) -> str:
    return package_of(resolve(imp.target) or imp.target)


def test_every_package_has_a_place_in_the_layers() -> None:
    assert {package_of(m) for m in MODULES} == set(ALLOWED)


def test_the_layers_themselves_have_no_cycle() -> None:
    order: list[str] = []
    seen: set[str] = set()

    def place(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"cycle in ALLOWED: {' -> '.join((*path, name))}"
        if name in seen:
            return
        for dep in ALLOWED[name]:
            place(dep, (*path, name))
        seen.add(name)
        order.append(name)

    for name in ALLOWED:
        place(name, ())
    assert len(order) == len(ALLOWED)


def test_every_import_runs_down_the_layers() -> None:
    crossing = [imp for imp in IMPORTS if target_package(imp) != package_of(imp.source)]
    assert len(crossing) > 100, "the graph was not read"
    assert [imp for imp in crossing if target_package(imp) not in ALLOWED[package_of(imp.source)]] == []


def test_the_product_never_imports_the_toolbox() -> None:
    product = [imp for imp in IMPORTS if package_of(imp.source) in PRODUCT]
    assert product, "no import of the product was read"
    assert [imp for imp in product if imp.target.startswith("stockpulse_toolbox")] == []


def test_no_module_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in IMPORTS:
        target = resolve(imp.target)
        if target and target != imp.source:
            graph[imp.source].add(target)
    # Tarjan's strongly connected components: a component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in list(MODULES):
        if node not in index:
            connect(node)
    assert cycles == []


def test_an_import_between_packages_in_a_function_body_says_why() -> None:
    hidden = [
        imp
        for imp in IMPORTS
        if imp.in_function and not imp.explained and target_package(imp) != package_of(imp.source)
    ]
    assert hidden == []


@pytest.mark.parametrize(
    ("source", "target", "caught"),
    [
        ("from ..devstack.paths import SPARK_JARS\n", "stockpulse/lake/x.py", "upward"),
        ("def f():\n    from ..insights.query import start_query\n", "stockpulse/lake/x.py", "upward"),
        ("def f():\n    from ..events.admin import ensure_topics\n", "stockpulse/lake/x.py", "hidden"),
        ("import stockpulse_toolbox.bench\n", "stockpulse/api/x.py", "upward"),
    ],
)
def test_the_checks_catch_what_they_are_for(tmp_path, monkeypatch, source, target, caught) -> None:
    """Each check fails on a planted import of the kind it exists for."""
    top, _, rest = target.partition("/")
    folder = tmp_path / top
    path = folder / rest
    path.parent.mkdir(parents=True)
    path.write_text(source)
    monkeypatch.setitem(SOURCES, top, folder)
    planted = imports_of(path)
    assert planted, source
    target_pkg = package_of(planted[0].target)
    source_pkg = package_of(planted[0].source)
    if caught == "upward":
        assert target_pkg not in ALLOWED[source_pkg]
    else:
        assert target_pkg in ALLOWED[source_pkg] and planted[0].in_function and not planted[0].explained


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in ``tests.support``; a test module imports no other test module or conftest."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module or ''}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            last = [name.rsplit(".", 1)[-1] for name in names]
            if any(part.startswith("test_") or part == "conftest" for part in last):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def image_slice(image: str) -> set[str]:
    """The product's modules an image copies (the ``COPY services/stockpulse/...`` lines of its Dockerfile)."""
    text = (ROOT / "images" / image / "Dockerfile").read_text().replace("\\\n", " ")
    sources = [
        word.rstrip("/")
        for line in text.splitlines()
        if line.strip().startswith("COPY ") and "--from=" not in line
        for word in line.split()[1:-1]
        if word.startswith("services/stockpulse")
    ]
    copied = set()
    for module, path in MODULES.items():
        relative = str(path.relative_to(ROOT))
        if any(relative == src or relative.startswith(src + "/") for src in sources):
            copied.add(module)
    return copied


@pytest.mark.parametrize("image", ["api", "spark"])
def test_every_module_an_image_copies_finds_its_module_level_imports_in_that_image(image: str) -> None:
    """A module-level import of a module the image lacks breaks the image at start-up; only a
    function-body import (a subcommand the image does not run) may reach outside its slice."""
    copied = image_slice(image)
    assert "stockpulse.cli" in copied and "stockpulse.settings" in copied, copied
    missing = [
        imp
        for imp in IMPORTS
        if imp.source in copied and not imp.in_function and (resolve(imp.target) or imp.target) not in copied
    ]
    assert missing == []


def test_the_slices_keep_the_api_and_the_jobs_apart() -> None:
    api, spark = image_slice("api"), image_slice("spark")
    assert not {m for m in api if package_of(m) in {"stockpulse.lake", "stockpulse.insights", "stockpulse.jobs"}}
    assert not {m for m in spark if package_of(m) in {"stockpulse.api", "stockpulse.prices"}}
    assert not {m for m in api | spark if m.startswith("stockpulse_toolbox")}
