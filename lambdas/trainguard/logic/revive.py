"""Revivals: a job trainguard stopped is created again from its own description, on the same
checkpoints, under ``<first job>-revived-<k>``, when its owner asks (``trainguard revive JOB``).

SageMaker syncs a job's checkpoint directory (``CheckpointConfig.LocalPath``) to
``CheckpointConfig.S3Uri`` while it runs, and a new job created with the same ``S3Uri`` finds
those checkpoints restored to its local path before its script starts; a script written for
managed spot training resumes from them (docs/revive.md cites AWS's pages). So a stop of a job
with ``CheckpointConfig`` is **resumable**: its audit, its email and ``explain`` say so and
give the command; a stop of a job without it is said to be for good, and why.

Two halves, as a capacity retry (:mod:`.retry`), so that a crash anywhere is resumed and
nothing is created twice:

* **request** (:func:`request`, the ``trainguard revive`` command with the operator's own
  rights): every reason to refuse is checked first and said in one line (trainguard did not
  stop the run, the run is gone or its name reused, no checkpoints or an empty or unreadable
  checkpoint prefix, no role the deployment may pass, a pause, a name taken), then the
  revival ``k`` is claimed as the stopped run's open action ``revive#<k>`` with who, when and
  why. A duplicate command finds the claim and says what became of it.
* **carry out** (:func:`carry_out`, the dispatch table's carry-out of a revival, reached from
  the tick's ``Act.resume_open``): re-check with SageMaker (the same run, still Stopped, still
  checkpointed, its role passable, no pause since), build the request from its description
  (:func:`.retry.create_request`: the same ``CheckpointConfig``, its tags, plus
  ``trainguard:revived-from``), create it as a retry is created (:func:`.retry.ask_create`),
  audit and announce once.

Lineage is trainguard's own record, never a tag: a job is a revival only if the run its
``trainguard:revived-from`` tag names holds trainguard's claim that created this very job
(:func:`lineage`). A revival is protected from the rule that stopped its original (its owner
overruled it); the other rules, the protect tag and a pause still apply (:func:`overruled`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..config import Controls, Mode, RetryConfigError, job_settings, resolve_policy
from ..constants import REVIVED_NAME_INFIX, TAG_REVIVED_FROM
from ..core.decision import Decision
from ..core.stored import Record, real, record, whole
from ..core.values import frozen
from ..models import CheckpointsUnreadable, JobNotFoundError, JobRecord, RunId, epoch_ms
from ..observability import logger
from ..times import iso
from .controls import read_controls
from .dependencies import Dependencies
from .ledger import (
    REVIVE_PREFIX,
    ActionKind,
    Claim,
    ClaimState,
    Ledger,
    Outcome,
    OutcomeKind,
    describe_run,
    mail_key,
    revive_action,
)

RULE = "revive"
MAX_REVIVALS = 20  # revive#<k> claims looked at on one run (refused ones are skipped)
NOT_ENABLED = (
    "this deployment passes no role to SageMaker (its retryRoleArns is empty): revivals and "
    "capacity retries are off"
)


# ---- a stop's resumability -------------------------------------------------------------------
@frozen
class Resumable:
    """Whether a stopped job can be resumed from its checkpoints, and why (not)."""

    resumable: bool
    checkpoint: str | None  # CheckpointConfig.S3Uri
    why: str

    def to_record(self) -> dict[str, object]:
        """The fields of the stop's audit record and claim."""
        return {"resumable": self.resumable, "checkpoint": self.checkpoint}

    def field(self, job: str) -> str:
        """The stop email's ``Resumable`` field."""
        if self.resumable:
            return f"yes: its checkpoints are in {self.checkpoint} (trainguard revive {job})"
        return f"no: {self.why}"


NO_CHECKPOINTS = (
    "it has no CheckpointConfig, so a new run would start from scratch (give the job a "
    "checkpoint S3 URI and resume from its local path, as for managed spot training)"
)


def resumability(description: Record) -> Resumable:
    """A DescribeTrainingJob answer's checkpoint configuration, read as a resumability."""
    config = description.get("CheckpointConfig") or {}
    uri = str(config.get("S3Uri") or "").strip() if isinstance(config, Mapping) else ""
    if not uri:
        return Resumable(False, None, NO_CHECKPOINTS)
    return Resumable(True, uri, f"its checkpoints are in {uri}")


