"""Coverage (issue 20): every opted-in running job is, at every tick, either watched by each
rule its settings turn on, or has one open notice per cause that says why not.

:func:`job_coverage` is the one computation (rule -> watched, not applicable, or not watched
and why), used by the tick's notices and its ``UnwatchedJobs`` metric, ``trainguard status``
and the weekly digest. Its causes:

* ``config``: a bad ``trainguard:*`` tag value (no rule judges the job; its GPU-idle alarms
  stay);
* ``objective-tag``: no ``trainguard:objective`` tag;
* ``objective``: the objective metric has no datapoint ``coverage.objectiveGraceMinutes``
  after the job's training started while its instances report (the commonest first-day
  mistake: the tag says ``validation:loss``, the job's ``MetricDefinitions`` say
  ``validation_loss``);
* ``references``: the stopping rules wait for their completed references (how many it has,
  how many they need);
* ``instance-type``: an instance type trainguard does not know (its GPUs, so no GPU-idle, hang
  or straggler watch).

The tick (:func:`track_coverage`) keeps each open cause on the run's item (an episode
``unwatched:<cause>``, opened when the cause appears, closed when it goes away: the state
flip is recorded, and logged). A cause a person must fix is said once a run by email (a
NOT JUDGED or CONFIG notice, through the ledger's notice path: said once, and a crash between
the claim and the send is resumed like any notice); when it goes away, a short WATCHED
message says so, once. Waiting for references is the normal state of a new group's first
jobs, not a mistake: it is kept open and shown (``status``, the digest, the metric), never
emailed. Nothing is stopped for a notice, and the rules that do watch the job go on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from ..config import JobSettings, Policy
from ..constants import TAG_OBJECTIVE, TAG_THROUGHPUT
from ..core.instances import GpuHosts, InstanceCatalog, gpu_hosts, instances_text
from ..core.stored import entries
from ..core.values import frozen
from ..models import JobRecord
from ..observability import logger
from . import messages
from .ledger import ActionKind

if TYPE_CHECKING:  # the digest reads coverage without acting: no ledger carry-outs at its start
    from .actions import Act
    from .observe import Observation

CONFIG = "config"
NO_OBJECTIVE = "objective-tag"
OBJECTIVE_MISSING = "objective"
REFERENCES = "references"
INSTANCE_TYPE = "instance-type"
CAUSES = (CONFIG, NO_OBJECTIVE, OBJECTIVE_MISSING, REFERENCES, INSTANCE_TYPE)
EMAILED = (CONFIG, NO_OBJECTIVE, OBJECTIVE_MISSING, INSTANCE_TYPE)  # a person must fix these
EPISODE_PREFIX = "unwatched:"  # the open cause on the run's item: unwatched:<cause> -> opened

RULES = (
    "catch-up",
    "median",
    "patience",
    "divergence",
    "runtime",
    "gpu-idle",
    "hang",
    "straggler",
    "throughput",
)
State = Literal["watched", "n/a", "not watched"]


@frozen
class RuleWatch:
    rule: str
    state: State
    why: str = ""  # not applicable or not watched: why
    cause: str | None = None  # not watched: its cause (one of CAUSES)

    def __str__(self) -> str:
        return self.state if not self.why else f"{self.state}: {self.why}"


@frozen
class Coverage:
    """A job's coverage: each rule its settings turn on, and the causes of its gaps."""

    rules: tuple[RuleWatch, ...]
    causes: Mapping[str, str]  # cause -> why, one line (empty: fully watched)

    @property
    def watched(self) -> bool:
        return not self.causes

    def by_rule(self) -> dict[str, str]:
        """rule -> ``watched``, ``n/a: why`` or ``not watched: why`` (status, the digest)."""
        return {r.rule: str(r) for r in self.rules}

    def gaps(self) -> list[RuleWatch]:
        return [r for r in self.rules if r.state == "not watched"]


