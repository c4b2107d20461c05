"""The action ledger's shared vocabulary and its one voice: what every carry-out (:mod:`.act`'s
stops, reports, alerts and notices, :mod:`.retry`'s capacity retries) and every function that
says something (the lifecycle's failure notice, the alert function's GPU-idle episodes) agree
on. Nothing here imports a carry-out; the carry-outs import this module, and the dispatch
table (:mod:`.actions`) imports them.

* :class:`ActionKind`, :class:`ClaimState`: what an ``ACTION#`` item is and how far it got;
* :class:`Claim`: one ``ACTION#`` item, read from the table as it is stored today
  (``at``, ``state``, ``attempts``, the claimer's ``details`` and the fields a carry-out wrote
  since: ``retry_at``, ``outcome``, ``tries``, ``created``);
* :class:`Outcome`: what came of an action, whose text (``STOPPED``, ``WOULD STOP (observe)``,
  ``NOT STOPPED (why)``, ...) is the audit record's ``action`` and the email's ``Outcome:``;
* :class:`Ledger`: one invocation's acting (its time, its runtime controls, its counts) and
  the one way to say something: an audit record and one email through the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field, replace
from enum import Enum, StrEnum
from typing import TYPE_CHECKING

from ..config import Controls
from ..core.decision import Decision
from ..core.episode import EpisodeKey, EpisodeRule
from ..core.stored import Record, number, real, record, whole
from ..core.values import frozen, mutable
from ..message import Message
from ..models import JobNotFoundError, JobRecord, RunId, epoch_ms
from ..observability import logger
from ..times import epoch_seconds, iso
from .dependencies import Dependencies
from .outbox import Mail

if TYPE_CHECKING:
    from ..ports import ClaimItem

RETRY_PREFIX = "retry#"  # a capacity retry's action: retry#<attempt>
REVIVE_PREFIX = "revive#"  # a revival's action on the stopped run: revive#<k>


# ---- what an action is, how far it got -------------------------------------------------------
class ActionKind(Enum):
    """The kinds of action, as their ``<rule>#<kind>`` names end (a retry: ``retry#<k>``)."""

    STOP = "stop"  # enforce: re-check, then StopTrainingJob
    REPORT = "report"  # observe or held: "would stop"
    ALERT = "alert"  # a rule's alert (the runtime guard, a health episode)
    NOTICE = "notice"  # an email that is no rule's decision (a failed job, a bad tag)
    RETRY = "retry"  # a capacity retry the lifecycle claimed
    REVIVE = "revive"  # a revival of a stopped run (trainguard revive, or the evidence)

    @classmethod
    def of(cls, action: str, details: Record) -> ActionKind:
        """The kind of the action named ``action`` whose claim holds ``details``. A notice is
        named like an alert (``failed#alert``) and told apart by its text; any other name
        is a stop or a report, which its claim's ``enforcing`` decides."""
        if action.startswith(RETRY_PREFIX):
            return cls.RETRY
        if action.startswith(REVIVE_PREFIX):
            return cls.REVIVE
        if "subject" in details:
            return cls.NOTICE
        suffix = action.rsplit("#", 1)[-1]
        if suffix == cls.ALERT.value:
            return cls.ALERT
        return cls.REPORT if suffix == cls.REPORT.value else cls.STOP

    def action(self, name: str) -> str:
        """The action's name: ``<rule or episode>#<kind>`` (a notice is an alert by name)."""
        return f"{name}#{ALERT_NAME if self is ActionKind.NOTICE else self.value}"


ALERT_NAME = ActionKind.ALERT.value


def retry_action(attempt: int) -> str:
    return f"{RETRY_PREFIX}{attempt}"


def revive_action(k: int) -> str:
    return f"{REVIVE_PREFIX}{k}"


class ClaimState(Enum):
    CLAIMED = "claimed"  # won; not carried out yet (or waiting for its retry_at)
    STOPPING = "stopping"  # StopTrainingJob is being asked (a resumed stop is ours)
    CREATING = "creating"  # CreateTrainingJob is being asked (a capacity retry)
    REFUSED = "refused"  # re-check said no (done), or a refused stop backing off (open)
    GIVEN_UP = "given up"  # a stop SageMaker refused every time
    DONE = "done"


