"""The demo's revive group (issue 23): jobs that checkpoint, one of them stopped (a resumable
stop) and revived by ``trainguard revive``, run as its owner runs it (the real CLI, through the
deployed stack's outputs, against the emulator), which then finishes.

* ``rev-ref-1..3``: the first group's three best-ranked curves, started together; they
  complete and become the group's references (the catch-up rule's ``catchupMinCompleted``);
* ``rev-stopped``: the first group's worst-ranked curve that never gets worse than its first
  value (a plateau, not a divergence: only the objective rule stops it, and its revival,
  protected from that rule, runs on), started once they completed: the catch-up rule stops
  it, and since it has ``CheckpointConfig`` the stop is resumable.

Every job has ``CheckpointConfig.S3Uri`` ``s3://demo-checkpoints/revive-demo/<job>/``; the
demo writes an object under it once the job runs, as a training container's checkpoint sync
would (``trainguard revive`` refuses an empty prefix). Once the stopped job is ``Stopped``, the
demo runs ``trainguard revive rev-stopped --reason ... --by demo-owner``; the next tick
creates ``rev-stopped-revived-1`` (:mod:`trainguard.logic.revive`), which the run then plays
(:func:`new_revivals`): the original's curve from the epoch after the last one it published
(what its checkpoint holds) to its end. The summary's ``revive`` object says what happened and
its checks (:func:`revive_section`).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from unittest import mock

from trainguard.constants import REVIVED_NAME_INFIX, TAG_REVIVED_FROM
from trainguard.logic.retry import retry_name
from trainguard_tools.curvefile import CurveRecord

from .fleet import FleetJob, Scenario, _cut, _final

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

    from ..sagemaker_shim import SageMakerShim

REVIVE_GROUP = "revive-demo"
BUCKET = "demo-checkpoints"
REFERENCES = ("rev-ref-1", "rev-ref-2", "rev-ref-3")
STOPPED = "rev-stopped"
STOPPED_ROLE = "resumable stop, revived"
REFERENCE_ROLE = "checkpointed reference"
REVIVAL_ROLE = "revival"
START = 2  # the minute the references start
REASON = "demo: the owner wants this run to finish"
OWNER = "demo-owner"


def checkpoint_uri(job: str) -> str:
    return f"s3://{BUCKET}/{REVIVE_GROUP}/{job}/"


def revival_name(job: str) -> str:
    """The first revival's name (as :mod:`trainguard.logic.revive` names it)."""
    return retry_name(job, 1, REVIVED_NAME_INFIX)


def revive_jobs(records: Sequence[CurveRecord], scenario: Scenario) -> list[FleetJob]:
    """The revive group: three references on the first group's best-ranked curves, then the
    job the catch-up rule stops, on its worst-ranked calm one; one epoch a minute, all
    checkpointed."""
    group = scenario.groups[0]
    epochs = scenario.epochs
    ranked = sorted(
        (r for r in records if r.group == group and r.status == "Completed"),
        key=lambda r: (_final(r, epochs), r.job),
    )
    if len(ranked) < len(REFERENCES) + 1:
        raise ValueError(f"group {group} has too few completed jobs for the revive group")
    if ranked[0].direction != "minimize":
        ranked.reverse()
    calm = [r for r in ranked[len(REFERENCES) :] if _calm(r, epochs)]
    if not calm:
        raise ValueError(f"group {group} has no poor job that does not diverge")
    picks = [*zip(REFERENCES, ranked[: len(REFERENCES)], strict=True), (STOPPED, calm[-1])]
    jobs = []
    for name, r in picks:
        stopped = name == STOPPED
        jobs.append(
            FleetJob(
                name=name,
                group=REVIVE_GROUP,
                source=r.job,
                objective=r.objective,
                direction=r.direction,
                instance_type=r.instance_type,
                instance_count=r.instance_count,
                start_minute=START + (epochs + 2 if stopped else 0),
                minutes_per_epoch=1.0,
                curve=_cut(r.curve, epochs),
                epochs=epochs,
                end_status="Completed",
                role=STOPPED_ROLE if stopped else REFERENCE_ROLE,
                checkpoint=checkpoint_uri(name),
            )
        )
    return jobs


