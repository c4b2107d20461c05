"""Acting on a decision, in one place for every function: claim, re-check, stop or report,
audit, notify. Every step survives a crash, a timeout and a failed call.

* **claim**: a conditional ``ACTION#<rule>#<kind>`` item (and its ``OPEN`` entry), so each run
  is stopped, reported or alerted on once per rule and kind, whatever the duplicates and
  concurrent invocations. The claim keeps what the rest needs (the decision, the mode, the
  estimated savings), so a later tick can finish it (:meth:`Act.resume`).
* **re-check** (enforce): right before the stop, SageMaker is asked again. The job must be
  the same run (same CreationTime: a name can be reused), still InProgress, and still tagged
  ``trainguard:group``.
* **stop** (enforce) or **report** (observe, or the global switch). The claim says
  ``stopping`` before StopTrainingJob is called, so a stop whose invocation died is recognised
  as ours when the next tick finds the job already stopping. A job that was already ending
  before we asked is not our stop: not counted, nothing "saved". A stop SageMaker refuses
  (AccessDenied, a ValidationException other than "already stopped") is audited and emailed
  once ("could not stop: why"), then retried with back-off a few times.
* **audit**: one ``DECISION#`` record with the numbers (its key is the claim's time, so doing
  it again overwrites it);
* **notify**: one email, through the outbox (:mod:`.outbox`).

This module holds the carry-outs of stops, reports, alerts and notices (:func:`carry_out_stop`,
:func:`carry_out_alert`, :func:`carry_out_notice`) and what their claims hold; the claim, the
dispatch table from an action's kind to its carry-out and the resume pass are
:class:`.actions.Act`'s, the shared values and the one way to say something
:mod:`.ledger`'s. A capacity retry (``retry#<k>``) is another carry-out (:mod:`.retry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..config import Controls, Hold, JobSettings, PolicyError, is_opted_in, resolve_settings
from ..constants import TAG_MODE, TAG_PROTECT
from ..core.curves import fmt
from ..core.decision import Decision
from ..core.instances import hourly_cost, instances_text
from ..core.stored import Record
from ..message import Message
from ..models import GroupStats, JobRecord, StopRefused
from ..observability import logger
from ..times import iso
from . import messages
from .controls import read_controls
from .dependencies import Dependencies
from .ledger import (
    ALERT,
    STOPPED,
    Claim,
    ClaimState,
    Ledger,
    Outcome,
    OutcomeKind,
    describe_run,
    mail_key,
)
from .revive import Resumable, resumability

MAX_STOP_ATTEMPTS = 5
STOP_RETRY_S = 300.0  # 5, 10, 20, 40 minutes between refused stops


# ---- what the claims hold ----------------------------------------------------------------------
def stop_details(
    ledger: Ledger,
    job: JobRecord,
    settings: JobSettings,
    decision: Decision,
    stats: GroupStats | None,
) -> dict[str, object]:
    """A stop's (or a report's) claim: the decision, the mode, the estimated savings and the
    email's facts, so that a later tick can finish it."""
    return {
        "decision": decision.to_dict(),
        "enforcing": settings.enforcing,
        "hold": settings.hold,
        "mode": mode_text(settings),
        "savings": estimated_savings(job, stats, ledger.deps, ledger.now),
        "context": {**context(job, stats), **threshold_setters(settings, decision, stats)},
    }


def alert_details(
    ledger: Ledger, job: JobRecord, settings: JobSettings, decision: Decision, since: float | None
) -> dict[str, object]:
    """An alert's claim (``since``: when what it saw began)."""
    facts = {**context(job, None), **cost(ledger.deps, job)}
    if since is not None:
        ago = max(0.0, (ledger.now - since) / 60.0)
        facts["Since"] = f"{iso(since)} ({fmt(ago)} min ago)"
    if decision.rule == "hung":  # will trainguard stop it?
        after = settings.hang.stop_after_minutes
        facts["Auto-stop"] = messages.hang_stop(after, settings.mode, settings.enforcing)
    return {
        "decision": decision.to_dict(),
        "mode": mode_text(settings),
        "context": {**facts, **links(ledger.deps.region, job)},
    }


# ---- carrying them out -------------------------------------------------------------------------
def carry_out_notice(ledger: Ledger, job: JobRecord, claim: Claim) -> Outcome:
    """A once-per-run email that is no rule's decision: sent, no audit."""
    ledger.counts.alerts += 1
    ledger.say(mail_key(job.run, claim.action), Message.from_item(claim.details))
    ledger.finish(job.run, claim.action, ALERT)
    return ALERT


