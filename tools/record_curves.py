"""Record real learning curves from real training runs on this machine's CPU.

Run::

    uv run python tools/record_curves.py --out data/curves.jsonl [--seed 0] [--epochs 40]
    make record-curves

What it trains
    Small numpy models with hand-written backprop (no deep-learning framework): a softmax
    classifier and ReLU MLPs (cross-entropy loss, He initialization, float32 like a GPU
    framework), on the datasets that scikit-learn ships offline (``load_digits``,
    ``load_wine``, ``load_breast_cancer``; never ``fetch_*``). Features are standardized with
    the training split's statistics; 30 % of each dataset (stratified) is held out for
    validation. Each epoch shuffles the (possibly subsampled) training set, takes minibatch
    steps with SGD, SGD with momentum 0.9, or Adam, with optional L2 weight decay on the
    weights, then measures validation cross-entropy (without the L2 term) and accuracy.

Groups (one model family on one dataset = "comparable jobs"; see ``GROUPS``)
    ``digits-mlp`` (36 jobs), ``digits-softmax`` (32), ``wine-mlp`` (34) and
    ``breast-cancer-mlp`` (34), each made of sweeps (the ``sweep`` hyperparameter):

    * ``lr``: optimizer (SGD, momentum, Adam) x learning rate, up to rates that are too
      high: MLPs then diverge to inf/NaN, the (convex) softmax model oscillates instead;
    * ``arch`` (``batch`` for the softmax model): width/depth x batch size at a sound rate;
    * ``reg``: L2 on/off x training-set fraction; small subsets without L2 overfit
      (validation loss reaches its minimum, then rises).

Divergence
    At the first epoch whose validation loss (or any weight) is not finite, training stops:
    that epoch is the curve's last point, with value ``null`` (accuracy ``null`` too), and the
    job is ``Failed``, as a framework job that raises on NaN would be.

Output (JSON Lines, one job a line; the curve format every trainguard command reads)::

    {"job": "digits-mlp-017", "group": "digits-mlp", "status": "Completed",
     "objective": "validation:loss", "direction": "minimize",
     "start_minute": 42.0, "minutes_per_step": 1.5,
     "instance_type": "ml.g5.xlarge", "instance_count": 1,
     "curve": [[1, 2.31], [2, 1.87]], "hyperparameters": {"lr": 0.01, ...},
     "accuracy_curve": [[1, 0.41], [2, 0.55]], "seconds_per_epoch": 0.0042}

    Steps are epochs 1..E; values are rounded to 5 significant digits. ``hyperparameters``
    holds the whole config plus ``epochs`` and ``seed`` (``[recorder seed, group index,
    config index]``): ``JobConfig.from_hyperparameters`` and ``train`` retrain any job.
    ``seconds_per_epoch`` is the median CPU time (``time.process_time``, BLAS limited to one
    thread) of the job's epochs, so other load on the machine hardly moves it.

Simulated fleet time
    A job's step s becomes visible at ``start_minute + s * minutes_per_step``.

    * ``start_minute``: each group's jobs are launched in ``WAVES`` waves, ``WAVE_MINUTES``
      apart (a team submitting a batch of sweep jobs every 1.5 h), each job a seeded
      uniform 0-``WAVE_JITTER`` minutes after its wave opens, each group offset by a seeded
      0-30 minutes; configs are dealt to waves in a seeded random order. Jobs are numbered
      in launch order.
    * ``minutes_per_step``: the job's measured seconds per epoch t relative to its group's
      fastest (t_min) and slowest (t_max) jobs, on a log scale onto 1-6 minutes:
      ``1 + 5 * ln(t / t_min) / ln(t_max / t_min)``, rounded to 0.01. The group's fastest
      config takes one minute per epoch on the group's GPU instance, its slowest six: the
      CPU measurement fixes the ordering and the spread (7-55x in CPU time, so a
      linear scale would crowd most jobs at one minute), the scale stands in for GPU-sized
      versions of these models.

Determinism
    Curves, accuracies, statuses, hyperparameters, job names and start minutes are a
    function of ``--seed`` alone (each job's generator is seeded from ``(seed, group index,
    config index)``, the train/validation split from ``seed``). ``seconds_per_epoch`` and
    hence ``minutes_per_step`` are measurements: they move by a few percent between
    recordings (``minutes_per_step`` by up to about 0.4).

Takes about 30 s on two cores; writes about 0.2 MB.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

Array = NDArray[np.float32]

DEFAULT_EPOCHS = 40
VALIDATION_FRACTION = 0.3
WAVES = 4
WAVE_MINUTES = 90.0
WAVE_JITTER = 20.0
MIN_MINUTES_PER_STEP = 1.0
MAX_MINUTES_PER_STEP = 6.0
SIGNIFICANT_DIGITS = 5

_LOADERS: dict[str, Callable[..., Any]] = {
    "digits": load_digits,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Split:
    x_train: Array
    y_train: NDArray[np.int64]
    x_val: Array
    y_val: NDArray[np.int64]
    n_classes: int


@functools.cache
def load_split(dataset: str, seed: int) -> Split:
    """The dataset's stratified train/validation split, standardized on the training part."""
    bunch = _LOADERS[dataset]()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=VALIDATION_FRACTION, stratify=y, random_state=seed
    )
    mean = x_tr.mean(axis=0)
    std = x_tr.std(axis=0)
    std[std == 0] = 1.0  # digits has constant (always blank) pixels
    return Split(
        x_train=((x_tr - mean) / std).astype(np.float32),
        y_train=y_tr,
        x_val=((x_va - mean) / std).astype(np.float32),
        y_val=y_va,
        n_classes=int(y.max()) + 1,
    )