@frozen
class Claim:
    """One ``ACTION#`` item: the claim (``details``, written once by whoever won it) and how far
    it got (the top-level fields the carry-outs update)."""

    run: RunId
    action: str
    at: float
    details: Record = field(default_factory=dict)
    state: ClaimState = ClaimState.CLAIMED
    attempts: int = 0  # StopTrainingJob calls so far
    tries: int = 0  # CreateTrainingJob calls so far
    retry_at: float | None = None  # not to be carried out before this (back-off)
    outcome: str | None = None
    created: str | None = None  # the job a capacity retry created
    # read back from the table (a later invocation, or whoever can write it): its details are
    # a request to re-validate, not a fact (:mod:`.revalidate`)
    resumed: bool = False

    @property
    def kind(self) -> ActionKind:
        return ActionKind.of(self.action, self.details)

    @property
    def due(self) -> float:
        """When it may be carried out: its back-off's ``retry_at`` (a capacity retry's first
        one is in its details), else now."""
        due = self.retry_at if self.retry_at is not None else self.details.get("retry_at")
        return real(due or 0.0)

    # the claimer's details, typed
    def decision(self) -> Decision:
        return Decision.from_dict(record(self.details["decision"]))

    def mode(self, default: str) -> str:
        return str(self.details.get("mode", default))

    @property
    def enforcing(self) -> bool:
        return bool(self.details.get("enforcing"))

    @property
    def hold(self) -> str | None:
        hold = self.details.get("hold")
        return str(hold) if hold else None

    @property
    def savings(self) -> float | None:
        return number(self.details.get("savings"))

    @property
    def context(self) -> dict[str, object]:
        return dict(record(self.details.get("context") or {}))

    @classmethod
    def from_item(cls, run: RunId, action: str, item: ClaimItem) -> Claim:
        """The claim as the table stores it (``ActionLedger.get_action``; keys ignored)."""
        details = dict(item.get("details") or {})
        created = item.get("created")
        return cls(
            run,
            action,
            real(item.get("at", details.get("at", 0.0))),
            details,
            ClaimState(item.get("state", ClaimState.CLAIMED.value)),
            whole(item.get("attempts", 0)),
            whole(item.get("tries", 0)),
            number(item.get("retry_at")),
            None if item.get("outcome") is None else str(item["outcome"]),
            None if created is None else str(created),
        )

    def to_item(self) -> ClaimItem:
        """The item's fields as :meth:`from_item` reads them (what ``claim_action`` writes,
        with what ``update_action`` / ``finish_action`` wrote since)."""
        item: ClaimItem = {
            "at": self.at,
            "state": self.state.value,
            "attempts": self.attempts,
            "details": dict(self.details),
        }
        if self.tries:
            item["tries"] = self.tries
        if self.retry_at is not None:
            item["retry_at"] = self.retry_at
        if self.outcome is not None:
            item["outcome"] = self.outcome
        if self.created is not None:
            item["created"] = self.created
        return item


# ---- what came of it ----------------------------------------------------------------------------
class OutcomeKind(Enum):
    """Each outcome's headline: its text up to the reason in parentheses."""

    STOPPED = "STOPPED"
    WOULD_STOP = "WOULD STOP"  # (observe), (stops disabled), (paused by ...), (protected ...)
    NOT_STOPPED = "NOT STOPPED"  # (why): the re-check, or the job was already ending
    COULD_NOT_STOP = "COULD NOT STOP"  # (SageMaker's refusal)
    ALERT = "ALERT"
    RETRY_SCHEDULED = "RETRY SCHEDULED"
    NOT_RETRIED = "NOT RETRIED"  # (why)
    RETRY_HELD = "RETRY HELD"  # (actions disabled)
    RETRY_REFUSED = "RETRY REFUSED"  # (CreateTrainingJob's refusal)
    RETRY_GIVEN_UP = "RETRY GIVEN UP"  # (tries, the last error)
    RETRY_DEFERRED = "RETRY DEFERRED"
    RETRIED = "RETRIED"
    REVIVE_REQUESTED = "REVIVE REQUESTED"  # (by whom): claimed, the tick creates it
    REVIVED = "REVIVED"  # (as <name>)
    NOT_REVIVED = "NOT REVIVED"  # (why)
    REVIVE_HELD = "REVIVE HELD"  # (a pause, actions disabled): waits