def stop_of(deps: Dependencies, job: JobRecord) -> tuple[str, dict[str, object]] | None:
    """The rule and the stored claim of trainguard's own stop of the run (outcome STOPPED),
    or None: trainguard did not stop it."""
    for action in sorted(job.actions):
        if ActionKind.of(action, {}) is not ActionKind.STOP:
            continue
        item = deps.ledger.get_action(job.run, action)
        if item is not None and str(item.get("outcome", "")) == OutcomeKind.STOPPED.value:
            return action.rsplit("#", 1)[0], dict(item)
    return None


# ---- lineage -------------------------------------------------------------------------------------
@frozen
class Lineage:
    """The chain a run belongs to as trainguard recorded it: its first job's name, which
    revival it is (0: the first job), the run it continues and the rule its owner overruled."""

    base: str
    k: int = 0
    parent: RunId | None = None
    overruled: str | None = None


def lineage(deps: Dependencies, job: JobRecord) -> Lineage:
    """A job is a revival only if the run its ``trainguard:revived-from`` tag names holds a
    ``revive#<k>`` claim of trainguard's that created this very job (its ``created``, or its
    plan's name while the create was under way) before it; any other job is a chain's first,
    whatever its tag says."""
    parent_name = job.tags.get(TAG_REVIVED_FROM, "").strip()
    if not parent_name:
        return Lineage(job.name)
    parent = deps.jobs.latest_run(parent_name)
    if parent is None:
        return _forged(job)
    for action in sorted(parent.actions):
        if not action.startswith(REVIVE_PREFIX):
            continue
        item = deps.ledger.get_action(parent.run, action)
        if item is None:
            continue
        claim = Claim.from_item(parent.run, action, item)
        plan = dict(record(claim.details.get("revive") or {}))
        ours = claim.created == job.name or (
            claim.state is ClaimState.CREATING and plan.get("name") == job.name
        )
        if ours and job.created_ms >= epoch_ms(claim.at):
            rule = plan.get("rule")
            return Lineage(
                str(plan["base"]), whole(plan["k"]), parent.run, None if rule is None else str(rule)
            )
    return _forged(job)


def _forged(job: JobRecord) -> Lineage:
    logger.warning(
        "a revived-from tag trainguard did not write: the job starts its own chain",
        extra={"revived_from": job.tags.get(TAG_REVIVED_FROM)},
    )
    return Lineage(job.name)


def overruled(deps: Dependencies, job: JobRecord, rule: str) -> str | None:
    """Who overruled ``rule`` on this job by reviving it (None: nobody; the rule applies)."""
    if TAG_REVIVED_FROM not in job.tags:
        return None
    chain = lineage(deps, job)
    if chain.parent is None or chain.overruled != rule:
        return None
    return chain.base


# ---- one logical job: a revival continues its original's curve -----------------------------------
def trained_before(deps: Dependencies, job: JobRecord) -> tuple[float, JobRecord | None]:
    """Seconds the chain trained before this revival (its original's start to its stop: a
    revival's start is shifted back by this, so its steps continue where the original's
    stopped and the restart's own minutes, before its TrainingStartTime, are not training)
    and the run it continues; 0 and None for a job that is no revival."""
    if TAG_REVIVED_FROM not in job.tags:
        return 0.0, None
    chain = lineage(deps, job)
    parent = None if chain.parent is None else deps.jobs.get_job(chain.parent)
    if parent is None or parent.end_time is None:
        return 0.0, None
    return max(0.0, parent.end_time - parent.start_time), parent


def continued(deps: Dependencies, record: JobRecord, now: float) -> JobRecord:
    """A new run's record as the lifecycle registers it: a revival's start is its original's
    logical start (:func:`trained_before`) and its progress (the curve summary the evaluator
    folds, with the catch-up streak) is seeded with the original's, so every rule judges one
    curve; any other record as it is."""
    trained, parent = trained_before(deps, record)
    if parent is None:
        return record
    logger.info(
        "a revival continues its original's curve",
        extra={"of": parent.name, "trained_min": trained / 60.0},
    )
    seeded = None if parent.progress is None else replace(parent.progress, checked=now)
    return replace(record, start_time=record.start_time - trained, progress=seeded)


