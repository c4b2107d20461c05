"""Part 3: savings and regret on the committed curves (``data/curves.jsonl``), replayed by
``trainguard replay``'s timeline engine in enforce mode.

Rows: no stopping (the baseline: nothing saved, no regret by definition), the default policy
(``Policy()`` defaults: the catch-up rule + divergence), the median rule by name (median on with
min_completed 3 and grace 0, catch-up off: the default before issue 12), the patience rule alone
(patience on with its defaults, no other objective rule), and the replay's sweep of the median
rule (min_completed, grace). The frontier of every policy on more data is part 5
(``bench/frontier.py``).

Runs whenever the curve file exists; ``curves_committed`` says whether a fresh clone would
reproduce the figures (the file is git-tracked). Next to them, Optuna's ``MedianPruner``
replayed on the same timeline (``bench/pruner_replay.py``): its defaults, and configured like
our default (3 completed references), when Optuna is installed (the ``bench`` group).
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
        from trainguard.config import Policy
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
        catchup=replace(policy.catchup, enabled=False),
        patience=replace(policy.patience, enabled=True),
    )
    median_rule = replace(
        policy,
        median=replace(policy.median, enabled=True),
        catchup=replace(policy.catchup, enabled=False),
    )
    log(f"savings: replaying {len(records)} jobs (default policy, median, patience alone, sweep)")
    default = replay_records(records, policy)
    rows = {
        "no_stopping": {
            "stops": 0,
            "gpu_hours_saved": 0.0,
            "saved_fraction": 0.0,
            "usd_saved": 0.0,
        },
        "default_policy": sweep_row(default).to_dict(),
        "median_rule": sweep_row(replay_records(records, median_rule)).to_dict(),
        "patience_alone": sweep_row(replay_records(records, patience_only)).to_dict(),
    }
    grid = sweep(
        records,
        policy,
        min_completed=SMALL_SWEEP_MIN_COMPLETED if quick else SWEEP_MIN_COMPLETED,
        grace=SMALL_SWEEP_GRACE if quick else SWEEP_GRACE,
    )
    optuna_rows, optuna_note = _optuna_rows(records, policy, log)
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
        "optuna_rows": optuna_rows,
        "optuna_replayed": optuna_note,
    }


# (key, MedianPruner arguments): Optuna's defaults, and gates like our default policy's
OPTUNA_PRUNERS: tuple[tuple[str, dict[str, int]], ...] = (
    ("optuna_default", {"n_startup_trials": 5, "n_warmup_steps": 0}),
    ("optuna_startup_3", {"n_startup_trials": 3, "n_warmup_steps": 0}),
    (
        "optuna_startup_3_min_trials_3",
        {"n_startup_trials": 3, "n_warmup_steps": 0, "n_min_trials": 3},
    ),
)


def _optuna_rows(
    records: list[Any], policy: Any, log: Callable[[str], None]
) -> tuple[dict[str, Any], str]:
    try:
        import optuna
    except ImportError:
        return {}, "skipped: optuna is not installed (it is in the bench dependency group)"
    from .pruner_replay import pruner_row

    log(f"savings: Optuna {optuna.__version__} MedianPruner on the replay timeline")
    rows = {key: pruner_row(records, policy, **kwargs) for key, kwargs in OPTUNA_PRUNERS}
    return rows, f"ok (optuna {optuna.__version__})"
