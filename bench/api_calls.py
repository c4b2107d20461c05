"""Part 2: AWS calls per evaluator tick against moto, counted at the botocore level.

Planned measurement (issue 7, part 2): fleets of 10, 100 and 1,000 running opted-in jobs;
one steady tick of the evaluator; count GetMetricData calls (must be ceil(queries / 500)),
DynamoDB reads (must not grow with the number of completed jobs), and per-job Describe calls
(must be none); estimate CloudWatch cost per day at each size. Results go under
``api.get_metric_data_calls`` (per fleet size).

Pending: it measures the evaluator Lambda (``handlers/evaluator.py`` over ``logic/evaluator.py``),
which is being written; until both exist this part reports itself as pending.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = (
    "lambdas/trainguard/handlers/evaluator.py",
    "lambdas/trainguard/logic/evaluator.py",
)


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    missing = [p for p in REQUIRED if not (ROOT / p).is_file()]
    reason = (
        f"waits for {', '.join(missing)} (being written)"
        if missing
        else "the evaluator exists; the call-counting harness is not written yet"
    )
    log(f"api calls: pending ({reason})")
    return {"status": "pending", "reason": reason, "get_metric_data_calls": None}
