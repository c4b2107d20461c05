"""A small simulated account over the fakes: jobs that start, report their objective each
minute, complete or fail; the lifecycle sees their events; the evaluator ticks. The logic
tests read as stories over it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fakes import FakeJob, Fakes, iso, state_change

from trainguard.config import Policy
from trainguard.handlers.events import parse_alarm_event
from trainguard.handlers.lifecycle import handle_state_change
from trainguard.logic.alert import handle_alarm
from trainguard.logic.evaluator import Budget, TickResult, run_tick
from trainguard.logic.lifecycle import LifecycleResult
from trainguard.models import JobRecord, ReferenceSet

OBJECTIVE = "validation:loss"
REFS = ReferenceSet("g", OBJECTIVE, "minimize")  # the reference set of TAGS's jobs
TAGS = {
    "trainguard:group": "g",
    "trainguard:objective": OBJECTIVE,
    "trainguard:mode": "enforce",
}


@dataclass
class World:
    fakes: Fakes = field(default_factory=Fakes)

    @property
    def policy(self) -> Policy:
        return self.fakes.policy

    def deps(self, policy: Policy | None = None) -> Any:
        return self.fakes.deps(policy)

    # ---- jobs -------------------------------------------------------------------------------
    def start(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        *,
        instance_type: str = "ml.g5.xlarge",
        count: int = 1,
        groups: Sequence[tuple[str, str, int]] = (),
        deliver: bool = True,
    ) -> FakeJob:
        """A job; ``groups``: a heterogeneous cluster's ``(name, type, count)`` instance
        groups (then ``instance_type`` and ``count`` are not sent)."""
        job = self.fakes.training_jobs.add(
            FakeJob(
                name,
                dict(TAGS if tags is None else tags),
                instance_type=instance_type,
                instance_count=count,
                start=self.fakes.now,
                instance_groups=[
                    {"InstanceGroupName": n, "InstanceType": t, "InstanceCount": c}
                    for n, t, c in groups
                ]
                or None,
            )
        )
        if deliver:
            self.event(job)
        return job

    def report(self, job: FakeJob, values: Sequence[float], metric: str = OBJECTIVE) -> None:
        """One objective value a minute from the job's start: value i at minute i+1."""
        for i, value in enumerate(values):
            ts = job.start + (i + 1) * 60.0
            self.fakes.metrics.put(metric, {"TrainingJobName": job.name}, ts, value)

    def end(
        self,
        job: FakeJob,
        status: str = "Completed",
        *,
        deliver: bool = True,
        reason: str | None = None,
    ) -> LifecycleResult | None:
        job.status, job.secondary = status, status
        job.end = self.fakes.now
        job.failure_reason = reason
        return self.event(job) if deliver else None

    def event(self, job: FakeJob, **kwargs: Any) -> LifecycleResult:
        return handle_state_change(state_change(job, time=self.fakes.now, **kwargs), self.deps())

    def complete_with(self, name: str, values: Sequence[float]) -> FakeJob:
        """A job that ran to completion with this curve (a reference of group ``g``)."""
        job = self.start(name)
        self.report(job, values)
        self.fakes.advance(len(values) + 1)
        self.end(job)
        return job

    # ---- the functions ----------------------------------------------------------------------
    def tick(self, policy: Policy | None = None, budget: Budget | None = None) -> TickResult:
        return run_tick(self.deps(policy), now=self.fakes.now, budget=budget)

    def alarm(
        self,
        name: str,
        state: str,
        *,
        previous: str = "OK",
        reason_data: str | None = None,
        configuration: dict[str, Any] | None = None,
    ) -> Any:
        """The alarm's Lambda-action payload, its configuration as CloudWatch gives it for the
        alarm the fake account holds under ``name`` (or ``configuration``: a forgery)."""
        data: dict[str, Any] = {"alarmName": name, "state": {"value": state, "reason": "test"}}
        if configuration is None and name in self.fakes.alarms.alarms:
            configuration = alarm_configuration(self.fakes.alarms.alarms[name])
        if configuration is not None:
            data["configuration"] = configuration
        if reason_data is not None:
            data["state"]["reasonData"] = reason_data
        data["previousState"] = {"value": previous}
        event = {"source": "aws.cloudwatch", "alarmData": data, "time": iso(self.fakes.now)}
        return handle_alarm(parse_alarm_event(event), self.deps())

    def record(self, name: str) -> JobRecord:
        """The table's newest run of ``name``."""
        record = self.fakes.jobs.latest_run(name)
        assert record is not None, f"{name} is not registered"
        return record

    def decisions(self, name: str) -> list[dict[str, Any]]:
        """The audit of the newest run of ``name``."""
        return self.fakes.audit.decisions(self.record(name).run)

    def emails(self) -> list[str]:
        """The subjects of the emails sent since the last call."""
        return [e.subject for e in self.fakes.notifier.take()]


def alarm_configuration(alarm: dict[str, Any]) -> dict[str, Any]:
    """``alarmData.configuration`` of a GPU-idle alarm as the adapter creates it."""
    stat = {
        "metric": {
            "namespace": "/aws/sagemaker/TrainingJobs",
            "name": "GPUUtilization",
            "dimensions": {"Host": alarm["host"]},
        },
        "period": 60,
        "stat": "Average",
    }
    return {
        "description": "trainguard GPU idle",
        "metrics": [
            {"id": "m1", "metricStat": stat, "returnData": False},
            {"id": "e1", "expression": f"m1 / {alarm['gpus']}", "returnData": True},
        ],
    }