class Tally(StrEnum):
    """How a report counts an outcome (:mod:`.report`; a ``StrEnum``: the word itself)."""

    STOP = "stop"
    WOULD_STOP = "would_stop"
    ALERT = "alert"
    NOT_STOPPED = "not_stopped"
    REVIVED = "revived"
    OTHER = "other"


# how a report counts each headline (those not named: other)
_TALLY = {
    OutcomeKind.STOPPED: Tally.STOP,
    OutcomeKind.WOULD_STOP: Tally.WOULD_STOP,
    OutcomeKind.ALERT: Tally.ALERT,
    OutcomeKind.NOT_STOPPED: Tally.NOT_STOPPED,
    OutcomeKind.COULD_NOT_STOP: Tally.NOT_STOPPED,
    OutcomeKind.REVIVED: Tally.REVIVED,
}


@frozen
class Outcome:
    """What came of an action; :attr:`text` is what the audit record and the email say."""

    kind: OutcomeKind
    why: str | None = None

    @property
    def text(self) -> str:
        return self.kind.value if self.why is None else f"{self.kind.value} ({self.why})"

    def __str__(self) -> str:
        return self.text

    @property
    def tally(self) -> Tally:
        """How :mod:`.report` counts it (a stop or an alert with a reason: other)."""
        if self.why is not None and self.kind in (OutcomeKind.STOPPED, OutcomeKind.ALERT):
            return Tally.OTHER
        return _TALLY.get(self.kind, Tally.OTHER)

    @classmethod
    def parse(cls, text: str) -> Outcome | None:
        """The outcome an audit record's ``action`` says (None: not one of ours)."""
        for kind in sorted(OutcomeKind, key=lambda k: -len(k.value)):
            if text == kind.value:
                return cls(kind)
            if text.startswith(f"{kind.value} (") and text.endswith(")"):
                return cls(kind, text[len(kind.value) + 2 : -1])
        return None


STOPPED = Outcome(OutcomeKind.STOPPED)
ALERT = Outcome(OutcomeKind.ALERT)


def tally_of(text: str) -> Tally:
    """How a report counts an audit record's ``action`` (old records included)."""
    outcome = Outcome.parse(text)
    return outcome.tally if outcome is not None else Tally.OTHER


# ---- one invocation's acting, and its one voice -------------------------------------------------
@mutable
class Counts:
    """What an invocation's actions did (the tick's result is one: the ledger counts into it)."""

    stops: int = 0
    would_stops: int = 0
    alerts: int = 0
    stop_failures: int = 0
    dollars_saved: float = 0.0


