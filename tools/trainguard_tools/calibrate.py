"""``trainguard calibrate``: choose a group's catch-up setting from its own history.

It replays the group's **completed** jobs (a curve file, or the account's past jobs with
``--from-cloudwatch``) under every rung of the ladder (:data:`trainguard.core.catchup.LADDER`:
the noise multiple k 2, 4, 6, 8, 12, 16 at 3 and at 2 reports in a row, aggressive to safe), in
several launch orders (``--orders``, default 20: order 0 the jobs' own start times, the others
seeded permutations of them; :func:`trainguard_tools.replay.replay_orders`), and prints the
frontier: GPU time saved, the share of replays whose best job was kept, the mean and maximum
normalized regret. The recommendation is the rung with the most savings whose best-kept share
reaches the target (``--keep-best``, default 0.95); among equal savings, the safer rung.

Too little history: with fewer completed jobs than ``2 x min_completed + 1`` (7 with the
default min_completed 3) the ladder cannot be told apart (no rung decides before
min_completed references exist, and the rest is too few jobs to lose a best job from): the
command says so, recommends the default and exits 0 without applying anything. When no rung
reaches the target, it recommends the safest and applies nothing (exit 1 with ``--apply``).

``--apply`` writes the recommendation as the group's policy into the state table, in one
transaction (both items or neither; docs/calibrate.md):

- ``pk = "GROUP#<group>", sk = "POLICY"``: ``settings`` (section -> {field: value}, validated
  by the policy schema: ``{"catchup": {"enabled": true, "min_completed": 3, "noise_multiple":
  6.0, "consecutive": 3}}``), ``applied_by`` (the caller's ARN, STS GetCallerIdentity),
  ``applied_at`` (ISO time, UTC, in milliseconds), ``source`` (the frontier row, the target
  and the input);
- ``pk = "GROUP#<group>", sk = "POLICY#<applied_at>"``: the same content, the history
  (append-only: a conditional put that never overwrites an entry).

The table is ``--table`` or the deployed stack's output whose key contains ``TableName``
(CloudFormation DescribeStacks of ``--stack``, default ``Trainguard``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.config import SECTIONS, Mode, Policy, PolicyError
from trainguard.constants import GROUP_POLICY_SK
from trainguard.core.catchup import LADDER

from .curvefile import CurveRecord, load_curves
from .replay import OrdersResult, replay_orders
from .replay.engine import Revival
from .since import HELP as SINCE_HELP
from .since import since_days
from .stack import STACK_NAME, OpsError, caller_arn, connect

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_KEEP_BEST = 0.95
DEFAULT_ORDERS = 20
POLICY_SK = GROUP_POLICY_SK


class CalibrateError(Exception):
    """The command cannot go on; the message says why (exit 2)."""


@dataclass(frozen=True)
class Rung:
    """One setting of the ladder and what it did on the group's history."""

    noise_multiple: float
    consecutive: int
    result: OrdersResult

    @property
    def label(self) -> str:
        return f"k {self.noise_multiple:g}, {self.consecutive} reports"

    def to_dict(self) -> dict[str, Any]:
        return {
            "noise_multiple": self.noise_multiple,
            "consecutive": self.consecutive,
            **self.result.to_dict(),
        }


