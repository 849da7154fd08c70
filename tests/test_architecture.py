"""The architecture docs/architecture.md describes is the one the code has."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import grimp

DOC = Path(__file__).parents[1] / "docs" / "architecture.md"
FEATURES = ("accounts", "items", "sites", "tracking", "incidents", "network")


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("postex", include_external_packages=False)


def _documented_edges() -> dict[str, set[str]]:
    """The 'Between features' table: feature -> features it may import."""
    text = DOC.read_text(encoding="utf-8").split("## Between features", 1)[1].split("##", 1)[0]
    allowed: dict[str, set[str]] = {}
    for row in re.findall(r"^\| `(\w+)` \| (.*?) \|$", text, re.M):
        allowed[row[0]] = set(re.findall(r"`(\w+)`", row[1]))
    return allowed


def _feature_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FEATURES else None


def test_features_import_each_other_only_along_the_documented_edges() -> None:
    """Every import from one feature into another is an edge of the table, and every edge
    of the table is used (so the table stays the true list)."""
    graph = _graph()
    actual: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        source = _feature_of(module)
        if source is None:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            target = _feature_of(imported)
            if target is not None and target != source:
                actual[source].add(target)
    documented = _documented_edges()
    assert set(documented) == set(FEATURES)
    for feature in FEATURES:
        assert actual[feature] == documented[feature], feature


def test_no_module_imports_itself_back_through_a_cycle() -> None:
    """No import cycle anywhere in the package, lazy imports included."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:  # iterative Tarjan: the graph is deeper than recursion allows
        nonlocal counter
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert cycles == [], "\n".join(" <-> ".join(c) for c in cycles)