def _stratified_subset(
    y: NDArray[np.int64], fraction: float, rng: np.random.Generator
) -> NDArray[np.int64]:
    if fraction >= 1.0:
        return np.arange(len(y))
    picks = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        take = max(2, math.ceil(fraction * len(members)))
        picks.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(picks))


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class JobConfig:
    """One training job's hyperparameters (what is recorded under ``hyperparameters``)."""

    dataset: str
    hidden: tuple[int, ...]  # () is a softmax (multinomial logistic) classifier
    optimizer: str  # "sgd" | "momentum" | "adam"
    lr: float
    batch_size: int
    l2: float = 0.0
    train_fraction: float = 1.0
    sweep: str = ""

    def hyperparameters(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any]) -> JobConfig:
        """The config back from a recorded job's ``hyperparameters`` (extra keys ignored)."""
        fields = {k: hp[k] for k in cls.__dataclass_fields__ if k in hp}
        return cls(**{**fields, "hidden": tuple(hp["hidden"])})


@dataclass
class TrainResult:
    loss: list[float | None] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def diverged(self) -> bool:
        return bool(self.loss) and self.loss[-1] is None


def _forward(params: list[tuple[Array, Array]], x: Array) -> tuple[Array, list[Array]]:
    """Logits and the activations of each layer's input (for backprop)."""
    inputs = []
    h = x
    for i, (w, b) in enumerate(params):
        inputs.append(h)
        z = h @ w + b
        h = np.maximum(z, 0) if i < len(params) - 1 else z
    return h, inputs


def _log_softmax(logits: NDArray[Any]) -> NDArray[Any]:
    shifted = logits - logits.max(axis=1, keepdims=True)
    out: NDArray[Any] = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return out


def _evaluate(
    params: list[tuple[Array, Array]], x: Array, y: NDArray[np.int64]
) -> tuple[float, float]:
    logits, _ = _forward(params, x)
    logits = logits.astype(np.float64)  # so that tiny losses keep their digits
    logp = _log_softmax(logits)
    loss = float(-logp[np.arange(len(y)), y].mean())
    accuracy = float((logits.argmax(axis=1) == y).mean())
    return loss, accuracy


class _Optimizer:
    """SGD, SGD with (heavy-ball) momentum 0.9, or Adam; L2 decay added to weight grads."""

    def __init__(self, kind: str, lr: float, shapes: list[tuple[int, ...]]) -> None:
        if kind not in ("sgd", "momentum", "adam"):
            raise ValueError(f"optimizer must be sgd, momentum or adam, got {kind!r}")
        self.kind, self.lr, self.t = kind, np.float32(lr), 0
        self.m = [np.zeros(s, dtype=np.float32) for s in shapes]
        self.v = [np.zeros(s, dtype=np.float32) for s in shapes]

    def step(self, tensors: list[Array], grads: list[Array]) -> None:
        self.t += 1
        for i, (p, g) in enumerate(zip(tensors, grads, strict=True)):
            if self.kind == "sgd":
                p -= self.lr * g
            elif self.kind == "momentum":
                self.m[i] = np.float32(0.9) * self.m[i] + g
                p -= self.lr * self.m[i]
            else:
                self.m[i] = np.float32(0.9) * self.m[i] + np.float32(0.1) * g
                self.v[i] = np.float32(0.999) * self.v[i] + np.float32(0.001) * g * g
                m_hat = self.m[i] / np.float32(1 - 0.9**self.t)
                v_hat = self.v[i] / np.float32(1 - 0.999**self.t)
                p -= self.lr * m_hat / (np.sqrt(v_hat) + np.float32(1e-8))


