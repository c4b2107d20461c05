"""A reference set's statistics as a pure fold over its references, one record per reference.

The lifecycle reads the set's stored statistics and the window's curves, calls
:func:`fold_group` with the completed jobs that join, and writes the result: the work and the
result's size do not grow with the group's history (the window keeps the ``limit`` most recent
references; the catch-up model is bounded by its step grid).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field

from .catchup import CatchUpModel
from .curves import Curve, Direction, median
from .median import ReferenceTable
from .values import frozen


@frozen
class Reference:
    """One completed job of a reference set: its run id (``name@created_ms``), its duration,
    its samples/s per instance (None: it had no throughput metric) and its instance count."""

    run: str
    duration_min: float
    throughput_per_instance: float | None = None
    instances: int = 1


@frozen
class GroupFigures:
    """What the fold produces: the window (oldest first), the completions ever taken in, the
    median tables by ``table_key``, the median duration and the catch-up model."""

    window: tuple[Reference, ...] = ()
    completed: int = 0
    tables: dict[str, ReferenceTable] = field(default_factory=dict)
    median_duration_min: float | None = None
    catchup: CatchUpModel | None = None
    rejected: tuple[tuple[str, str], ...] = ()  # (run, why): curves the catch-up model refused


def join(
    window: Sequence[Reference], new: Iterable[Reference], limit: int
) -> tuple[tuple[Reference, ...], tuple[Reference, ...]]:
    """(the window with the references of ``new`` that it does not hold yet, at most
    ``limit`` of the most recent; those that joined)."""
    present = {r.run for r in window}
    added = tuple(r for r in new if r.run not in present)
    return (*window, *added)[-limit:], added


def median_duration(window: Iterable[Reference]) -> float | None:
    """The median of the references' positive durations (None: none)."""
    kept = [r.duration_min for r in window if r.duration_min > 0]
    return median(kept) if kept else None


def table_for_key(key: str, curves: Mapping[str, Curve]) -> ReferenceTable:
    """The table a median rule with this ``table_key`` reads."""
    if key == "all":
        return ReferenceTable.build(curves)
    grace = float(key.removeprefix("since_grace:"))
    return ReferenceTable.build(curves, grace, average="since_grace")


def fold_catchup(
    model: CatchUpModel, curves: Iterable[tuple[str, Curve]]
) -> tuple[CatchUpModel, tuple[tuple[str, str], ...]]:
    """``model`` with the curves folded in, in order; (the model, the (run, why) of the
    curves it refused: not usable, so no reference of the rule)."""
    rejected: list[tuple[str, str]] = []
    for run, curve in curves:
        try:
            model = model.add(curve)
        except ValueError as exc:
            rejected.append((run, str(exc)))
    return model, tuple(rejected)


def fold_group(
    before: GroupFigures | None,
    new: Sequence[Reference],
    curves: Mapping[str, Curve],
    *,
    direction: Direction,
    table_keys: Iterable[str],
    limit: int,
) -> GroupFigures | None:
    """The set's figures with ``new`` taken in; None when ``new`` is not empty and every one
    of them is in the window already (a duplicate completion).

    ``curves``: the window's curves by run id, in the rules' steps (a run without a curve
    enters no table); ``table_keys``: the median tables to build. The catch-up model takes
    in the new references only (O(their curves)); figures without a model start one from
    the window's curves, oldest first.
    """
    old = before or GroupFigures()
    window, added = join(old.window, new, limit)
    if new and not added:
        return None
    stepped = {r.run: curves[r.run] for r in window if r.run in curves}
    if old.catchup is None:
        model, adding = CatchUpModel(direction), [r.run for r in window]
    else:
        model, adding = old.catchup, [r.run for r in added]
    catchup, rejected = fold_catchup(
        model, ((run, stepped[run]) for run in adding if run in stepped)
    )
    return GroupFigures(
        window=window,
        completed=old.completed + len(added),
        tables={key: table_for_key(key, stepped) for key in sorted(set(table_keys))},
        median_duration_min=median_duration(window),
        catchup=catchup,
        rejected=rejected,
    )