def carry_out_alert(ledger: Ledger, job: JobRecord, claim: Claim) -> Outcome:
    ledger.counts.alerts += 1
    _announce(ledger, job, claim, ALERT, claim.context, None)
    ledger.finish(job.run, claim.action, ALERT)
    return ALERT


def carry_out_stop(ledger: Ledger, job: JobRecord, claim: Claim) -> Outcome:
    """A stop (enforce: re-check, stop) or a report (observe or held: "would stop"). A claim
    read back from the table is re-checked and re-validated first (:func:`_resumed`)."""
    if claim.resumed:
        return _resumed(ledger, job, claim)
    if claim.enforcing:
        return _stop(ledger, job, claim)
    return _report(ledger, job, claim)


def _report(ledger: Ledger, job: JobRecord, claim: Claim) -> Outcome:
    mode = claim.mode(job.mode)
    hold = claim.hold or "stops disabled"
    outcome = Outcome(OutcomeKind.WOULD_STOP, "observe" if mode.startswith("observe") else hold)
    ledger.counts.would_stops += 1
    details = claim.context
    details["Savings"] = _dollars(ledger, job, claim.savings)
    _announce(ledger, job, claim, outcome, details, claim.savings)
    ledger.finish(job.run, claim.action, outcome)
    return outcome


def _resumed(ledger: Ledger, job: JobRecord, claim: Claim) -> Outcome:
    """A claim an earlier invocation (or anyone who can write the table) left: re-checked as a
    first attempt is (the run, its status, opt-in, protect, pause), whatever state it resumes
    from, then re-validated (:func:`.revalidate.revalidate`: the decision the rules make now,
    the mode in force now). A job already stopping after our own StopTrainingJob is our stop
    (validated too: a written claim says ``stopping`` as easily)."""
    try:
        claim.decision()
    except (KeyError, TypeError, ValueError) as exc:  # nothing to check it against, or to say
        logger.warning("a claim without a decision closed", extra={"error": repr(exc)})
        outcome = Outcome(OutcomeKind.NOT_STOPPED, "claim not validated: it holds no decision")
        ledger.finish(job.run, claim.action, outcome, ClaimState.REFUSED)
        return outcome
    requested = claim.enforcing and claim.state is ClaimState.STOPPING
    if claim.enforcing:
        why, tags, description = _recheck(ledger, job, requested=requested)
        ours = why is OURS
        if ours:
            why, tags = None, ledger.deps.training_jobs.tags(job.arn)
    else:  # a report stops nothing: the run's identity and its tags are enough
        ours = False
        why, description = describe_run(ledger.deps, job, "the job no longer exists")
        tags = {} if why else ledger.deps.training_jobs.tags(_arn(description, job))
    if why is not None:
        return _refuse(ledger, job, claim, why)
    # a resumed act is rare (an earlier invocation died mid-act): its re-validation (the
    # rules, the metrics read again) is imported by the first one, not by every cold start
    from .revalidate import revalidate

    checked = revalidate(ledger, job, claim, tags)
    if checked.why is not None or checked.settings is None:
        return _refuse(ledger, job, claim, f"claim not validated: {checked.why}")
    settings = checked.settings
    savings = estimated_savings(job, checked.stats, ledger.deps, claim.at)
    details = {**claim.details, "savings": savings}
    if ours:
        claim = replace(claim, details=details)
        return _stopped(ledger, job, claim, "stopping at our request", resumability(description))
    if not (claim.enforcing and settings.enforcing):  # observe, or held, now: a report
        details.update(enforcing=False, mode=mode_text(settings), hold=settings.hold)
        return _report(ledger, job, replace(claim, details=details))
    return _stop(ledger, job, replace(claim, details=details), described=description)


def _refuse(ledger: Ledger, job: JobRecord, claim: Claim, why: str) -> Outcome:
    """Not stopped, said once (audit + email), and done."""
    outcome = Outcome(OutcomeKind.NOT_STOPPED, why)
    logger.warning("stop refused by the re-check", extra={"why": why})
    _announce(ledger, job, claim, outcome, claim.context, None)
    ledger.finish(job.run, claim.action, outcome, ClaimState.REFUSED)
    return outcome


def _stop(
    ledger: Ledger, job: JobRecord, claim: Claim, *, described: Record | None = None
) -> Outcome:
    """``described``: the re-check was just done (a resumed claim), this is what it read. The
    description says whether the stop is resumable (its ``CheckpointConfig``)."""
    if described is None:
        why, _, described = _recheck(ledger, job)
        if why is not None:
            return _refuse(ledger, job, claim, why)
    attempts = claim.attempts + 1
    ledger.update(claim, ClaimState.STOPPING, attempts=attempts)
    try:
        result = ledger.deps.training_jobs.stop(job.name)
    except StopRefused as exc:
        return _stop_refused(ledger, job, claim, claim.context, exc, attempts)
    if result == "already ending":
        # between the re-check and the call, the job ended by itself or by its owner
        return _refuse(ledger, job, claim, "already ending")
    return _stopped(ledger, job, claim, result, resumability(described))


