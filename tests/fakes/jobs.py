"""The fakes of :class:`~trainguard.ports.Jobs` and :class:`~trainguard.ports.RunningJobs`:
the runs' own items in the shared :class:`FakeTable`, written as the table's conditions
allow (registered once, ended once, progress never moved back)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import replace

from trainguard.core.progress import Progress
from trainguard.models import JobRecord, RunId

from .faults import FaultInjector
from .table import FakeTable


class FakeJobs(FaultInjector):
    def __init__(self, table: FakeTable | None = None) -> None:
        super().__init__()
        self.table = table or FakeTable()

    def register_job(self, job: JobRecord) -> bool:
        self._call("register_job")
        if self.table.job(job.run) is not None:
            return False
        record = replace(
            job, actions=frozenset(), alarms=frozenset(), progress=None, tags=dict(job.tags)
        )
        self.table.items[self.table.key(job.run)] = {"record": record, "running": job.running}
        return True

    def get_job(self, run: RunId) -> JobRecord | None:
        self._call("get_job")
        item = self.table.job(run)
        return copy.deepcopy(item["record"]) if item else None

    def latest_run(self, name: str) -> JobRecord | None:
        self._call("latest_run")
        items = self.table.under(f"JOB#{name}")
        runs = sorted(item["record"].created_ms for _, item in items if "record" in item)
        return self.get_job(RunId(name, runs[-1])) if runs else None

    def update_start_time(self, run: RunId, start_time: float) -> None:
        self._call("update_start_time")
        item = self.table.job(run)
        if item is not None and not item["record"].start_exact:
            self.table.update_job(run, start_time=start_time, start_exact=True)

    def finalize_job(
        self, run: RunId, status: str, end_time: float | None, failure_reason: str | None
    ) -> bool:
        self._call("finalize_job")
        item = self.table.job(run)
        if item is None:
            return False
        record = item["record"]
        self.table.update_job(
            run,
            status=status,
            end_time=end_time if end_time is not None else record.end_time,
            failure_reason=failure_reason or record.failure_reason,
        )
        item["running"] = False
        return True

    def add_alarms(self, run: RunId, names: Sequence[str]) -> None:
        self._call("add_alarms")
        item = self.table.job(run)
        if item is not None:
            self.table.update_job(run, alarms=item["record"].alarms | frozenset(names))

    def batch_get_jobs(self, runs: Iterable[RunId]) -> dict[RunId, JobRecord]:
        self._call("batch_get_jobs")
        found = {run: self.table.job(run) for run in set(runs)}
        return {run: copy.deepcopy(i["record"]) for run, i in found.items() if i is not None}


class FakeRunningJobs(FaultInjector):
    def __init__(self, table: FakeTable | None = None) -> None:
        super().__init__()
        self.table = table or FakeTable()

    def running_jobs(self) -> list[JobRecord]:
        self._call("running_jobs")
        return [
            copy.deepcopy(item["record"])
            for _, item in sorted(self.table.items.items())
            if "record" in item and item.get("running")
        ]

    def running_runs(self) -> list[JobRecord]:
        self._call("running_runs")
        return [
            _planned(item["record"])
            for _, item in sorted(self.table.items.items())
            if "record" in item and item.get("running")
        ]

    def get_jobs(self, runs: Sequence[RunId]) -> list[JobRecord]:
        self._call("get_jobs")
        found = (self.table.job(run) for run in dict.fromkeys(runs))
        return [copy.deepcopy(item["record"]) for item in found if item is not None]

    def save_progress(self, updates: Sequence[tuple[RunId, Progress]]) -> None:
        self._call("save_progress")
        for run, progress in updates:
            item = self.table.job(run)
            held = item["record"].progress if item is not None else None
            if held is None or held.checked < progress.checked:  # as the table's condition
                self.table.update_job(run, progress=progress)

    def set_episode(self, run: RunId, key: str, opened_at: float | None) -> None:
        self._call("set_episode")
        item = self.table.job(run)
        if item is None:
            return
        episodes = {k: v for k, v in item["record"].episodes.items() if k != key}
        if opened_at is not None:
            episodes[key] = opened_at
        self.table.update_job(run, episodes=episodes)

    def retag(self, job: JobRecord, reset_progress: bool) -> bool:
        self._call("retag")
        item = self.table.job(job.run)
        if item is None or not item.get("running"):
            return False
        fields = ("tags", "opted_in", "group", "objective", "direction", "mode", "config_error")
        values = {f: copy.deepcopy(getattr(job, f)) for f in fields}
        if reset_progress:
            values["progress"] = None
        self.table.update_job(job.run, **values)
        return True


def _planned(record: JobRecord) -> JobRecord:
    """What ``running_runs`` reads of a run (the adapter's ``PLANNED_ATTRIBUTES``)."""
    return JobRecord(
        record.name,
        record.created_ms,
        status=record.status,
        opted_in=record.opted_in,
        group=record.group,
        objective=record.objective,
        direction=record.direction,
        instance_type=record.instance_type,
        instance_count=record.instance_count,
        arn=record.arn,
        tags=dict(record.tags),
        mode=record.mode,
        config_error=record.config_error,
        instance_groups=record.instance_groups,
    )
