"""Curve files: past training jobs as JSON Lines, one job a line.

The format every command that reads curves uses (``data/curves.jsonl``, ``trainguard replay``,
the local run)::

    {"job": "digits-mlp-017", "group": "digits-mlp", "status": "Completed",
     "objective": "validation:loss", "direction": "minimize",
     "start_minute": 42.0, "minutes_per_step": 1.5,
     "instance_type": "ml.g5.xlarge", "instance_count": 1,
     "curve": [[1, 2.31], [2, 1.87]], "hyperparameters": {"lr": 0.01}}

A measurement at step s is produced at ``start_minute + s * minutes_per_step``; the job ends at
its last measurement, or at ``end_minute`` when a line gives one (the CloudWatch reader does:
a job usually runs on a little after its last datapoint). ``null`` values mean NaN (JSON has no
NaN literal). Optional ``tags`` (a map) carry per-job rule overrides such as
``trainguard:min-completed``. Any other field is kept in ``extras`` and written back unchanged.

An invalid line is reported with its line number; the rest of the file still loads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from trainguard.core.curves import DIRECTIONS, Direction, Point

Status = Literal["Completed", "Failed", "Stopped"]
STATUSES: tuple[Status, ...] = ("Completed", "Failed", "Stopped")

_KNOWN = {
    "job",
    "group",
    "status",
    "objective",
    "direction",
    "start_minute",
    "minutes_per_step",
    "instance_type",
    "instance_count",
    "curve",
    "hyperparameters",
    "end_minute",
    "tags",
}


class CurveError(ValueError):
    """A curve that cannot be evaluated (non-numeric or non-increasing steps)."""


def parse_curve(raw: Iterable[object], *, name: str = "curve") -> list[Point]:
    """Validate ``[[step, value], ...]`` into a list of float pairs.

    Steps must be finite numbers and strictly increasing; values may be any number, NaN and
    infinities included (the divergence rule needs to see them). ``None`` as a value means
    NaN, because JSON has no NaN literal.
    """
    points: list[Point] = []
    for index, item in enumerate(raw):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise CurveError(f"{name}[{index}]: expected [step, value], got {item!r}")
        step, value = item
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step):
            raise CurveError(f"{name}[{index}]: step must be a finite number, got {step!r}")
        if value is None:
            value = math.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CurveError(f"{name}[{index}]: value must be a number, got {value!r}")
        if points and step <= points[-1][0]:
            raise CurveError(
                f"{name}[{index}]: steps must increase, got {step!r} after {points[-1][0]!r}"
            )
        points.append((float(step), float(value)))
    return points


class CurveFileError(ValueError):
    """One line that cannot be used; the message names the field."""


@dataclass(frozen=True)
class CurveRecord:
    """One past training job and its objective curve."""

    job: str
    group: str
    status: Status
    objective: str
    direction: Direction
    start_minute: float
    minutes_per_step: float
    instance_type: str
    instance_count: int
    curve: tuple[Point, ...]
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    end_minute: float | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)

    def produced_at(self, step: float) -> float:
        """Minute at which the job produced its measurement at ``step``."""
        return self.start_minute + step * self.minutes_per_step

    @property
    def end(self) -> float:
        """Minute the job ended: its last measurement, or ``end_minute`` if that is later."""
        last = self.produced_at(self.curve[-1][0]) if self.curve else self.start_minute
        return last if self.end_minute is None else max(last, self.end_minute)

    @property
    def final_value(self) -> float | None:
        """The value of the last measurement (None when there is none or it is NaN/inf)."""
        if not self.curve:
            return None
        v = self.curve[-1][1]
        return v if math.isfinite(v) else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job": self.job,
            "group": self.group,
            "status": self.status,
            "objective": self.objective,
            "direction": self.direction,
            "start_minute": self.start_minute,
            "minutes_per_step": self.minutes_per_step,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "curve": [[_json_step(s), v if math.isfinite(v) else None] for s, v in self.curve],
            "hyperparameters": dict(self.hyperparameters),
        }
        if self.end_minute is not None:
            out["end_minute"] = self.end_minute
        if self.tags:
            out["tags"] = dict(self.tags)
        out.update(self.extras)
        return out


def _json_step(step: float) -> float | int:
    return int(step) if step.is_integer() else step


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CurveFileError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _number(raw: Mapping[str, Any], key: str, *, positive: bool = False) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CurveFileError(f"{key} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise CurveFileError(f"{key} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def record_from_dict(raw: object) -> CurveRecord:
    """Validate one parsed line; raises :class:`CurveFileError` naming the bad field."""
    if not isinstance(raw, Mapping):
        raise CurveFileError(f"expected a JSON object, got {type(raw).__name__}")
    status = raw.get("status")
    if status not in STATUSES:
        raise CurveFileError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    direction = raw.get("direction", "minimize")
    if direction not in DIRECTIONS:
        raise CurveFileError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    count = raw.get("instance_count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise CurveFileError(f"instance_count must be an integer >= 1, got {count!r}")
    curve_raw = raw.get("curve")
    if not isinstance(curve_raw, list):
        raise CurveFileError("curve must be a list of [step, value] pairs")
    try:
        curve = parse_curve(curve_raw, name="curve")
    except CurveError as exc:
        raise CurveFileError(str(exc)) from exc
    if curve and curve[0][0] < 0:
        raise CurveFileError(f"curve[0]: steps must be >= 0, got {curve[0][0]!r}")
    hyper = raw.get("hyperparameters", {})
    if not isinstance(hyper, Mapping):
        raise CurveFileError("hyperparameters must be an object")
    tags = raw.get("tags", {})
    if not isinstance(tags, Mapping):
        raise CurveFileError("tags must be an object of strings")
    end_minute = None if raw.get("end_minute") is None else _number(raw, "end_minute")
    return CurveRecord(
        job=_str(raw, "job"),
        group=_str(raw, "group"),
        status=status,
        objective=_str(raw, "objective"),
        direction=direction,
        start_minute=_number(raw, "start_minute"),
        minutes_per_step=_number(raw, "minutes_per_step", positive=True),
        instance_type=_str(raw, "instance_type"),
        instance_count=count,
        curve=tuple(curve),
        hyperparameters=dict(hyper),
        end_minute=end_minute,
        tags={str(k): str(v) for k, v in tags.items()},
        extras={k: v for k, v in raw.items() if k not in _KNOWN},
    )


def parse_lines(lines: Iterable[str]) -> tuple[list[CurveRecord], list[str]]:
    """Records and errors (``"line N: ..."``) from JSON Lines text; blank lines are skipped.

    A job name seen twice is an error on the later line (the replay keys jobs by name).
    """
    records: list[CurveRecord] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = record_from_dict(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(f"line {number}: not valid JSON ({exc.msg})")
            continue
        except CurveFileError as exc:
            errors.append(f"line {number}: {exc}")
            continue
        if record.job in seen:
            errors.append(f"line {number}: job {record.job!r} already on line {seen[record.job]}")
            continue
        seen[record.job] = number
        records.append(record)
    return records, errors


def load_curves(path: str | Path) -> tuple[list[CurveRecord], list[str]]:
    """Load a curve file: ``(records, errors)``; raises OSError only if it cannot be read."""
    with open(path, encoding="utf-8") as fh:
        return parse_lines(fh)


def dump_curves(records: Iterable[CurveRecord], path: str | Path) -> int:
    """Write records as JSON Lines (NaN/inf values become null); returns the count."""
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record.to_dict(), allow_nan=False) + "\n")
            count += 1
    return count
