"""The demo's coverage jobs (issue 20): each is opted in wrong, or late, the way a new user's
first jobs are, and the summary's ``coverage`` section checks that trainguard said so and
that a fix on the running job took effect.

* ``cov-mistyped``: the tag says ``trainguard:objective=validation:loss``, the job defines and
  logs ``validation_loss`` (the commonest first-day mistake): NOT JUDGED, with the nearest
  name, ``objectiveGraceMinutes`` after its start;
* ``cov-no-objective``: no ``trainguard:objective`` tag: NOT JUDGED at its first tick;
* ``cov-bad-tag``: ``trainguard:direction=down``: CONFIG at its first tick; fixed on the
  running job a few minutes later (DeleteTags + AddTags): WATCHED within a tag re-read period;
* ``cov-late-group``: started without ``trainguard:group``, tagged into the group mid-run:
  opted in within a period, and read by the tick from then on (its progress on its item).

Alone in their group (``coverage-demo``), so nothing else is judged against them. Two moto
gaps: its AddTags appends a key it holds already (SageMaker's replaces it), so a changed value
is deleted, then added; its DescribeTrainingJob answers ``MetricDefinitions`` ``test:dcg``
whatever the request defined, so the notice's "did you mean" comes from the names CloudWatch
holds for the job (ListMetrics), as it would for a job whose definitions are another's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from trainguard.adapters.dynamodb.keys import deserialize
from trainguard_tools.curvefile import CurveRecord

from .fleet import FleetJob, Scenario, _cut, _final

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import TagTypeDef

COVERAGE_GROUP = "coverage-demo"
MISTYPED, NO_OBJECTIVE, BAD_TAG, LATE_GROUP = (
    "cov-mistyped",
    "cov-no-objective",
    "cov-bad-tag",
    "cov-late-group",
)
FIX_AFTER = 8  # minutes after its start: the bad tag is fixed
GROUP_AFTER = 6  # minutes after its start: the group tag is added
START = 3  # the minute they start
MIN_EPOCHS = 30  # long enough for the grace, a fix and a tag re-read period


def coverage_jobs(records: Sequence[CurveRecord], scenario: Scenario) -> list[FleetJob]:
    """The four coverage jobs, on the first group's middle-ranked curve, one epoch a minute."""
    group = scenario.groups[0]
    epochs = max(scenario.epochs, MIN_EPOCHS)
    ranked = sorted(
        (r for r in records if r.group == group and r.status == "Completed"),
        key=lambda r: (_final(r, epochs), r.job),
    )
    r = ranked[len(ranked) // 2]
    base = FleetJob(
        name="",
        group=COVERAGE_GROUP,
        source=r.job,
        objective=r.objective,
        direction=r.direction,
        instance_type=r.instance_type,
        instance_count=r.instance_count,
        start_minute=START,
        minutes_per_epoch=1.0,
        curve=_cut(r.curve, epochs),
        epochs=epochs,
        end_status="Completed",
    )
    logged = r.objective.replace(":", "_")  # what the job defines and logs: validation_loss
    return [
        replace(
            base,
            name=MISTYPED,
            objective=logged,
            role="mistyped objective",
            tag_overrides=(("trainguard:objective", r.objective),),
        ),
        replace(
            base,
            name=NO_OBJECTIVE,
            role="no objective tag",
            tag_overrides=(("trainguard:objective", None),),
        ),
        replace(
            base,
            name=BAD_TAG,
            role="bad tag fixed mid-run",
            tag_overrides=(("trainguard:direction", "down"),),
            tag_changes=((FIX_AFTER, (("trainguard:direction", r.direction),)),),
        ),
        replace(
            base,
            name=LATE_GROUP,
            role="tagged into a group mid-run",
            tag_overrides=(("trainguard:group", None),),
            tag_changes=((GROUP_AFTER, (("trainguard:group", COVERAGE_GROUP),)),),
        ),
    ]


def apply_tag_changes(
    sm: SageMakerClient, fleet: Sequence[FleetJob], started: set[str], minute: int
) -> list[str]:
    """Make the tag changes due at ``minute`` on the running jobs (as a user would, with
    DeleteTags and AddTags); the jobs changed."""
    changed = []
    for job in fleet:
        if job.name not in started:
            continue
        for after, changes in job.tag_changes:
            if job.start_minute + after != minute:
                continue
            arn = sm.describe_training_job(TrainingJobName=job.name)["TrainingJobArn"]
            keys = [k for k, _ in changes]
            sm.delete_tags(ResourceArn=arn, TagKeys=keys)
            added: list[TagTypeDef] = [{"Key": k, "Value": v} for k, v in changes if v is not None]
            if added:
                sm.add_tags(ResourceArn=arn, Tags=added)
            changed.append(job.name)
    return changed


def read_job_items(dynamodb: DynamoDBClient, table: str) -> dict[str, dict[str, Any]]:
    """The newest run's item of each job (Scan, every page), by job name."""
    pages = dynamodb.get_paginator("scan").paginate(TableName=table)
    items = [deserialize(raw) for page in pages for raw in page.get("Items", [])]
    runs = [i for i in items if str(i.get("sk", "")).count("#") == 1 and "name" in i]
    out: dict[str, dict[str, Any]] = {}
    for item in sorted(runs, key=lambda i: int(i.get("created_ms") or 0)):
        out[str(item["name"])] = item
    return out


def coverage_section(
    fleet: Sequence[FleetJob],
    emails: Sequence[tuple[str, str]],
    items: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The summary's ``coverage`` object: each coverage job's emails (``emails``: subject and
    body, as sent) and item, and the checks (each: noticed, fixed or watched)."""
    names = [j.name for j in fleet if j.group == COVERAGE_GROUP]
    subjects = [subject for subject, _ in emails]

    def said(prefix: str, body: str = "") -> list[str]:
        return [s for s, b in emails if s.startswith(f"[trainguard] {prefix}") and body in b]

    late = items.get(LATE_GROUP, {})
    bad = items.get(BAD_TAG, {})
    checks = [
        _check(
            "the mistyped objective noticed, with the nearest name",
            said(
                f"NOT JUDGED {MISTYPED}: objective validation:loss not arriving",
                "did you mean `validation_loss`?",
            ),
        ),
        _check(
            "the job without an objective tag noticed",
            said(f"NOT JUDGED {NO_OBJECTIVE}: not judged by the stopping rules"),
        ),
        _check("the bad tag noticed", said(f"CONFIG {BAD_TAG}:")),
        _check(
            "the bad tag fixed mid-run, and said",
            said(f"WATCHED {BAD_TAG}: its trainguard tags are fixed"),
            extra=bad.get("config_error") is None and "progress" in bad,
        ),
        {
            "check": "the job tagged into a group mid-run is opted in and watched",
            "ok": bool(late.get("opted_in")) and "progress" in late,
            "detail": f"opted_in {late.get('opted_in')}, progress read: {'progress' in late}",
        },
    ]
    return {
        "jobs": names,
        "emails": {n: [s for s in subjects if f" {n}:" in s or f" {n} " in s] for n in names},
        "open_causes": {
            n: sorted(k for k in (items.get(n, {}).get("episodes") or {}) if "unwatched:" in k)
            for n in names
        },
        "checks": checks,
    }


def _check(name: str, found: list[str], *, extra: bool = True) -> dict[str, Any]:
    return {
        "check": name,
        "ok": bool(found) and extra,
        "detail": "; ".join(found) or "no such email",
    }