def _calm(r: CurveRecord, epochs: int) -> bool:
    """Whether its curve never gets worse than its first value (no rule but the objective
    rule's stops it, so its revival, protected from that rule, runs to its end)."""
    sign = 1.0 if r.direction == "minimize" else -1.0
    values = [sign * v for _, v in _cut(r.curve, epochs)]
    return bool(values) and all(math.isfinite(v) and v <= values[0] for v in values)


def new_revivals(
    shim: SageMakerShim,
    fleet: Sequence[FleetJob],
    started: set[str],
    minute: int,
    published: Mapping[str, Sequence[tuple[int, float]]],
) -> list[FleetJob]:
    """The revivals trainguard created since the last minute, to be played from the next one:
    the original's curve after the last epoch it published (its checkpoint), on the same
    epochs (its start put back by the original's trained minutes), to completion."""
    out = []
    for job in fleet:
        if job.role != STOPPED_ROLE:
            continue
        name = revival_name(job.name)
        if name in started:
            continue
        try:
            shim.job(name)
        except KeyError:
            continue
        trained = max((m for m, _ in published.get(job.name, ())), default=0)
        rest = tuple((e, v) for e, v in job.curve if e * job.minutes_per_epoch > trained)
        out.append(
            replace(
                job,
                name=name,
                start_minute=minute + 1 - trained,
                curve=rest,
                role=REVIVAL_ROLE,
            )
        )
    return out


@dataclass
class ReviveScenario:
    """Driven from the simulation's minute hook: writes each checkpointed job's checkpoint
    once it runs, and runs ``trainguard revive`` once the stopped job is ``Stopped``."""

    endpoint_url: str
    shim: SageMakerShim
    clock: Callable[[], datetime]  # AWS's clock (the simulated one): the owner's too
    jobs: Sequence[FleetJob]
    written: set[str] = field(default_factory=set)
    requested_at: int | None = None
    exit_codes: list[int] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def __call__(self, minute: int) -> None:
        for job in self.jobs:
            if not job.checkpoint or job.name in self.written:
                continue
            with contextlib.suppress(KeyError):
                self.shim.job(job.name)
                self._write_checkpoint(job)
        target = next((j for j in self.jobs if j.role == STOPPED_ROLE), None)
        if target is None or self.requested_at is not None:
            return
        with contextlib.suppress(KeyError):
            if self.shim.status(target.name)[0] == "Stopped":
                self._cli("revive", target.name, "--reason", REASON)
                self.requested_at = minute

    def _write_checkpoint(self, job: FleetJob) -> None:
        """What a training container's checkpoint sync leaves under the prefix."""
        from ..emulator import make_client

        s3 = make_client("s3", self.endpoint_url)
        if not self.written:
            s3.create_bucket(Bucket=BUCKET)
        key = job.checkpoint.removeprefix(f"s3://{BUCKET}/") + "checkpoint-last.pt"
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"demo checkpoint")
        self.written.add(job.name)

    def _cli(self, *argv: str) -> None:
        from trainguard_tools.cli import main

        from ..emulator import emulator_env

        buffer = io.StringIO()
        now = self.clock().timestamp()  # the request's time on the emulated AWS's clock
        with (
            mock.patch.dict(os.environ, emulator_env(self.endpoint_url)),
            mock.patch("trainguard_tools.revive.time", SimpleNamespace(time=lambda: now)),
            contextlib.redirect_stdout(buffer),
            contextlib.redirect_stderr(buffer),
        ):
            self.exit_codes.append(main([*argv, "--by", OWNER]))
        self.outputs.append(buffer.getvalue().strip())

    def record(self) -> dict[str, Any]:
        return {
            "requested_at_minute": self.requested_at,
            "checkpoints_written": sorted(self.written),
            "cli_exit_codes": self.exit_codes,
            "cli_output": self.outputs,
        }