@mutable
class Ledger:
    """Acts for one invocation at ``now``: claims, writes how far each got, says what
    happened (audit + outbox), and counts."""

    deps: Dependencies
    now: float
    controls: Controls = field(default_factory=Controls)  # a pause holds even resumed stops
    counts: Counts = field(default_factory=Counts)
    records: list[dict[str, object]] = field(default_factory=list)  # this invocation's audits
    mail: Mail = field(init=False)

    def __post_init__(self) -> None:
        self.mail = Mail(self.deps.outbox, self.deps.notifier, self.now)

    # ---- the claim and its writes ---------------------------------------------------------
    def claim(self, job: JobRecord, action: str, details: Record) -> Claim | None:
        """Win the once-per-run ``action`` (None: someone did before); an action the run's
        item already lists costs no write."""
        if action in job.actions:
            return None
        if not self.deps.ledger.claim_action(job.run, action, self.now, details):
            return None
        return Claim(job.run, action, self.now, dict(details))

    def read(self, run: RunId, action: str) -> Claim | None:
        item = self.deps.ledger.get_action(run, action)
        return None if item is None else replace(Claim.from_item(run, action, item), resumed=True)

    def update(self, claim: Claim, state: ClaimState | None = None, **values: object) -> None:
        """Record how far ``claim`` got (its state, attempts, back-off, tries)."""
        if state is not None:
            values = {"state": state.value, **values}
        self.deps.ledger.update_action(claim.run, claim.action, **_plain(values))

    def finish(
        self,
        run: RunId,
        action: str,
        outcome: Outcome | None = None,
        state: ClaimState | None = None,
        **values: object,
    ) -> None:
        """The action is done (or ``state``: refused, given up), off the open list."""
        if state is not None:
            values = {"state": state.value, **values}
        if outcome is not None:
            values["outcome"] = outcome.text
        self.deps.ledger.finish_action(run, action, **_plain(values))

    # ---- the episode rules' episodes --------------------------------------------------------
    def episodes(
        self, job: JobRecord, changes: Mapping[EpisodeKey, float | None]
    ) -> frozenset[EpisodeKey]:
        """Open (at their time) or close (None) the job's episodes, each where its rule keeps
        it: a GPU-idle host's on its own item (:class:`~trainguard.ports.IdleEpisodes`, closed
        at :attr:`now`), the others on the run's ``episodes`` map; the alert an opening makes
        is said once per episode key. Returns the keys whose episode changed: a GPU-idle write
        is conditional and leaves out a key it found done already (a delivery again); a write
        of the run's map always counts."""
        changed = set()
        for key, opened in changes.items():
            if key.rule is not EpisodeRule.GPU_IDLE or key.host is None:
                self.deps.running.set_episode(job.run, str(key), opened)
                changed.add(key)
            elif opened is not None:
                if self.deps.idle_episodes.open_episode(job.run, key.host, opened):
                    changed.add(key)
            elif self.deps.idle_episodes.close_episode(job.run, key.host, self.now) is not None:
                changed.add(key)
        return frozenset(changed)

    # ---- the one way to say something: an audit record, then one email ----------------------
    def audit(
        self,
        run: RunId,
        decision: Decision,
        outcome: Outcome,
        mode: str,
        savings: float | None = None,
        at: float | None = None,
        *,
        keep: bool = True,
        extra: Record | None = None,
    ) -> None:
        """One audit record of the claim made at ``at`` (appended to the run's hash chain:
        the same outcome said again is not appended twice, a later outcome is appended and
        read as the claim's last word; docs/audit.md). ``keep``: also in this invocation's
        records (the tick's actions); ``extra``: more fields of the
        record (a stop's ``resumable``, a revival's ``by``)."""
        at = self.now if at is None else at
        record = {
            **decision.to_dict(),
            "mode": mode,
            "action": outcome.text,
            "estimated_dollars_saved": savings,
            **(extra or {}),
        }
        ttl = int(at + self.deps.audit_ttl_days * 86400)
        self.deps.audit.put_decision(run, iso(at), decision.rule, record, ttl)
        if keep:
            self.records.append(record)
            logger.info("decision", extra={"decision": record})

    def say(self, key: str, message: Message) -> bool:
        """One message through the outbox under its deduplication ``key`` (never sent
        twice)."""
        return self.mail.send(key, message)

    def announce(
        self,
        run: RunId,
        decision: Decision,
        outcome: Outcome,
        mode: str,
        *,
        key: str,
        message: Message,
        savings: float | None = None,
        at: float | None = None,
        keep: bool = True,
        extra: Record | None = None,
    ) -> None:
        """Audit, then email: how every decision is said."""
        self.audit(run, decision, outcome, mode, savings, at, keep=keep, extra=extra)
        self.say(key, message)


# a carry-out: take a claimed action of the job forward from where its claim says it got, to its
# outcome; safe to repeat at any point (the dispatch table, :data:`.actions.CARRY_OUTS`)
CarryOut = Callable[[Ledger, JobRecord, Claim], Outcome]


def describe_run(deps: Dependencies, job: JobRecord, gone: str) -> tuple[str | None, Record]:
    """SageMaker's description of the very run ``job`` (a carry-out's re-check starts here),
    or why not: ``gone`` (no job of that name) or a name reused by another run."""
    try:
        description = deps.training_jobs.describe(job.name)
    except JobNotFoundError:
        return gone, {}
    created = epoch_ms(epoch_seconds(description.get("CreationTime"), "CreationTime"))
    if created != job.created_ms:
        return "the name belongs to another job now", {}
    return None, description


def mail_key(run: RunId, *parts: str) -> str:
    """An email's deduplication key: the run, then what (the action, and which of its mails)."""
    return "#".join([str(run), *parts])


def _plain(values: Record) -> dict[str, object]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}
