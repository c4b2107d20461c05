"""The fake of :class:`~trainguard.ports.TrainingJobs` (SageMaker), the jobs it holds, and
the events SageMaker sends about them (``state_change``)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trainguard.models import JobListing, JobNotFoundError, JobSummary, epoch_ms

from .faults import FaultInjector

if TYPE_CHECKING:
    from trainguard.ports import CreateResult, StopResult

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class FakeJob:
    name: str
    tags: dict[str, str]
    status: str = "InProgress"
    secondary: str = "Training"
    instance_type: str = "ml.g5.xlarge"
    instance_count: int = 1
    start: float = 0.0
    end: float | None = None
    max_runtime_s: float = 86400.0
    failure_reason: str | None = None
    role_arn: str = f"arn:aws:iam::{ACCOUNT}:role/training"
    # a heterogeneous cluster: ResourceConfig.InstanceGroups (then instance_type is not sent)
    instance_groups: list[dict[str, Any]] | None = None
    # more of DescribeTrainingJob's answer (a created job keeps its request's fields here)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{self.name}"


def describe_job(fake: FakeJob) -> dict[str, Any]:
    """DescribeTrainingJob's answer for ``fake`` (epoch-second timestamps)."""
    out: dict[str, Any] = {
        "AlgorithmSpecification": {"TrainingImage": "train:latest", "TrainingInputMode": "File"},
        "RoleArn": fake.role_arn,
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        **copy.deepcopy(fake.extra),
        "TrainingJobName": fake.name,
        "TrainingJobArn": fake.arn,
        "TrainingJobStatus": fake.status,
        "SecondaryStatus": fake.secondary,
        "ResourceConfig": (
            {"InstanceGroups": copy.deepcopy(fake.instance_groups)}
            if fake.instance_groups
            else {"InstanceType": fake.instance_type, "InstanceCount": fake.instance_count}
        ),
        "StoppingCondition": {"MaxRuntimeInSeconds": fake.max_runtime_s},
        "CreationTime": fake.start,
        "TrainingStartTime": fake.start,
    }
    if fake.end is not None:
        out["TrainingEndTime"] = fake.end
    if fake.failure_reason:
        out["FailureReason"] = fake.failure_reason
    return out


class FakeTrainingJobs(FaultInjector):
    """SageMaker's training jobs: ``stop`` moves an InProgress job to Stopped (and is
    idempotent, like the adapter: ``"already ending"`` for an ended job)."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, FakeJob] = {}
        self.stopped: list[str] = []
        self.created: list[dict[str, Any]] = []  # every CreateTrainingJob request that won
        self.clock: Callable[[], float] = lambda: 0.0  # a created job's CreationTime
        self.pages_read = 0  # ListTrainingJobs pages (list_since)

    def add(self, job: FakeJob) -> FakeJob:
        self.jobs[job.name] = job
        return job

    def stop(self, job: str) -> StopResult:
        self._call("stop")
        fake = self.jobs.get(job)
        if fake is None:
            raise JobNotFoundError(job)
        if fake.status != "InProgress":
            return "already ending"
        fake.status, fake.secondary = "Stopped", "Stopped"
        self.stopped.append(job)
        return "stopped"

    def create(self, request: Mapping[str, Any]) -> CreateResult:
        """A new InProgress job from the request (``"exists"`` for a name in use, like
        SageMaker's ResourceInUse)."""
        self._call("create")
        name = str(request["TrainingJobName"])
        if name in self.jobs:
            return "exists"
        self.created.append(copy.deepcopy(dict(request)))
        resources = request.get("ResourceConfig", {})
        extra = {
            k: copy.deepcopy(v)
            for k, v in request.items()
            if k not in ("TrainingJobName", "Tags", "RoleArn")
        }
        self.add(
            FakeJob(
                name,
                {t["Key"]: t["Value"] for t in request.get("Tags", [])},
                instance_type=resources.get("InstanceType", "ml.g5.xlarge"),
                instance_count=int(resources.get("InstanceCount", 1)),
                start=self.clock(),
                role_arn=str(request["RoleArn"]),
                instance_groups=copy.deepcopy(resources.get("InstanceGroups")) or None,
                extra=extra,
            )
        )
        return "created"

    def list_in_progress(self) -> list[JobSummary]:
        self._call("list_in_progress")
        running = [j for j in self.jobs.values() if j.status == "InProgress"]
        return [JobSummary(j.name, j.arn, j.status, epoch_ms(j.start)) for j in running]

    def list_since(
        self, since: float, out_of_time: Callable[[], bool] | None = None, page_size: int = 100
    ) -> JobListing:
        """As the adapter pages ListTrainingJobs: every job, newest first, ``page_size`` a page,
        up to the first created before ``since``; ``pages_read`` counts the pages."""
        self._call("list_since")
        found: list[JobSummary] = []
        ordered = sorted(self.jobs.values(), key=lambda j: j.start, reverse=True)
        reached, pages = (epoch_ms(ordered[0].start) if ordered else 0), 0
        for first in range(0, max(1, len(ordered)), page_size):
            pages += 1
            self.pages_read += 1
            for j in ordered[first : first + page_size]:
                if epoch_ms(j.start) < epoch_ms(since):
                    return JobListing(tuple(found), True, reached, pages)
                reached = min(reached, epoch_ms(j.start))
                if j.status == "InProgress":
                    found.append(JobSummary(j.name, j.arn, j.status, epoch_ms(j.start)))
            more = first + page_size < len(ordered)
            if more and out_of_time is not None and out_of_time():
                return JobListing(tuple(found), False, reached, pages)
        return JobListing(tuple(found), True, reached, pages)

    def describe(self, job: str) -> dict[str, Any]:
        self._call("describe")
        fake = self.jobs.get(job)
        if fake is None:
            raise JobNotFoundError(job)
        return describe_job(fake)

    def tags(self, arn: str) -> dict[str, str]:
        self._call("tags")
        for job in self.jobs.values():
            if job.arn == arn:
                return dict(job.tags)
        raise JobNotFoundError(arn)


def state_change(job: FakeJob, *, tags: bool = True, time: float | None = None) -> dict[str, Any]:
    """The "SageMaker Training Job State Change" event of ``job`` as it is now (epoch-ms
    timestamps as strings, tags as a map), as EventBridge delivers it."""
    detail = describe_job(job)
    for key in ("CreationTime", "TrainingStartTime", "TrainingEndTime"):
        if key in detail:
            detail[key] = str(int(detail[key] * 1000))
    if tags:
        detail["Tags"] = dict(job.tags)
    event: dict[str, Any] = {
        "version": "0",
        "id": f"{job.name}-{job.status}",
        "detail-type": "SageMaker Training Job State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "region": REGION,
        "resources": [job.arn],
        "detail": detail,
    }
    if time is not None:
        event["time"] = iso(time)
    return event


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
