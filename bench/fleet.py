"""Synthetic, seeded fleets: decaying loss curves with noise, as a group would produce them.

A completed job's curve has a value at every step 1..S (aligned steps, the case where
trainguard, Optuna and Ray Tune mean the same thing by "step"). A running job's curve is a
fresh curve from the same family cut at a random step in 1..S.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True)
class Fleet:
    """``completed``: H reference curves of S steps; ``running``: N curves cut at random steps."""

    completed: list[list[Point]]
    running: list[list[Point]]
    steps: int
    seed: int

    @property
    def names(self) -> list[str]:
        return [f"job-{i:05d}" for i in range(len(self.running))]


def loss_curve(rng: random.Random, steps: int) -> list[Point]:
    """floor + amplitude * exp(-step / tau) + Gaussian noise: a training loss that plateaus.

    The hyperparameter-like spread (floor, amplitude, speed, noise) makes some jobs clearly
    worse than the median and many close to it, so both stop and continue decisions occur.
    """
    floor = rng.uniform(0.05, 0.6)
    amplitude = rng.uniform(0.8, 2.5)
    tau = rng.uniform(20.0, 200.0)
    noise = rng.uniform(0.005, 0.04)
    return [
        (float(s), floor + amplitude * math.exp(-s / tau) + rng.gauss(0.0, noise))
        for s in range(1, steps + 1)
    ]


def make_fleet(completed: int, running: int, steps: int = 500, seed: int = 7) -> Fleet:
    """H completed curves of ``steps`` steps and N running curves at random steps 1..steps."""
    rng = random.Random(f"trainguard-bench/{seed}/{completed}/{running}/{steps}")
    done = [loss_curve(rng, steps) for _ in range(completed)]
    live = [loss_curve(rng, steps)[: rng.randint(1, steps)] for _ in range(running)]
    return Fleet(done, live, steps, seed)


def raw_value_references(curve: list[Point]) -> list[Point]:
    """A curve whose running average at every step equals ``curve``'s raw value there.

    Optuna's MedianPruner compares with the raw value at the step; trainguard (like Vizier,
    SageMaker and Ray) with the running average. Feeding trainguard these rewritten
    references makes the two definitions coincide: v'_k = k*v_k - (k-1)*v_{k-1} telescopes
    to sum(v'_1..k) / k = v_k. Steps must be 1, 2, 3, ... (one value per step).
    """
    out: list[Point] = []
    previous = 0.0
    for k, (step, value) in enumerate(curve, start=1):
        if step != float(k):
            raise ValueError("raw_value_references needs one value at every step 1, 2, 3, ...")
        out.append((step, k * value - (k - 1) * previous))
        previous = value
    return out
