"""SageMaker shim: training jobs that run until told otherwise, ``StopTrainingJob``, and events.

What moto 5.2.5 lacks (aws_facts.md section 7.1):

- ``CreateTrainingJob`` makes a job that is already ``Completed``;
- ``StopTrainingJob`` is not implemented (the server answers HTTP 500);
- no "SageMaker Training Job State Change" event is ever emitted.

What this shim does, by patching moto's SageMaker backend and response classes in this
process, while installed. The patches are on the classes, so they serve both ways moto runs
here: the ``ThreadedMotoServer`` of :mod:`.emulator` (the demo, ``local invoke``) and the
in-process ``moto.mock_aws()`` of :mod:`.moto_harness` (the tests, the bench):

- a second ``CreateTrainingJob`` of a name in use raises ``ResourceInUse``, as SageMaker does
  (moto would replace the first job);
- a job created through the API starts ``InProgress``/``Training``; its ``CreationTime``,
  ``TrainingStartTime`` and ``LastModifiedTime`` come from the shim's clock; it has no
  ``TrainingEndTime`` until it ends;
- ``StopTrainingJob`` works through the real API: an ``InProgress`` job becomes
  ``Stopping``/``Stopping``, then ``Stopped``/``Stopped`` once ``stop_delay`` has elapsed on the
  clock (at once when ``stop_delay`` is zero, otherwise at :meth:`SageMakerShim.settle`); a job
  that is already ``Stopping``, ``Stopped``, ``Completed`` or ``Failed`` raises
  ``ValidationException`` ("The request was rejected because the training job is in status
  <status>.", as AWS does); an unknown job raises ``ResourceNotFound``;
- :meth:`~SageMakerShim.complete`, :meth:`~SageMakerShim.fail` (with ``FailureReason``) and
  :meth:`~SageMakerShim.stop` (e.g. ``MaxRuntimeExceeded``) end a job on the fleet's say-so;
  :meth:`~SageMakerShim.force_status` puts a job in any status (tests);
- every ``StopTrainingJob`` received is recorded in ``stop_requests`` (the tests' "what was
  stopped", through the real API);
- every status change queues a "SageMaker Training Job State Change" event in the documented
  shape (aws_facts.md 1.1; detail timestamps in epoch milliseconds as integers, ``Tags`` as a
  map by default). Events are *queued*, never delivered from the server thread: the run takes
  them with :meth:`~SageMakerShim.take_events` (the router's ``pump`` does) and delivers them on
  its own thread, so a handler's ``StopTrainingJob`` never re-enters another handler.

A heterogeneous cluster's request (``ResourceConfig.InstanceGroups``) is taken as it is:
moto keeps the ``ResourceConfig`` it was given, so ``DescribeTrainingJob`` and the events carry
the groups (tests/integration/test_heterogeneous_moto.py); the fleet publishes each host's
metrics under SageMaker's names for such clusters (``<job>/algo-<n>``, n across all groups).

Job state stays readable through the server: ``DescribeTrainingJob``, ``ListTrainingJobs``
(``StatusEquals`` too; ``SortBy``/``SortOrder`` as SageMaker orders its pages, which moto
ignores) and ``ListTags`` see the shim's statuses. moto still overwrites
``AlgorithmSpecification.MetricDefinitions`` with its own entry; the local run does not read it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace, TracebackType
from typing import Any, ClassVar, Literal

from trainguard.constants import TRAINING_STATE_CHANGE

from .clock import as_utc, epoch_ms, iso_z
from .emulator import ACCOUNT_ID, REGION

TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
TagsShape = Literal["map", "list"]


class ShimError(RuntimeError):
    """A fleet helper was asked for something a real job could not do (e.g. complete twice)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _moto_time(moment: datetime) -> datetime:
    """moto keeps naive UTC datetimes (its own ``utcnow()``) and compares them with the
    ``CreationTimeAfter``-style filters: the shim stores them the same way, in whole
    milliseconds as SageMaker keeps them (moto's answers cut to milliseconds, the events round:
    a finer time would make the two disagree on a run's CreationTime)."""
    moment = as_utc(moment).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class SageMakerShim:
    """Extends moto's SageMaker in this process; see the module docstring for the behaviour.

    Usage::

        shim = SageMakerShim(clock=sim_clock.now).install()   # before jobs are created
        sm.create_training_job(...)            # -> InProgress/Training, event queued
        sm.stop_training_job(TrainingJobName=name)            # -> Stopping (-> Stopped)
        shim.complete("job-b")                 # -> Completed, event queued
        events = shim.take_events()            # the queued events, oldest first
        shim.uninstall()                       # moto's own behaviour again

    Only one shim can be installed at a time (the patches are process-wide).
    """

    _installed: ClassVar[SageMakerShim | None] = None

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = _utcnow,
        account_id: str = ACCOUNT_ID,
        region: str = REGION,
        stop_delay: timedelta = timedelta(0),
        tags_shape: TagsShape = "map",
    ) -> None:
        self.clock = clock
        self.account_id = account_id
        self.region = region
        self.stop_delay = stop_delay
        self.tags_shape = tags_shape
        self.history: list[dict[str, Any]] = []  # every event ever emitted, oldest first
        self.stop_requests: list[str] = []  # every StopTrainingJob received, refused ones too
        self._queue: list[dict[str, Any]] = []
        self._stop_due: dict[str, datetime] = {}  # job -> when Stopping becomes Stopped
        self._lock = threading.RLock()
        self._saved: dict[str, Any] = {}

    # --- install / uninstall -------------------------------------------------------------
    def install(self) -> SageMakerShim:
        """Patch moto (idempotent for this shim); returns self."""
        if SageMakerShim._installed is self:
            return self
        if SageMakerShim._installed is not None:
            raise RuntimeError("another SageMakerShim is installed; uninstall it first")
        from moto.core.responses import EmptyResult
        from moto.sagemaker.models import SageMakerModelBackend
        from moto.sagemaker.responses import SageMakerResponse

        shim = self
        original_create = SageMakerModelBackend.create_training_job

        def create_training_job(backend: Any, *args: Any, **kwargs: Any) -> Any:
            shim._refuse_a_name_in_use(backend, kwargs.get("training_job_name"))
            job = original_create(backend, *args, **kwargs)
            shim._on_created(job)
            return job

        def stop_training_job(response: Any) -> Any:
            name = response._get_param("TrainingJobName")
            shim._request_stop(response.sagemaker_backend, name)
            return EmptyResult()

        original_list = SageMakerModelBackend.list_training_jobs
        original_list_response = SageMakerResponse.list_training_jobs

        def list_training_jobs_response(response: Any) -> Any:
            order = (response._get_param("SortBy"), response._get_param("SortOrder"))
            token = _LIST_ORDER.set(order)
            try:
                return original_list_response(response)
            finally:
                _LIST_ORDER.reset(token)

        def list_training_jobs(backend: Any, *args: Any, **kwargs: Any) -> Any:
            return original_list(_in_order(backend, *_LIST_ORDER.get()), *args, **kwargs)

        self._saved = {
            "create": original_create,
            "had_stop": "stop_training_job" in SageMakerResponse.__dict__,
            "list": original_list,
            "list_response": original_list_response,
        }
        SageMakerModelBackend.create_training_job = create_training_job  # type: ignore[method-assign,assignment]
        SageMakerResponse.stop_training_job = stop_training_job  # type: ignore[attr-defined]
        SageMakerModelBackend.list_training_jobs = list_training_jobs  # type: ignore[method-assign,assignment]
        SageMakerResponse.list_training_jobs = list_training_jobs_response  # type: ignore[method-assign,assignment]
        SageMakerShim._installed = self
        return self

    def uninstall(self) -> None:
        """Restore moto's own classes (idempotent)."""
        if SageMakerShim._installed is not self:
            return
        from moto.sagemaker.models import SageMakerModelBackend
        from moto.sagemaker.responses import SageMakerResponse

        SageMakerModelBackend.create_training_job = self._saved["create"]  # type: ignore[method-assign]
        SageMakerModelBackend.list_training_jobs = self._saved["list"]  # type: ignore[method-assign]
        SageMakerResponse.list_training_jobs = self._saved["list_response"]  # type: ignore[method-assign]
        if not self._saved["had_stop"]:
            del SageMakerResponse.stop_training_job  # type: ignore[attr-defined]
        SageMakerShim._installed = None

    def __enter__(self) -> SageMakerShim:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    # --- the fleet's helpers -------------------------------------------------------------
    def job(self, name: str) -> Any:
        """moto's ``FakeTrainingJob`` for ``name`` (raises ``KeyError`` if unknown)."""
        return self._backend().training_jobs[name]

    def names(self) -> list[str]:
        """Every training job's name, in creation order."""
        return list(self._backend().training_jobs)

    def status(self, name: str) -> tuple[str, str]:
        """``(TrainingJobStatus, SecondaryStatus)`` of a job."""
        job = self.job(name)
        return job.training_job_status, job.secondary_status

    def complete(self, name: str, *, at: datetime | None = None) -> None:
        """End an ``InProgress`` job as ``Completed``/``Completed``."""
        self._end(name, "Completed", "Completed", at=at)

    def fail(self, name: str, reason: str, *, at: datetime | None = None) -> None:
        """End an ``InProgress`` job as ``Failed``/``Failed`` with ``FailureReason``."""
        self._end(name, "Failed", "Failed", at=at, failure_reason=reason)

    def stop(self, name: str, *, secondary: str = "Stopped", at: datetime | None = None) -> None:
        """End a job as ``Stopped`` with ``secondary`` (e.g. ``MaxRuntimeExceeded``), without
        the ``Stopping`` step: what SageMaker itself does when a job hits its max runtime."""
        self._end(name, "Stopped", secondary, at=at)

    def force_status(
        self, name: str, status: str, secondary: str | None = None, *, at: datetime | None = None
    ) -> None:
        """Put a job in ``status`` (``secondary`` defaults to ``Training`` for ``InProgress``,
        else the status) whatever it was, with its event: a test's say-so, without the checks
        of :meth:`complete`, :meth:`fail` and :meth:`stop`."""
        with self._lock:
            job = self.job(name)
            self._stop_due.pop(name, None)
            when = as_utc(at) if at is not None else as_utc(self.clock())
            if status not in TERMINAL:
                job.training_end_time = None
            secondary = secondary or ("Training" if status == "InProgress" else status)
            self._transition(self._backend(), job, status, secondary, when)

    def settle(self, now: datetime | None = None) -> list[str]:
        """Move every ``Stopping`` job whose ``stop_delay`` has elapsed to ``Stopped``; return
        their names."""
        now = as_utc(now) if now is not None else as_utc(self.clock())
        with self._lock:
            due = sorted((when, name) for name, when in self._stop_due.items() if when <= now)
            for when, name in due:
                del self._stop_due[name]
                self._transition(self._backend(), self.job(name), "Stopped", "Stopped", when)
        return [name for _, name in due]

    def take_events(self) -> list[dict[str, Any]]:
        """Every event queued since the last call, oldest first (and empty the queue)."""
        with self._lock:
            events, self._queue = self._queue, []
        return events

    # --- what the patches call (on the server thread) ------------------------------------
    def _backend(self) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[self.account_id][self.region]

    def _on_created(self, job: Any) -> None:
        now = _moto_time(self.clock())
        with self._lock:
            job.creation_time = job.last_modified_time = job.training_start_time = now
            job.training_end_time = None
            job.training_job_status, job.secondary_status = "InProgress", "Training"
            job.final_metric_data_list = []
            job.secondary_status_transitions = [
                {
                    "Status": "Starting",
                    "StartTime": now,
                    "EndTime": now,
                    "StatusMessage": "Preparing the instances for training",
                },
                {"Status": "Training", "StartTime": now, "StatusMessage": "Training job running"},
            ]
            self._emit(job)

    def _refuse_a_name_in_use(self, backend: Any, name: Any) -> None:
        """SageMaker refuses a second job of the same name (ResourceInUse); moto replaces the
        first. Capacity retries rely on the refusal to create each retry once."""
        from moto.sagemaker.exceptions import ResourceInUseException
        from moto.sagemaker.models import FakeTrainingJob

        if name is not None and name in backend.training_jobs:
            arn = FakeTrainingJob.arn_formatter(name, backend.account_id, backend.region_name)
            raise ResourceInUseException(
                f"Training job names must be unique within an AWS account and region, and a "
                f"training job with this name already exists ({arn})"
            )

    def _request_stop(self, backend: Any, name: str) -> None:
        from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
        from moto.sagemaker.models import FakeTrainingJob

        with self._lock:
            self.stop_requests.append(name)
            job = backend.training_jobs.get(name)
            if job is None:
                arn = FakeTrainingJob.arn_formatter(name, backend.account_id, backend.region_name)
                raise ResourceNotFound(f"Could not find training job '{arn}'.")
            if job.training_job_status != "InProgress":
                raise ValidationError(
                    "The request was rejected because the training job is in status "
                    f"{job.training_job_status}."
                )
            now = as_utc(self.clock())
            self._transition(backend, job, "Stopping", "Stopping", now)
            self._stop_due[name] = now + self.stop_delay
            if self.stop_delay <= timedelta(0):
                del self._stop_due[name]
                self._transition(backend, job, "Stopped", "Stopped", now)

    def _end(
        self,
        name: str,
        status: str,
        secondary: str,
        *,
        at: datetime | None,
        failure_reason: str | None = None,
    ) -> None:
        with self._lock:
            job = self.job(name)
            if job.training_job_status in TERMINAL:
                raise ShimError(f"{name} already ended ({job.training_job_status})")
            if job.training_job_status == "Stopping" and status != "Stopped":
                raise ShimError(f"{name} is stopping; it can only end Stopped")
            self._stop_due.pop(name, None)
            when = as_utc(at) if at is not None else as_utc(self.clock())
            if failure_reason is not None:
                job.failure_reason = failure_reason  # serialized as FailureReason by moto
            self._transition(self._backend(), job, status, secondary, when)

    def _transition(
        self, backend: Any, job: Any, status: str, secondary: str, when: datetime
    ) -> None:
        when = _moto_time(when)
        transitions = job.secondary_status_transitions
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = when
        entry: dict[str, Any] = {"Status": secondary, "StartTime": when}
        if status in TERMINAL:
            entry["EndTime"] = when
            job.training_end_time = when
        transitions.append(entry)
        job.training_job_status, job.secondary_status = status, secondary
        job.last_modified_time = when
        self._emit(job)

    def _emit(self, job: Any) -> None:
        event = state_change_event(
            job, account_id=self.account_id, region=self.region, tags_shape=self.tags_shape
        )
        self.history.append(event)
        self._queue.append(event)


