"""The ``local`` dependency group: what the test harness (``trainguard demo``, ``trainguard
local invoke``) and ``trainguard replay --plots`` need beyond the project's dependencies, and
the one-line message that says how to install it when it is missing (instead of a traceback)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

INSTALL = "uv sync --group local"
#: moto's server (``moto[server]``): the emulator of the demo and of ``local invoke``
EMULATOR_MODULES: tuple[str, ...] = ("moto", "flask", "flask_cors")
PLOT_MODULES: tuple[str, ...] = ("matplotlib",)


def missing_message(command: str, modules: Sequence[str]) -> str | None:
    """None when every module is importable, else the message naming what is missing."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"trainguard {command}: {', '.join(missing)} not installed; they are in the local "
        f"dependency group: {INSTALL}"
    )