def _stopped(
    ledger: Ledger, job: JobRecord, claim: Claim, result: str, resumable: Resumable
) -> Outcome:
    """Stopped: said with whether it can be resumed (``trainguard revive``), recorded on the
    audit record and the claim (``resumable``, ``checkpoint``)."""
    details, savings = claim.context, claim.savings
    ledger.counts.stops += 1
    ledger.counts.dollars_saved += float(savings or 0.0)
    details["Savings"] = _dollars(ledger, job, savings)
    details["Resumable"] = resumable.field(job.name)
    logger.info("job stopped", extra={"result": result, "rule": claim.decision().rule})
    _announce(ledger, job, claim, STOPPED, details, savings, resumable=resumable)
    # the claim's fields (DynamoDB's update names only values it has: no None)
    recorded = {k: v for k, v in resumable.to_record().items() if v is not None}
    ledger.finish(job.run, claim.action, STOPPED, None, **recorded)
    return STOPPED


def _stop_refused(
    ledger: Ledger,
    job: JobRecord,
    claim: Claim,
    details: Record,
    exc: StopRefused,
    attempts: int,
) -> Outcome:
    """SageMaker refused: said once (audit + email), retried with back-off, then given up."""
    outcome = Outcome(OutcomeKind.COULD_NOT_STOP, str(exc))
    ledger.counts.stop_failures += 1
    logger.error("StopTrainingJob refused", extra={"error": str(exc), "attempts": attempts})
    if attempts == 1:
        _announce(ledger, job, claim, outcome, details, None, "refused")
    if attempts >= MAX_STOP_ATTEMPTS:
        ledger.finish(job.run, claim.action, outcome, ClaimState.GIVEN_UP)
    else:
        retry = ledger.now + STOP_RETRY_S * 2 ** (attempts - 1)
        ledger.update(claim, ClaimState.REFUSED, retry_at=retry, outcome=outcome.text)
    return outcome


def recheck_stop(ledger: Ledger, job: JobRecord) -> str | None:
    """Why the stop must not happen now (None: go): SageMaker's own word on the job."""
    return _recheck(ledger, job)[0]


OURS = "ours"  # the job is stopping or stopped after our own StopTrainingJob call


def _recheck(
    ledger: Ledger, job: JobRecord, *, requested: bool = False
) -> tuple[str | None, dict[str, str], Record]:
    """:func:`recheck_stop`'s answer, the job's tags now and its description (its
    ``CheckpointConfig`` says whether the stop is resumable). ``requested``: an earlier
    invocation called StopTrainingJob, so the very run found Stopping or Stopped is
    :data:`OURS` (any other status, another run of the name, is not)."""
    why, description = describe_run(ledger.deps, job, "the job no longer exists")
    if why is not None:
        return why, {}, description
    status = description.get("TrainingJobStatus")
    if requested and status in ("Stopping", "Stopped"):
        return OURS, {}, description
    if status != "InProgress":
        return f"already {str(status).lower()}", {}, description
    before = ledger.controls
    # the controls read past their cache: a pause or a mode announced since this invocation
    # read them (up to CONTROLS_MAX_AGE_S ago) holds this stop
    ledger.controls = read_controls(ledger.deps.controls, fresh=True)
    paused = ledger.controls.pause(job.group)
    if paused is not None:  # paused since the controls were read, or the stop was claimed
        return paused, {}, description
    tags = ledger.deps.training_jobs.tags(_arn(description, job))
    if not is_opted_in(tags):
        return "no longer opted in: its trainguard:group tag is gone", tags, description
    if tags.get(TAG_PROTECT, "").strip().lower() == "true":
        return f"protected: its {TAG_PROTECT} tag was set", tags, description
    return _mode_changed(ledger, job, tags, before), tags, description