def train(
    config: JobConfig, epochs: int, seed: int | Sequence[int], split_seed: int = 0
) -> TrainResult:
    """Train one config for up to ``epochs`` epochs; stop at the first non-finite epoch.

    ``seed`` drives initialization, the training subset and minibatch order; ``split_seed``
    the train/validation split. The result's last loss is None when the job diverged.
    """
    rng = np.random.default_rng(seed)
    split = load_split(config.dataset, split_seed)
    keep = _stratified_subset(split.y_train, config.train_fraction, rng)
    x, y = split.x_train[keep], split.y_train[keep]
    sizes = [x.shape[1], *config.hidden, split.n_classes]
    params = [
        (
            (rng.standard_normal((a, b)) * math.sqrt(2.0 / a)).astype(np.float32),
            np.zeros(b, dtype=np.float32),
        )
        for a, b in itertools.pairwise(sizes)
    ]
    tensors = [t for pair in params for t in pair]
    opt = _Optimizer(config.optimizer, config.lr, [t.shape for t in tensors])
    l2 = np.float32(config.l2)
    result = TrainResult()
    with np.errstate(all="ignore"):  # overflow to inf/NaN is the divergence we record
        for _ in range(epochs):
            began = time.process_time()
            order = rng.permutation(len(y))
            for start in range(0, len(y), config.batch_size):
                idx = order[start : start + config.batch_size]
                xb, yb = x[idx], y[idx]
                logits, inputs = _forward(params, xb)
                probs = np.exp(_log_softmax(logits))
                probs[np.arange(len(yb)), yb] -= 1.0
                delta = probs / np.float32(len(yb))  # d(mean CE)/d(logits)
                grads: list[Array] = []
                for i in range(len(params) - 1, -1, -1):
                    w, _b = params[i]
                    grads = [inputs[i].T @ delta + l2 * w, delta.sum(axis=0), *grads]
                    if i > 0:
                        delta = (delta @ w.T) * (inputs[i] > 0)
                opt.step(tensors, grads)
            loss, accuracy = _evaluate(params, split.x_val, split.y_val)
            result.seconds.append(time.process_time() - began)
            finite = math.isfinite(loss) and all(np.isfinite(t).all() for t in tensors)
            if not finite:
                result.loss.append(None)
                result.accuracy.append(None)
                break
            result.loss.append(loss + 0.0)  # no -0.0 in the file
            result.accuracy.append(accuracy)
    return result


# --------------------------------------------------------------------------- sweeps


def _grid(dataset: str, sweep: str, **axes: Any) -> list[JobConfig]:
    """Every combination of the axes' values (a list) and fixed values (anything else)."""
    keys = list(axes)
    combos: list[dict[str, Any]] = [{}]
    for key in keys:
        values = axes[key] if isinstance(axes[key], list) else [axes[key]]
        combos = [{**c, key: v} for c in combos for v in values]
    return [JobConfig(dataset=dataset, sweep=sweep, **c) for c in combos]


def _lr_sweep(
    dataset: str, hidden: tuple[int, ...], batch_size: int, rates: dict[str, list[float]]
) -> list[JobConfig]:
    return [
        cfg
        for optimizer, lrs in rates.items()
        for cfg in _grid(
            dataset, "lr", hidden=hidden, optimizer=optimizer, lr=lrs, batch_size=batch_size
        )
    ]


@dataclass(frozen=True)
class GroupSpec:
    """A group of comparable jobs: one model family on one dataset, on one fleet shape."""

    name: str
    instance_type: str
    instance_count: int
    configs: tuple[JobConfig, ...]


GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec(
        "digits-mlp",
        "ml.g5.xlarge",
        1,
        (
            *_lr_sweep(
                "digits",
                (64,),
                32,
                {
                    "sgd": [0.03, 0.1, 0.3, 1.0, 3.0],
                    "momentum": [0.01, 0.03, 0.1, 0.3, 1.0],
                    "adam": [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1],
                },
            ),
            *_grid(
                "digits",
                "arch",
                hidden=[(32,), (128,), (256,), (64, 64), (128, 128), (256, 128)],
                optimizer="adam",
                lr=1e-3,
                batch_size=[16, 128],
                l2=1e-4,
            ),
            *_grid(
                "digits",
                "reg",
                hidden=(256, 256),
                optimizer="adam",
                lr=3e-3,
                batch_size=8,
                l2=[0.0, 1e-3],
                train_fraction=[1.0, 0.25, 0.1],
            ),
            *_grid(
                "digits",
                "reg",
                hidden=(256, 256),
                optimizer="adam",
                lr=1e-2,
                batch_size=16,
                train_fraction=[0.25, 0.1],
            ),
        ),
    ),
    GroupSpec(
        "digits-softmax",
        "ml.g4dn.xlarge",
        1,
        (
            *_lr_sweep(
                "digits",
                (),
                32,
                {
                    "sgd": [0.01, 0.1, 1.0, 10.0, 30.0],
                    "momentum": [0.003, 0.03, 0.3, 3.0],
                    "adam": [1e-3, 1e-2, 0.1, 1.0],
                },
            ),
            *_grid(
                "digits",
                "batch",
                hidden=(),
                optimizer="sgd",
                lr=0.1,
                batch_size=[8, 16, 64, 128, 256, 512],
            ),
            *_grid(
                "digits",
                "batch",
                hidden=(),
                optimizer="adam",
                lr=1e-2,
                batch_size=[8, 64, 256],
            ),
            *_grid(
                "digits",
                "reg",
                hidden=(),
                optimizer="adam",
                lr=3e-2,
                batch_size=8,
                l2=[0.0, 1e-4, 1e-3, 1e-2],
                train_fraction=[1.0, 0.1],
            ),
            *_grid(
                "digits",
                "reg",
                hidden=(),
                optimizer="sgd",
                lr=0.3,
                batch_size=8,
                train_fraction=[0.1, 0.05],
            ),
        ),
    ),
    GroupSpec(
        "wine-mlp",
        "ml.p3.2xlarge",
        1,
        (
            *_lr_sweep(
                "wine",
                (32,),
                16,
                {
                    "sgd": [0.01, 0.1, 1.0, 3.0, 10.0],
                    "momentum": [0.01, 0.1, 0.3, 1.0, 3.0],
                    "adam": [1e-3, 1e-2, 0.1, 1.0],
                },
            ),
            *_grid(
                "wine",
                "arch",
                hidden=[(8,), (16,), (64,), (256,), (32, 32), (64, 64)],
                optimizer="adam",
                lr=1e-2,
                batch_size=[8, 32],
                l2=1e-4,
            ),
            *_grid(
                "wine",
                "reg",
                hidden=(128,),
                optimizer="adam",
                lr=1e-2,
                batch_size=8,
                l2=[0.0, 1e-2],
                train_fraction=[1.0, 0.5, 0.25],
            ),
            *_grid(
                "wine",
                "reg",
                hidden=(128,),
                optimizer="momentum",
                lr=0.1,
                batch_size=8,
                train_fraction=[0.5, 0.25],
            ),
        ),
    ),
    GroupSpec(
        # Two single-GPU nodes: the multi-node shape (one idle node is the GPU-idle finding).
        "breast-cancer-mlp",
        "ml.g5.2xlarge",
        2,
        (
            *_lr_sweep(
                "breast_cancer",
                (32,),
                32,
                {
                    "sgd": [0.01, 0.1, 1.0, 3.0, 10.0],
                    "momentum": [0.01, 0.1, 0.3, 1.0, 3.0],
                    "adam": [1e-4, 1e-3, 1e-2, 0.1],
                },
            ),
            *_grid(
                "breast_cancer",
                "arch",
                hidden=[(16,), (64,), (256,), (32, 32), (128, 128), (256, 128)],
                optimizer="adam",
                lr=1e-3,
                batch_size=[16, 64],
                l2=1e-4,
            ),
            *_grid(
                "breast_cancer",
                "reg",
                hidden=(256,),
                optimizer="adam",
                lr=3e-3,
                batch_size=16,
                l2=[0.0, 1e-2],
                train_fraction=[1.0, 0.4, 0.15],
            ),
            *_grid(
                "breast_cancer",
                "reg",
                hidden=(256,),
                optimizer="sgd",
                lr=0.1,
                batch_size=16,
                train_fraction=[0.4, 0.15],
            ),
        ),
    ),
)


