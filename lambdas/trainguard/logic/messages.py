"""Email texts: a subject a person can triage from an inbox, a body with the numbers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.curves import fmt
from ..core.decision import Decision

PREFIX = "[trainguard]"

RULE_NAMES = {
    "median": "median rule",
    "patience": "patience rule",
    "diverged": "diverged",
    "gpu_idle": "GPU idle",
    "max_runtime": "max runtime",
    "overtime": "overtime",
    "stalled": "metric stalled",
    "hung": "hung",
    "straggler": "straggler host",
    "throughput": "throughput",
    "catch-up": "catch-up rule",
}


def console_link(region: str, job: str) -> str:
    return f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/jobs/{job}"


def logs_link(region: str, job: str) -> str:
    """The job's log streams in CloudWatch Logs (group /aws/sagemaker/TrainingJobs)."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:"
        f"log-groups/log-group/$252Faws$252Fsagemaker$252FTrainingJobs$3FlogStreamNameFilter$3D"
        f"{job}"
    )


def _comparison(d: Decision) -> str:
    if d.value is None or d.threshold is None:
        return ""
    if d.rule == "max_runtime":  # seconds: say hours
        return f", {fmt(d.value / 3600)} h > cap {fmt(d.threshold / 3600)} h"
    if d.rule in ("overtime", "stalled"):  # minutes
        return f", {fmt(d.value)} min > {fmt(d.threshold)} min"
    if d.rule == "median":
        op = ">" if d.stop and _worse_is_greater(d) else "<"
        return f", {fmt(d.value)} {op} {fmt(d.threshold)}"
    return f", {fmt(d.value)} vs {fmt(d.threshold)}"


def _worse_is_greater(d: Decision) -> bool:
    return d.value is not None and d.threshold is not None and d.value > d.threshold


def _at_step(d: Decision) -> str:
    return "" if d.step is None else f" at step {fmt(d.step)}"


def stop_subject(d: Decision, outcome: str) -> str:
    """outcome: STOPPED / WOULD STOP (observe) / WOULD STOP (stops disabled) / ..."""
    rule = RULE_NAMES.get(d.rule, d.rule)
    return f"{PREFIX} {outcome} {d.job}: {rule}{_comparison(d)}{_at_step(d)}"


def alert_subject(d: Decision) -> str:
    what = _HEALTH.get(d.rule)
    if what is not None and d.value is not None and d.threshold is not None:
        return f"{PREFIX} ALERT {d.job}: {what(d)}"
    rule = RULE_NAMES.get(d.rule, d.rule)
    return f"{PREFIX} ALERT {d.job}: {rule}{_comparison(d)}"


# the health rules' subjects say what was seen, in its units (their reasons start with the
# pattern of a hang, "hung (pinned): ...", or the straggling host, "<job>/algo-3 at ...")
_HEALTH: dict[str, Callable[[Decision], str]] = {
    "hung": lambda d: (
        f"{d.reason.split(':', 1)[0]}, objective silent {fmt(d.value)} min > {fmt(d.threshold)}"
    ),
    "straggler": lambda d: (
        f"straggler host {d.reason.split(' at ', 1)[0]}, "
        f"{fmt(d.value)}% vs {fmt(d.threshold)}% per GPU"
    ),
    "throughput": lambda d: (
        f"throughput {fmt(d.value)} samples/s per instance < {fmt(d.threshold)}"
    ),
}


def body(
    d: Decision,
    *,
    outcome: str,
    mode: str,
    region: str,
    details: Mapping[str, Any],
) -> str:
    lines = [
        f"Job:        {d.job}",
        f"Outcome:    {outcome}",
        f"Rule:       {d.rule}",
        f"Why:        {d.reason}",
        f"Step:       {fmt(d.step)}",
        f"Value:      {fmt(d.value)}",
        f"Threshold:  {fmt(d.threshold)}",
        f"References: {d.references}",
        f"Mode:       {mode}",
    ]
    for key, value in details.items():
        label = f"{key}:".ljust(12)
        lines.append(f"{label}{fmt(value) if isinstance(value, float) else value}")
    lines += ["", f"Console: {console_link(region, d.job)}"]
    return "\n".join(lines) + "\n"