def _mode_changed(
    ledger: Ledger, job: JobRecord, tags: Mapping[str, str], before: Controls
) -> str | None:
    """Why a runtime mode set since ``before`` was read holds the stop (None: it does not).
    A job's own ``trainguard:mode`` tag wins over the runtime mode, so only a job without one
    is re-resolved (one read of its group's policy)."""
    if TAG_MODE in tags or ledger.controls.mode(job.group) == before.mode(job.group):
        return None
    _, group_policies = ledger.deps.references.batch_get_group_state({job.reference_set})
    try:
        settings = resolve_settings(
            tags, ledger.deps.policy, group_policies.get(job.group), ledger.controls
        )
    except PolicyError as exc:
        return f"the job's tags do not resolve: {exc}"
    if settings.enforcing:
        return None
    return f"{mode_text(settings)} now: the runtime mode changed since the decision"


def _arn(description: Record, job: JobRecord) -> str:
    return str(description.get("TrainingJobArn") or job.arn)


def _announce(
    ledger: Ledger,
    job: JobRecord,
    claim: Claim,
    outcome: Outcome,
    details: Record,
    savings: float | None,
    mail: str = "",
    *,
    resumable: Resumable | None = None,
) -> None:
    """A rule's decision said: audited at the claim's time, one email (``mail``: which of the
    action's emails, when it has more than one; ``resumable``: a stop's, said and recorded)."""
    decision, mode = claim.decision(), claim.mode(job.mode)
    if outcome == ALERT:
        subject = messages.alert_subject(decision)
    else:
        subject = messages.stop_subject(decision, outcome.text)
    message = messages.decision(
        decision,
        subject=subject,
        outcome=outcome.text,
        mode=mode,
        region=ledger.deps.region,
        details=details,
        revive=resumable is not None and resumable.resumable,
    )
    ledger.announce(
        job.run,
        decision,
        outcome,
        mode,
        savings=savings,
        at=claim.at,
        key=mail_key(job.run, claim.action, *[mail] if mail else []),
        message=message,
        extra=None if resumable is None else resumable.to_record(),
    )


# ---- the facts an email gives ------------------------------------------------------------------
def cost(deps: Dependencies, job: JobRecord) -> dict[str, str]:
    """What the job costs an hour while it is in this state."""
    hourly = hourly_cost(job.groups, deps.catalog)
    if hourly is None:
        return {}
    return {"Costs": f"${hourly:,.2f} an hour"}


def mode_text(settings: JobSettings) -> str:
    """e.g. ``enforce``, ``enforce (paused by ana: quota review)``, ``observe``."""
    hold = settings.hold if settings.hold is not Hold.PAUSED else settings.paused
    return settings.mode + (f" ({hold})" if hold is not None else "")


def estimated_savings(
    job: JobRecord, stats: GroupStats | None, deps: Dependencies, now: float
) -> float | None:
    """price x instance_count (each instance group's) x the group's median remaining time
    (floor 0), in dollars."""
    hourly = hourly_cost(job.groups, deps.catalog)
    if hourly is None or stats is None or stats.median_duration_min is None:
        return None
    elapsed = max(0.0, (now - job.start_time) / 60.0)
    remaining_h = max(0.0, stats.median_duration_min - elapsed) / 60.0
    return hourly * remaining_h


def context(job: JobRecord, stats: GroupStats | None) -> dict[str, object]:
    """The job's facts for an email."""
    out: dict[str, object] = {
        "Group": job.group,
        "Objective": f"{job.objective} ({job.direction})",
        "Instances": instances_text(job.groups),
    }
    if stats is not None and stats.median_duration_min is not None:
        out["Median run"] = f"{fmt(stats.median_duration_min)} min over {stats.references} jobs"
    return out


def threshold_setters(
    settings: JobSettings, decision: Decision, stats: GroupStats | None
) -> dict[str, str]:
    """Which completed jobs set a median-rule threshold (the email names them: a group's
    threshold is whoever tagged their jobs into it)."""
    rule = settings.rules.median
    if decision.rule != "median" or rule is None or stats is None or decision.step is None:
        return {}
    table = stats.table(rule.table_key)
    setters = table.set_by(decision.step) if table is not None else ()
    if not setters:
        return {}
    return {"Set by": f"{' and '.join(setters)} (the median of {decision.references})"}


def links(region: str, job: JobRecord) -> dict[str, str]:
    """Where to look: the job's training logs (its console page is in every email)."""
    return {"Logs": messages.logs_link(region, job.name)}


def _dollars(ledger: Ledger, job: JobRecord, value: float | None) -> str:
    """The Savings field: the estimate, or why there is none (and a bound when one is known)."""
    hourly = hourly_cost(job.groups, ledger.deps.catalog)
    bound = None
    if value is None and hourly is not None and job.max_runtime_s:
        left_h = max(0.0, job.start_time + job.max_runtime_s - ledger.now) / 3600.0
        bound = hourly * left_h
    return messages.savings(value, priced=hourly is not None, bound=bound)