# ListTrainingJobs' SortBy and SortOrder, which moto reads and ignores (it lists in creation
# order): the shim's response sets them for its backend's listing, in this context
_LIST_ORDER: ContextVar[tuple[str | None, str | None]] = ContextVar(
    "list_order", default=(None, None)
)
_SORT_KEYS: dict[str, Callable[[Any], Any]] = {
    "CreationTime": lambda job: job.creation_time,
    "Name": lambda job: job.training_job_name,
    "Status": lambda job: job.training_job_status,
}


def _in_order(backend: Any, sort_by: str | None, sort_order: str | None) -> Any:
    """``backend``, or a stand-in whose ``training_jobs`` are in the requested order (moto's
    listing reads nothing else of its backend), so that its pages come in that order as
    SageMaker's do (newest first for ``CreationTime``/``Descending``)."""
    by, order = sort_by or "CreationTime", sort_order or "Ascending"
    if (by, order) == ("CreationTime", "Ascending"):
        return backend  # moto's own order: creation order
    key = _SORT_KEYS[by]
    jobs = sorted(backend.training_jobs.items(), key=lambda kv: key(kv[1]))
    return SimpleNamespace(training_jobs=dict(reversed(jobs) if order == "Descending" else jobs))


def _ms(value: Any) -> Any:
    return epoch_ms(value) if isinstance(value, datetime) else value