@dataclass(frozen=True)
class Calibration:
    """The frontier of one group and the recommendation for a target."""

    group: str
    source: str
    completed: int
    needed: int  # completed jobs the ladder needs (2 x min_completed + 1)
    keep_best: float
    orders: int
    seed: int
    policy: Policy
    rungs: tuple[Rung, ...]
    chosen: Rung | None  # None: too little history (the default stays)
    meets_target: bool
    revival: Revival | None = None  # the rungs replayed with evidence-driven revival

    @property
    def enough_history(self) -> bool:
        return self.completed >= self.needed

    def settings(self) -> dict[str, dict[str, Any]]:
        """The group's policy document to apply: the catch-up section, with the chosen rung."""
        c = self.policy.catchup
        k, n = (
            (self.chosen.noise_multiple, self.chosen.consecutive)
            if self.chosen is not None
            else (c.noise_multiple, c.consecutive)
        )
        section = {
            "enabled": True,
            "min_completed": c.min_completed,
            "noise_multiple": k,
            "consecutive": n,
        }
        Policy.from_mapping({"catchup": section})  # the schema's check (raises PolicyError)
        return {"catchup": section}

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "source": self.source,
            "completed_jobs": self.completed,
            "needed_completed_jobs": self.needed,
            "status": (
                "too_little_history"
                if not self.enough_history
                else ("ok" if self.meets_target else "target_not_met")
            ),
            "target": {"keep_best": self.keep_best},
            "orders": self.orders,
            "revive": (
                {"mode": "auto", "restart_minutes": self.revival.restart_minutes}
                if self.revival is not None
                else {"mode": "off"}
            ),
            "seed": self.seed,
            "frontier": [r.to_dict() for r in self.rungs],
            "recommendation": {
                "settings": self.settings(),
                "row": None if self.chosen is None else self.chosen.to_dict(),
                "meets_target": self.meets_target,
                "default": self.chosen is None,
            },
        }


def needed_completed(policy: Policy) -> int:
    """The completed jobs the ladder needs: 2 x min_completed + 1 (7 by default)."""
    return 2 * policy.catchup.min_completed + 1


def calibrate(
    records: Sequence[CurveRecord],
    group: str,
    *,
    policy: Policy | None = None,
    keep_best: float = DEFAULT_KEEP_BEST,
    orders: int = DEFAULT_ORDERS,
    seed: int = 0,
    source: str = "",
    revival: Revival | None = None,
) -> Calibration:
    """The group's frontier over :data:`LADDER` and the recommendation for ``keep_best``;
    ``revival``: each rung with evidence-driven revival played (``--revive auto``).

    Only the group's ``Completed`` jobs are replayed (a stopped job's curve ends early, so its
    final value is unknown). Each rung runs the catch-up rule alone (the median rule off) with
    the rest of ``policy`` (its min_completed, the divergence rule, the clock), in enforce mode.
    """
    if not 0.0 <= keep_best <= 1.0:
        raise CalibrateError(f"--keep-best must be between 0 and 1, got {keep_best}")
    if orders < 1:
        raise CalibrateError(f"--orders must be >= 1, got {orders}")
    base = policy or Policy()
    mine = [r for r in records if r.group == group and r.status == "Completed"]
    needed = needed_completed(base)

    def result(rungs: Sequence[Rung], chosen: Rung | None, meets_target: bool) -> Calibration:
        return Calibration(
            group=group,
            source=source,
            completed=len(mine),
            needed=needed,
            keep_best=keep_best,
            orders=orders,
            seed=seed,
            policy=base,
            rungs=tuple(rungs),
            chosen=chosen,
            meets_target=meets_target,
            revival=revival,
        )

    if len(mine) < needed:
        return result((), None, False)
    rungs = []
    for k, n in LADDER:
        variant = replace(
            base,
            mode=Mode.ENFORCE,
            stops_disabled=False,
            catchup=replace(base.catchup, enabled=True, noise_multiple=k, consecutive=n),
            median=replace(base.median, enabled=False),
        )
        rungs.append(Rung(k, n, replay_orders(mine, variant, orders, seed, revival=revival)))
    # the frontier, most savings first; among equal savings the safer rung (larger k, more
    # reports) first
    rungs.sort(key=lambda r: (-(r.result.saved_fraction or 0.0), -r.noise_multiple, -r.consecutive))
    meeting = [r for r in rungs if (r.result.best_kept or 0.0) >= keep_best - 1e-12]
    if meeting:
        return result(rungs, meeting[0], True)
    # none does: the one that keeps the best job most often; among those the least regret,
    # then the most savings
    _, safest = max(
        enumerate(rungs),
        key=lambda ir: (
            ir[1].result.best_kept or 0.0,
            -(ir[1].result.mean_normalized_regret or 0.0),
            -ir[0],
        ),
    )
    return result(rungs, safest, False)


