"""Dependencies built once per cold start from the environment, and a way to drop them
(the local run invokes the handlers in-process with different environments)."""

from __future__ import annotations

import os

from ..logic.dependencies import Dependencies

_cached: Dependencies | None = None


def get_dependencies(deps: Dependencies | None = None) -> Dependencies:
    """``deps`` when given (tests), else the cached ones (built on first use)."""
    global _cached
    if deps is not None:
        return deps
    if _cached is None:
        _cached = Dependencies.from_environment(os.environ)
    return _cached


def reset_dependencies() -> None:
    global _cached
    _cached = None
