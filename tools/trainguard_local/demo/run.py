"""The demo's engine: the emulator, the real deploy, the fleet on a simulated clock.

One simulated minute at a time (:func:`simulate`): start the jobs due (``CreateTrainingJob``
with their tags: the shim makes them InProgress and queues the state change), publish what is
due (objective values at their epoch's minute; ``GPUUtilization`` and ``CPUUtilization`` per
host), end the jobs whose curve is over (``complete``/``fail`` through the shim, unless they
were stopped), settle stops, deliver events (``router.pump``), fire the schedule rules
(``router.tick``: the deployed evaluator) and evaluate the GPU alarms the lifecycle function
created (``alarms.evaluate``: the deployed alert function). Every decision is the deployed
control plane's: this module only plays the jobs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from trainguard import constants as c
from trainguard.constants import TRAINING_NAMESPACE

from ..clock import SimClock
from ..sagemaker_shim import TERMINAL
from .coverage import apply_tag_changes
from .fleet import THROUGHPUT_METRIC, FleetJob, retry_replay
from .revive import new_revivals

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDatumTypeDef
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import MetricDefinitionTypeDef, ResourceConfigTypeDef

    from ..alarms import AlarmEvaluator
    from ..emulator import Emulator
    from ..emulator_deploy import DeployedStack
    from ..mailbox import Mailbox
    from ..router import EventRouter
    from ..sagemaker_shim import SageMakerShim

ROLE_ARN = "arn:aws:iam::123456789012:role/trainguard-demo-sagemaker"
GPU_METRIC = "GPUUtilization"
CPU_METRIC = "CPUUtilization"
DEMO_SHARD_SIZE = 4  # jobs a shard in the demo (the stack's default is 500)


@dataclass
class HostSample:
    minute: int
    per_gpu: float


@dataclass
class RunRecord:
    """What the run played (inputs) and how long it took; the decisions are read from the
    emulator afterwards (:mod:`.summary`)."""

    clock_start: datetime
    minutes: int
    gpu: dict[str, list[HostSample]] = field(default_factory=dict)  # host -> per-GPU %
    published: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # job -> curve
    seconds: dict[str, float] = field(default_factory=dict)
    invocations: int = 0
    failures: list[str] = field(default_factory=list)
    retries: list[FleetJob] = field(default_factory=list)  # jobs trainguard recreated, played
    revivals: list[FleetJob] = field(default_factory=list)  # jobs revived (:mod:`.revive`)
    shard_invocations: int = 0  # the sharded tick: shards judged by the shard function
    fanned_out_ticks: int = 0  # ticks whose planner sent shards


@dataclass
class Plane:
    """The running local control plane (what :func:`simulate` drives)."""

    endpoint_url: str
    clock: SimClock
    shim: SageMakerShim
    router: EventRouter
    alarms: AlarmEvaluator
    mailbox: Mailbox
    deployed: DeployedStack


def create_job(sm: SageMakerClient, job: FleetJob) -> None:
    metrics: list[MetricDefinitionTypeDef] = [
        {"Name": job.objective, "Regex": "val_loss=([0-9.eE+-]+)"}
    ]
    if job.samples_per_sec:
        metrics.append({"Name": THROUGHPUT_METRIC, "Regex": "samples/s=([0-9.eE+-]+)"})
    sm.create_training_job(
        TrainingJobName=job.name,
        AlgorithmSpecification={
            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3",
            "TrainingInputMode": "File",
            "MetricDefinitions": metrics,
        },
        RoleArn=ROLE_ARN,
        OutputDataConfig={"S3OutputPath": f"s3://demo-bucket/{job.group}/"},
        ResourceConfig=cast(  # the fleet's instance types are strings from the curve file
            "ResourceConfigTypeDef",
            {
                "InstanceGroups": [
                    {
                        "InstanceGroupName": g.name,
                        "InstanceType": g.instance_type,
                        "InstanceCount": g.count,
                    }
                    for g in job.instance_groups
                ],
                "VolumeSizeInGB": 50,
            }
            if job.instance_groups
            else {
                "InstanceType": job.instance_type,
                "InstanceCount": job.instance_count,
                "VolumeSizeInGB": 50,
            },
        ),
        StoppingCondition={"MaxRuntimeInSeconds": job.max_runtime_s},
        HyperParameters={"source_job": job.source, "epochs": str(job.epochs)},
        Tags=[{"Key": k, "Value": v} for k, v in job.tags.items()],
        **({"CheckpointConfig": {"S3Uri": job.checkpoint}} if job.checkpoint else {}),  # type: ignore[arg-type]
    )


def _put(cloudwatch: CloudWatchClient, data: list[MetricDatumTypeDef]) -> None:
    for i in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=TRAINING_NAMESPACE, MetricData=data[i : i + 500])


class FleetPlayer:
    """Plays a fleet on the plane one simulated minute at a time (:meth:`play`); what it played
    is in :attr:`record` (:meth:`finish` completes it). An empty fleet still runs each minute's
    settle, events, tick and alarms: ``trainguard local up`` plays the minutes it is given."""

    def __init__(
        self,
        plane: Plane,
        fleet: Sequence[FleetJob],
        gpus_of: Callable[[str], int],
        *,
        alarm_every: int = 1,
        progress_every: int = 10,
        on_minute: Callable[[int], None] | None = None,
        out: TextIO = sys.stderr,
    ) -> None:
        from ..emulator import make_client

        self.plane = plane
        self.sm: SageMakerClient = make_client("sagemaker", plane.endpoint_url)
        self.cloudwatch: CloudWatchClient = make_client("cloudwatch", plane.endpoint_url)
        self.gpus_of = gpus_of
        self.alarm_every = alarm_every
        self.progress_every = progress_every
        self.on_minute = on_minute
        self.out = out
        self.record = RunRecord(clock_start=plane.clock.now(), minutes=0)
        self.fleet = list(fleet)  # grows by the retries trainguard creates
        self.last_minute = max((j.end_minute for j in self.fleet), default=0)
        self.began = time.monotonic()
        self.started: set[str] = set()
        self.ended: set[str] = set()
        self.emails_seen = 0

    @property
    def done(self) -> bool:
        """Every job of the fleet has ended (or been stopped)."""
        return len(self.ended) == len(self.fleet)

    def play(self, minute: int) -> None:
        """Minute ``minute`` of the run (the clock set to the run's start + ``minute``)."""
        sm, cloudwatch, gpus_of, plane = self.sm, self.cloudwatch, self.gpus_of, self.plane
        clock, shim, router, alarms = plane.clock, plane.shim, plane.router, plane.alarms
        fleet, started, ended, record = self.fleet, self.started, self.ended, self.record
        now = clock.set(clock.start + timedelta(minutes=minute))
        for job in fleet:
            if job.start_minute == minute and job.name not in started:
                create_job(sm, job)
                started.add(job.name)
        apply_tag_changes(sm, fleet, started, minute)  # a user fixing tags mid-run
        data: list[MetricDatumTypeDef] = []
        running = [j for j in fleet if j.name in started and j.name not in ended]
        for job in running:
            status, _ = shim.status(job.name)
            if status in TERMINAL:
                ended.add(job.name)
            if status != "InProgress" or not job.publishes:
                continue  # stopping or ended (or never got instances): nothing is published
            dims: list[DimensionTypeDef] = [{"Name": "TrainingJobName", "Value": job.name}]
            for value in job.values_at(minute):
                data.append(
                    {
                        "MetricName": job.objective,
                        "Dimensions": dims,
                        "Timestamp": now,
                        "Value": value,
                    }
                )
                record.published.setdefault(job.name, []).append((minute - job.start_minute, value))
            if minute == job.start_minute:
                continue  # instances report from the first full minute
            rate = job.throughput_at(minute)
            if rate is not None:
                data.append(
                    {
                        "MetricName": THROUGHPUT_METRIC,
                        "Dimensions": dims,
                        "Timestamp": now,
                        "Value": rate,
                    }
                )
            for index, host in enumerate(job.hosts(), start=1):
                host_dims: list[DimensionTypeDef] = [{"Name": "Host", "Value": host}]
                gpus = gpus_of(job.host_type(index))
                data.append(
                    {
                        "MetricName": CPU_METRIC,
                        "Dimensions": host_dims,
                        "Timestamp": now,
                        "Value": job.cpu_utilization(index, minute),
                    }
                )
                if job.host_groups and not gpus:
                    continue  # a heterogeneous cluster's CPU host: no GPUUtilization
                gpu = job.gpu_utilization(index, minute, gpus)
                data.append(
                    {
                        "MetricName": GPU_METRIC,
                        "Dimensions": host_dims,
                        "Timestamp": now,
                        "Value": gpu,
                    }
                )
                record.gpu.setdefault(host, []).append(HostSample(minute, gpu / max(gpus, 1)))
        _put(cloudwatch, data)
        for job in running:
            if job.name in ended or minute < job.end_minute:
                continue
            if shim.status(job.name)[0] == "InProgress":
                if job.end_status == "Failed":
                    shim.fail(job.name, job.failure_reason)
                else:
                    shim.complete(job.name)
                ended.add(job.name)
        shim.settle(now)
        router.pump()
        if self.on_minute is not None:
            self.on_minute(minute)
        router.tick(now)
        if minute % self.alarm_every == 0:
            alarms.evaluate(now)
        for retry in _new_retries(shim, fleet, started, minute):
            fleet.append(retry)  # created by the tick: played from the next minute
            started.add(retry.name)
            record.retries.append(retry)
        for revival in new_revivals(shim, fleet, started, minute, record.published):
            fleet.append(revival)  # created by the tick on an owner's request
            started.add(revival.name)
            record.revivals.append(revival)
        record.minutes = minute
        if fleet and self.progress_every and (minute % self.progress_every == 0 or self.done):
            emails = len(plane.mailbox.emails())
            in_alarm = sum(1 for s in alarms.states.values() if s.value == "ALARM")
            statuses = [shim.status(j.name)[0] for j in fleet if j.name in started]
            print(
                f"[demo] t+{minute:3d} min ({now:%H:%M} UTC sim)  "
                f"running {statuses.count('InProgress'):2d}  "
                f"completed {statuses.count('Completed'):2d}  "
                f"stopped {statuses.count('Stopped') + statuses.count('Stopping'):2d}  "
                f"failed {statuses.count('Failed'):2d}  "
                f"alarms in ALARM {in_alarm}  emails {emails}"
                f"{f' (+{emails - self.emails_seen})' if emails > self.emails_seen else ''}"
                f"  [{time.monotonic() - self.began:5.1f} s]",
                file=self.out,
                flush=True,
            )
            self.emails_seen = emails

    def finish(self) -> RunRecord:
        """The last events delivered; the record's counts and timings filled in."""
        router, record = self.plane.router, self.record
        router.pump()
        record.seconds["simulate"] = time.monotonic() - self.began
        record.invocations = len(router.invocations)
        record.shard_invocations = sum(
            1 for inv in router.invocations if inv.function == c.SHARD_FUNCTION_NAME
        )
        record.fanned_out_ticks = sum(
            1
            for inv in router.invocations
            if inv.function == c.EVALUATOR_FUNCTION_NAME
            and isinstance(inv.result, dict)
            and inv.result.get("shards", 0) > 0
        )
        record.failures = [f"{inv.function}: {inv.error}" for inv in router.failures]
        return record


def simulate(
    plane: Plane,
    fleet: Sequence[FleetJob],
    gpus_of: Callable[[str], int],
    *,
    alarm_every: int = 1,
    progress_every: int = 10,
    on_minute: Callable[[int], None] | None = None,
    out: TextIO = sys.stderr,
) -> RunRecord:
    """Play ``fleet`` minute by minute until every job has ended (or been stopped);
    ``on_minute(minute)`` runs before each minute's tick (an operator's command)."""
    player = FleetPlayer(
        plane,
        fleet,
        gpus_of,
        alarm_every=alarm_every,
        progress_every=progress_every,
        on_minute=on_minute,
        out=out,
    )
    for minute in range(player.last_minute + 30):  # + room for the last stops to settle
        player.play(minute)
        if player.done:
            break
    return player.finish()


def _new_retries(
    shim: SageMakerShim, fleet: Sequence[FleetJob], started: set[str], minute: int
) -> list[FleetJob]:
    """The retries trainguard created of the fleet's retry-tagged jobs since the last minute
    (named as :func:`trainguard.logic.retry.retry_name` names them)."""
    from trainguard.logic.retry import retry_name

    out: list[FleetJob] = []
    for job in fleet:
        for attempt in range(1, job.retries + 1):
            name = retry_name(job.name, attempt)
            if name in started or any(j.name == name for j in out):
                continue
            try:
                shim.job(name)
            except KeyError:
                continue
            out.append(retry_replay(job, name, minute + 1))
    return out


def start_plane(
    context: dict[str, Any],
    *,
    cdk_out: Path,
    span: timedelta,
    port: int = 0,
    out: TextIO = sys.stderr,
) -> tuple[Emulator, Plane]:
    """Start the emulator (on ``port``; 0: a free one) and the shim, deploy the stack, wire the
    router, alarms, mailbox. Returns (emulator, plane); the caller stops the emulator and
    uninstalls the shim."""
    from .. import AlarmEvaluator, Emulator, EventRouter, Mailbox, SageMakerShim, Wiring
    from ..emulator_deploy import deploy_to_emulator

    clock = SimClock.ending_now(span)
    began = time.monotonic()
    emulator = Emulator(port=port).start()
    emulator.reset()  # moto's backends are process-wide: start from an empty account
    shim = SageMakerShim(clock=clock.now, stop_delay=timedelta(minutes=1)).install()
    try:
        print(
            f"[demo] AWS emulator (moto server) on {emulator.endpoint_url}; "
            "cdk bootstrap + cdk deploy of the real stack (pinned CLI) ...",
            file=out,
            flush=True,
        )
        deployed = deploy_to_emulator(emulator.endpoint_url, cdk_out, context=context)
        print(
            f"[demo] deployed in {time.monotonic() - began:.0f} s: "
            f"{', '.join(sorted(deployed.functions))}; table {deployed.table_name}",
            file=out,
            flush=True,
        )
        wiring = Wiring.read(emulator.endpoint_url)
        router = EventRouter(
            wiring,
            endpoint_url=emulator.endpoint_url,
            cdk_out=deployed.cdk_out,
            sources=[shim],
            # the demo's fleet is small: shards of a few jobs, so that its ticks really fan out
            extra_env={c.ENV_SHARD_SIZE: str(DEMO_SHARD_SIZE)},
        )
        alarms = AlarmEvaluator(emulator.endpoint_url, router)
        mailbox = Mailbox.attach(emulator.endpoint_url, deployed.topic_arn)
    except BaseException:
        shim.uninstall()
        emulator.stop()
        raise
    plane = Plane(emulator.endpoint_url, clock, shim, router, alarms, mailbox, deployed)
    return emulator, plane