# ---- the report -------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _regret(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def format_calibration(c: Calibration) -> str:
    """The frontier table and the recommendation, for the terminal."""
    default = (c.policy.catchup.noise_multiple, c.policy.catchup.consecutive)
    head = f"trainguard calibrate: group {c.group}, {c.completed} completed job(s) from {c.source}"
    if not c.enough_history:
        return "\n".join(
            [
                head,
                f"too little history: the ladder needs at least {c.needed} completed jobs "
                f"(2 x min_completed {c.policy.catchup.min_completed} + 1); "
                f"{c.completed} found.",
                f"recommendation: keep the default (k {default[0]:g}, {default[1]} reports); "
                "nothing applied.",
            ]
        )
    lines = [
        head,
        f"{c.orders} launch order(s) (seed {c.seed}); target: the best job kept in >= "
        f"{_pct(c.keep_best)} of replays",
        "the group's completed jobs only, replayed in each launch order; saved = GPU hours "
        "saved / GPU hours without trainguard over every order ('trainguard replay' replays "
        "every job once, in its own order, so its share differs)",
        *(
            [
                f"with evidence-driven revival ({c.revival.restart_minutes:g} min restart): a "
                "revival's time and its restart are counted as spent"
            ]
            if c.revival is not None
            else []
        ),
        "",
    ]
    header = ["setting", "stops", "GPU-h saved", "saved", "best kept", "mean regret", "max regret"]
    rows = []
    for r in c.rungs:
        x = r.result
        marks = []
        if (r.noise_multiple, r.consecutive) == default:
            marks.append("default")
        if r is c.chosen:
            marks.append("<- recommended" if c.meets_target else "<- safest")
        rows.append(
            [
                r.label,
                str(x.stops),
                f"{x.gpu_hours_saved:,.2f}",
                _pct(x.saved_fraction),
                f"{_pct(x.best_kept)} ({x.replays - x.best_lost}/{x.replays})",
                _regret(x.mean_normalized_regret),
                _regret(x.max_normalized_regret),
                " ".join(marks),
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines.append(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    for row in rows:
        cells = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(row[:-1])
        ]
        lines.append(("  ".join(cells) + "  " + row[-1]).rstrip())
    lines.append("")
    chosen = c.chosen
    assert chosen is not None
    x = chosen.result
    if c.meets_target:
        lines.append(
            f"recommendation: {chosen.label}: saves {_pct(x.saved_fraction)} with the best job "
            f"kept in {_pct(x.best_kept)} of {x.replays} replays (target {_pct(c.keep_best)})"
        )
    else:
        lines.append(
            f"no setting keeps the best job in {_pct(c.keep_best)} of replays; the safest, "
            f"{chosen.label}, keeps it in {_pct(x.best_kept)}: consider the median rule with "
            "a grace, or more history; nothing will be applied"
        )
        if x.max_normalized_regret == 0.0:
            lines.append(
                "(its regret is 0 in every replay: a job tied with the best survived each "
                "time; --keep-best counts the best job itself)"
            )
    return "\n".join(lines)


# ---- applying: the state table ------------------------------------------------------------------


def _dynamo(value: Any) -> Any:
    """A JSON-like value as DynamoDB takes it (floats as Decimals)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__}")


def policy_items(
    group: str,
    settings: Mapping[str, Mapping[str, Any]],
    *,
    applied_by: str,
    applied_at: datetime,
    source: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The group's ``POLICY`` item and its ``POLICY#<time>`` audit copy (plain Python values;
    ``settings`` is validated by the policy schema first)."""
    other = sorted(set(settings) - set(SECTIONS))
    if other:
        raise CalibrateError(
            f"a group policy holds sections of the policy only ({', '.join(SECTIONS)}), "
            f"got {', '.join(other)}"
        )
    try:
        Policy.from_mapping(settings)
    except PolicyError as exc:
        raise CalibrateError(f"settings refused by the policy schema: {exc}") from exc
    # milliseconds: two applications in one second keep two history items
    at = applied_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {
        "settings": {s: dict(v) for s, v in settings.items()},
        "applied_by": applied_by,
        "applied_at": at,
        "source": dict(source),
    }
    pk = f"GROUP#{group}"
    return {"pk": pk, "sk": POLICY_SK, **body}, {"pk": pk, "sk": f"{POLICY_SK}#{at}", **body}


def apply_policy(
    dynamodb: DynamoDBClient,
    table: str,
    items: tuple[Mapping[str, Any], Mapping[str, Any]],
) -> None:
    """Write the ``POLICY`` item and its audit copy in one transaction (both or neither)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()

    def wire(item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: serializer.serialize(_dynamo(v)) for k, v in item.items()}

    current, history = items
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": wire(current)}},
            {
                "Put": {
                    "TableName": table,
                    "Item": wire(history),
                    # the history is append-only: never overwrite an earlier application
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )


# ---- the command ------------------------------------------------------------------------------


def _fail(message: str, code: int = 2) -> int:
    print(f"trainguard calibrate: {message}", file=sys.stderr)
    return code


def _load_policy(path: str | None) -> Policy:
    if path is None:
        return Policy()
    with open(path, encoding="utf-8") as fh:
        return Policy.from_json(fh.read(), source=path)


def _records(args: argparse.Namespace) -> tuple[list[CurveRecord], list[str], str]:
    if args.from_cloudwatch:
        if args.curves is not None:
            raise CalibrateError("give either CURVES.jsonl or --from-cloudwatch, not both")
        if not args.group:
            raise CalibrateError("--from-cloudwatch needs --group NAME")
        from .replay.cloudwatch import read_cloudwatch_records

        records, notes = read_cloudwatch_records(
            args.group, since_days=args.since, region=args.region
        )
        return records, notes, f"CloudWatch group {args.group}, last {args.since:g} day(s)"
    if args.curves is None:
        raise CalibrateError("give CURVES.jsonl or --from-cloudwatch --group NAME")
    try:
        records, errors = load_curves(args.curves)
    except OSError as exc:
        raise CalibrateError(f"cannot read {args.curves}: {exc.strerror}") from exc
    return records, errors, str(args.curves)


def _group(records: Sequence[CurveRecord], wanted: str | None) -> str:
    groups = sorted({r.group for r in records})
    if wanted is not None:
        if wanted not in groups:
            raise CalibrateError(f"no job of group {wanted!r} (groups: {', '.join(groups)})")
        return wanted
    if len(groups) != 1:
        raise CalibrateError(f"the input holds {len(groups)} groups: pick one with --group NAME")
    return groups[0]


def _session(region: str | None) -> Any:
    import boto3

    return boto3.session.Session(region_name=region)


def _apply(args: argparse.Namespace, c: Calibration) -> str:
    """Write the group's policy; returns the table name."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    session = _session(args.region)
    try:
        table = args.table or connect(args.stack, session=session).table
        who = caller_arn(session.client("sts"))
        assert c.chosen is not None
        items = policy_items(
            c.group,
            c.settings(),
            applied_by=who,
            applied_at=datetime.now(UTC),
            source={
                "command": "trainguard calibrate",
                "input": c.source,
                "completed_jobs": c.completed,
                "orders": c.orders,
                "seed": c.seed,
                "target": {"keep_best": c.keep_best},
                "row": c.chosen.to_dict(),
            },
        )
        apply_policy(session.client("dynamodb"), table, items)
    except OpsError as exc:  # the stack is not there, or is not a trainguard stack
        raise CalibrateError(f"{exc}; or pass --table NAME") from exc
    except NoCredentialsError as exc:
        raise CalibrateError(
            "no AWS credentials: configure them (aws configure, AWS_PROFILE or the "
            "environment) to apply, or run without --apply"
        ) from exc
    except ClientError as exc:
        err = exc.response.get("Error", {})
        if err.get("Code") == "TransactionCanceledException":
            raise CalibrateError(
                f"a policy of group {c.group} was applied at the same instant: nothing "
                "written (the history never overwrites an entry); run it again"
            ) from exc
        raise CalibrateError(
            f"AWS refused {exc.operation_name}: {err.get('Code')}: {err.get('Message')}"
        ) from exc
    except BotoCoreError as exc:
        raise CalibrateError(f"AWS call failed: {exc}") from exc
    return table


def _run(args: argparse.Namespace) -> int:
    try:
        policy = _load_policy(args.policy)
    except OSError as exc:
        return _fail(f"cannot read {args.policy}: {exc.strerror}")
    except PolicyError as exc:
        return _fail(str(exc))
    try:
        records, notes, source = _records(args)
        for note in notes:
            print(f"trainguard calibrate: {source}: {note}", file=sys.stderr)
        if not records:
            raise CalibrateError(f"{source}: no jobs")
        group = _group(records, args.group)
        c = calibrate(
            records,
            group,
            policy=policy,
            keep_best=args.keep_best,
            orders=args.orders,
            seed=args.seed,
            source=source,
            revival=(
                Revival(restart_minutes=args.restart_minutes) if args.revive == "auto" else None
            ),
        )
    except CalibrateError as exc:
        return _fail(str(exc))
    except PolicyError as exc:
        return _fail(str(exc))
    except Exception as exc:  # botocore errors while reading CloudWatch: say what and stop
        if args.from_cloudwatch:
            return _fail(f"reading CloudWatch/SageMaker failed: {exc}")
        raise
    print(format_calibration(c))
    report = c.to_dict()
    code = 0
    applied: dict[str, Any] | None = None
    if args.apply:
        if not c.enough_history:
            print("--apply: nothing applied (too little history; the default stays)")
        elif not c.meets_target:
            print("--apply: nothing applied (no setting reaches the target)", file=sys.stderr)
            code = 1
        else:
            try:
                table = _apply(args, c)
            except CalibrateError as exc:
                return _fail(str(exc))
            applied = {"table": table, "pk": f"GROUP#{c.group}", "sk": POLICY_SK}
            print(
                f"applied: {json.dumps(c.settings(), sort_keys=True)} as the policy of group "
                f"{c.group} (table {table}, GROUP#{c.group} / {POLICY_SK})"
            )
    report["applied"] = applied
    if args.json is not None:
        Path(args.json).write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    return code


def register(sub: Any) -> None:
    """``trainguard calibrate CURVES.jsonl [--group G] [--keep-best 0.95] [--orders 5] [--seed 0]
    [--policy P] [--json OUT] [--apply [--table T | --stack S] [--region R]]``, or
    ``--from-cloudwatch --group G [--since 7d]`` instead of the file."""
    parser = sub.add_parser(
        "calibrate",
        help="pick a group's catch-up setting from its own history (and apply it)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("curves", nargs="?", help="curve file (JSON Lines, one job a line)")
    parser.add_argument("--group", help="the group to calibrate (needed if the input has several)")
    parser.add_argument(
        "--keep-best",
        type=float,
        default=DEFAULT_KEEP_BEST,
        help="target: the share of replays whose best job is kept (default 0.95)",
    )
    parser.add_argument(
        "--orders",
        type=int,
        default=DEFAULT_ORDERS,
        help=f"launch orders to replay (default {DEFAULT_ORDERS}; order 0 = the jobs' own)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the launch orders")
    parser.add_argument(
        "--revive",
        choices=("off", "auto"),
        default="off",
        help="auto: each rung replayed with evidence-driven revival (docs/revive.md), its "
        "revived time and restart overhead counted as spent",
    )
    parser.add_argument(
        "--restart-minutes",
        type=float,
        default=Revival().restart_minutes,
        help="with --revive auto: minutes a revival spends before it trains again",
    )
    parser.add_argument("--policy", help="policy JSON the ladder starts from (default: defaults)")
    parser.add_argument("--json", metavar="OUT", help="write the frontier and choice as JSON")
    parser.add_argument(
        "--apply", action="store_true", help="write the recommendation as the group's policy"
    )
    parser.add_argument("--table", help="with --apply: the state table (default: the stack's)")
    parser.add_argument(
        "--stack", default=STACK_NAME, help=f"with --apply: the stack (default {STACK_NAME})"
    )
    parser.add_argument(
        "--from-cloudwatch",
        action="store_true",
        help="read the group's past jobs from the current AWS account instead of a file",
    )
    parser.add_argument(
        "--since",
        type=since_days,
        default=14.0,
        help=f"with --from-cloudwatch: the period before now: {SINCE_HELP} (default 14d)",
    )
    parser.add_argument("--region", help="AWS region (CloudWatch, the stack, the table)")
    parser.set_defaults(func=_run)
