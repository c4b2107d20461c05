"""``trainguard demo``'s body (see the package docstring): run, summarize, report, check."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.config import Policy
from trainguard.constants import ENV_POLICY, EVALUATOR_FUNCTION_NAME
from trainguard_tools.curvefile import load_curves

from ..emulator_deploy import REPO_ROOT
from .coverage import coverage_section, read_job_items
from .fleet import FULL, QUICK, plan_fleet
from .pause import PauseScenario
from .revive import ReviveScenario, revival_tags_of, revive_section
from .summary import build_summary, format_summary, read_decisions

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_sagemaker import SageMakerClient

    from .fleet import FleetJob
    from .run import Plane

DEFAULT_CURVES = REPO_ROOT / "data" / "curves.jsonl"


def demo_context(scenario_context: dict[str, Any], tick_minutes: int) -> dict[str, Any]:
    """The cdk context of the demo's deploy: enforce (stops happen; the IAM condition and the
    runtime keep the untagged job safe), the tick rate, no email subscription."""
    from .run import ROLE_ARN

    return {
        "mode": "enforce",
        "tickMinutes": tick_minutes,
        "alertEmail": "",
        "retryRoleArns": ROLE_ARN,  # capacity retries on, for the demo jobs' role
        **scenario_context,
    }


def run_demo(args: argparse.Namespace) -> int:
    began = time.monotonic()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    scenario = QUICK if args.quick else FULL
    records, problems = load_curves(args.curves or DEFAULT_CURVES)
    if problems:
        print(f"trainguard demo: {len(problems)} bad line(s) in the curve file", file=sys.stderr)
    try:
        fleet = plan_fleet(records, scenario)
    except (KeyError, ValueError) as exc:
        print(f"trainguard demo: cannot build the fleet: {exc}", file=sys.stderr)
        return 2
    tick = args.tick_minutes or 1
    context = demo_context(dict(scenario.context), tick)
    last = max(j.end_minute for j in fleet)
    print(
        f"[demo] fleet: {len(fleet)} jobs (and the retries trainguard creates) in "
        f"{len({j.group for j in fleet if j.tagged})} opted-in groups "
        f"from {Path(args.curves or DEFAULT_CURVES).name}, {last} simulated minutes; "
        f"context {json.dumps(context)}",
        file=sys.stderr,
        flush=True,
    )

    from ..emulator import make_client
    from .run import simulate, start_plane

    emulator, plane = start_plane(
        context, cdk_out=out_dir / "cdk.out", span=timedelta(minutes=last + 30)
    )
    try:
        deploy_s = time.monotonic() - began
        env = plane.deployed.functions[EVALUATOR_FUNCTION_NAME].environment
        policy = Policy.from_json(env[ENV_POLICY])
        catalog = policy.catalog()
        pause = PauseScenario(
            plane.endpoint_url, plane.shim, plane.mailbox, [j.name for j in fleet], last
        )
        reviver = ReviveScenario(plane.endpoint_url, plane.shim, plane.clock.now, fleet)

        def on_minute(minute: int) -> None:
            pause(minute)
            reviver(minute)

        record = simulate(
            plane,
            fleet,
            lambda itype: spec.gpus if (spec := catalog.get(itype)) else 1,
            alarm_every=1,
            on_minute=on_minute,
        )
        sm: SageMakerClient = make_client("sagemaker", plane.endpoint_url)
        planned = {j.name for j in fleet}
        fleet = [*fleet, *record.retries, *record.revivals]  # trainguard's jobs ran too
        descriptions = {j.name: sm.describe_training_job(TrainingJobName=j.name) for j in fleet}
        in_account = [
            s["TrainingJobName"]
            for page in sm.get_paginator("list_training_jobs").paginate()
            for s in page["TrainingJobSummaries"]
        ]
        decisions = read_decisions(
            make_client("dynamodb", plane.endpoint_url), plane.deployed.table_name
        )
        emails = plane.mailbox.emails()
        stats = _group_stats(plane, fleet)
        items = read_job_items(
            make_client("dynamodb", plane.endpoint_url), plane.deployed.table_name
        )
        summary = build_summary(
            fleet,
            decisions,
            descriptions,
            [e.subject for e in emails],
            catalog,
            failures=record.failures,
            extra={
                "mode": policy.mode,
                "tick_minutes": tick,
                "created_by_trainguard": sorted(set(in_account) - planned),
                "simulated_minutes": record.minutes,
                "function_invocations": record.invocations,
                "sharded_tick": {
                    "shard_invocations": record.shard_invocations,
                    "fanned_out_ticks": record.fanned_out_ticks,
                },
                "alarm_transitions": [
                    {
                        "alarm": t.alarm_name,
                        "from": t.previous,
                        "to": t.state,
                        "minute": round((t.at - record.clock_start).total_seconds() / 60),
                        "results": [inv.result for inv in t.invocations if inv.ok],
                    }
                    for t in plane.alarms.transitions
                ],
                "scenario": "quick" if args.quick else "full",
                "pause": pause.record(),
                "coverage": coverage_section(fleet, [(e.subject, e.body) for e in emails], items),
                "revive": revive_section(
                    fleet,
                    [(e.subject, e.body) for e in emails],
                    descriptions,
                    record.published,
                    sorted(set(in_account) - planned),
                    reviver.record(),
                    revival_tags_of(sm, fleet),
                ),
                "seconds": {
                    "deploy": round(deploy_s, 1),
                    "simulate": round(record.seconds["simulate"], 1),
                },
            },
        )
        if not args.no_report:
            from .report import write_report

            write_report(
                out_dir / "report.html",
                summary,
                fleet,
                record,
                plane.alarms.transitions,
                emails,
                stats,
                policy,
            )
    finally:
        plane.shim.uninstall()
        emulator.stop()
    summary["seconds"]["total"] = round(time.monotonic() - began, 1)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(format_summary(summary))
    print(
        f"\nWrote {out_dir / 'summary.json'}"
        + ("" if args.no_report else f" and {out_dir / 'report.html'}")
        + f" in {summary['seconds']['total']:.0f} s "
        f"(deploy {summary['seconds']['deploy']:.0f} s, "
        f"simulation {summary['seconds']['simulate']:.0f} s)"
    )
    if not summary["ok"]:
        failed = [c["check"] for c in summary["checks"] if not c["ok"]]
        print(f"\ntrainguard demo: FAILED check(s): {'; '.join(failed)}", file=sys.stderr)
        for failure in summary["handler_failures"][:5]:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


def _group_stats(plane: Plane, fleet: Sequence[FleetJob]) -> dict[str, Any]:
    """The groups' materialized reference statistics as the deployed functions left them
    (each group's jobs share one objective and direction: one reference set a group)."""
    from trainguard.adapters.dynamodb import DynamoDBReferences
    from trainguard.models import ReferenceSet

    from ..emulator import make_client

    client = make_client("dynamodb", plane.endpoint_url)
    references = DynamoDBReferences(client, plane.deployed.table_name)
    sets = {ReferenceSet(j.group, j.objective, j.direction) for j in fleet if j.tagged}
    return {refs.group: s for refs, s in references.batch_get_stats(sets).items()}
