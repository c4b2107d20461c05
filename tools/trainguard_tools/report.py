"""``trainguard report --since 7d``: stops, would-be stops, alerts, GPU hours and dollars saved,
per group and in total (text, JSON or CSV).

The numbers are :func:`trainguard.logic.report.summarize`'s, the same function the weekly
digest uses: one Query per UTC day of the table's ``audit`` index, one BatchGetItem of the
runs. Prices come from the deployed policy (the evaluator's ``TRAINGUARD_POLICY``).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from trainguard.logic.report import format_csv, format_json, format_text, summarize

from . import since
from .stack import OpsError, add_stack_arguments, connect, deployed_policy, run

MAX_DAYS = 400  # one Query a day: a bound that keeps the command a few seconds long


def parse_since(text: str) -> float:
    """``7d``, ``12h``, ``90m``, ``7`` (days) -> seconds, at most :data:`MAX_DAYS`; an
    OpsError otherwise."""
    try:
        return since.parse_since(text, max_days=MAX_DAYS)
    except since.SinceError as exc:
        raise OpsError(str(exc)) from exc


def _run(args: argparse.Namespace) -> int:
    def command() -> int:
        window = parse_since(args.since)
        deployed = connect(args.stack, args.region)
        policy, _ = deployed_policy(deployed)
        now = datetime.now(UTC).timestamp()
        state = deployed.state_table()
        summary = summarize(state.audit, state.jobs, policy.catalog(), now - window, now)
        render = {"text": format_text, "json": format_json, "csv": format_csv}[args.format]
        print(render(summary).rstrip("\n"))
        return 0

    return run(command)


def register(sub: Any) -> None:
    """``trainguard report [--since 7d] [--format text|json|csv] [--stack S] [--region R]``."""
    parser = sub.add_parser(
        "report",
        help="stops, would-be stops, alerts and savings over a period, per group",
        description="What trainguard did over a period (--since 7d, 12h, or a number of "
        "days): the stops, the stops it would have made (observe mode, a pause), the alerts, "
        "and the GPU hours and dollars saved, per group and in total; the weekly digest's "
        "numbers. Prices come from the deployed policy.",
    )
    parser.add_argument(
        "--since", default="7d", help=f"the period before now: {since.HELP} (default 7d)"
    )
    parser.add_argument("--format", choices=("text", "json", "csv"), default="text")
    add_stack_arguments(parser)
    parser.set_defaults(func=_run)
