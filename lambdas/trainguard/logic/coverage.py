"""Coverage notices (issue 20): an opted-in job that the stopping rules cannot judge says
why, once a run, with the fix, through the ledger's notice path (said once, and a crash
between the claim and the send is resumed like any notice). Nothing is stopped for it, and
the rules that do watch the job go on.

* ``objective-tag``: no ``trainguard:objective`` tag;
* ``objective``: the objective metric has no datapoint ``coverage.objectiveGraceMinutes``
  after the job's training started while its instances report (the commonest first-day
  mistake: the tag says ``validation:loss``, the job's ``MetricDefinitions`` say
  ``validation_loss``). The notice names the metric it looked for, the names the job
  defines (DescribeTrainingJob, read once, when the notice is due) and the nearest one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import JobSettings
from ..core.instances import gpu_hosts, instances_text
from ..models import JobRecord
from ..observability import logger
from . import messages
from .actions import Act
from .ledger import ActionKind
from .observe import Observation

NO_OBJECTIVE = "objective-tag"
OBJECTIVE_MISSING = "objective"


def notice_coverage(
    act: Act, job: JobRecord, settings: JobSettings, seen: Observation | None, now: float
) -> bool:
    """Say why ``job`` is not judged by the stopping rules, if it is not and that was not
    said yet this run; True if a notice was sent now."""
    region = act.deps.region
    if settings.objective is None:
        if _said(job, NO_OBJECTIVE):
            return False
        return act.notice(job, NO_OBJECTIVE, messages.no_objective(job.name, region))
    grace = settings.policy.coverage.objective_grace_minutes
    if (
        _said(job, OBJECTIVE_MISSING)
        or seen is None
        or seen.progress is None
        or seen.progress.last_point is not None  # it arrived
        or seen.last_instance is None  # the instances do not report: the stall rules' case
        or now - job.start_time < grace * 60.0
    ):
        return False
    defined = metric_definitions(act, job.name)
    logger.warning(
        "objective not arriving",
        extra={"job": job.name, "objective": settings.objective, "defined": list(defined)},
    )
    message = messages.objective_missing(job.name, settings.objective, grace, defined, region)
    return act.notice(job, OBJECTIVE_MISSING, message)


def metric_definitions(act: Act, job: str) -> Sequence[str]:
    """The metric names the job's ``MetricDefinitions`` define (empty: none, or unreadable)."""
    try:
        described: dict[str, Any] = act.deps.training_jobs.describe(job)
    except Exception:
        logger.exception("DescribeTrainingJob failed: the notice goes without the names")
        return ()
    definitions = described.get("AlgorithmSpecification", {}).get("MetricDefinitions") or []
    return [str(d["Name"]) for d in definitions if isinstance(d, dict) and d.get("Name")]


def _said(job: JobRecord, name: str) -> bool:
    """Claimed this run already (the run's item lists it): no read, no write."""
    return ActionKind.NOTICE.action(name) in job.actions


UNKNOWN_INSTANCE = "instance-type"


def notice_instance_type(act: Act, job: JobRecord) -> bool:
    """Say once a run that an instance type of the job (of any of its instance groups) is
    not in the catalog: the GPU rules cannot watch it; True if the notice was sent now."""
    if _said(job, UNKNOWN_INSTANCE):
        return False
    plan = gpu_hosts(job.groups, act.deps.catalog)
    if not plan.unknown:
        return False
    logger.warning(
        "unknown instance type: no GPU rule watches the job",
        extra={"job": job.name, "why": plan.why, "instances": instances_text(job.groups)},
    )
    message = messages.unknown_instance_type(job.name, plan.why, plan.unknown, act.deps.region)
    return act.notice(job, UNKNOWN_INSTANCE, message)