def job_coverage(
    job: JobRecord,
    settings: JobSettings | None,
    policy: Policy,
    catalog: InstanceCatalog,
    *,
    error: str | None = None,
    references: int = 0,
    objective_missing: bool | None = None,
) -> Coverage:
    """The coverage of the opted-in ``job``: ``settings`` its resolved settings (None: its
    tags are bad, ``error`` says how; ``policy`` then says which rules are on);
    ``references``: completed jobs in its reference set; ``objective_missing``: its objective
    has not arrived within the grace while its instances report (the tick's observation;
    None: the cause as the tick kept it on the run, for ``status`` and the digest)."""
    if objective_missing is None:
        objective_missing = OBJECTIVE_MISSING in open_causes(job)
    p = settings.policy if settings is not None else policy
    causes: dict[str, str] = {}
    rules: list[RuleWatch] = []

    def gap(rule: str, cause: str, why: str) -> None:
        causes.setdefault(cause, why)
        rules.append(RuleWatch(rule, "not watched", causes[cause], cause))

    def add(rule: str, enabled: bool, *checks: tuple[str, str] | str | None) -> None:
        """``checks``, in order: a (cause, why) gap, a string (not applicable), None (fine)."""
        if not enabled:
            return
        for check in checks:
            if isinstance(check, tuple):
                gap(rule, *check)
                return
            if isinstance(check, str):
                rules.append(RuleWatch(rule, "n/a", check))
                return
        rules.append(RuleWatch(rule, "watched"))

    plan = gpu_hosts(job.groups, catalog)
    what = _unknown_type(job, plan)
    unknown = (INSTANCE_TYPE, f"{what}: trainguard does not know its GPUs") if what else None
    no_gpu = (
        f"{instances_text(job.groups)}: no host reports GPUUtilization"
        if unknown is None and not plan.watched
        else None
    )
    if settings is None:
        bad = (CONFIG, f"bad trainguard tag: {error or 'unreadable tags'}")
        for rule, enabled in (
            ("catch-up", p.catchup.enabled),
            ("median", p.median.enabled),
            ("patience", p.patience.enabled),
            ("divergence", p.divergence.enabled),
            ("runtime", p.runtime.enabled),
        ):
            add(rule, enabled, bad)
        add("gpu-idle", p.gpu_idle.enabled, unknown, no_gpu)
        for rule, enabled in (
            ("hang", p.hang.enabled),
            ("straggler", p.straggler.enabled),
            ("throughput", p.throughput.enabled),
        ):
            add(rule, enabled, bad)
        return Coverage(tuple(rules), causes)
    objective: tuple[str, str] | None = None
    if settings.objective is None:
        objective = (NO_OBJECTIVE, f"no {TAG_OBJECTIVE} tag")
    elif objective_missing:
        grace = messages.duration(p.coverage.objective_grace_minutes)
        objective = (
            OBJECTIVE_MISSING,
            f"objective {settings.objective} not arriving ({grace} after the start, while "
            "its instances report)",
        )

    def waiting(needed: int) -> tuple[str, str] | None:
        if references >= needed:
            return None
        return (
            REFERENCES,
            f"waiting for references: {references} of {needed} completed jobs in its reference set",
        )

    add("catch-up", p.catchup.enabled, objective, waiting(p.catchup.min_completed))
    add("median", p.median.enabled, objective, waiting(p.median.min_completed))
    add("patience", p.patience.enabled, objective)
    add("divergence", p.divergence.enabled, objective)
    add("runtime", p.runtime.enabled)
    add("gpu-idle", p.gpu_idle.enabled, unknown, no_gpu)
    add("hang", p.hang.enabled, unknown, no_gpu, objective)
    one = "one instance" if job.instance_count < 2 else None
    if one is None and plan.watched and plan.hosts < 2:
        one = "one GPU host"
    elif one is None and plan.watched and not plan.one_group:
        one = "its GPU hosts are in several instance groups (it compares hosts of one group)"
    add("straggler", p.straggler.enabled, one, unknown, no_gpu)
    tagged = None if settings.throughput_metric else f"no {TAG_THROUGHPUT} tag (its opt-in)"
    add("throughput", p.throughput.enabled, tagged)
    return Coverage(tuple(rules), causes)


def _unknown_type(job: JobRecord, plan: GpuHosts) -> str | None:
    """What of the job's instance types (``plan``: its :func:`gpu_hosts`) trainguard does not
    know (None: it knows them all)."""
    if not all(g.instance_type for g in job.groups):
        return "no ResourceConfig.InstanceType"
    return plan.why if plan.unknown else None


def open_causes(job: JobRecord) -> dict[str, float]:
    """The causes kept open on the run's item (cause -> when it opened)."""
    return {
        key[len(EPISODE_PREFIX) :]: opened
        for key, opened in job.episodes.items()
        if key.startswith(EPISODE_PREFIX)
    }


# ---- the tick: keep the causes on the run, say them ---------------------------------------------
def objective_missing(
    job: JobRecord, settings: JobSettings, seen: Observation | None, now: float
) -> bool:
    """The tick's view: the objective has no datapoint ``objectiveGraceMinutes`` after the
    start while the instances report; once open, until a datapoint arrives (an observation
    that could not be read, or instances that fell silent, keep what was known)."""
    was = OBJECTIVE_MISSING in open_causes(job)
    if settings.objective is None or seen is None or seen.progress is None:
        return was
    if seen.progress.last_point is not None:
        return False  # it arrived
    if was:
        return True
    grace = settings.policy.coverage.objective_grace_minutes
    return seen.last_instance is not None and now - job.start_time >= grace * 60.0


