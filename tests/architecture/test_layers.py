"""The package's one-way layers, checked on the source (ARCHITECTURE.md draws them).

A module may import its own top-level package, and packages of lower layers; between features
only the edges in ``FEATURE_EDGES``. No import hides inside a function, a branch or under
``TYPE_CHECKING``, the command line's included (its features' commands load most of the app
already; the rest costs it about 0.4 s of start-up), and the top-level packages form no cycle.
The sandbox has its own boundary (tests/sandbox).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tackbridge"

#: Bottom to top; a unit may import any unit of a lower layer.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"core", "settings"}),
    frozenset({"store", "payloads", "thumbtack"}),
    frozenset({"services"}),
    frozenset({"outbox"}),
    frozenset({"leads"}),
    frozenset(
        {
            "inbound",
            "conversations",
            "jobstatus",
            "targeting",
            "connections",
            "crm",
            "autoreply",
            "insights",
            "demand",
            "users",
        }
    ),
    frozenset({"flows"}),
    # The web UI over the features: it reads and drives them all, none imports it.
    frozenset({"dashboard"}),
    frozenset({"registry"}),
    frozenset({"runtime"}),
    # The top: the probes, the web app, the command line and what runs them.
    frozenset({"health"}),
    frozenset({"openapi"}),
    frozenset({"app"}),
    frozenset({"devstack"}),
    frozenset({"cli"}),
    frozenset({"__main__"}),
)
#: The few imports allowed between features (same layer), each with why.
FEATURE_EDGES = {
    ("autoreply", "conversations"),  # the automatic reply is queued as a reply
    ("conversations", "inbound"),  # a backfill records leads as their webhooks would
    ("crm", "jobstatus"),  # a destination may be told a job status a CRM event meant
    ("insights", "autoreply"),  # a business's hours (Price Assurance) live in its reply rules
}
LAYER_OF = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = ast.parse(path.read_text(), str(path))
    return found


def _unit(module: str) -> str:
    return module.split(".")[0]


def _imports(tree: ast.Module) -> list[tuple[str, str]]:
    """(imported tackbridge module, where: top | function | type_checking)."""
    found: list[tuple[str, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            here = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                here = "function"
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                here = "type_checking"
            if isinstance(child, ast.Import):
                found.extend((a.name, here) for a in child.names if a.name.startswith("tackbridge"))
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                if child.module == "tackbridge":
                    found.extend((f"tackbridge.{a.name}", here) for a in child.names)
                elif child.module.startswith("tackbridge."):
                    found.append((child.module, here))
            visit(child, here)

    visit(tree, "top")
    return found


MODULES = _modules()


def _internal(imported: str) -> str:
    return imported.removeprefix("tackbridge.")


def test_every_top_level_unit_has_a_layer() -> None:
    units = {_unit(m) for m in MODULES if m and _unit(m) not in ("sandbox", "__init__")}
    assert units - set(LAYER_OF) == set()


def test_no_internal_import_hides_in_a_function_or_under_type_checking() -> None:
    hidden = [
        f"{module} imports {imported} ({where})"
        for module, tree in MODULES.items()
        for imported, where in _imports(tree)
        if where != "top" and _unit(_internal(imported)) not in ("__version__",)
    ]
    assert hidden == []


def test_every_import_stands_at_the_top_of_its_module() -> None:
    """Libraries too: an import inside a function, a branch or a ``try`` hides what a module
    needs, and would let a cycle between two modules go unseen."""
    nested = [
        f"{module}:{node.lineno} {ast.unparse(node)}"
        for module, tree in MODULES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and node not in tree.body
    ]
    assert nested == []


def test_imports_go_down_the_layers() -> None:
    wrong = []
    for module, tree in MODULES.items():
        unit = _unit(module)
        if unit in ("sandbox", "__init__", ""):
            continue
        for imported, _ in _imports(tree):
            target = _unit(_internal(imported))
            if target in (unit, "__version__", "") or target == "tackbridge":
                continue
            if target == "sandbox":
                if unit not in ("cli", "devstack"):
                    wrong.append(f"{module} -> {imported}")
                continue
            mine, theirs = LAYER_OF[unit], LAYER_OF[target]
            if theirs > mine or (theirs == mine and (unit, target) not in FEATURE_EDGES):
                wrong.append(f"{module} -> {imported}")
    assert wrong == []


def test_no_cycle_among_top_level_units() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, tree in MODULES.items():
        for imported, _ in _imports(tree):
            target = _unit(_internal(imported))
            if target and target != _unit(module):
                edges[_unit(module)].add(target)
    seen: dict[str, int] = {}

    def cycle_from(unit: str, path: list[str]) -> list[str] | None:
        seen[unit] = 1
        for nxt in sorted(edges[unit]):
            if seen.get(nxt) == 1:
                return [*path, unit, nxt]
            if nxt not in seen and (found := cycle_from(nxt, [*path, unit])):
                return found
        seen[unit] = 2
        return None

    for unit in sorted(edges):
        if unit not in seen:
            assert cycle_from(unit, []) is None


@pytest.mark.parametrize(("unit", "target"), sorted(FEATURE_EDGES))
def test_each_allowed_feature_edge_is_used(unit: str, target: str) -> None:
    """An allowed edge nobody needs any more is taken off the list."""
    used = any(
        _unit(module) == unit and _unit(_internal(imported)) == target
        for module, tree in MODULES.items()
        for imported, _ in _imports(tree)
    )
    assert used