def state_change_event(
    job: Any, *, account_id: str = ACCOUNT_ID, region: str = REGION, tags_shape: TagsShape = "map"
) -> dict[str, Any]:
    """The EventBridge "SageMaker Training Job State Change" event for moto's job as it is now."""
    tags = list(job.tags or [])
    detail: dict[str, Any] = {
        "TrainingJobName": job.training_job_name,
        "TrainingJobArn": job.arn,
        "TrainingJobStatus": job.training_job_status,
        "SecondaryStatus": job.secondary_status,
        "HyperParameters": dict(job.hyper_parameters or {}),
        "AlgorithmSpecification": dict(job.algorithm_specification or {}),
        "RoleArn": job.role_arn,
        "InputDataConfig": list(job.input_data_config or []),
        "OutputDataConfig": dict(job.output_data_config or {}),
        "ResourceConfig": dict(job.resource_config or {}),
        "VpcConfig": dict(job.vpc_config or {}),
        "StoppingCondition": dict(job.stopping_condition or {}),
        "CreationTime": _ms(job.creation_time),
        "TrainingStartTime": _ms(job.training_start_time),
        "LastModifiedTime": _ms(job.last_modified_time),
        "SecondaryStatusTransitions": [
            {key: _ms(value) for key, value in entry.items()}
            for entry in job.secondary_status_transitions
        ],
        "Tags": {t["Key"]: t["Value"] for t in tags} if tags_shape == "map" else tags,
    }
    if job.training_end_time is not None:
        detail["TrainingEndTime"] = _ms(job.training_end_time)
    if job.training_job_status == "Completed":
        detail["ModelArtifacts"] = dict(job.model_artifacts)
    if getattr(job, "failure_reason", None):
        detail["FailureReason"] = job.failure_reason
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": TRAINING_STATE_CHANGE,
        "source": "aws.sagemaker",
        "account": account_id,
        "time": iso_z(job.last_modified_time),
        "region": region,
        "resources": [job.arn],
        "detail": detail,
    }
