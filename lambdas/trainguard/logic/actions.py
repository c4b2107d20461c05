"""Acting on a decision, in one place for every function: claim the action once, then carry it
out through the dispatch table (:data:`CARRY_OUTS`, one carry-out per kind of action), and
resume what an earlier invocation left open.

The evaluator (stops, reports, runtime and health alerts), the alert function (GPU-idle
episodes) and the lifecycle (a failed job, a capacity retry) all act through :class:`Act`;
the stops' carry-outs are :mod:`.act`'s, the capacity retry's :mod:`.retry`'s, and what they
share (the claim, the outcome, the audit and the outbox) :mod:`.ledger`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from ..config import JobSettings
from ..core.decision import Decision
from ..core.stored import Record
from ..core.values import mutable
from ..message import Message
from ..models import GroupStats, JobRecord, RunId
from ..observability import logger
from . import act, revive
from .ledger import ActionKind, CarryOut, Claim, ClaimState, Ledger, Outcome

if TYPE_CHECKING:
    from .evaluator import Budget


def _carry_out_retry(ledger: Ledger, job: JobRecord, claim: Claim) -> Outcome:
    """:func:`.retry.carry_out`, its module imported by the first retry (a capacity failure
    of a job tagged ``trainguard:retry``), not by every cold start of the functions that
    carry out actions."""
    from .retry import carry_out

    return carry_out(ledger, job, claim)


CARRY_OUTS: Mapping[ActionKind, CarryOut] = {
    ActionKind.STOP: act.carry_out_stop,
    ActionKind.REPORT: act.carry_out_stop,  # enforce or not is the claim's: one carry-out
    ActionKind.ALERT: act.carry_out_alert,
    ActionKind.NOTICE: act.carry_out_notice,
    ActionKind.RETRY: _carry_out_retry,
    ActionKind.REVIVE: revive.carry_out,
}


@mutable
class Act(Ledger):
    """Acts for one invocation at ``now``; counts what it did (:attr:`counts`)."""

    # ---- the claims -------------------------------------------------------------------------
    def stop(
        self, job: JobRecord, settings: JobSettings, decision: Decision, stats: GroupStats | None
    ) -> str | None:
        """Stop ``job`` once per rule (enforce), or report it once ("would stop"). Returns the
        outcome's text, or None when an earlier invocation already acted on this rule. A
        revival is never stopped by the rule its owner overruled (:func:`.revive.overruled`):
        reported, as a protected job is."""
        if settings.enforcing and revive.overruled(self.deps, job, decision.rule):
            settings = replace(settings, protected=True)
        kind = ActionKind.STOP if settings.enforcing else ActionKind.REPORT
        details = act.stop_details(self, job, settings, decision, stats)
        if kind is ActionKind.REPORT and ActionKind.STOP.action(decision.rule) in job.actions:
            return None  # the rule's stop was claimed before a pause: its outcome said it all
        return self._claim_and_carry_out(job, kind.action(decision.rule), details)

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
        details = act.alert_details(self, job, settings, decision, since)
        action = ActionKind.ALERT.action(episode or decision.rule)  # an episode names its rule
        return self._claim_and_carry_out(job, action, details) is not None

    def notice(self, job: JobRecord, name: str, message: Message) -> bool:
        """A once-per-run message that is not a rule's decision (``failed``: a failed job,
        ``config``: a bad tag); its claim holds the message."""
        action = ActionKind.NOTICE.action(name)
        return self._claim_and_carry_out(job, action, message.to_item()) is not None

    # ---- carrying out, now or later -----------------------------------------------------------
    def resume(self, run: RunId, action: str) -> str | None:
        """Carry a claimed action forward from where its invocation stopped (it crashed, timed
        out, or waits to retry a refused stop). Returns its outcome, None if not due yet."""
        claim = self.read(run, action)
        job = self.deps.jobs.get_job(run)
        if claim is None or job is None or claim.state is ClaimState.DONE:
            self.finish(run, action)  # nothing left: off the open list
            return None
        if claim.due > self.now:  # a refused stop backing off, a capacity retry not due yet
            return None
        logger.info("resuming an unfinished action", extra={"job": run.name, "action": action})
        return self.carry_out(job, claim).text

    def resume_open(self, budget: Budget | None = None) -> int:
        """Resume every open action (while ``budget`` allows); the number resumed."""
        done = 0
        for run, action in self.deps.ledger.open_actions():
            if budget is not None and budget.exhausted():
                break
            try:
                if self.resume(run, action) is not None:
                    done += 1
            except Exception:
                logger.exception("resuming an action failed", extra={"job": run.name})
        return done

    def carry_out(self, job: JobRecord, claim: Claim) -> Outcome:
        return CARRY_OUTS[claim.kind](self, job, claim)

    def _claim_and_carry_out(self, job: JobRecord, action: str, details: Record) -> str | None:
        claim = self.claim(job, action, details)
        return None if claim is None else self.carry_out(job, claim).text
