"""Part 4: cold start. Import time of each handler module and the size of the Lambda asset.

Import time: ``python -X importtime -c "import <module>"`` in a fresh subprocess with
``PYTHONPATH=lambdas`` (the asset's root, as on Lambda) and ``POWERTOOLS_TRACE_DISABLED=true``;
the figure is the sum of the cumulative times of the top-level ``trainguard*`` entries (the
package, its subpackages and the module: each is imported at top level on the way down),
median of ``runs`` fresh processes. Interpreter start-up (site, encodings) is not included.
A handler module that does not exist yet is reported as pending.

Asset: every file under ``lambdas/`` except caches and bytecode, bytes and count, and the
size of a deflate zip of them (what ``Code.from_asset`` uploads).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ASSET = ROOT / "lambdas"
HANDLER_NAMES = ("lifecycle", "evaluator", "alert")
BASELINE_MODULES = ("trainguard.core", "trainguard.policy")
EXCLUDED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
# "import time:      1234 |       5678 | trainguard.core"; nesting is spaces after the bar.
LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def handler_modules() -> dict[str, str]:
    """Handler name -> module path, from the constants the stack deploys."""
    sys.path.insert(0, str(ASSET))
    try:
        from trainguard import constants
    finally:
        sys.path.remove(str(ASSET))
    return {
        name: getattr(constants, f"{name.upper()}_HANDLER").rsplit(".", 1)[0]
        for name in HANDLER_NAMES
    }


def module_file(module: str) -> Path | None:
    base = ASSET.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _tree(stderr: str) -> list[tuple[str, int, list[Any]]]:
    """The import tree: (name, cumulative us, children); children are printed before parents."""
    pending: dict[int, list[tuple[str, int, list[Any]]]] = {}
    for line in stderr.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        _, cumulative, indent, name = m.groups()
        level = (len(indent) - 1) // 2
        node = (name, int(cumulative), pending.pop(level + 1, []))
        pending.setdefault(level, []).append(node)
    return pending.get(0, [])


def _first_party(name: str) -> bool:
    return name == "trainguard" or name.startswith("trainguard.")


def parse_importtime(stderr: str) -> tuple[float, list[tuple[str, float]]]:
    """(ms of the top-level trainguard entries, heaviest non-trainguard imports made by them).

    Importing ``a.b.c`` imports ``a``, ``a.b`` and ``a.b.c`` each at top level, so their
    cumulative times add up to the whole import without double counting.
    """
    total_us = 0
    external: dict[str, int] = {}

    def walk(node: tuple[str, int, list[Any]]) -> None:
        for child in node[2]:
            if _first_party(child[0]):
                walk(child)
            else:
                external[child[0]] = max(external.get(child[0], 0), child[1])

    for node in _tree(stderr):
        if _first_party(node[0]):
            total_us += node[1]
            walk(node)
    heaviest = sorted(external.items(), key=lambda kv: -kv[1])[:5]
    return total_us / 1000, [(name, us / 1000) for name, us in heaviest]


def _asset_files(root: Path = ASSET) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS)
        for name in sorted(filenames):
            if not name.endswith(EXCLUDED_SUFFIXES):
                files.append(Path(dirpath) / name)
    return files


def import_time(module: str, runs: int, asset: Path) -> dict[str, Any]:
    """Median over ``runs`` fresh interpreters importing ``module`` from ``asset``."""
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(asset),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "trainguard",
            "POWERTOOLS_SERVICE_NAME": "trainguard",
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
            # The asset ships without bytecode and Lambda's code directory is read-only, so
            # first-party modules compile on every cold start; third-party ones (layer,
            # runtime) have their .pyc. Keep it that way here.
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    samples: list[float] = []
    heaviest: list[tuple[str, float]] = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=asset,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
            return {"error": f"import failed: {tail[0]}"}
        ms, heaviest = parse_importtime(proc.stderr)
        samples.append(ms)
    return {
        "median_ms": statistics.median(samples),
        "min_ms": min(samples),
        "max_ms": max(samples),
        "runs": runs,
        "heaviest_dependencies_ms": [[n, round(ms, 1)] for n, ms in heaviest],
    }


def copy_asset(target: Path) -> Path:
    """The asset as Lambda gets it: ``lambdas/`` without caches or bytecode."""
    for path in _asset_files():
        dest = target / path.relative_to(ASSET)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    return target


def asset_size(root: Path = ASSET) -> dict[str, Any]:
    files = _asset_files(root)
    raw = sum(p.stat().st_size for p in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    return {"files": len(files), "bytes": raw, "zipped_bytes": len(buffer.getvalue())}


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    runs = 2 if quick else 5
    import_ms: dict[str, float | None] = {}
    detail: dict[str, Any] = {}
    pending: list[str] = []
    baseline: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="trainguard-asset-") as tmp:
        asset = copy_asset(Path(tmp))
        for name, module in handler_modules().items():
            if module_file(module) is None:
                import_ms[name] = None
                detail[name] = {"module": module, "pending": "module does not exist yet"}
                pending.append(name)
                continue
            log(f"cold start: import {module} x{runs}")
            result = import_time(module, runs, asset)
            import_ms[name] = result.get("median_ms")
            detail[name] = {"module": module, **result}
        for module in BASELINE_MODULES:
            log(f"cold start: import {module} x{runs}")
            baseline[module] = import_time(module, runs, asset)
    return {
        "import_ms": import_ms,
        "handlers": detail,
        "baseline_modules": baseline,
        "pending_handlers": pending,
        "asset": asset_size(),
        "python": sys.version.split()[0],
    }
