"""Minimal, faithful harnesses around the peers' median rules, configured to meet ours.

- Optuna ``MedianPruner(n_startup_trials=0, n_warmup_steps=0, interval_steps=1,
  n_min_trials=1)`` on an in-memory study whose COMPLETE trials carry an intermediate value at
  every step. A running job is a RUNNING ``FrozenTrial`` with its curve as intermediate values;
  the decision is ``pruner.prune(study, frozen_trial)``, exactly what ``Trial.should_prune``
  calls (minus the storage read of the frozen trial, which we leave out: that favours Optuna).
- Ray Tune ``MedianStoppingRule(time_attr="training_iteration", grace_period=0,
  min_samples_required=1)``. Only completed trials are references: their result histories are
  placed in the scheduler's ``_results`` (the list ``on_trial_result`` appends to; replaying
  H x S results through ``on_trial_result`` would build the same lists, slower). We do not
  call ``on_trial_complete``: it appends the final result a second time, which would change
  the running mean at the last step. A running job's earlier results are placed the same way,
  its latest result goes through ``on_trial_result`` (timed), and the job is then removed so
  that it never becomes a reference for the next one (Ray would count running trials too).

Both modules are imported lazily: they live in the ``bench`` dependency group only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

Point = tuple[float, float]
METRIC = "loss"
TIME_ATTR = "training_iteration"


def optuna_available() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def ray_available() -> tuple[bool, str]:
    """(importable, why not): Ray Tune is large and may not install everywhere."""
    try:
        from ray.tune.schedulers import MedianStoppingRule  # noqa: F401
    except Exception as exc:  # ImportError, or a broken native wheel
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


class OptunaHarness:
    """One study of completed trials; ``prune`` decides for one running curve."""

    def __init__(self, completed: Sequence[Sequence[Point]], direction: str = "minimize") -> None:
        import optuna
        from optuna.trial import TrialState, create_trial

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._create_trial = create_trial
        self._running = TrialState.RUNNING
        self.pruner = optuna.pruners.MedianPruner(
            n_startup_trials=0, n_warmup_steps=0, interval_steps=1, n_min_trials=1
        )
        self.study = optuna.create_study(direction=direction, pruner=self.pruner)
        self.study.add_trials(
            [
                create_trial(
                    value=float(curve[-1][1]),
                    params={},
                    distributions={},
                    intermediate_values={int(s): float(v) for s, v in curve},
                )
                for curve in completed
            ]
        )

    def frozen(self, curve: Sequence[Point]) -> Any:
        """A running trial that has reported ``curve`` (built outside the timed region)."""
        return self._create_trial(
            state=self._running, intermediate_values={int(s): float(v) for s, v in curve}
        )

    def prune(self, frozen: Any) -> bool:
        return bool(self.pruner.prune(self.study, frozen))

    def timed_prunes(self, frozen: Sequence[Any]) -> tuple[list[bool], float]:
        """Decisions and the seconds spent inside ``prune`` calls only."""
        prune = self.pruner.prune
        study = self.study
        start = time.perf_counter()
        out = [prune(study, f) for f in frozen]
        return [bool(x) for x in out], time.perf_counter() - start

    def best_so_far_seconds(self, frozen: Sequence[Any]) -> float:
        """Seconds Optuna spends on the trials' own best values (its O(steps) part)."""
        from optuna.pruners._percentile import _get_best_intermediate_result_over_steps

        direction = self.study.direction
        start = time.perf_counter()
        for f in frozen:
            _get_best_intermediate_result_over_steps(f, direction)
        return time.perf_counter() - start


class _Controller:
    """Only ``_on_insufficient_samples`` touches the controller; it asks for live trials."""

    def get_live_trials(self) -> list[Any]:
        return []


class _Trial:
    """Ray's scheduler uses a trial only as a dict key, for ``trial_id`` and in log strings."""

    __slots__ = ("trial_id",)

    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id

    def __str__(self) -> str:
        return self.trial_id


class RayHarness:
    """Ray Tune's MedianStoppingRule holding only completed trials' histories."""

    def __init__(self, completed: Sequence[Sequence[Point]], direction: str = "minimize") -> None:
        from ray.tune.schedulers import MedianStoppingRule, TrialScheduler

        self._stop = TrialScheduler.STOP
        self.scheduler = MedianStoppingRule(
            time_attr=TIME_ATTR,
            metric=METRIC,
            mode="min" if direction == "minimize" else "max",
            grace_period=0,
            min_samples_required=1,
        )
        self._controller = _Controller()
        for i, curve in enumerate(completed):
            self.scheduler._results[_Trial(f"done-{i}")] = self.results(curve)

    @staticmethod
    def results(curve: Sequence[Point]) -> list[dict[str, float]]:
        return [{TIME_ATTR: int(s), METRIC: float(v)} for s, v in curve]

    def timed_decide(self, name: str, curve: Sequence[Point]) -> tuple[bool, float]:
        """(stop?, seconds inside ``on_trial_result``) for a running job at its latest step."""
        scheduler = self.scheduler
        trial = _Trial(name)
        history = self.results(curve)
        scheduler._results[trial] = history[:-1]
        start = time.perf_counter()
        action = scheduler.on_trial_result(self._controller, trial, history[-1])
        elapsed = time.perf_counter() - start
        del scheduler._results[trial]
        scheduler._stopped_trials.discard(trial)
        return action == self._stop, elapsed
