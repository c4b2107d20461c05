"""``trainguard report --since 7d``: stops, would-be stops, alerts, GPU hours and dollars saved,
per group and in total (text, JSON or CSV).

The numbers are :func:`trainguard.logic.report.summarize`'s, the same function the weekly
digest uses: one Query per UTC day of the table's ``audit`` index, one BatchGetItem of the
runs. Prices come from the deployed policy (the evaluator's ``TRAINGUARD_POLICY``).
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from typing import Any

from trainguard.logic.report import format_csv, format_json, format_text, summarize

from .stack import OpsError, add_stack_arguments, connect, deployed_policy, run

_SINCE = re.compile(r"^(\d+)([dhm])$")
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0}
MAX_DAYS = 400  # one Query a day: a bound that keeps the command a few seconds long


def parse_since(text: str) -> float:
    """``7d``, ``12h``, ``90m`` -> seconds; an OpsError otherwise."""
    match = _SINCE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise OpsError(f"--since must be a number and a unit d, h or m (e.g. 7d), got {text!r}")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds > MAX_DAYS * 86400.0:
        raise OpsError(f"--since must be at most {MAX_DAYS}d, got {text!r}")
    return seconds


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
        "report", help="stops, would-be stops, alerts and savings over a period, per group"
    )
    parser.add_argument("--since", default="7d", help="the period before now: 7d, 24h, 90m")
    parser.add_argument("--format", choices=("text", "json", "csv"), default="text")
    add_stack_arguments(parser)
    parser.set_defaults(func=_run)