def revival_tags_of(sm: SageMakerClient, fleet: Sequence[FleetJob]) -> dict[str, dict[str, str]]:
    """The revivals' tags (ListTags: DescribeTrainingJob does not return them)."""
    out = {}
    for job in fleet:
        if job.role == REVIVAL_ROLE:
            arn = sm.describe_training_job(TrainingJobName=job.name)["TrainingJobArn"]
            out[job.name] = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    return out


def revive_section(
    fleet: Sequence[FleetJob],
    emails: Sequence[tuple[str, str]],
    descriptions: Mapping[str, Mapping[str, Any]],
    published: Mapping[str, Sequence[tuple[int, float]]],
    created_by_trainguard: Sequence[str],
    requested: Mapping[str, Any],
    tags: Mapping[str, Mapping[str, str]],
) -> dict[str, Any]:
    """The summary's ``revive`` object: the stopped job, its revival, what was said, and the
    checks (each: ``check``, ``ok``, ``detail``); ``tags``: job -> its tags (ListTags)."""
    stopped = next((j.name for j in fleet if j.role == STOPPED_ROLE), None)
    if stopped is None:
        return {"checks": []}
    revival = revival_name(stopped)
    original = descriptions.get(stopped, {})
    revived = descriptions.get(revival, {})
    stop_emails = [s for s, b in emails if s.startswith(f"[trainguard] STOPPED {stopped}") and b]
    resumable = [
        s
        for s, b in emails
        if s.startswith(f"[trainguard] STOPPED {stopped}") and f"trainguard revive {stopped}" in b
    ]
    announced = [
        s for s in (s for s, _ in emails) if s.startswith(f"[trainguard] REVIVED {stopped}")
    ]
    revivals = [n for n in created_by_trainguard if n.startswith(f"{stopped}-revived-")]
    uri = original.get("CheckpointConfig", {}).get("S3Uri")
    same_uri = bool(uri) and revived.get("CheckpointConfig", {}).get("S3Uri") == uri
    revival_tags = tags.get(revival, {})
    before = [m for m, _ in published.get(stopped, ())]
    after = [m for m, _ in published.get(revival, ())]
    # the revival's published minutes are on the original's epoch axis (its start put back)
    continues = bool(before) and bool(after) and min(after) == max(before) + 1
    status = revived.get("TrainingJobStatus")
    checks = [
        {
            "check": "the checkpointed job's stop said resumable, with the command",
            "ok": bool(resumable),
            "detail": "; ".join(resumable) or f"stop emails: {'; '.join(stop_emails) or 'none'}",
        },
        {
            "check": "trainguard revive accepted the owner's request",
            "ok": requested.get("cli_exit_codes") == [0],
            "detail": f"exit codes {requested.get('cli_exit_codes')} at minute "
            f"{requested.get('requested_at_minute')}: "
            + " | ".join(requested.get("cli_output") or []),
        },
        {
            "check": "the revival created once and announced",
            "ok": revivals == [revival] and len(announced) == 1,
            "detail": f"created: {', '.join(revivals) or 'none'}; "
            f"announced: {'; '.join(announced) or 'none'}",
        },
        {
            "check": "the revival resumed from the same checkpoints and finished",
            "ok": same_uri
            and revival_tags.get(TAG_REVIVED_FROM) == stopped
            and status == "Completed",
            "detail": f"{revival}: {status}, checkpoint {revived.get('CheckpointConfig')}, "
            f"{TAG_REVIVED_FROM}={revival_tags.get(TAG_REVIVED_FROM)}",
        },
        {
            "check": "the revived curve continues its original's",
            "ok": continues,
            "detail": f"original's epochs {min(before, default=None)}-{max(before, default=None)}, "
            f"the revival's {min(after, default=None)}-{max(after, default=None)}",
        },
    ]
    return {
        "group": REVIVE_GROUP,
        "stopped_job": stopped,
        "revived_job": revival if revived else None,
        "revived_jobs": revivals,
        "checkpoint": uri,
        "revival_status": status,
        **dict(requested),
        "announced": announced,
        "checks": checks,
    }