def track_coverage(
    act: Act,
    job: JobRecord,
    settings: JobSettings | None,
    seen: Observation | None,
    references: int,
    now: float,
    *,
    error: str | None = None,
) -> Coverage:
    """The job's coverage this tick: open the causes that appeared (their notice, once a run),
    close those that went away (their WATCHED message, once, if a notice was sent)."""
    deps = act.deps
    missing = settings is not None and objective_missing(job, settings, seen, now)
    coverage = job_coverage(
        job,
        settings,
        deps.policy,
        deps.catalog,
        error=error,
        references=references,
        objective_missing=missing,
    )
    held = open_causes(job)
    for cause, why in coverage.causes.items():
        if cause not in held:
            deps.running.set_episode(job.run, EPISODE_PREFIX + cause, now)
            logger.info("not fully watched", extra={"job": job.name, "cause": cause, "why": why})
        if cause in EMAILED and cause != CONFIG:  # a bad tag's CONFIG notice is the tick's
            _notice(act, job, settings, cause, coverage)
    for cause in held:
        if cause in coverage.causes or (settings is None and cause != CONFIG):
            continue  # a bad tag hides the other causes: they are not gone
        deps.running.set_episode(job.run, EPISODE_PREFIX + cause, None)
        logger.info("watched again", extra={"job": job.name, "cause": cause})
        if _said(job, cause):
            message = messages.now_watched(
                job.name, _FIXED.get(cause, cause), _watching(coverage), deps.region
            )
            act.notice(job, f"{cause}-watched", message)
    return coverage


_FIXED = {
    CONFIG: "its trainguard tags are fixed",
    NO_OBJECTIVE: f"it has a {TAG_OBJECTIVE} tag now",
    OBJECTIVE_MISSING: "its objective metric arrives",
    INSTANCE_TYPE: "its instance type is known",
    REFERENCES: "its reference set has its completed jobs",
}


def _watching(coverage: Coverage) -> str:
    watched = [r.rule for r in coverage.rules if r.state == "watched"]
    gaps = [f"{r.rule} ({r.why})" for r in coverage.gaps()]
    text = ", ".join(watched) or "none"
    return text + (f"; not yet: {', '.join(gaps)}" if gaps else "")


def _notice(
    act: Act, job: JobRecord, settings: JobSettings | None, cause: str, coverage: Coverage
) -> bool:
    """The cause's notice, unless said this run; True if sent now."""
    if _said(job, cause):
        return False
    region = act.deps.region
    if cause == NO_OBJECTIVE:
        return act.notice(job, cause, messages.no_objective(job.name, region))
    if cause == INSTANCE_TYPE:
        rules = [r.rule for r in coverage.gaps() if r.cause == INSTANCE_TYPE]
        plan = gpu_hosts(job.groups, act.deps.catalog)
        why = _unknown_type(job, plan) or "unknown instance type"
        known = act.deps.catalog.names()
        message = messages.unknown_instance_type(job.name, why, plan.unknown, rules, known, region)
        return act.notice(job, cause, message)
    assert settings is not None and settings.objective is not None
    grace = settings.policy.coverage.objective_grace_minutes
    defined = metric_definitions(act, job.name)
    held = cloudwatch_names(act, job.name)
    logger.warning(
        "objective not arriving",
        extra={
            "job": job.name,
            "objective": settings.objective,
            "defined": list(defined),
            "cloudwatch": held,
        },
    )
    message = messages.objective_missing(
        job.name, settings.objective, grace, defined, region, held=held
    )
    return act.notice(job, cause, message)


def metric_definitions(act: Act, job: str) -> Sequence[str]:
    """The metric names the job's ``MetricDefinitions`` define (empty: none, or unreadable)."""
    try:
        described = act.deps.training_jobs.describe(job)
    except Exception:
        logger.exception("DescribeTrainingJob failed: the notice goes without the names")
        return ()
    spec = described.get("AlgorithmSpecification", {})
    definitions = (spec.get("MetricDefinitions") if isinstance(spec, Mapping) else None) or []
    return [str(d["Name"]) for d in entries(definitions) if isinstance(d, dict) and d.get("Name")]


def cloudwatch_names(act: Act, job: str) -> list[str] | None:
    """The names CloudWatch holds for the job (ListMetrics, dimension ``TrainingJobName``);
    None when unreadable."""
    try:
        return act.deps.metrics.metric_names((("TrainingJobName", job),))
    except Exception:
        logger.exception("ListMetrics failed: the notice goes without CloudWatch's names")
        return None


def _said(job: JobRecord, name: str) -> bool:
    """Claimed this run already (the run's item lists it): no read, no write."""
    return ActionKind.NOTICE.action(name) in job.actions