def chain_runs(deps: Dependencies, job: JobRecord) -> list[JobRecord]:
    """The runs of ``job``'s chain, its original first and ``job`` last (each with its start
    shifted to the chain's logical start, so each run's minutes are the chain's steps)."""
    runs = [job]
    for _ in range(MAX_REVIVALS):
        _, parent = trained_before(deps, runs[0])
        if parent is None:
            break
        runs.insert(0, parent)
    return runs


# ---- the request: trainguard revive JOB ----------------------------------------------------------
@frozen
class Answer:
    """What ``trainguard revive`` says (one line) and whether it did (or had done) it."""

    ok: bool
    line: str
    name: str | None = None  # the revival's name


def request(
    deps: Dependencies,
    name: str,
    *,
    by: str,
    reason: str,
    now: float,
    controls: Controls,
) -> Answer:
    """Claim the revival of the stopped job ``name`` (its newest run), or say in one line why
    not. Safe to repeat: a second request finds the first one's claim and says what became
    of it (an open claim is left to the tick's resume pass)."""
    job = deps.jobs.latest_run(name)
    if job is None:
        return _no(f"trainguard has no record of {name}: it revives only the jobs it stopped")
    stop = stop_of(deps, job)
    if stop is None:
        return _no(f"trainguard did not stop {name}: it revives only the jobs it stopped")
    rule, _ = stop
    k, earlier = _next_k(deps, job)
    if earlier is not None:
        return earlier
    why, description = _recheck(deps, job)
    if why is not None:
        return _no(why)
    paused = controls.pause(job.group) if not controls.error else "controls unreadable"
    if deps.policy.stops_disabled or paused:
        held = paused or "trainguard's actions are disabled in this deployment"
        return _no(f"{name} is not revived while {held}: trainguard resume first")
    resumable = resumability(description)
    assert resumable.checkpoint is not None  # _recheck refused a job without
    why = _checkpoints_readable(deps, resumable.checkpoint)
    if why is not None:
        return _no(f"{name} cannot be resumed: {why}")
    chain = lineage(deps, job)
    try:
        from .retry import retry_name  # the rare paths import retry (issue 19)

        revival = retry_name(chain.base, chain.k + k, REVIVED_NAME_INFIX)
    except RetryConfigError as exc:
        return _no(str(exc))
    if _taken(deps, revival):
        return _no(f"the name {revival} is taken already: {name} is not revived")
    plan = {
        "k": chain.k + k,
        "base": chain.base,
        "name": revival,
        "rule": rule,
        "by": by,
        "reason": reason,
        "checkpoint": resumable.checkpoint,
        "group": job.group,
    }
    ledger = Ledger(deps, now)
    details = {"revive": plan, "at": now}
    if ledger.claim(job, revive_action(k), details) is None:
        return Answer(True, f"a revival of {name} was requested already (as {revival})", revival)
    decision = _decision(job, plan, f"revival requested by {by}: {reason or '-'}")
    outcome = Outcome(OutcomeKind.REVIVE_REQUESTED, f"by {by}")
    ledger.audit(job.run, decision, outcome, job.mode, keep=False, extra=_who(plan))
    logger.info("revival requested", extra={"revive": plan})
    return Answer(
        True,
        f"REVIVE REQUESTED: {name} is created again as {revival} by trainguard's next tick, "
        f"on its checkpoints in {resumable.checkpoint}",
        revival,
    )


def _no(line: str) -> Answer:
    return Answer(False, line)


def _next_k(deps: Dependencies, job: JobRecord) -> tuple[int, Answer | None]:
    """The run's next revival number (refused claims are skipped: a new request after the
    cause was mended takes the next one), or what an earlier request became."""
    for k in range(1, MAX_REVIVALS + 1):
        action = revive_action(k)
        if action not in job.actions:
            return k, None
        item = deps.ledger.get_action(job.run, action)
        if item is None:
            return k, None
        claim = Claim.from_item(job.run, action, item)
        plan = dict(record(claim.details.get("revive") or {}))
        if claim.created:
            who = f"by {plan.get('by')} at {iso(claim.at)}"
            return k, Answer(True, f"{job.name} was revived already as {claim.created} ({who})")
        if claim.state is not ClaimState.REFUSED:
            return k, Answer(
                True, f"a revival of {job.name} is under way (as {plan.get('name')})", None
            )
    return MAX_REVIVALS + 1, _no(f"{job.name} was refused {MAX_REVIVALS} revivals already")


