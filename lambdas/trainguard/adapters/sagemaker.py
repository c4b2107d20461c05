"""SageMaker: the :class:`~trainguard.ports.TrainingJobs` port (stop, create, list, describe,
tags)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..models import (
    CreateRefused,
    JobListing,
    JobNotFoundError,
    JobSummary,
    StopRefused,
    epoch_ms,
)
from .aws import error_code, error_message

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

    from ..core.stored import Record
    from ..ports import CreateResult, StopResult


class SageMakerAdapter:
    def __init__(self, client: SageMakerClient) -> None:
        self._client = client

    def stop(self, job: str) -> StopResult:
        """Stop ``job``. Returns ``"stopped"`` or ``"already ending"``: a ValidationException
        for a job that is already stopping, stopped, completed or failed is success. Raises
        :class:`StopRefused` when SageMaker refuses for good (access denied, another
        validation error, an unknown job); throttling and server errors propagate as they
        are (botocore retried them already; a later tick tries again)."""
        try:
            self._client.stop_training_job(TrainingJobName=job)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ValidationException" and _is_already_ending(exc):
                return "already ending"
            if code in REFUSALS or _is_not_found(exc):
                raise StopRefused(f"{code}: {error_message(exc)}") from exc
            raise
        return "stopped"

    def create(self, request: Mapping[str, Any]) -> CreateResult:
        """CreateTrainingJob (a capacity retry). ``"exists"`` on ResourceInUse: a retried call
        whose first try went through, or a name someone else took (the caller checks whose).
        Raises :class:`CreateRefused` for AccessDenied and validation errors; throttling,
        server errors and ResourceLimitExceeded propagate (worth asking again later)."""
        try:
            self._client.create_training_job(**request)
        except ClientError as exc:
            code = error_code(exc)
            if code in ("ResourceInUse", "ResourceInUseException"):
                return "exists"
            if code in CREATE_REFUSALS:
                raise CreateRefused(f"{code}: {error_message(exc)}") from exc
            raise
        return "created"

    def list_in_progress(self) -> list[JobSummary]:
        """Every InProgress job."""
        return self.list_jobs(status="InProgress")

    def list_since(self, since: float, out_of_time: Callable[[], bool] | None = None) -> JobListing:
        """The InProgress jobs created at or after ``since``, newest first. ListTrainingJobs
        applies ``StatusEquals`` after paging ("the MaxResults number of training jobs are
        first retrieved ignoring the StatusEquals parameter and then they are filtered", API
        reference, ListTrainingJobs), and does not document ``CreationTimeAfter`` as any
        different: neither bounds the pages read. What does is the documented order: sorted by
        CreationTime, descending, the listing stops at the first job created before ``since``
        (every later page is older still), and the status is filtered here."""
        pages = self._client.get_paginator("list_training_jobs").paginate(
            SortBy="CreationTime",
            SortOrder="Descending",
            PaginationConfig={"PageSize": 100},
        )
        since_ms = epoch_ms(since)
        found: list[JobSummary] = []
        read, reached = 0, epoch_ms(time.time())
        for page in pages:
            read += 1
            for item in page.get("TrainingJobSummaries", []):
                created = epoch_ms(item["CreationTime"].timestamp())
                if created < since_ms:
                    return JobListing(tuple(found), True, reached, read)
                reached = min(reached, created)
                if item.get("TrainingJobStatus") == "InProgress":
                    found.append(
                        JobSummary(
                            item["TrainingJobName"],
                            item.get("TrainingJobArn", ""),
                            "InProgress",
                            created,
                        )
                    )
            if page.get("NextToken") and out_of_time is not None and out_of_time():
                return JobListing(tuple(found), False, reached, read)
        return JobListing(tuple(found), True, reached, read)

    def list_jobs(
        self,
        *,
        status: str | None = None,
        created_after: datetime | None = None,
        page_size: int = 100,
    ) -> list[JobSummary]:
        """Every job (optionally of one status, created after a time). ListTrainingJobs filters
        *after* paging, so a page may come back short or empty while more jobs exist: the
        paginator follows NextToken to the end."""
        kwargs: dict[str, Any] = {"PaginationConfig": {"PageSize": page_size}}
        if status is not None:
            kwargs["StatusEquals"] = status
        if created_after is not None:
            kwargs["CreationTimeAfter"] = created_after
        pages = self._client.get_paginator("list_training_jobs").paginate(**kwargs)
        return [
            JobSummary(
                item["TrainingJobName"],
                item.get("TrainingJobArn", ""),
                item.get("TrainingJobStatus", ""),
                epoch_ms(item["CreationTime"].timestamp()) if "CreationTime" in item else 0,
            )
            for page in pages
            for item in page.get("TrainingJobSummaries", [])
        ]

    def tags(self, arn: str) -> dict[str, str]:
        """The job's tags. Raises :class:`JobNotFoundError` for an unknown job (at once: a
        not-found answer is not retried)."""
        pages = self._client.get_paginator("list_tags").paginate(
            ResourceArn=arn, PaginationConfig={"PageSize": 100}
        )
        try:
            return {
                str(tag["Key"]): str(tag.get("Value", ""))
                for page in pages
                for tag in page.get("Tags", [])
            }
        except ClientError as exc:
            if _is_not_found(exc):
                raise JobNotFoundError(arn) from exc
            raise

    def describe(self, job: str) -> Record:
        """DescribeTrainingJob; raises :class:`JobNotFoundError` for an unknown job."""
        try:
            return dict(self._client.describe_training_job(TrainingJobName=job))
        except ClientError as exc:
            if _is_not_found(exc):
                raise JobNotFoundError(job) from exc
            raise


# Error codes that mean "this stop will not happen by asking again at once".
REFUSALS = frozenset(
    {"AccessDenied", "AccessDeniedException", "ValidationException", "ResourceNotFound"}
)

CREATE_REFUSALS = frozenset({"AccessDenied", "AccessDeniedException", "ValidationException"})


def _is_already_ending(exc: ClientError) -> bool:
    message = error_message(exc).lower()
    return any(
        word in message for word in ("stopping", "stopped", "completed", "failed", "in status")
    )


def _is_not_found(exc: ClientError) -> bool:
    code = error_code(exc)
    message = error_message(exc).lower()
    # DescribeTrainingJob says "Requested resource not found" / "Could not find"; ListTags says
    # "Resource <arn> does not exist", all as a ValidationException
    return code in ("ResourceNotFound", "ResourceNotFoundException") or (
        code == "ValidationException"
        and any(words in message for words in ("not find", "not found", "does not exist"))
    )
