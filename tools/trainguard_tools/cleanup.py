"""``trainguard cleanup``: delete the alarms the functions created at run time.

The lifecycle function creates one GPU-idle alarm per host of every running job; they are not
CloudFormation's, so ``cdk destroy`` does not remove them (the stack's cleanup custom resource
does on delete; this command is the manual way, e.g. after a failed delete, or to check what is
left). The stack's own ``trainguard-health-*`` alarms are CloudFormation's and are left alone.
"""

from __future__ import annotations

import argparse
from typing import Any

from trainguard.adapters.aws import make_client
from trainguard.adapters.cloudwatch import CloudWatchAlarms
from trainguard.constants import GPU_IDLE_ALARM_PREFIX


def cleanup_runtime_alarms(cloudwatch: CloudWatchAlarms, *, dry_run: bool = False) -> list[str]:
    """Delete (or only list, with ``dry_run``) every run-time GPU-idle alarm; return their names."""
    names = cloudwatch.alarm_names(GPU_IDLE_ALARM_PREFIX)
    if names and not dry_run:
        cloudwatch.delete_alarms(names)
    return names


def _run(args: argparse.Namespace) -> int:
    names = cleanup_runtime_alarms(
        CloudWatchAlarms(make_client("cloudwatch")), dry_run=args.dry_run
    )
    verb = "would delete" if args.dry_run else "deleted"
    for name in names:
        print(f"{verb} {name}")
    print(f"{verb} {len(names)} run-time alarm(s) named {GPU_IDLE_ALARM_PREFIX}*")
    return 0


def register(sub: Any) -> None:
    """``trainguard cleanup [--dry-run]`` (uses the caller's AWS credentials and region)."""
    parser = sub.add_parser(
        "cleanup",
        help="delete the GPU-idle alarms trainguard created",
        description="Delete the GPU-idle CloudWatch alarms trainguard created while jobs "
        "ran (trainguard-gpu-idle-*). `cdk destroy` does not remove them when the stack's "
        "own clean-up could not run; `make destroy` runs this after it. The stack's "
        "trainguard-health-* alarms are left alone. Uses your AWS credentials and region.",
    )
    parser.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
    parser.set_defaults(func=_run)
