"""A stop's or a report's claim read back from the table is carried out only if the rules would
make its decision now (issue 21): the table can be written by others than the invocation that
claimed, so what a resumed claim says is a request, not a fact.

* the mode: the job's settings now (its tags as SageMaker has them, the group's policy, the
  runtime controls) say whether a stop may happen at all (observe, the kill switch: a report);
* the decision: its rule must stop the job now, judged from the job's progress (its stored
  summary with the objective's datapoints since, one GetMetricData) and its group's
  statistics (an objective rule), its open GPU-idle hosts, or its open health
  episode; anything else cannot be validated and is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..config import JobSettings, PolicyError, resolve_settings
from ..core import catchup, divergence, gpu_idle, median, patience
from ..core.decision import Decision
from ..core.episode import EpisodeRule, idle_episodes, open_episodes
from ..core.values import frozen
from ..models import GroupStats, JobRecord
from .ledger import Claim, Ledger
from .observe import observe

OBJECTIVE_RULES = frozenset({divergence.RULE, median.RULE, catchup.RULE, patience.RULE})
EPISODE_RULES = frozenset(rule.value for rule in EpisodeRule)


@frozen
class Validated:
    """A resumed claim checked against now: ``why`` it is refused (None: valid), else the
    job's ``settings`` now and its group's ``stats``."""

    why: str | None
    settings: JobSettings | None = None
    stats: GroupStats | None = None


def revalidate(ledger: Ledger, job: JobRecord, claim: Claim, tags: Mapping[str, str]) -> Validated:
    """Whether ``claim`` (read back from the table) is one the rules would make now for ``job``,
    whose tags SageMaker gives as ``tags``."""
    try:
        decision = claim.decision()
    except (KeyError, TypeError, ValueError) as exc:
        return Validated(f"no decision it could be checked against ({type(exc).__name__})")
    if decision.job != job.name or not decision.stop:
        return Validated("its decision is not a stop of this job")
    stats, group_policies = ledger.deps.references.batch_get_group_state({job.reference_set})
    try:
        settings = resolve_settings(
            tags, ledger.deps.policy, group_policies.get(job.group), ledger.controls
        )
    except PolicyError as exc:
        return Validated(f"the job's tags do not resolve: {exc}")
    group = stats.get(job.reference_set)
    why = _rejudge(ledger, job, settings, group, decision)
    return Validated(why, settings, group)


def _rejudge(
    ledger: Ledger,
    job: JobRecord,
    settings: JobSettings,
    stats: GroupStats | None,
    decision: Decision,
) -> str | None:
    rule = decision.rule
    if rule in OBJECTIVE_RULES:
        policy = ledger.deps.policy
        observed = observe(
            [(job, settings)],
            ledger.deps.metrics,
            now=ledger.now,
            unit=policy.step_unit,
            lag_minutes=policy.ingestion_lag_minutes,
        )
        seen = observed.get(job.run)
        progress = seen.progress if seen is not None else None
        if seen is None or progress is None:
            return "no progress of the job is recorded"
        rules = settings.rules
        group = rules.group_state(
            stats, streak=progress.streak, silent_minutes=seen.silent_minutes()
        )
        now = rules.decisions(job.name, progress.summary, group)
        if any(d.stop and d.rule == rule for d in now):
            return None
        return f"the {rule} rule does not stop the job now"
    if rule == gpu_idle.RULE:
        elapsed = max(0.0, (ledger.now - job.start_time) / 60.0)
        idle = settings.gpu_idle.episodes(
            job.name, idle_episodes(job.idle_hosts), now=ledger.now, elapsed_minutes=elapsed
        )
        return None if idle.stop is not None else "no host of the job has been idle long enough"
    if rule in EPISODE_RULES:
        if any(key.rule.value == rule for key in open_episodes(job.episodes)):
            return None
        return f"no {rule} episode is open on the job"
    return f"the {rule} rule never stops a job"
