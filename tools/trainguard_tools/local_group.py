"""The ``local`` dependency group: what the test harness (``trainguard demo``, ``trainguard
local invoke``) and ``trainguard replay --plots`` need beyond the project's dependencies, and
the one-line message that says how to install it when it is missing (instead of a traceback)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

INSTALL = "uv sync --group local"
#: module -> the requirement of the group that provides it
EMULATOR_MODULES: Mapping[str, str] = {
    "moto": "moto[server]",
    "flask": "moto[server]",  # moto's server
    "flask_cors": "moto[server]",
}
PLOT_MODULES: Mapping[str, str] = {"matplotlib": "matplotlib"}


def missing_message(command: str, *needs: Mapping[str, str]) -> str | None:
    """None when every module is importable, else the message naming what to install."""
    missing = {
        requirement: None
        for modules in needs
        for name, requirement in modules.items()
        if importlib.util.find_spec(name) is None
    }
    if not missing:
        return None
    return (
        f"trainguard {command}: needs {' and '.join(missing)}, not installed here; "
        f"{'they are' if len(missing) > 1 else 'it is'} in the local dependency group: {INSTALL}"
    )
