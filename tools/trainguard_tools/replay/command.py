"""``trainguard replay``: what would the policy have stopped, saved and cost on past jobs?

The curves come from a curve file or, with ``--from-cloudwatch``, from the account's past
jobs (:mod:`.cloudwatch`); the engine is :mod:`.engine`, the tables :mod:`.report`, the
figures :mod:`.plots` (matplotlib, the ``local`` dependency group).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from trainguard.config import Policy, PolicyError

from ..curvefile import load_curves
from ..local_group import PLOT_MODULES, missing_message
from ..since import HELP as SINCE_HELP
from ..since import since_days
from .engine import SMALL_SWEEP_GRACE, SMALL_SWEEP_MIN_COMPLETED, Revival, replay, sweep
from .report import format_result, format_sweep
from .results import SweepRow


def _fail(message: str) -> int:
    print(f"trainguard replay: {message}", file=sys.stderr)
    return 2


def _load_policy(path: str | None, mode: str) -> Policy:
    """The policy file (default: the Lambdas' defaults) with the replay's mode."""
    text = "{}"
    if path is not None:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{path}: not valid JSON ({exc})") from exc
    if isinstance(raw, dict):
        raw["mode"] = mode  # validated by Policy like any other key
    return Policy.from_mapping(raw)


def _run(args: argparse.Namespace) -> int:
    try:
        policy = _load_policy(args.policy, args.mode)
    except OSError as exc:
        return _fail(f"cannot read {args.policy}: {exc.strerror}")
    except PolicyError as exc:
        return _fail(str(exc))
    if args.plots is not None and (missing := missing_message("replay --plots", PLOT_MODULES)):
        print(missing, file=sys.stderr)
        return 2
    errors: list[str] = []
    if args.from_cloudwatch:
        if args.curves is not None:
            return _fail("give either CURVES.jsonl or --from-cloudwatch, not both")
        if not args.group:
            return _fail("--from-cloudwatch needs --group NAME")
        from .cloudwatch import read_cloudwatch_records

        try:
            records, errors = read_cloudwatch_records(
                args.group, since_days=args.since, region=args.region
            )
        except Exception as exc:  # botocore errors (credentials, access): say what and stop
            return _fail(f"reading CloudWatch/SageMaker failed: {exc}")
        source = f"CloudWatch group {args.group}, last {args.since:g} day(s)"
    else:
        if args.curves is None:
            return _fail("give CURVES.jsonl or --from-cloudwatch --group NAME")
        try:
            records, errors = load_curves(args.curves)
        except OSError as exc:
            return _fail(f"cannot read {args.curves}: {exc.strerror}")
        source = str(args.curves)
    for e in errors:
        print(f"trainguard replay: {source}: {e}", file=sys.stderr)
    if not records:
        return _fail(f"{source}: no jobs to replay")

    started = time.perf_counter()
    try:
        revival = Revival(restart_minutes=args.restart_minutes) if args.revive == "auto" else None
        result = replay(records, policy, revival=revival)
    except PolicyError as exc:
        return _fail(str(exc))
    elapsed = time.perf_counter() - started
    print(format_result(result))
    print(
        f"\nreplayed {len(records)} jobs from {source} in {elapsed:.2f} s "
        f"({result.decisions} decisions, {result.active_ticks} of {result.ticks} ticks active)"
    )

    rows: list[SweepRow] | None = None
    if args.sweep:
        rows = sweep(records, policy)
        print()
        print(format_sweep(rows))
    if args.plots is not None:
        from .plots import write_plots

        if rows is None:
            rows = sweep(records, policy, SMALL_SWEEP_MIN_COMPLETED, SMALL_SWEEP_GRACE)
        written = write_plots(result, rows, Path(args.plots))
        print(f"\nwrote {len(written)} plot(s) to {args.plots}")
    if args.json is not None:
        out = result.to_dict()
        out["source"] = source
        out["errors"] = errors
        out["seconds"] = round(elapsed, 3)
        if args.sweep and rows is not None:
            out["sweep"] = [r.to_dict() for r in rows]
        Path(args.json).write_text(json.dumps(out, indent=2, allow_nan=False) + "\n")
    return 0


def register(sub: Any) -> None:
    """``trainguard replay CURVES.jsonl [--policy P] [--mode M] [--json OUT] [--plots DIR]
    [--sweep] [--from-cloudwatch --group NAME --since 7d]``."""
    parser = sub.add_parser(
        "replay",
        help="what a policy would have stopped, saved and cost on past jobs",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("curves", nargs="?", help="curve file (JSON Lines, one job a line)")
    parser.add_argument("--policy", help="policy JSON (the same schema the Lambdas read)")
    parser.add_argument(
        "--mode",
        choices=("observe", "enforce"),
        default="enforce",
        help="enforce (default: what it would have stopped) or observe (report, truncate nothing)",
    )
    parser.add_argument("--json", metavar="OUT", help="write the report as JSON")
    parser.add_argument("--plots", metavar="DIR", help="write one PNG per group and a trade-off")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also replay the median rule (instead of the catch-up rule) at each "
        "median.min_completed x median.grace (the catch-up rule: `trainguard calibrate`)",
    )
    parser.add_argument(
        "--from-cloudwatch",
        action="store_true",
        help="read past jobs of the current AWS account instead of a file",
    )
    parser.add_argument("--group", help="with --from-cloudwatch: the trainguard:group to read")
    parser.add_argument(
        "--since",
        type=since_days,
        default=7.0,
        help=f"with --from-cloudwatch: the period before now: {SINCE_HELP} (default 7d)",
    )
    parser.add_argument("--region", help="with --from-cloudwatch: AWS region")
    parser.add_argument(
        "--revive",
        choices=("off", "auto"),
        default="off",
        help="auto: at each completion, revive the stopped jobs (that checkpoint) the rules "
        "would no longer stop (docs/revive.md); off (default): stops are for good",
    )
    parser.add_argument(
        "--restart-minutes",
        type=float,
        default=Revival().restart_minutes,
        help="with --revive auto: minutes a revival spends before it trains again "
        "(provisioning, image and data download, checkpoint restore; default %(default)g)",
    )
    parser.set_defaults(func=_run)
