"""``trainguard demo``: the whole control plane on this machine, on real curves, no AWS account.

1. An AWS emulator (moto server, in this process) with the SageMaker shim; the real stack
   deployed into it with the pinned CDK CLI (``cdk bootstrap`` + ``cdk deploy``) in enforce
   mode, with no alert email (emails are captured from the topic).
2. A fleet of training jobs replaying the committed real curves (``data/curves.jsonl``):
   5 groups, 42 jobs, staggered starts; one multi-node job with an idle host, one diverging
   job, one job without the opt-in tag (idle GPU: alerted, never stopped), one job without a
   sane max runtime; a distributed group (4-node jobs reporting their throughput) with a job
   that hangs mid-run (all GPUs pinned near 100 %), one with a straggling host (about 45 %
   while the others run at about 95 %) and one whose throughput halves; a job tagged
   ``trainguard:retry=1`` that fails at once with SageMaker's CapacityError (its retry, created
   by trainguard, is played to completion); a group whose jobs checkpoint (``revive-demo``): its
   poor job's resumable stop is revived by ``trainguard revive``, run as its owner runs it,
   and the revival is played to completion on the original's curve. Jobs publish their
   objective, throughput and GPU metrics into the emulator.
3. A simulated clock, one minute at a time: events reach the deployed functions by the
   deployed rules, the schedule ticks the evaluator, the GPU alarms the lifecycle function
   created are evaluated and run the alert function.
4. A summary (stops, alerts, emails, GPU hours and dollars saved, whether each group's best
   job survived) read back from the emulator: ``OUT/summary.json`` and ``OUT/report.html``.

The stack is deployed with the default policy: the catch-up rule is the objective rule (the
median rule is off; ``-c medianEnabled=true -c catchupEnabled=false`` would bring it back).

Exit status 1 when one of the checks fails (a catch-up stop, the diverging job stopped, the
idle host alerted, the untagged job not stopped, every best job survived, the hang alerted
within 10 minutes of its last report, the straggler host named, the throughput drop alerted,
no health alert on a healthy job, the capacity failure retried once and
nothing else created, the resumable stop revived once and finished (the ``revive`` object), no
failed invocation); 2 when the run itself could not be
done.

``--quick``: the end-to-end test's short scenario of the same engine (4 groups, 19 jobs,
12-epoch curves and 24-epoch distributed jobs, 5-minute GPU-idle and straggler windows).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trainguard_tools.local_group import EMULATOR_MODULES, PLOT_MODULES, missing_message


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="the whole control plane against a local AWS emulator, on real curves",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    parser.add_argument("--quick", action="store_true", help="the short CI scenario")
    parser.add_argument(
        "--curves", default=None, help="curve file (default: the committed data/curves.jsonl)"
    )
    parser.add_argument(
        "--tick-minutes",
        type=int,
        default=None,
        help="the evaluator's schedule, rate(N minutes) (default 1)",
    )
    parser.add_argument(
        "--no-report", action="store_true", help="summary.json only (no plots, no HTML)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    missing = missing_message("demo", EMULATOR_MODULES, {} if args.no_report else PLOT_MODULES)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    from .command import run_demo

    return run_demo(args)
