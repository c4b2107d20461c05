"""``trainguard decide SNAPSHOT.json``: the decision core on one snapshot, as JSON."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from typing import Any

from trainguard.core.curves import DIRECTIONS
from trainguard.core.divergence import DivergenceRule
from trainguard.core.engine import ObjectiveRules, verdict
from trainguard.core.median import DirectReferences, MedianStoppingRule
from trainguard.core.patience import PatienceRule

from .curvefile import CurveError, parse_curve


class SnapshotError(ValueError):
    """The snapshot cannot be decided; the message says what is wrong."""


RULES = ("median", "patience")


def _number(rule: Mapping[str, Any], key: str, default: float, *, integer: bool = False) -> Any:
    value = rule.get(key, default)
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if integer:
        ok = ok and float(value).is_integer() and value >= 1
    elif ok:
        ok = value >= 0
    if not ok:
        kind = "an integer >= 1" if integer else "a number >= 0"
        raise SnapshotError(f"rule.{key} must be {kind}, got {value!r}")
    return int(value) if integer else float(value)


def _curves(
    snapshot: Mapping[str, Any], key: str, *, required: bool
) -> dict[str, list[tuple[float, float]]]:
    raw = snapshot.get(key)
    if raw is None and not required:
        return {}
    if not isinstance(raw, Mapping):
        raise SnapshotError(f"{key} must be an object mapping job names to [[step, value], ...]")
    out = {}
    for job, curve in raw.items():
        if not isinstance(curve, list):
            raise SnapshotError(f"{key}.{job} must be a list of [step, value] pairs")
        try:
            out[str(job)] = parse_curve(curve, name=f"{key}.{job}")
        except CurveError as exc:
            raise SnapshotError(str(exc)) from exc
    return out


def decide_snapshot(snapshot: object) -> dict[str, Any]:
    """Decisions for every running job of a snapshot, in input order."""
    if not isinstance(snapshot, Mapping):
        raise SnapshotError("snapshot must be a JSON object with rule, completed and running")
    rule = snapshot.get("rule")
    if not isinstance(rule, Mapping):
        raise SnapshotError("rule must be an object with a name ('median' or 'patience')")
    name = rule.get("name")
    if name not in RULES:
        raise SnapshotError(f"unknown rule {name!r}: expected one of {', '.join(RULES)}")
    direction = rule.get("direction", "minimize")
    if direction not in DIRECTIONS:
        raise SnapshotError(f"rule.direction must be 'minimize' or 'maximize', got {direction!r}")
    running = _curves(snapshot, "running", required=True)
    divergence = DivergenceRule(direction=direction)
    if name == "median":
        # the spec's rule (DESIGN.md): grace is a gate only; averages over every step <= s
        median = MedianStoppingRule(
            direction=direction,
            min_completed=_number(rule, "min_completed", 3, integer=True),
            grace=_number(rule, "grace", 0.0),
        )
        references = DirectReferences(_curves(snapshot, "completed", required=True))
        rules = ObjectiveRules(median=median, divergence=divergence)
    else:
        patience = PatienceRule(
            direction=direction,
            patience=_number(rule, "patience", 5, integer=True),
            min_delta=_number(rule, "min_delta", 0.0),
        )
        references = None
        rules = ObjectiveRules(patience=patience, divergence=divergence)
    decisions = []
    for job, curve in running.items():
        chosen = verdict(rules.decide(job, curve, references))
        assert chosen is not None  # a comparison rule always decides
        decisions.append(chosen.to_dict())
    return {"decisions": decisions}


def load_snapshot(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"not valid JSON: {exc}") from exc


def _run(args: argparse.Namespace) -> int:
    try:
        with open(args.snapshot, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        print(f"trainguard decide: cannot read {args.snapshot}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        result = decide_snapshot(load_snapshot(text))
    except SnapshotError as exc:
        print(f"trainguard decide: {args.snapshot}: {exc}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=2 if args.pretty else None)
    sys.stdout.write("\n")
    return 0


def register(sub: Any) -> None:
    """``trainguard decide SNAPSHOT.json [--pretty]``."""
    parser = sub.add_parser("decide", help="decisions for one snapshot of curves, as JSON")
    parser.add_argument("snapshot", help="JSON file: rule, completed and running curves")
    parser.add_argument("--pretty", action="store_true", help="indent the JSON output")
    parser.set_defaults(func=_run)
