"""The sandbox is a stand-in for Thumbtack and Coperniq, not part of the product: it imports
nothing from tackbridge except the shared wire models in ``tackbridge.payloads``."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import tackbridge.sandbox

PACKAGE = Path(tackbridge.sandbox.__file__).parent
ALLOWED = ("tackbridge.sandbox", "tackbridge.payloads")


def _allowed(module: str) -> bool:
    return not (module == "tackbridge" or module.startswith("tackbridge.")) or any(
        module == prefix or module.startswith(prefix + ".") for prefix in ALLOWED
    )


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the sandbox package itself
                found.append("tackbridge.sandbox." + (node.module or ""))
            elif node.module == "tackbridge":
                found.extend(f"tackbridge.{alias.name}" for alias in node.names)
            elif node.module:
                found.append(node.module)
    return found


def test_the_rule_itself() -> None:
    assert _allowed("fastapi")
    assert _allowed("tackbridge.payloads.thumbtack")
    assert _allowed("tackbridge.sandbox.state")
    assert not _allowed("tackbridge.settings")
    assert not _allowed("tackbridge")
    assert not _allowed("tackbridge.payloadsx")


def test_sandbox_sources_import_only_payloads_from_the_product() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    offending = {
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in files
        for module in _imports(path)
        if not _allowed(module)
    }
    assert not offending, sorted(offending)


def test_running_the_sandbox_loads_no_other_product_module() -> None:
    """Catches indirect imports too (a payloads module importing the product, say)."""
    code = (
        "import json, sys\n"
        "from tackbridge.sandbox import create_app\n"
        "from tackbridge.sandbox.cli import sandbox_command\n"
        "create_app()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tackbridge'))))\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(answer.stdout.strip().splitlines()[-1])
    assert "tackbridge.sandbox.app" in loaded
    # The package itself necessarily runs; whatever it imported would be listed too.
    assert [m for m in loaded if m != "tackbridge" and not _allowed(m)] == []


def test_sandbox_modules_import_at_the_top_only() -> None:
    """No import hidden in a function or behind ``if TYPE_CHECKING:`` to dodge a cycle: a module
    that needs another's names sits above it (``clock`` at the bottom, then the stores...)."""
    found: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if id(node) in top:
                continue
            where = str(path.relative_to(PACKAGE))
            if isinstance(node, ast.Import):
                found.update((where, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.add((where, node.module or ""))
    assert found == set()
