"""Every message trainguard sends, built here as a value (:class:`~trainguard.message.Message`):
a subject a person can triage from an inbox, a body of fields with the numbers, sentences and
links. Email and chat render the value at the edge (the SNS adapter), so nothing parses the
text back."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..config import TagProblem
from ..core.curves import fmt
from ..core.decision import Decision
from ..message import GAP, Message, Part, email_text, field, link, sentence

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


def decision(
    d: Decision,
    *,
    subject: str,
    outcome: str,
    mode: str,
    region: str,
    details: Mapping[str, Any],
) -> Message:
    """A rule's decision: what was done (``outcome``), why, with the numbers and the facts."""
    parts = [
        field("Job", d.job),
        field("Outcome", outcome),
        field("Rule", d.rule),
        field("Why", d.reason),
        field("Step", fmt(d.step)),
        field("Value", fmt(d.value)),
        field("Threshold", fmt(d.threshold)),
        field("References", d.references),
        field("Mode", mode),
    ]
    parts += [field(k, fmt(v) if isinstance(v, float) else v) for k, v in details.items()]
    return Message.of(subject, [*parts, GAP, link("Console", console_link(region, d.job))], 12)


def body(
    d: Decision,
    *,
    outcome: str,
    mode: str,
    region: str,
    details: Mapping[str, Any],
) -> str:
    """The email text of :func:`decision`."""
    message = decision(d, subject="", outcome=outcome, mode=mode, region=region, details=details)
    return email_text(message)


def retry(subject: str, facts: Mapping[str, str], region: str, job: str) -> Message:
    """A capacity retry's outcome (created, or why not)."""
    parts = [field(k, v) for k, v in facts.items()]
    return Message.of(subject, [*parts, GAP, link("Console", console_link(region, job))], 13)


def failed(job: str, status: str, reason: str, group: str, retry: str, region: str) -> Message:
    """A failed job (and what its capacity retry will do: ``retry``, empty when none)."""
    parts = [field("Job", job), field("Status", status), field("Reason", reason),
             field("Group", group), *([field("Retry", retry)] if retry else [])]  # fmt: skip
    return Message.of(
        f"{PREFIX} FAILED {job}: {reason}",
        [*parts, GAP, link("Console", console_link(region, job))],
        9,
    )


def config_error(job: str, error: str, region: str, problems: Sequence[TagProblem] = ()) -> Message:
    """A bad trainguard tag value on a job (``error``: the one that stopped its evaluation),
    with every problem of its tags (``problems``: :func:`~trainguard.config.tag_problems`),
    each with its fix."""
    listed = [field("Problem", error)] if error not in {p.problem for p in problems} else []
    for p in sorted(problems, key=lambda p: p.problem != error):  # the subject's first
        listed += [field("Problem", p.problem), field("Fix", p.fix)]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    parts = [
        field("Job", job),
        *listed,
        sentence("The job is not evaluated until its tags are fixed."),
        GAP,
        link("Console", console_link(region, job)),
    ]
    return Message.of(f"{PREFIX} CONFIG {job}: {error}{more}", parts, 9)


def gpu_recovered(host: str, minutes: float, region: str, job: str) -> Message:
    """A GPU-idle episode closed: the host's utilization is back."""
    parts = [
        field("Host", host),
        field("Recovered", "GPU utilization is back above the threshold"),
        field("Episode", f"{fmt(minutes)} min since the idle alert"),
        GAP,
        link("Console", console_link(region, job)),
    ]
    return Message.of(f"{PREFIX} GPU recovered: {host} (after {fmt(minutes)} min)", parts, 10)


def control_change(name: str, group: str | None, paused: bool | None, now_paused: bool,
                   mode: str | None, by: str, at: str, reason: str) -> Message:  # fmt: skip
    """A runtime control changed (``trainguard pause | resume | mode``): ``paused`` is what the
    command asked (None: a mode change), ``now_paused`` and ``mode`` the control after it."""
    scope = "every group" if group is None else f"group {group}"
    if paused is True:
        subject = f"{PREFIX} PAUSED {scope}: every stop is a report"
    elif paused is False:
        subject = f"{PREFIX} RESUMED {scope}: stops as the mode says"
    else:
        subject = f"{PREFIX} MODE {scope}: {mode or 'as deployed'}"
    parts = [
        field("Control", name),
        field("Paused", "yes" if now_paused else "no"),
        field("Mode", mode or "as deployed (or the job tag)"),
        field("By", by),
        field("At", at),
        field("Reason", reason or "-"),
        GAP,
        sentence("The functions act on it from their next tick. A job's trainguard:mode tag "
                 "still decides its mode; a pause holds every stop, whatever the mode."),
    ]  # fmt: skip
    return Message.of(subject, parts, 9)


def report(subject: str, blocks: Sequence[Sequence[Part]], width: int) -> Message:
    """A report (the weekly digest): blocks of parts, a blank line between blocks."""
    parts: list[Part] = []
    for block in blocks:
        parts += [GAP, *block] if parts else list(block)
    return Message.of(subject, parts, width)


def lines(text: str) -> list[Part]:
    """Preformatted text (a table), a sentence a line."""
    return [sentence(line) for line in text.split("\n")]
