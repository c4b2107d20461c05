"""In-memory implementations of the ports (``trainguard.ports``) for fast logic tests: one
fake per port, in a module named like its adapter.

Fakes rather than mocks (Powertools' own advice): each one behaves like the service it
stands for, as far as the logic can tell, so that a test states an outcome ("the job was
stopped once, one email went out") instead of a sequence of calls.
``tests/integration/test_store_contract.py`` runs the same cases against the state table's
fakes and its DynamoDB adapters on moto, port by port, which keeps these honest.

The state table's fakes share one :class:`FakeTable` (its ports write across aggregates, as
the adapters do on one table); :class:`FakeTablePorts` makes all of them over one, as
``trainguard.adapters.dynamodb.table_ports`` makes the adapters.

Faults are injected per method (:class:`FaultInjector`): ``fake.fail("stop",
ThrottlingError(...))`` makes the next call of ``stop`` raise it (``times=`` for more than
one).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from trainguard.config import Policy
from trainguard.logic.dependencies import Dependencies

from .audit import FakeAuditLog
from .cloudwatch import FakeAlarms, FakeMetrics
from .controls import FakeControls
from .episodes import FakeIdleEpisodes
from .events import FakeEventMarks
from .faults import FaultInjector
from .jobs import FakeJobs, FakeRunningJobs
from .ledger import FakeActionLedger
from .notifier import Email, FakeNotifier
from .outbox import FakeOutbox
from .references import FakeReferences
from .s3 import FakeCheckpoints
from .sagemaker import ACCOUNT, REGION, FakeJob, FakeTrainingJobs, describe_job, iso, state_change
from .shards import FakeShardQueue
from .table import FakeTable

__all__ = [
    "ACCOUNT",
    "ALERT_ARN",
    "REGION",
    "Email",
    "FakeActionLedger",
    "FakeAlarms",
    "FakeAuditLog",
    "FakeCheckpoints",
    "FakeControls",
    "FakeEventMarks",
    "FakeIdleEpisodes",
    "FakeJob",
    "FakeJobs",
    "FakeMetrics",
    "FakeNotifier",
    "FakeOutbox",
    "FakeReferences",
    "FakeRunningJobs",
    "FakeShardQueue",
    "FakeTable",
    "FakeTablePorts",
    "FakeTrainingJobs",
    "Fakes",
    "FaultInjector",
    "describe_job",
    "iso",
    "median_policy",
    "state_change",
]

ALERT_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trainguard-alert"


def median_policy(**kwargs: Any) -> Policy:
    """A policy (``Policy(**kwargs)``) that decides by the median rule instead of the default
    catch-up rule: the stop most trust and fault tests use, since a job worse than the median
    of three references is stopped at its first report, with no streak to build. Its
    reconcile runs every tick (``reconcile_every_minutes=1``) unless a test sets a cadence: the
    stories tick whenever they need to."""
    policy = Policy(**{"reconcile_every_minutes": 1, **kwargs})
    return replace(
        policy,
        median=replace(policy.median, enabled=True),
        catchup=replace(policy.catchup, enabled=False),
    )


@dataclass
class FakeTablePorts:
    """The fakes of every port of one state table, over one :class:`FakeTable` (a
    :class:`~trainguard.ports.StateTable`)."""

    table: FakeTable = field(default_factory=FakeTable)
    jobs: FakeJobs = field(init=False)
    running: FakeRunningJobs = field(init=False)
    events: FakeEventMarks = field(init=False)
    ledger: FakeActionLedger = field(init=False)
    outbox: FakeOutbox = field(init=False)
    audit: FakeAuditLog = field(init=False)
    idle_episodes: FakeIdleEpisodes = field(init=False)
    references: FakeReferences = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = FakeJobs(self.table)
        self.running = FakeRunningJobs(self.table)
        self.events = FakeEventMarks(self.table)
        self.ledger = FakeActionLedger(self.table)
        self.outbox = FakeOutbox(self.table)
        self.audit = FakeAuditLog(self.table)
        self.idle_episodes = FakeIdleEpisodes(self.table)
        self.references = FakeReferences(self.table)


@dataclass
class Fakes(FakeTablePorts):
    """A whole account in memory (the state table's ports, and every other service), and the
    dependencies over it (deciding by the median rule unless a test gives its policy:
    :func:`median_policy`)."""

    policy: Policy = field(default_factory=median_policy)
    now: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    training_jobs: FakeTrainingJobs = field(default_factory=FakeTrainingJobs)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    alarms: FakeAlarms = field(default_factory=FakeAlarms)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)
    controls: FakeControls = field(default_factory=FakeControls)
    checkpoints: FakeCheckpoints = field(default_factory=FakeCheckpoints)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.training_jobs.clock = lambda: self.now

    def deps(self, policy: Policy | None = None) -> Dependencies:
        return Dependencies.over(
            self,  # the fake state table's eight ports
            training_jobs=self.training_jobs,
            metrics=self.metrics,
            alarms=self.alarms,
            notifier=self.notifier,
            policy=policy or self.policy,
            region=REGION,
            alert_function_arn=ALERT_ARN,
            clock=lambda: self.now,
            controls=self.controls,
            checkpoints=self.checkpoints,
        )

    def advance(self, minutes: float) -> float:
        self.now += minutes * 60.0
        return self.now