def _recheck(deps: Dependencies, job: JobRecord) -> tuple[str | None, Record]:
    """SageMaker's own word on the stopped run: why not (None: go) and its description."""
    if not deps.retry_roles:
        return NOT_ENABLED, {}
    why, description = describe_run(deps, job, f"{job.name} no longer exists in SageMaker")
    if why is not None:
        return f"{job.name}: {why} (the stopped run is gone)", {}
    status = description.get("TrainingJobStatus")
    if status != "Stopped":
        return f"{job.name} is {status}, not Stopped", {}
    resumable = resumability(description)
    if not resumable.resumable:
        return f"{job.name} cannot be resumed: {resumable.why}", {}
    role = str(description.get("RoleArn", ""))
    from .retry import role_allowed

    if not role_allowed(role, deps.retry_roles):
        return f"its role {role} is not among this deployment's retryRoleArns", {}
    return None, description


def _checkpoints_readable(deps: Dependencies, uri: str) -> str | None:
    """Why the checkpoint prefix gives nothing to resume from (None: it has objects, or no
    port to look with: the functions' role does not read the teams' buckets)."""
    if deps.checkpoints is None:
        return None
    try:
        if not deps.checkpoints.has_objects(uri):
            return f"its checkpoint prefix {uri} is empty (nothing to resume from)"
    except CheckpointsUnreadable as exc:
        return f"its checkpoint prefix {uri} cannot be read ({exc})"
    return None


def _taken(deps: Dependencies, name: str) -> bool:
    try:
        deps.training_jobs.describe(name)
    except JobNotFoundError:
        return False
    return True


# ---- revive when the evidence changes ----------------------------------------------------------
EVIDENCE_BY = "trainguard (the evidence changed)"


def on_completion(deps: Dependencies, completed: JobRecord, now: float) -> list[str]:
    """A job of the group completed and joined its references: when the group's policy says
    ``revive.auto`` (off by default), judge each resumable job trainguard stopped in the
    group in the last ``revive.lookbackHours`` again, on its frozen curve (its run's last
    progress) with the group's new state, and request the revival of those the rules would
    no longer stop (at most ``revive.perDay`` a group a UTC day), naming ``completed`` as
    what changed the evidence. Never in observe mode, under a pause or the kill switch.
    Returns the requests' lines."""
    refs = completed.reference_set
    stats, policies = deps.references.batch_get_group_state([refs])
    controls = read_controls(deps.controls)
    policy = resolve_policy(deps.policy, policies.get(refs.group), refs.group, controls)
    if not policy.revive.auto or policy.stops_disabled or deps.config_error:
        return []
    if controls.error or controls.pause(refs.group) or refs not in stats:
        return []
    from .report import read_audit  # the group's policy revives: only then

    since = now - policy.revive.lookback_hours * 3600.0
    records = read_audit(deps.audit, min(since, _day_start(now)), now + 1.0)
    stopped = [run for run, r in records if r.get("action") == "STOPPED" and r.get("resumable")]
    today = sum(
        1
        for _, r in records
        if r.get("by") == EVIDENCE_BY
        and str(r.get("action", "")).startswith(OutcomeKind.REVIVE_REQUESTED.value)
        and str(r.get("audit_at", "")) >= iso(_day_start(now))
        and r.get("group") == refs.group
    )
    lines: list[str] = []
    jobs = deps.jobs.batch_get_jobs(set(stopped))
    for _, job in sorted(jobs.items(), key=lambda item: str(item[0])):
        if today >= policy.revive.per_day:
            break
        if job.reference_set != refs or job.progress is None or job.running:
            continue
        settings = job_settings(job.tags, policy)
        if settings.mode != Mode.ENFORCE:
            continue  # observe mode never revives
        rules = settings.rules
        chosen, _ = rules.judge(job.name, job.progress.summary, rules.group_state(stats[refs]))
        if chosen is not None:
            continue
        why = f"{completed.name} completed: the group's rules no longer stop {job.name}"
        answer = request(deps, job.name, by=EVIDENCE_BY, reason=why, now=now, controls=controls)
        logger.info("revival when the evidence changed", extra={"line": answer.line})
        if answer.ok and answer.name is not None:
            today += 1
            lines.append(answer.line)
    return lines


def _day_start(now: float) -> float:
    return now - now % 86400.0


