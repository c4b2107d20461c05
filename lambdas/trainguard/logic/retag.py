"""Live tags: the tick re-reads each running job's tags (ListTags) on a bounded cadence, so
that a tag added, fixed or removed on a running job takes effect within a few ticks (a
``trainguard:group`` added mid-run opts the job in, a removed one opts it out, a fixed bad tag
gets the job judged).

Why a re-read and not the tag-change events (docs/coverage.md): EventBridge's "Tag Change on
Resource" events (source ``aws.tag``) are delivered best effort, and AWS does not document
SageMaker training jobs among the resources that emit them; SageMaker's own "Training Job
State Change" events carry the tags only as they were at that change. A re-read every
``coverage.tagRereadMinutes`` is bounded, needs no new rule or permission (the functions call
ListTags already), and is what the events could only speed up.

The cadence: each running job (opted in or not: an added group opts a job in) is read once a
period, on its own phase (a hash of its name), so the reads spread over the ticks; the period
is ``tagRereadMinutes``, or longer when the fleet is large: ``ceil(2 x jobs /
TAG_READS_PER_TICK)`` ticks, so that a tick's share is half the cap on average and the
hashed phases, which clump, stay under it. Stateless: no write unless a job's tags changed
(then one UpdateItem: :meth:`~trainguard.ports.RunningJobs.retag`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import field

from ..config import Policy
from ..constants import TAG_OBJECTIVE, TAG_THROUGHPUT
from ..core.values import mutable
from ..models import JobNotFoundError, JobRecord
from ..observability import logger
from .dependencies import Dependencies

TAG_READS_PER_TICK = 100  # ListTags calls a tick at most (SageMaker throttles: "Rate exceeded")
TAG_READ_THREADS = 8  # concurrent ListTags calls (a boto3 client is thread-safe)
HEADROOM = 2  # a period long enough for twice the fleet: the phases' clumps fit the cap


@mutable
class Retagged:
    """What a tick's re-read found."""

    running: list[JobRecord]  # the running jobs, with the tags read now
    read: int = 0
    changed: list[str] = field(default_factory=list)
    opted_in: list[str] = field(default_factory=list)  # a group tag added
    opted_out: list[str] = field(default_factory=list)  # its group tag removed
    errors: int = 0


def period_s(jobs: int, policy: Policy) -> float:
    """How often each of ``jobs`` running jobs has its tags read, in seconds."""
    tick_s = policy.tick_minutes * 60.0
    ticks = math.ceil(HEADROOM * jobs / TAG_READS_PER_TICK)
    return max(policy.coverage.tag_reread_minutes * 60.0, ticks * tick_s)


def due(name: str, now: float, period: float, tick_s: float) -> bool:
    """A period boundary of the job's own phase fell in the tick's interval (now - tick, now]:
    with regular ticks, once a period per job."""
    phase = zlib.crc32(name.encode()) % max(1, int(period))
    return (now + phase) // period != (now - tick_s + phase) // period


def refresh_tags(deps: Dependencies, running: Sequence[JobRecord], now: float) -> Retagged:
    """Read the tags of the running jobs whose turn it is, and write those that changed (the
    job's item, and the returned running list). One job's failure is logged and counted."""
    out = Retagged(list(running))
    period = period_s(len(running), deps.policy)
    tick_s = deps.policy.tick_minutes * 60.0
    turn = [j for j in running if j.arn and due(j.name, now, period, tick_s)]
    if len(turn) > TAG_READS_PER_TICK:
        logger.warning("more tags due than a tick reads: the rest next period")
    turn = turn[:TAG_READS_PER_TICK]
    if not turn:
        return out

    def read(job: JobRecord) -> dict[str, str] | Exception | None:
        try:
            return deps.training_jobs.tags(job.arn)
        except JobNotFoundError:
            return None  # gone: the reconcile finalizes it
        except Exception as exc:  # counted below, in the tick's thread
            return exc

    with ThreadPoolExecutor(max_workers=min(TAG_READ_THREADS, len(turn))) as pool:
        found = list(pool.map(read, turn))
    index = {job.run: i for i, job in enumerate(out.running)}
    for job, tags in zip(turn, found, strict=True):
        out.read += 1
        if isinstance(tags, Exception):
            out.errors += 1
            logger.error("ListTags failed", extra={"job": job.name, "error": str(tags)})
            continue
        if tags is None or tags == job.tags:
            continue
        try:
            changed = _apply(deps, job, tags)
        except Exception:
            out.errors += 1
            logger.exception("writing the job's new tags failed", extra={"job": job.name})
            continue
        if changed is None:
            continue
        out.running[index[job.run]] = changed
        out.changed.append(job.name)
        if changed.opted_in and not job.opted_in:
            out.opted_in.append(job.name)
        elif job.opted_in and not changed.opted_in:
            out.opted_out.append(job.name)
    return out


def _apply(deps: Dependencies, job: JobRecord, tags: dict[str, str]) -> JobRecord | None:
    """Write ``tags`` on the run (None: it ended meanwhile); its progress is forgotten when
    what it reads changed (another objective, direction or throughput metric)."""
    from .lifecycle import with_tags  # a tag change is rare: its module is loaded by it

    new = with_tags(job, tags, deps.policy)
    reads = (TAG_OBJECTIVE, TAG_THROUGHPUT)
    reset = (new.objective, new.direction) != (job.objective, job.direction) or any(
        tags.get(k) != job.tags.get(k) for k in reads
    )
    if not deps.running.retag(new, reset_progress=reset):
        return None
    if reset:
        new.progress = None
    added = sorted(set(tags) - set(job.tags))
    removed = sorted(set(job.tags) - set(tags))
    edited = sorted(k for k in set(tags) & set(job.tags) if tags[k] != job.tags[k])
    logger.info(
        "the job's tags changed: read again",
        extra={
            "job": job.name,
            "added": added,
            "removed": removed,
            "changed": edited,
            "opted_in": new.opted_in,
            "config_error": new.config_error,
        },
    )
    return new
