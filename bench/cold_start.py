"""Part 4: cold start. Each handler's import against a bare ``import boto3``, loaded the way
Lambda loads them, and the size of the Lambda asset.

As Lambda loads the code:

- **the runtime's interpreter** (``python3.13``, ``infra/asset.py``'s ``runtime_python``) where
  the machine has one, else this interpreter; every figure says which (``interpreter``);
- **third-party packages with their bytecode**, as the runtime's boto3 and the Powertools layer
  have it: a fresh environment of only the functions' runtime dependencies (the locked
  versions, ``uv export``), compiled explicitly with ``compileall`` (``PYTHONDONTWRITEBYTECODE``
  stays set, as the Makefile sets it: nothing is written as a side effect of an import);
  ``require_bytecode`` raises, naming the fix, when any of its modules lacks bytecode, so the
  baseline cannot silently go back to compiling botocore on every timed import;
- **the asset with its bytecode**, compiled by that interpreter the way synth compiles it
  (``infra/asset.py``); the sources-only figure (a synth without python3.13) is beside it.

The headline, ``import_ratio_to_boto3`` and ``added_ms`` (function -> ratio, ms): each handler
module's import against a bare ``import boto3``, both timed with ``time.perf_counter`` around
the import statement in a fresh interpreter (so interpreter start-up is left out of both),
interleaved round by round (boto3, lifecycle, evaluator, ..., boto3, ...) so that the machine's
load drifts over all of them alike; the ratio and the difference of the medians of
``RATIO_RUNS`` rounds.

Import time: ``python -X importtime -c "import <module>"`` in a fresh subprocess with
``PYTHONPATH`` = the asset with its bytecode and ``POWERTOOLS_TRACE_DISABLED=true``; the
figure is the sum of the cumulative times of the top-level ``trainguard*`` entries (the
package, its subpackages and the module: each is imported at top level on the way down),
median of ``runs`` fresh processes; beside it, the heaviest imports a handler makes that a
bare ``import boto3`` does not (the candidates for a lazy import).

Asset: every file under ``lambdas/`` except caches and bytecode, bytes and count, and the
size of a deflate zip of them (what ``Code.from_asset`` uploads).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.asset import compile_bytecode, copy_sources, runtime_python

from .sections.cold_start import ColdStartResult

ROOT = Path(__file__).resolve().parent.parent
ASSET = ROOT / "lambdas"
HANDLER_NAMES = ("lifecycle", "evaluator", "alert", "shard", "digest")
BASELINE_MODULES = ("trainguard.core", "trainguard.config")
# the import packages of the functions' runtime dependencies (boto3 from the runtime,
# Powertools from its layer) and theirs: every one of their modules must have its bytecode
RUNTIME_PACKAGES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "aws_lambda_powertools",
)
EXCLUDED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
# "import time:      1234 |       5678 | trainguard.core"; nesting is spaces after the bar.
LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


class MissingBytecode(RuntimeError):
    """The environment the figures are measured in lacks bytecode (the figure would include
    compiling it, which Lambda never does for the runtime's boto3 or the Powertools layer)."""


@dataclass(frozen=True)
class Interpreter:
    """The interpreter that imports the handlers (and compiles their bytecode)."""

    path: str
    version: str
    runtime: bool  # the functions' runtime version (python3.13)

    @staticmethod
    def find() -> Interpreter:
        """The runtime's python3.13 where the machine has it, else this interpreter."""
        found = runtime_python()
        path = found or sys.executable
        probe = subprocess.run(
            [path, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        )
        return Interpreter(path=path, version=probe.stdout.strip(), runtime=found is not None)


def _uv() -> list[str]:
    """uv as ``make bench`` runs it: ``$UV`` under ``uv run``, else on the PATH, else the
    module of the interpreter that runs ``make``."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def runtime_requirements() -> str:
    """The locked versions of the project's own dependencies (no dependency group): what the
    functions import from the runtime and the Powertools layer."""
    proc = subprocess.run(
        [*_uv(), "export", "--frozen", "--no-default-groups", "--no-emit-project", "--no-hashes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def _step(command: list[str]) -> None:
    """One step of building the environment; its failure names the command and its output."""
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise RuntimeError(
            f"cold start: building the runtime environment failed: `{' '.join(command)}`: {tail}"
        )


def build_runtime_env(target: Path, interpreter: Interpreter) -> Path:
    """A virtual environment in ``target`` of only the runtime dependencies, for
    ``interpreter``, with every module compiled; returns its interpreter. (``uv`` installs
    from its cache, or from the package index the first time.)"""
    target.mkdir(parents=True, exist_ok=True)
    requirements = target / "requirements.txt"
    requirements.write_text(runtime_requirements())
    venv = target / "venv"
    python = venv / "bin" / "python"
    _step([*_uv(), "venv", "--quiet", "--python", interpreter.path, str(venv)])
    _step([*_uv(), "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements)])
    # explicitly: PYTHONDONTWRITEBYTECODE (the Makefile's) keeps imports from writing it
    _step([str(python), "-m", "compileall", "-q", "-j", "0", site_packages(python)])
    return python


def site_packages(python: Path | str) -> str:
    proc = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


_BYTECODE_PROBE = """
import importlib.util, json, os, sys
report = {}
for name in sys.argv[1:]:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        report[name] = None
        continue
    missing, total = [], 0
    for folder in spec.submodule_search_locations:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for filename in filenames:
                if filename.endswith(".py"):
                    total += 1
                    source = os.path.join(dirpath, filename)
                    if not os.path.exists(importlib.util.cache_from_source(source)):
                        missing.append(os.path.relpath(source, folder))
    report[name] = {"modules": total, "missing": len(missing), "examples": sorted(missing)[:3]}
print(json.dumps(report))
"""


def bytecode_coverage(
    python: Path | str, packages: Iterable[str], path: Path | None = None
) -> dict[str, Any]:
    """Package -> {modules, missing, examples} (None: not importable), as ``python`` sees them
    (its cache tag), with ``path`` first on its ``sys.path``."""
    env = dict(os.environ)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    proc = subprocess.run(
        [str(python), "-c", _BYTECODE_PROBE, *packages],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def require_bytecode(
    python: Path | str, packages: Iterable[str], path: Path | None = None
) -> dict[str, Any]:
    """``bytecode_coverage``, raising ``MissingBytecode`` (naming the fix) when a package is
    missing or any of its modules has no bytecode for ``python``."""
    coverage = bytecode_coverage(python, packages, path)
    absent = [name for name, c in coverage.items() if c is None]
    short = {name: c for name, c in coverage.items() if c is not None and c["missing"]}
    if absent or short:
        where = str(path) if path is not None else site_packages(python)
        problems = [f"{name} is not installed" for name in absent] + [
            f"{name}: {c['missing']} of {c['modules']} modules without bytecode "
            f"(e.g. {', '.join(c['examples'])})"
            for name, c in short.items()
        ]
        raise MissingBytecode(
            f"cold start: the environment of {python} lacks bytecode ({'; '.join(problems)}): "
            "every timed import would compile it, which Lambda does not. Compile it: "
            f"`{python} -m compileall -q {where}` (PYTHONDONTWRITEBYTECODE keeps imports from "
            "writing it)."
        )
    return coverage


def handler_modules() -> dict[str, str]:
    """Handler name -> module path, from the constants the stack deploys."""
    sys.path.insert(0, str(ASSET))
    try:
        from trainguard import constants  # type: ignore[import-untyped,unused-ignore]
    finally:
        sys.path.remove(str(ASSET))
    return {
        name: getattr(constants, f"{name.upper()}_HANDLER").rsplit(".", 1)[0]
        for name in HANDLER_NAMES
        if hasattr(constants, f"{name.upper()}_HANDLER")
    }


def module_file(module: str) -> Path | None:
    base = ASSET.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


Node = tuple[str, int, int, list[Any]]  # (name, self us, cumulative us, children)


def _tree(stderr: str) -> list[Node]:
    """The import tree; children are printed before parents."""
    pending: dict[int, list[Node]] = {}
    for line in stderr.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        own, cumulative, indent, name = m.groups()
        level = (len(indent) - 1) // 2
        node = (name, int(own), int(cumulative), pending.pop(level + 1, []))
        pending.setdefault(level, []).append(node)
    return pending.get(0, [])


def _first_party(name: str) -> bool:
    return name == "trainguard" or name.startswith("trainguard.")


def _all_names(nodes: list[Node]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        names.add(node[0])
        names |= _all_names(node[3])
    return names


@dataclass(frozen=True)
class ImportProfile:
    """One ``-X importtime`` run of a first-party module, in ms."""

    total_ms: float  # the top-level trainguard entries' cumulative times
    own_ms: float  # the first-party modules' own (self) times
    heaviest_own: list[tuple[str, float]]  # the first-party modules with the most own time
    heaviest: list[tuple[str, float]]  # the heaviest non-trainguard imports they make
    # the heaviest of those a bare ``import boto3`` does not make, and who makes each
    beyond_boto3: list[tuple[str, str, float]]


def parse_importtime(stderr: str, baseline: AbstractSet[str] = frozenset()) -> ImportProfile:
    """The profile of the first-party entries of an ``-X importtime`` log; ``baseline``: the
    modules a bare ``import boto3`` imports.

    Importing ``a.b.c`` imports ``a``, ``a.b`` and ``a.b.c`` each at top level, so their
    cumulative times add up to the whole import without double counting.
    """
    total_us = 0
    own: dict[str, int] = {}
    external: dict[str, int] = {}
    added: dict[str, tuple[str, int]] = {}

    def walk(node: Node) -> None:
        own[node[0]] = own.get(node[0], 0) + node[1]
        for child in node[3]:
            if _first_party(child[0]):
                walk(child)
                continue
            external[child[0]] = max(external.get(child[0], 0), child[2])
            if child[0] not in baseline and child[2] > added.get(child[0], ("", -1))[1]:
                added[child[0]] = (node[0], child[2])

    for node in _tree(stderr):
        if _first_party(node[0]):
            total_us += node[2]
            walk(node)
    heaviest = sorted(external.items(), key=lambda kv: -kv[1])[:5]
    beyond = sorted(added.items(), key=lambda kv: -kv[1][1])[:6]
    return ImportProfile(
        total_ms=total_us / 1000,
        own_ms=sum(own.values()) / 1000,
        heaviest_own=[(n, us / 1000) for n, us in sorted(own.items(), key=lambda kv: -kv[1])[:4]],
        heaviest=[(name, us / 1000) for name, us in heaviest],
        beyond_boto3=[(name, by, us / 1000) for name, (by, us) in beyond],
    )


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
    env.pop("PYTHONPYCACHEPREFIX", None)  # bytecode where Lambda finds it, next to the sources
    env.update(
        {
            "PYTHONPATH": str(asset),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "trainguard",
            "POWERTOOLS_SERVICE_NAME": "trainguard",
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
            # Lambda's code directory and the layer are read-only: an import never writes
            # bytecode there, it uses what was shipped (or compiles in memory each time).
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def _baseline_names(python: Path | str, asset: Path) -> set[str]:
    """Every module a bare ``import boto3`` imports."""
    proc = subprocess.run(
        [str(python), "-X", "importtime", "-c", "import boto3"],
        cwd=asset,
        env=_import_env(asset),
        capture_output=True,
        text=True,
        check=True,
    )
    return _all_names(_tree(proc.stderr))


def import_time(
    module: str, runs: int, asset: Path, python: Path | str, baseline: AbstractSet[str]
) -> dict[str, Any]:
    """Median over ``runs`` fresh interpreters importing ``module`` from ``asset``."""
    env = _import_env(asset)
    samples: list[float] = []
    own: list[float] = []
    profile: ImportProfile | None = None
    for _ in range(runs):
        proc = subprocess.run(
            [str(python), "-X", "importtime", "-c", f"import {module}"],
            cwd=asset,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
            return {"error": f"import failed: {tail[0]}"}
        profile = parse_importtime(proc.stderr, baseline)
        samples.append(profile.total_ms)
        own.append(profile.own_ms)
    assert profile is not None
    return {
        "median_ms": statistics.median(samples),
        "min_ms": min(samples),
        "max_ms": max(samples),
        "runs": runs,
        "own_median_ms": round(statistics.median(own), 1),
        # of the last run: the first-party modules with the most own time
        "heaviest_own_ms": [[n, round(ms, 1)] for n, ms in profile.heaviest_own],
        "heaviest_dependencies_ms": [[n, round(ms, 1)] for n, ms in profile.heaviest],
        # of the last run: imports a bare ``import boto3`` does not make, and who makes them
        "beyond_boto3_ms": [[n, by, round(ms, 1)] for n, by, ms in profile.beyond_boto3],
    }


def copy_asset(target: Path, *, bytecode: bool = False, python: Path | str | None = None) -> Path:
    """The asset as Lambda gets it (``infra/asset.py``): ``lambdas/`` without caches, and
    with ``bytecode`` its ``.pyc`` compiled the way synth compiles them for the runtime, here
    by ``python`` (the interpreter that imports them; default this one)."""
    copy_sources(ASSET, target)
    if bytecode:
        compile_bytecode(target, str(python or sys.executable))
    return target


def asset_size(root: Path = ASSET) -> dict[str, Any]:
    files = _asset_files(root)
    raw = sum(p.stat().st_size for p in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    return {"files": len(files), "bytes": raw, "zipped_bytes": len(buffer.getvalue())}


RATIO_RUNS = 15
_TIMED_IMPORT = (
    "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
)


def _timed_import(module: str, env: dict[str, str], asset: Path, python: Path | str) -> float:
    proc = subprocess.run(
        [str(python), "-c", _TIMED_IMPORT.format(module=module)],
        cwd=asset,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(proc.stdout.strip().splitlines()[-1]) * 1000.0


def import_ratios(
    modules: dict[str, str], runs: int, asset: Path, python: Path | str
) -> dict[str, Any]:
    """Median import ms of ``boto3`` and of each handler, measured side by side."""
    env = _import_env(asset)
    samples: dict[str, list[float]] = {"boto3": [], **{name: [] for name in modules}}
    for _ in range(runs):
        samples["boto3"].append(_timed_import("boto3", env, asset, python))
        for name, module in modules.items():
            samples[name].append(_timed_import(module, env, asset, python))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "import_ratio_to_boto3": {n: medians[n] / medians["boto3"] for n in modules},
        "added_ms": {n: medians[n] - medians["boto3"] for n in modules},
        "median_ms": medians,
        "runs": runs,
    }


_COLLECTED = re.compile(r"Collected : (\d+)")


def _instructions(code: str, env: dict[str, str], asset: Path, python: Path | str) -> int:
    """The CPU instructions ``python -c code`` executes, counted by valgrind's callgrind."""
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(python), "-c", code],
        cwd=asset,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = _COLLECTED.search(proc.stderr)
    if found is None:
        raise RuntimeError(f"cold start: callgrind reported no instruction count for {code!r}")
    return int(found.group(1))


def instruction_ratios(modules: dict[str, str], asset: Path, python: Path | str) -> dict[str, Any]:
    """Each handler's import and a bare ``import boto3`` in CPU instructions (callgrind), each
    over an interpreter that imports nothing: a count that is the same on every run of the same
    code, so the figure a noisy machine does not move (the milliseconds do)."""
    if shutil.which("valgrind") is None:
        return {"unavailable": "valgrind is not installed on this machine"}
    env = _import_env(asset)
    start = _instructions("pass", env, asset, python)
    boto3 = _instructions("import boto3", env, asset, python) - start
    counts = {
        n: _instructions(f"import {m}", env, asset, python) - start for n, m in modules.items()
    }
    return {
        "instructions_ratio_to_boto3": {n: round(c / boto3, 3) for n, c in counts.items()},
        "added_instructions_millions": {n: round((c - boto3) / 1e6, 1) for n, c in counts.items()},
        "boto3_instructions_millions": round(boto3 / 1e6, 1),
    }


def run(quick: bool = False, log: Callable[[str], None] = print) -> ColdStartResult:
    runs = 2 if quick else 5
    load_before = os.getloadavg()[0]
    ratio_runs = 3 if quick else RATIO_RUNS
    interpreter = Interpreter.find()
    log(
        f"cold start: interpreter {interpreter.path} (Python {interpreter.version}"
        + (", the runtime's)" if interpreter.runtime else "; no python3.13 here)")
    )
    modules = handler_modules()
    present = {n: m for n, m in modules.items() if module_file(m) is not None}
    pending = [n for n in modules if n not in present]
    with tempfile.TemporaryDirectory(prefix="trainguard-cold-start-") as tmp:
        work = Path(tmp)
        log("cold start: an environment of the runtime dependencies, compiled")
        python = build_runtime_env(work / "runtime", interpreter)
        coverage = require_bytecode(python, RUNTIME_PACKAGES)
        shipped = copy_asset(work / "asset", bytecode=True, python=interpreter.path)
        require_bytecode(python, ("trainguard",), path=shipped)
        sources = copy_asset(work / "sources")

        log(f"cold start: handlers (with their bytecode) vs a bare import boto3, x{ratio_runs}")
        ratios = import_ratios(present, ratio_runs, shipped, python)
        log(f"cold start: handlers (sources only) vs a bare import boto3, x{ratio_runs}")
        source_only = import_ratios(present, ratio_runs, sources, python)

        if quick:
            instructions: dict[str, Any] = {"unavailable": "not counted in a quick run"}
        else:
            log("cold start: handlers vs a bare import boto3 in CPU instructions (callgrind)")
            instructions = instruction_ratios(present, shipped, python)

        baseline_names = _baseline_names(python, shipped)
        import_ms: dict[str, float | None] = {}
        detail: dict[str, Any] = {}
        for name, module in modules.items():
            if name in pending:
                import_ms[name] = None
                detail[name] = {"module": module, "pending": "module does not exist yet"}
                continue
            log(f"cold start: python -X importtime -c 'import {module}' x{runs}")
            result = import_time(module, runs, shipped, python, baseline_names)
            import_ms[name] = result.get("median_ms")
            detail[name] = {"module": module, **result}
        baseline: dict[str, Any] = {}
        for module in BASELINE_MODULES:
            log(f"cold start: python -X importtime -c 'import {module}' x{runs}")
            baseline[module] = import_time(module, runs, shipped, python, baseline_names)
    packages = {
        line.split("==")[0]: line.split("==")[1].split()[0]
        for line in runtime_requirements().splitlines()
        if "==" in line and not line.startswith("#")
    }
    return {
        "interpreter": {
            "path": interpreter.path,
            "version": interpreter.version,
            "runtime": interpreter.runtime,
        },
        "environment": {
            "what": "a fresh virtual environment of the runtime dependencies only (uv export "
            "--no-default-groups), every module compiled by the interpreter (compileall)",
            "packages": packages,
            "bytecode": coverage,
        },
        # the asset as synth builds it (its bytecode compiled by the runtime's python3.13)
        "import_ratio_to_boto3": ratios["import_ratio_to_boto3"],
        "added_ms": ratios["added_ms"],
        "side_by_side_median_ms": ratios["median_ms"],
        "side_by_side_runs": ratios["runs"],
        # the same, in CPU instructions: what the machine's load does not move
        "instructions": instructions,
        # the asset when synth has no python3.13: sources only, compiled on every cold start
        "import_ratio_to_boto3_sources_only": source_only["import_ratio_to_boto3"],
        "added_ms_sources_only": source_only["added_ms"],
        "sources_only_median_ms": source_only["median_ms"],
        "import_ms": import_ms,
        "handlers": detail,
        "baseline_modules": baseline,
        "pending_handlers": pending,
        "asset": asset_size(),
        "python": interpreter.version,
        # the machine's 1-minute load average as the part started and ended (milliseconds
        # grow with it; the ratios, timed side by side, far less)
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