# --------------------------------------------------------------------------- recording


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (keeps the file small)."""
    return float(f"{value:.{digits}g}")


def curve_shape(values: Sequence[float | None], patience: int = 5, margin: float = 0.1) -> str:
    """How a validation-loss curve behaved, for the summary and the data README.

    * ``diverged``: ends in a non-finite value (``None``);
    * ``unstable``: finite, but never improved on its first epoch, or ended above three
      times its best (too-high rates that blow up without reaching inf);
    * ``overfit``: bottomed out at least ``patience`` epochs before the end and rose since
      by more than ``margin`` relative and 0.01 absolute;
    * ``converging``: anything else (still improving, or flat near its best).
    """
    if values and values[-1] is None:
        return "diverged"
    finite = [float(v) for v in values if v is not None]
    best = min(finite)
    at = finite.index(best)
    if at == 0 or finite[-1] > 3 * best:
        return "unstable"
    rose = finite[-1] > best * (1 + margin) and finite[-1] - best > 0.01
    return "overfit" if at < len(finite) - patience and rose else "converging"


def minutes_per_step(seconds: float, fastest: float, slowest: float) -> float:
    """Measured CPU seconds per epoch -> simulated GPU minutes per epoch (log scale, 1-6)."""
    if slowest <= fastest:
        return MIN_MINUTES_PER_STEP
    position = math.log(seconds / fastest) / math.log(slowest / fastest)
    span = MAX_MINUTES_PER_STEP - MIN_MINUTES_PER_STEP
    return round(MIN_MINUTES_PER_STEP + span * min(max(position, 0.0), 1.0), 2)


def _curve(values: Sequence[float | None]) -> list[list[float | int | None]]:
    return [[step, None if v is None else significant(v)] for step, v in enumerate(values, start=1)]


def record_group(group_index: int, spec: GroupSpec, seed: int, epochs: int) -> list[dict[str, Any]]:
    """Train every config of the group; the group's jobs in launch order, ready for JSON."""
    runs = [
        (cfg, [seed, group_index, i], train(cfg, epochs, (seed, group_index, i), seed))
        for i, cfg in enumerate(spec.configs)
    ]
    per_epoch = [float(np.median(r.seconds)) for _, _, r in runs]
    fastest, slowest = min(per_epoch), max(per_epoch)

    fleet = np.random.default_rng((seed, group_index, 1_000_000))
    offset = float(fleet.uniform(0.0, 30.0))
    order = fleet.permutation(len(runs))
    starts = np.empty(len(runs))
    for rank, i in enumerate(order):
        wave = rank * WAVES // len(runs)
        starts[i] = offset + wave * WAVE_MINUTES + fleet.uniform(0.0, WAVE_JITTER)

    jobs = []
    for number, i in enumerate(np.argsort(starts, kind="stable"), start=1):
        cfg, job_seed, result = runs[i]
        jobs.append(
            {
                "job": f"{spec.name}-{number:03d}",
                "group": spec.name,
                "status": "Failed" if result.diverged else "Completed",
                "objective": "validation:loss",
                "direction": "minimize",
                "start_minute": round(float(starts[i]), 2),
                "minutes_per_step": minutes_per_step(per_epoch[i], fastest, slowest),
                "instance_type": spec.instance_type,
                "instance_count": spec.instance_count,
                "curve": _curve(result.loss),
                "hyperparameters": {**cfg.hyperparameters(), "epochs": epochs, "seed": job_seed},
                "accuracy_curve": _curve(result.accuracy),
                "seconds_per_epoch": significant(per_epoch[i]),
            }
        )
    return jobs


def record(
    seed: int, epochs: int, groups: Sequence[GroupSpec] = GROUPS
) -> Iterator[dict[str, Any]]:
    """All groups' jobs (BLAS single-threaded: stable CPU timings, reproducible sums)."""
    with threadpool_limits(limits=1):
        for index, spec in enumerate(groups):
            yield from record_group(index, spec, seed, epochs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON Lines file to write")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    args = parser.parse_args(argv)

    began = time.perf_counter()
    jobs = list(record(args.seed, args.epochs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    with tmp.open("w") as f:
        for job in jobs:
            f.write(json.dumps(job, allow_nan=False) + "\n")
    tmp.replace(args.out)

    shapes = ("diverged", "unstable", "overfit", "converging")
    print(f"{'group':<20}{'jobs':>5}" + "".join(f"{s:>11}" for s in shapes), file=sys.stderr)
    for spec in GROUPS:
        mine = [j for j in jobs if j["group"] == spec.name]
        counts = Counter(curve_shape([v for _, v in j["curve"]]) for j in mine)
        print(
            f"{spec.name:<20}{len(mine):>5}" + "".join(f"{counts[s]:>11}" for s in shapes),
            file=sys.stderr,
        )
    size = args.out.stat().st_size
    print(
        f"{len(jobs)} jobs -> {args.out} ({size / 1024:.0f} KiB) "
        f"in {time.perf_counter() - began:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
