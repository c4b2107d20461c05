"""The replay package's layers: the report and the plots read the result types, never the
engine (the three used to import each other in a circle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "tools" / "trainguard_tools" / "replay"


def replay_imports(module: str) -> set[str]:
    """The sibling modules of the replay package that ``module`` imports (at any depth)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level == 1:
                found.add(name.split(".")[0] if name else "")
                found.update(a.name for a in node.names if not name)
            elif name.startswith("trainguard_tools.replay."):
                found.add(name.split(".")[2])
            elif name == "trainguard_tools.replay":
                found.add("__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("trainguard_tools.replay"):
                    found.add(alias.name.split(".")[2] if alias.name.count(".") > 1 else "__init__")
    return found


@pytest.mark.parametrize("module", ["results", "report", "plots"])
def test_the_result_readers_do_not_import_the_engine(module: str) -> None:
    assert replay_imports(module) <= {"results"}


def test_the_engine_imports_only_the_results() -> None:
    assert replay_imports("engine") == {"results"}


def test_the_package_has_no_import_cycle() -> None:
    modules = [p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"]
    graph = {m: replay_imports(m) & set(modules) for m in modules}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for dep in graph[module]:
            visit(dep, (*path, module))
        done.add(module)

    for module in modules:
        visit(module, ())
