"""Dependencies built once per cold start from the environment, and a way to drop them
(the local run invokes the handlers in-process with different environments)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..logic.dependencies import Dependencies

_cached: Dependencies | None = None


def aws_dependencies(environ: Mapping[str, str]) -> Dependencies:
    """The real adapters, configured by the function's environment (table, topic, policy).
    boto3 honours ``AWS_ENDPOINT_URL`` and moto's in-process mock, so the local run and the
    tests build their dependencies through here too."""
    return Dependencies.from_environment(environ)


def get_dependencies(deps: Dependencies | None = None) -> Dependencies:
    """``deps`` when given (tests), else the cached ones (built on first use)."""
    global _cached
    if deps is not None:
        return deps
    if _cached is None:
        _cached = aws_dependencies(os.environ)
    return _cached


def reset_dependencies() -> None:
    global _cached
    _cached = None
