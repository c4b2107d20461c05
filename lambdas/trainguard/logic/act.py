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

The evaluator (stops and runtime alerts), the alert function (GPU-idle episodes) and the
lifecycle (a failed job) all act through :class:`Act`; a capacity retry the lifecycle claims
(``retry#<k>``, due at its ``retry_at``) is carried out by :mod:`.retry` on the tick's
resume pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..constants import TAG_PROTECT
from ..core.curves import fmt
from ..core.decision import Decision
from ..models import GroupStats, JobNotFoundError, JobRecord, RunId, StopRefused, epoch_ms
from ..observability import logger
from ..policy import JobSettings, is_opted_in
from ..times import epoch_seconds as _epoch_seconds
from ..times import iso
from . import messages, retry
from .controls import Controls
from .dependencies import Dependencies
from .outbox import Mail

STOPPED = "STOPPED"
WOULD_STOP_OBSERVE = "WOULD STOP (observe)"
WOULD_STOP_DISABLED = "WOULD STOP (stops disabled)"  # and "WOULD STOP (<any hold>)"
ALERT = "ALERT"
MAX_STOP_ATTEMPTS = 5
STOP_RETRY_S = 300.0  # 5, 10, 20, 40 minutes between refused stops


@dataclass
class Act:
    """Acts for one invocation at ``now``; counts what it did."""

    deps: Dependencies
    now: float
    controls: Controls = field(default_factory=Controls)  # a pause holds even resumed stops
    stops: int = 0
    would_stops: int = 0
    alerts: int = 0
    stop_failures: int = 0
    dollars_saved: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)
    mail: Mail = field(init=False)

    def __post_init__(self) -> None:
        self.mail = Mail(self.deps.outbox, self.deps.notifier, self.now)

    # ---- the actions -----------------------------------------------------------------------
    def stop(
        self, job: JobRecord, settings: JobSettings, decision: Decision, stats: GroupStats | None
    ) -> str | None:
        """Stop ``job`` once per rule (enforce), or report it once ("would stop"). Returns the
        outcome, or None when an earlier invocation already acted on this rule."""
        kind = "stop" if settings.enforcing else "report"
        claim = {
            "decision": decision.to_dict(),
            "enforcing": settings.enforcing,
            "hold": settings.hold,
            "mode": mode_text(settings),
            "savings": estimated_savings(job, stats, self.deps, self.now),
            "context": {**context(job, stats), **threshold_setters(settings, decision, stats)},
        }
        action = f"{decision.rule}#{kind}"
        if kind == "report" and f"{decision.rule}#stop" in job.actions:
            return None  # the rule's stop was claimed before a pause: its outcome said it all
        if not self._claim(job, action, claim):
            return None
        return self._carry_out(job, action, {**claim, "state": "claimed", "attempts": 0,
                                             "at": self.now})  # fmt: skip

    def alert(
        self,
        job: JobRecord,
        settings: JobSettings,
        decision: Decision,
        stats: GroupStats | None,
        *,
        episode: str = "",
        since: float | None = None,
    ) -> bool:
        """Alert once per run and rule (the runtime guard), or once per ``episode`` (the
        health rules: a hang, a straggling host, a throughput drop; ``since``: when what it
        saw began); False if already said."""
        facts = {**context(job, None), **self._cost(job)}
        if since is not None:
            ago = max(0.0, (self.now - since) / 60.0)
            facts["Since"] = f"{iso(since)} ({fmt(ago)} min ago)"
        claim = {"decision": decision.to_dict(), "mode": mode_text(settings),
                 "context": {**facts, **links(self.deps.region, job)}}  # fmt: skip
        action = f"{episode or decision.rule}#alert"  # an episode's key names its rule
        if not self._claim(job, action, claim):
            return False
        self._carry_out(job, action, {**claim, "state": "claimed", "at": self.now})
        return True

    def notice(self, job: JobRecord, action: str, subject: str, body: str) -> bool:
        """A once-per-run email that is not a rule's decision (a failed job, a bad tag)."""
        claim = {"subject": subject, "body": body}
        if not self._claim(job, action, claim):
            return False
        self._carry_out(job, action, {**claim, "state": "claimed", "at": self.now})
        return True

    def resume(self, run: RunId, action: str) -> str | None:
        """Carry a claimed action forward from where its invocation stopped (it crashed, timed
        out, or waits to retry a refused stop). Returns its outcome, None if not due yet."""
        claim = self.deps.store.get_action(run, action)
        job = self.deps.store.get_job(run)
        if claim is None or job is None or claim.get("state") == "done":
            self.deps.store.finish_action(run, action)  # nothing left: off the open list
            return None
        due = claim.get("retry_at", claim.get("details", {}).get("retry_at", 0.0))
        if float(due) > self.now:  # a refused stop backing off, a capacity retry not due yet
            return None
        logger.info("resuming an unfinished action", extra={"job": run.name, "action": action})
        return self._carry_out(job, action, {**claim.get("details", {}), **claim})

    def resume_open(self, budget: Any = None) -> int:
        """Resume every open action (while ``budget`` allows); the number resumed."""
        done = 0
        for run, action in self.deps.store.open_actions():
            if budget is not None and budget.exhausted():
                break
            try:
                if self.resume(run, action) is not None:
                    done += 1
            except Exception:
                logger.exception("resuming an action failed", extra={"job": run.name})
        return done

    # ---- carrying one out ------------------------------------------------------------------
    def _carry_out(self, job: JobRecord, action: str, claim: Mapping[str, Any]) -> str:
        kind = action.rsplit("#", 1)[-1]
        if action.startswith(retry.ACTION_PREFIX):  # a capacity retry, claimed by the lifecycle
            return retry.carry_out(self, job, action, claim)
        if "subject" in claim:  # a notice
            self.alerts += 1
            self.mail.send(self._key(job.run, action), str(claim["subject"]), str(claim["body"]))
            self.deps.store.finish_action(job.run, action, outcome=ALERT)
            return ALERT
        decision = Decision(**claim["decision"])
        mode = str(claim.get("mode", job.mode))
        details = dict(claim.get("context", {}))
        if kind == "alert":
            self.alerts += 1
            self._announce(job.run, action, decision, ALERT, mode, claim, details, None)
            self.deps.store.finish_action(job.run, action, outcome=ALERT)
            return ALERT
        if not claim.get("enforcing"):
            hold = claim.get("hold") or "stops disabled"
            outcome = WOULD_STOP_OBSERVE if mode.startswith("observe") else f"WOULD STOP ({hold})"
            self.would_stops += 1
            savings = claim.get("savings")
            details["Savings"] = _dollars(savings)
            self._announce(job.run, action, decision, outcome, mode, claim, details, savings)
            self.deps.store.finish_action(job.run, action, outcome=outcome)
            return outcome
        return self._stop(job, action, decision, mode, claim, details)

    def _stop(self, job: JobRecord, action: str, decision: Decision, mode: str,
              claim: Mapping[str, Any], details: dict[str, Any]) -> str:  # fmt: skip
        store, run = self.deps.store, job.run
        requested = claim.get("state") == "stopping"  # an earlier invocation called Stop
        attempts = int(claim.get("attempts", 0))
        if not requested:
            why = self._recheck(job)
            if why is not None:
                outcome = f"NOT STOPPED ({why})"
                logger.warning("stop refused by the re-check", extra={"why": why})
                self._announce(run, action, decision, outcome, mode, claim, details, None)
                store.finish_action(run, action, state="refused", outcome=outcome)
                return outcome
        store.update_action(run, action, state="stopping", attempts=attempts + 1)
        try:
            result = self.deps.training_jobs.stop(job.name)
        except StopRefused as exc:
            return self._stop_refused(job, action, decision, mode, claim, details, exc,
                                      attempts + 1)  # fmt: skip
        if result == "already ending" and not requested:
            # between the re-check and the call, the job ended by itself or by its owner
            outcome = "NOT STOPPED (already ending)"
            self._announce(run, action, decision, outcome, mode, claim, details, None)
            store.finish_action(run, action, state="refused", outcome=outcome)
            return outcome
        savings = claim.get("savings")
        self.stops += 1
        self.dollars_saved += float(savings or 0.0)
        details["Savings"] = _dollars(savings)
        logger.info("job stopped", extra={"result": result, "rule": decision.rule})
        self._announce(run, action, decision, STOPPED, mode, claim, details, savings)
        store.finish_action(run, action, outcome=STOPPED)
        return STOPPED

    def _stop_refused(self, job: JobRecord, action: str, decision: Decision, mode: str,
                      claim: Mapping[str, Any], details: dict[str, Any], exc: StopRefused,
                      attempts: int) -> str:  # fmt: skip
        """SageMaker refused: said once (audit + email), retried with back-off, then given up."""
        outcome = f"COULD NOT STOP ({exc})"
        self.stop_failures += 1
        logger.error("StopTrainingJob refused", extra={"error": str(exc), "attempts": attempts})
        if attempts == 1:
            self._announce(job.run, action, decision, outcome, mode, claim, details, None,
                           key_suffix="#refused")  # fmt: skip
        if attempts >= MAX_STOP_ATTEMPTS:
            self.deps.store.finish_action(job.run, action, state="given up", outcome=outcome)
        else:
            retry = self.now + STOP_RETRY_S * 2 ** (attempts - 1)
            self.deps.store.update_action(job.run, action, state="refused", retry_at=retry,
                                          outcome=outcome)  # fmt: skip
        return outcome

    def _recheck(self, job: JobRecord) -> str | None:
        """Why the stop must not happen now (None: go): SageMaker's own word on the job."""
        try:
            description = self.deps.training_jobs.describe(job.name)
        except JobNotFoundError:
            return "the job no longer exists"
        created = epoch_ms(_epoch_seconds(description.get("CreationTime"), "CreationTime"))
        if created != job.created_ms:
            return "the name belongs to another job now"
        status = description.get("TrainingJobStatus")
        if status != "InProgress":
            return f"already {str(status).lower()}"
        paused = self.controls.pause(job.group)
        if paused is not None:  # paused since the stop was claimed (a resumed action)
            return paused
        arn = str(description.get("TrainingJobArn") or job.arn)
        tags = self.deps.training_jobs.tags(arn)
        if not is_opted_in(tags):
            return "no longer opted in: its trainguard:group tag is gone"
        if tags.get(TAG_PROTECT, "").strip().lower() == "true":
            return f"protected: its {TAG_PROTECT} tag was set"
        return None

    # ---- the shared tail: audit, then notify -----------------------------------------------
    def announce(self, run: RunId, decision: Decision, *, outcome: str, mode: str, subject: str,
                 details: Mapping[str, Any], key: str) -> None:  # fmt: skip
        """Audit and email an action whose once-ness its caller guarantees (a GPU-idle episode
        opened by a conditional write); ``key``: the email's deduplication key."""
        self._audit(run, decision, outcome, mode, None, self.now)
        body = messages.body(decision, outcome=outcome, mode=mode, region=self.deps.region,
                             details=details)  # fmt: skip
        self.mail.send(f"{run}#{key}", subject, body)

    def _announce(self, run: RunId, action: str, decision: Decision, outcome: str, mode: str,
                  claim: Mapping[str, Any], details: Mapping[str, Any], savings: Any,
                  key_suffix: str = "") -> None:  # fmt: skip
        self._audit(run, decision, outcome, mode, savings, float(claim.get("at", self.now)))
        if outcome == ALERT:
            subject = messages.alert_subject(decision)
        else:
            subject = messages.stop_subject(decision, outcome)
        body = messages.body(decision, outcome=outcome, mode=mode, region=self.deps.region,
                             details=details)  # fmt: skip
        self.mail.send(self._key(run, action) + key_suffix, subject, body)

    def _audit(self, run: RunId, decision: Decision, outcome: str, mode: str, savings: Any,
               at: float) -> None:  # fmt: skip
        record = {
            **decision.to_dict(),
            "mode": mode,
            "action": outcome,
            "estimated_dollars_saved": savings,
        }
        ttl = int(at + self.deps.audit_ttl_days * 86400)
        self.deps.store.put_decision(run, iso(at), decision.rule, record, ttl)
        self.records.append(record)
        logger.info("decision", extra={"decision": record})

    def _cost(self, job: JobRecord) -> dict[str, str]:
        """What the job costs an hour while it is in this state."""
        spec = self.deps.catalog.get(job.instance_type)
        if spec is None:
            return {}
        return {"Costs": f"${spec.usd_per_hour * job.instance_count:,.2f} an hour"}

    @staticmethod
    def _key(run: RunId, action: str) -> str:
        return f"{run}#{action}"

    def _claim(self, job: JobRecord, action: str, details: Mapping[str, Any]) -> bool:
        """Win the once-per-run ``action``; an action the run's item already lists costs no
        write."""
        return action not in job.actions and self.deps.store.claim_action(
            job.run, action, self.now, details
        )


def mode_text(settings: JobSettings) -> str:
    """e.g. ``enforce``, ``enforce (paused by ana: quota review)``, ``observe``."""
    hold = settings.hold if settings.hold != "paused" else settings.paused
    return settings.mode + (f" ({hold})" if hold is not None else "")


def estimated_savings(
    job: JobRecord, stats: GroupStats | None, deps: Dependencies, now: float
) -> float | None:
    """price x instance_count x the group's median remaining time (floor 0), in dollars."""
    spec = deps.catalog.get(job.instance_type)
    if spec is None or stats is None or stats.median_duration_min is None:
        return None
    elapsed = max(0.0, (now - job.start_time) / 60.0)
    remaining_h = max(0.0, stats.median_duration_min - elapsed) / 60.0
    return spec.usd_per_hour * job.instance_count * remaining_h


def context(job: JobRecord, stats: GroupStats | None) -> dict[str, Any]:
    """The job's facts for an email."""
    out: dict[str, Any] = {
        "Group": job.group,
        "Objective": f"{job.objective} ({job.direction})",
        "Instances": f"{job.instance_count} x {job.instance_type}",
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


def _dollars(value: float | None) -> str:
    return "unknown (no price or no completed jobs)" if value is None else f"${value:,.2f}"
