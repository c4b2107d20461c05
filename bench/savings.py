"""Part 3: savings and regret on the committed curves (the replay sweep), against no stopping,
the patience rule alone, and Optuna's pruner replayed on the same timeline.

Pending until the replay (``tools/trainguard_tools/replay.py``) is usable from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    reason = "the replay sweep is not wired into the bench yet"
    log(f"savings: pending ({reason})")
    return {"status": "pending", "reason": reason, "default_policy_saved_fraction": None}
