"""Patience rule: stop when the best value has not improved by more than ``min_delta`` for
``patience`` consecutive measurements (Keras ``EarlyStopping``; Optuna ``PatientPruner``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .curves import Curve, Direction, fmt
from .decision import Decision

RULE = "patience"


@dataclass(frozen=True)
class PatienceRule:
    direction: Direction = "minimize"
    patience: int = 5
    min_delta: float = 0.0

    def decide(self, job: str, curve: Curve) -> Decision:
        """Count the finite measurements since the last improvement larger than ``min_delta``."""
        best: float | None = None
        best_step: float | None = None
        waited = 0
        for step, value in curve:
            if not math.isfinite(value):
                continue  # the divergence rule owns non-finite values
            if best is None or self._improves(value, best):
                best, best_step, waited = value, step, 0
            else:
                waited += 1
        if best is None:
            return Decision(
                job,
                RULE,
                False,
                curve[-1][0] if curve else None,
                None,
                None,
                0,
                "no finite measurements yet",
            )
        step = curve[-1][0]
        bar = best - self.min_delta if self.direction == "minimize" else best + self.min_delta
        stop = waited >= self.patience
        reason = (
            f"{'stop' if stop else 'continue'}: best {fmt(best)} at step {fmt(best_step)}; "
            f"{waited} measurement(s) since without an improvement beyond {fmt(self.min_delta)} "
            f"(patience {self.patience})"
        )
        return Decision(job, RULE, stop, step, best, bar, 0, reason)

    def _improves(self, value: float, best: float) -> bool:
        if self.direction == "minimize":
            return value < best - self.min_delta
        return value > best + self.min_delta
