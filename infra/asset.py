"""The Lambda asset: ``lambdas/`` as it ships, with its bytecode (no CDK here: the bench
builds the same asset to time its cold start)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSET_DIR = REPO_ROOT / "lambdas"
ASSET_EXCLUDES = [
    "**/__pycache__",
    "**/*.pyc",
    "**/.mypy_cache",
    "**/.pytest_cache",
    "**/.ruff_cache",
    "**/.hypothesis",
    "**/*.egg-info",
    "**/.DS_Store",
]
RUNTIME_PYTHON = "python3.13"  # the functions' runtime: its interpreter compiles the bytecode


def runtime_python() -> str | None:
    """An interpreter of the runtime's version: ``python3.13`` on the PATH, else one that
    pyenv installed (its shims answer only for the versions it selected); None if none runs."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    minor = RUNTIME_PYTHON.removeprefix("python")
    candidates = [shutil.which(RUNTIME_PYTHON)]
    candidates += [
        str(p) for p in sorted(pyenv_root.glob(f"versions/{minor}.*/bin/{RUNTIME_PYTHON}"))
    ]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == minor:
            return candidate
    return None


def copy_sources(source: Path, target: Path) -> None:
    """``source`` into ``target`` without caches and bytecode (the ASSET_EXCLUDES)."""
    patterns = [pattern.removeprefix("**/") for pattern in ASSET_EXCLUDES]
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*patterns))


def compile_bytecode(root: Path, python: str) -> None:
    """``python -m compileall`` over ``root``: ``__pycache__/*.cpython-XY.pyc`` that the
    interpreter uses without checking the sources (they never change in an asset)."""
    subprocess.run(
        [python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(root)],
        check=True,
    )
