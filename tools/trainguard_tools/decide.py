"""``trainguard decide SNAPSHOT.json``: the decision core on one snapshot, as JSON.

``rule.name`` ``catch-up`` (the default, also when ``rule`` or its name is left out) runs every
objective rule the evaluator runs under the default policy (``JobSettings.rules``: catch-up and
divergence, and the others the policy turns on), the catch-up model built from the completed
curves and each running job's streak counted over its reports, as the evaluator counts it tick
by tick. ``median`` and ``patience`` run exactly that rule (with divergence).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from trainguard.core.curves import DIRECTIONS
from trainguard.core.divergence import DivergenceRule
from trainguard.core.engine import ObjectiveRules, verdict
from trainguard.core.median import DirectReferences, MedianStoppingRule
from trainguard.core.patience import PatienceRule

from .curvefile import CurveError, parse_curve

if TYPE_CHECKING:
    from trainguard.core.curves import Direction


class SnapshotError(ValueError):
    """The snapshot cannot be decided; the message says what is wrong."""


RULES = ("catch-up", "median", "patience")
DEFAULT_RULE = "catch-up"
#: rule.<key> -> the catch-up settings' field (the policy schema validates the values)
CATCHUP_KEYS = {
    "min_completed": "min_completed",
    "k": "noise_multiple",
    "noise_multiple": "noise_multiple",
    "consecutive": "consecutive",
}

DECIDE_DESCRIPTION = """\
Decide, for each running job of a snapshot file, whether trainguard would stop it now, and
why (JSON). The snapshot holds the group's completed curves and the running ones:

  {"rule": {"name": "catch-up", "direction": "minimize"},
   "completed": {"job-a": [[1, 0.9], [2, 0.7], [3, 0.6]], ...},
   "running":   {"job-x": [[1, 1.0], [2, 0.95]]}}

rule.name: catch-up (the default: every objective rule the evaluator runs under the default
policy; optional k, consecutive, min_completed), median (min_completed, grace) or patience
(patience, min_delta). Each list of [step, value] pairs is one job's objective curve.
"""


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
    rule = snapshot.get("rule", {})
    if not isinstance(rule, Mapping):
        raise SnapshotError(f"rule must be an object with a name ({', '.join(RULES)})")
    name = rule.get("name", DEFAULT_RULE)
    if name not in RULES:
        raise SnapshotError(f"unknown rule {name!r}: expected one of {', '.join(RULES)}")
    direction = rule.get("direction", "minimize")
    if direction not in DIRECTIONS:
        raise SnapshotError(f"rule.direction must be 'minimize' or 'maximize', got {direction!r}")
    running = _curves(snapshot, "running", required=True)
    if name == DEFAULT_RULE:
        return {"decisions": _evaluator_decisions(snapshot, rule, direction, running)}
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


def _evaluator_decisions(
    snapshot: Mapping[str, Any],
    rule: Mapping[str, Any],
    direction: str,
    running: Mapping[str, list[tuple[float, float]]],
) -> list[dict[str, Any]]:
    """Every objective rule of the default policy, as the evaluator builds and runs them."""
    from trainguard.config import JobSettings, Policy, PolicyError
    from trainguard.core.catchup import CatchUpModel
    from trainguard.core.median import DirectReferences

    overrides = {CATCHUP_KEYS[k]: v for k, v in rule.items() if k in CATCHUP_KEYS}
    try:
        policy = Policy().with_sections({"catchup": overrides}) if overrides else Policy()
    except PolicyError as exc:
        raise SnapshotError(f"rule: {exc}") from exc
    settings = JobSettings(
        group="snapshot",
        objective=None,
        direction=cast("Direction", direction),  # checked against DIRECTIONS above
        mode=policy.mode,
        policy=policy,
    )
    rules = settings.rules
    completed = _curves(snapshot, "completed", required=True)
    references = DirectReferences(completed) if rules.median else None
    model = CatchUpModel.build(completed, rules.direction) if rules.catchup else None
    decisions = []
    for job, curve in running.items():
        streak = None
        for end in range(1, len(curve)):  # the reports before the latest, one tick each
            summary = rules.summarize(curve[:end])
            _, streak = rules.stop_and_streak(
                job, summary, references, catchup_model=model, streak=streak
            )
        chosen = verdict(rules.decide(job, curve, references, catchup_model=model, streak=streak))
        if chosen is None:
            raise SnapshotError(f"running.{job}: no rule decided (an empty curve?)")
        decisions.append(chosen.to_dict())
    return decisions


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
    parser = sub.add_parser(
        "decide",
        help="decisions for one snapshot of curves, as JSON",
        description=DECIDE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("snapshot", help="JSON file: rule, completed and running curves")
    parser.add_argument("--pretty", action="store_true", help="indent the JSON output")
    parser.set_defaults(func=_run)
