"""Part 3: savings and regret on the committed curves (``data/curves.jsonl``), replayed by
``trainguard replay``'s timeline engine in enforce mode.

Rows: no stopping (the baseline: nothing saved, no regret by definition), the default policy
(``Policy()`` defaults: median rule + divergence), the patience rule alone (median off,
patience on with its defaults), and the replay's (min_completed, grace) sweep.

Runs whenever the curve file exists; ``curves_committed`` says whether a fresh clone would
reproduce the figures (the file is git-tracked). Optuna's pruner replayed on the same
timeline is not wired yet (reported as pending).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CURVES = "data/curves.jsonl"


def _tracked(path: str) -> bool:
    try:
        out = subprocess.run(
            ["git", "ls-files", "--error-unmatch", path],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return False
    return out.returncode == 0


def _pending(reason: str, log: Callable[[str], None]) -> dict[str, Any]:
    log(f"savings: pending ({reason})")
    return {"status": "pending", "reason": reason, "default_policy_saved_fraction": None}


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    if not (ROOT / CURVES).is_file():
        return _pending(f"{CURVES} does not exist yet", log)
    try:
        from trainguard.policy import Policy
        from trainguard_tools.curvefile import load_curves
        from trainguard_tools.replay import (
            SMALL_SWEEP_GRACE,
            SMALL_SWEEP_MIN_COMPLETED,
            SWEEP_GRACE,
            SWEEP_MIN_COMPLETED,
            sweep,
            sweep_row,
        )
        from trainguard_tools.replay import replay as replay_records
    except ImportError as exc:
        return _pending(f"the replay is not importable here ({exc})", log)

    records, errors = load_curves(ROOT / CURVES)
    policy = Policy.from_mapping({"mode": "enforce"})
    patience_only = replace(
        policy,
        median=replace(policy.median, enabled=False),
        patience=replace(policy.patience, enabled=True),
    )
    log(f"savings: replaying {len(records)} jobs (default policy, patience alone, sweep)")
    default = replay_records(records, policy)
    rows = {
        "no_stopping": {"stops": 0, "gpu_hours_saved": 0.0, "saved_fraction": 0.0},
        "default_policy": sweep_row(default).to_dict(),
        "patience_alone": sweep_row(replay_records(records, patience_only)).to_dict(),
    }
    grid = sweep(
        records,
        policy,
        min_completed=SMALL_SWEEP_MIN_COMPLETED if quick else SWEEP_MIN_COMPLETED,
        grace=SMALL_SWEEP_GRACE if quick else SWEEP_GRACE,
    )
    return {
        "status": "ok",
        "curves": CURVES,
        "curves_committed": _tracked(CURVES),
        "jobs": len(records),
        "load_errors": len(errors),
        "gpu_hours_without": default.overall.gpu_hours_without,
        "default_policy_saved_fraction": default.overall.saved_fraction,
        "rows": rows,
        "sweep": [r.to_dict() for r in grid],
        "optuna_replayed": "pending: Optuna's pruner on the replay timeline is not wired yet",
    }
