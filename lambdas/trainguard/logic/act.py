"""Acting on a decision, in one place for every function: claim, re-check, stop or report,
audit, notify.

* **claim**: a conditional ``ACTION#<rule>#<kind>`` marker, so each job is stopped (or
  reported, or alerted on) once per rule and kind, whatever the duplicates and concurrent
  ticks; an action the job item already lists costs no write;
* **re-check**: in enforce mode the stored tags must still opt the job in;
* **stop** (enforce) or **report** (observe, or the global switch); a failed stop releases
  its claim so the next tick tries again;
* **audit**: one ``DECISION#`` record with the numbers;
* **notify**: one email.

The evaluator (stops and runtime alerts), the alert function (GPU-idle episodes) and the
lifecycle (a failed job) all act through :class:`Act`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..core.curves import fmt
from ..core.decision import Decision
from ..models import GroupStats, JobRecord, RunId
from ..observability import logger
from ..policy import JobSettings, is_opted_in
from . import messages
from .dependencies import Dependencies

STOPPED = "STOPPED"
NOT_OPTED_IN = "NOT STOPPED (not opted in)"
WOULD_STOP_OBSERVE = "WOULD STOP (observe)"
WOULD_STOP_DISABLED = "WOULD STOP (stops disabled)"
ALERT = "ALERT"


@dataclass
class Act:
    """Acts for one invocation at ``now``; counts what it did."""

    deps: Dependencies
    now: float
    stops: int = 0
    would_stops: int = 0
    alerts: int = 0
    dollars_saved: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)

    # ---- the actions -----------------------------------------------------------------------
    def stop(
        self, job: JobRecord, settings: JobSettings, decision: Decision, stats: GroupStats | None
    ) -> str | None:
        """Stop ``job`` once per rule (enforce), or report it once ("would stop"). Returns the
        outcome, or None when an earlier invocation already acted on this rule."""
        kind = "stop" if settings.enforcing else "report"
        action = f"{decision.rule}#{kind}"
        if not self._claim(job, action, decision.to_dict()):
            return None
        try:
            outcome = self._stop_or_report(job, settings)
        except Exception:
            self.deps.store.release_action(job.run, action)  # the next tick tries again
            raise
        savings = estimated_savings(job, stats, self.deps, self.now)
        if outcome == STOPPED:
            self.stops += 1
            self.dollars_saved += savings or 0.0
        elif outcome.startswith("WOULD"):
            self.would_stops += 1
        self.announce(
            job.run,
            decision,
            outcome=outcome,
            mode=mode_text(settings),
            subject=messages.stop_subject(decision, outcome),
            details={"Savings": _dollars(savings), **context(job, stats)},
            savings=savings,
        )
        return outcome

    def _stop_or_report(self, job: JobRecord, settings: JobSettings) -> str:
        if settings.enforcing:
            fresh = self.deps.store.get_job(job.run)
            if fresh is None or not is_opted_in(fresh.tags):
                logger.warning("stop refused: the stored tags no longer opt the job in")
                return NOT_OPTED_IN
            result = self.deps.training_jobs.stop(job.name)
            logger.info("job stopped", extra={"result": result})
            return STOPPED
        return WOULD_STOP_OBSERVE if settings.mode == "observe" else WOULD_STOP_DISABLED

    def alert(
        self, job: JobRecord, settings: JobSettings, decision: Decision, stats: GroupStats | None
    ) -> bool:
        """Alert once per job and rule (the runtime guard); False if already alerted."""
        if not self._claim(job, f"{decision.rule}#alert", decision.to_dict()):
            return False
        self.alerts += 1
        self.announce(
            job.run,
            decision,
            outcome=ALERT,
            mode=mode_text(settings),
            subject=messages.alert_subject(decision),
            details=context(job, None),
        )
        return True

    def notice(self, job: JobRecord, action: str, details: Mapping[str, Any], subject: str,
               body: str) -> bool:  # fmt: skip
        """A once-per-job email that is not a rule's decision (a failed job, a bad tag):
        claimed under ``action``; False if already sent."""
        if not self._claim(job, action, details):
            return False
        self.alerts += 1
        self.deps.notifier.publish(subject, body)
        return True

    # ---- the shared tail: audit, then notify -----------------------------------------------
    def announce(
        self,
        run: RunId,
        decision: Decision,
        *,
        outcome: str,
        mode: str,
        subject: str,
        details: Mapping[str, Any],
        savings: float | None = None,
    ) -> None:
        """One audit record and one email for an action already decided (and claimed)."""
        record = {
            **decision.to_dict(),
            "mode": mode,
            "action": outcome,
            "estimated_dollars_saved": savings,
        }
        iso = datetime.fromtimestamp(self.now, UTC).isoformat(timespec="seconds")
        ttl = int(self.now + self.deps.audit_ttl_days * 86400)
        self.deps.store.put_decision(run, iso, decision.rule, record, ttl)
        self.records.append(record)
        logger.info("decision", extra={"decision": record})
        body = messages.body(
            decision, outcome=outcome, mode=mode, region=self.deps.region, details=details
        )
        self.deps.notifier.publish(subject, body)

    def _claim(self, job: JobRecord, action: str, details: Mapping[str, Any]) -> bool:
        """Win the once-per-job ``action``; an action the job item already lists costs no
        write."""
        return action not in job.actions and self.deps.store.claim_action(
            job.run, action, self.now, details
        )


def mode_text(settings: JobSettings) -> str:
    return settings.mode + (" (stops disabled)" if settings.policy.stops_disabled else "")


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


def _dollars(value: float | None) -> str:
    return "unknown (no price or no completed jobs)" if value is None else f"${value:,.2f}"
