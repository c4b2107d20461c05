"""The router drops a shared dependency cache when another function of the same package runs
with another environment (the demo's lifecycle -> evaluator -> lifecycle sequence)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from trainguard_local.router import DeployedFunction, EventRouter, Wiring

pytestmark = pytest.mark.unit

PACKAGE = {
    "__init__.py": (
        "import os\n"
        "CACHE = {}\n"
        "def get():\n"
        "    if 'env' not in CACHE:\n"
        "        CACHE['env'] = os.environ.get('ROLE_ENV')\n"
        "    return CACHE['env']\n"
        "def reset_dependencies():\n"
        "    CACHE.clear()\n"
    ),
    "first.py": "from . import get\ndef handler(event, context):\n    return get()\n",
    "second.py": "from . import get\ndef handler(event, context):\n    return get()\n",
}


@pytest.fixture
def code_root(tmp_path: Path) -> Iterator[Path]:
    package = tmp_path / "tg_shared_cache_pkg"
    package.mkdir()
    for name, text in PACKAGE.items():
        (package / name).write_text(text)
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith("tg_shared_cache_pkg")]:
        del sys.modules[module]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def fn(name: str, module: str, role: str) -> DeployedFunction:
    return DeployedFunction(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        handler=f"tg_shared_cache_pkg.{module}.handler",
        environment={"ROLE_ENV": role},
        timeout_s=30,
    )


def test_functions_sharing_a_package_cache_each_see_their_own_environment(
    code_root: Path,
) -> None:
    wiring = Wiring(
        rules=[],
        functions={"one": fn("one", "first", "one"), "two": fn("two", "second", "two")},
    )
    router = EventRouter(wiring, endpoint_url="http://localhost:9", code_roots=[code_root])
    results = [router.invoke(name, {}).result for name in ("one", "two", "one", "one")]
    assert results == ["one", "two", "one", "one"]
