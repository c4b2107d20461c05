"""Part 4: cold start. Import time of each handler module and the size of the Lambda asset.

The asset ships its bytecode (``infra/asset.py``: synth compiles it with the runtime's
interpreter), so the headline times the asset with its ``.pyc`` compiled the same way for
this interpreter; the sources-only figure (a synth without python3.13) is reported beside it.

The headline, ``import_ratio_to_boto3`` (function -> ratio): each handler module's import
against a bare ``import boto3``, both timed with ``time.perf_counter`` around the import
statement in a fresh interpreter (so interpreter start-up is left out of both), interleaved
round by round (boto3, lifecycle, evaluator, alert, boto3, ...) so that the machine's load
drifts over all of them alike; the ratio of the medians of ``RATIO_RUNS`` rounds.

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
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.asset import compile_bytecode, copy_sources

ROOT = Path(__file__).resolve().parent.parent
ASSET = ROOT / "lambdas"
HANDLER_NAMES = ("lifecycle", "evaluator", "alert")
BASELINE_MODULES = ("trainguard.core", "trainguard.config")
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


def _import_env(asset: Path) -> dict[str, str]:
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
    return env


def import_time(module: str, runs: int, asset: Path) -> dict[str, Any]:
    """Median over ``runs`` fresh interpreters importing ``module`` from ``asset``."""
    env = _import_env(asset)
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


def copy_asset(target: Path, *, bytecode: bool = False) -> Path:
    """The asset as Lambda gets it (``infra/asset.py``): ``lambdas/`` without caches, and
    with ``bytecode`` its ``.pyc`` compiled the way synth compiles them for the runtime, here
    for this interpreter (the one that imports them)."""
    copy_sources(ASSET, target)
    if bytecode:
        compile_bytecode(target, sys.executable)
    return target


def asset_size(root: Path = ASSET) -> dict[str, Any]:
    files = _asset_files(root)
    raw = sum(p.stat().st_size for p in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    return {"files": len(files), "bytes": raw, "zipped_bytes": len(buffer.getvalue())}


RATIO_RUNS = 10
_TIMED_IMPORT = (
    "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
)


def _timed_import(module: str, env: dict[str, str], asset: Path) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", _TIMED_IMPORT.format(module=module)],
        cwd=asset,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(proc.stdout.strip().splitlines()[-1]) * 1000.0


def import_ratios(modules: dict[str, str], runs: int, asset: Path) -> dict[str, Any]:
    """Median import ms of ``boto3`` and of each handler, measured side by side."""
    env = _import_env(asset)
    samples: dict[str, list[float]] = {"boto3": [], **{name: [] for name in modules}}
    for _ in range(runs):
        samples["boto3"].append(_timed_import("boto3", env, asset))
        for name, module in modules.items():
            samples[name].append(_timed_import(module, env, asset))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "import_ratio_to_boto3": {n: medians[n] / medians["boto3"] for n in modules},
        "median_ms": medians,
        "runs": runs,
    }


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
        ratio_runs = 3 if quick else RATIO_RUNS
        present = {n: m for n, m in handler_modules().items() if module_file(m) is not None}
        log(f"cold start: handlers (sources only) vs a bare import boto3, x{ratio_runs}")
        source_only = import_ratios(present, ratio_runs, asset)
    with tempfile.TemporaryDirectory(prefix="trainguard-asset-") as tmp:
        shipped = copy_asset(Path(tmp), bytecode=True)
        log(f"cold start: handlers (with their bytecode) vs a bare import boto3, x{ratio_runs}")
        ratios = import_ratios(present, ratio_runs, shipped)
    return {
        # the asset as synth builds it when the runtime's interpreter (python3.13) is there
        "import_ratio_to_boto3": ratios["import_ratio_to_boto3"],
        "side_by_side_median_ms": ratios["median_ms"],
        "side_by_side_runs": ratios["runs"],
        # the asset when synth has no python3.13: sources only, compiled on every cold start
        "import_ratio_to_boto3_sources_only": source_only["import_ratio_to_boto3"],
        "sources_only_median_ms": source_only["median_ms"],
        "import_ms": import_ms,
        "handlers": detail,
        "baseline_modules": baseline,
        "pending_handlers": pending,
        "asset": asset_size(),
        "python": sys.version.split()[0],
    }