# ---- carrying it out: the tick's resume pass -------------------------------------------------
def carry_out(ledger: Ledger, job: JobRecord, claim: Claim) -> Outcome:
    """Create the revival claimed on the stopped run ``job``, or say why not (once: the claim
    is closed); the outcome. Safe to repeat at any point."""
    deps = ledger.deps
    plan = dict(record(claim.details.get("revive") or {}))
    name = str(plan["name"])
    decision = _decision(job, plan, f"{job.name} revived as {name} by {plan.get('by')}")
    paused = ledger.controls.pause(job.group)
    if paused or deps.policy.stops_disabled or deps.config_error:
        # a pause (or the kill switch) that came after the request: said once, not created;
        # the owner asks again after trainguard resume
        held = paused or "trainguard's actions are disabled"
        return _refused(ledger, job, claim, decision, f"{held} since the request")
    why, description = _recheck(deps, job)
    if why is None and stop_of(deps, job) is None:
        why = f"trainguard did not stop {job.name}"
    if why is None:
        why = _checkpoints_readable(deps, str(plan.get("checkpoint", "")))
    if why is not None:
        return _refused(ledger, job, claim, decision, why)
    tags = deps.training_jobs.tags(str(description.get("TrainingJobArn") or job.arn))
    from .retry import Asking, ask_create, create_request

    request_ = create_request(description, name, revival_tags(tags, job.name))
    asked = ask_create(ledger, claim, request_, {TAG_REVIVED_FROM: job.name})
    if asked.state is Asking.DEFERRED:
        return Outcome(OutcomeKind.REVIVE_HELD, "SageMaker asked to wait")
    if asked.state is not Asking.CREATED:
        return _refused(ledger, job, claim, decision, asked.why)
    outcome = Outcome(OutcomeKind.REVIVED, f"as {name}")
    logger.info("revival created", extra={"job": name, "of": job.name})
    _say(ledger, job, claim, decision, outcome, "created")
    ledger.finish(job.run, claim.action, outcome, created=name)
    return outcome


def revival_tags(tags: Mapping[str, str], parent: str) -> list[dict[str, str]]:
    """The original's tags (it stays opted in, in its group), but not ``aws:`` ones (only AWS
    sets those), with the run it continues."""
    kept = {k: v for k, v in tags.items() if not k.lower().startswith("aws:")}
    kept[TAG_REVIVED_FROM] = parent
    return [{"Key": k, "Value": v} for k, v in kept.items()]


def _refused(ledger: Ledger, job: JobRecord, claim: Claim, decision: Decision, why: str) -> Outcome:
    outcome = Outcome(OutcomeKind.NOT_REVIVED, why)
    logger.warning("revival not created", extra={"why": why})
    _say(ledger, job, claim, decision, outcome, "refused")
    ledger.finish(job.run, claim.action, outcome, ClaimState.REFUSED)
    return outcome


def _say(
    ledger: Ledger,
    job: JobRecord,
    claim: Claim,
    decision: Decision,
    outcome: Outcome,
    mail: str,
) -> None:
    plan = dict(record(claim.details.get("revive") or {}))
    from . import messages

    message = messages.revived(
        job.name,
        str(plan.get("name")),
        outcome.text,
        facts={
            "Requested by": f"{plan.get('by')} at {iso(claim.at)}",
            "Reason": str(plan.get("reason") or "-"),
            "Overrules": f"the {plan.get('rule')} rule (the other rules and a pause apply)",
            "Checkpoints": str(plan.get("checkpoint")),
            "Group": job.group,
        },
        region=ledger.deps.region,
        created=outcome.kind is OutcomeKind.REVIVED,
    )
    ledger.announce(
        job.run,
        decision,
        outcome,
        job.mode,
        key=mail_key(job.run, claim.action, mail),
        message=message,
        keep=False,
        extra=_who(plan),
    )


def _who(plan: Record) -> dict[str, object]:
    return {
        "by": plan.get("by"),
        "why": plan.get("reason"),
        "revival": plan.get("name"),
        "group": plan.get("group"),
    }


def _decision(job: JobRecord, plan: Record, reason: str) -> Decision:
    """The audit's shape for a revival: value = which revival of the chain."""
    return Decision(
        job=job.name,
        rule=RULE,
        stop=False,
        step=None,
        value=real(plan.get("k", 0)),
        threshold=None,
        references=0,
        reason=reason,
        alert=True,
    )
