"""SageMaker: stop (idempotent), list InProgress jobs (paged), tags, describe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .aws import error_code, error_message


@dataclass(frozen=True)
class JobSummary:
    name: str
    arn: str
    status: str


class JobNotFoundError(LookupError):
    """SageMaker does not know the job (deleted, or another account/region)."""


class SageMakerAdapter:
    def __init__(self, client: Any) -> None:
        self._client = client

    def stop(self, job: str) -> str:
        """Stop ``job``. Returns ``"stopped"`` or ``"already ending"``: a ValidationException
        for a job that is already stopping, stopped, completed or failed is success."""
        try:
            self._client.stop_training_job(TrainingJobName=job)
        except ClientError as exc:
            if error_code(exc) == "ValidationException" and _is_already_ending(exc):
                return "already ending"
            raise
        return "stopped"

    def list_in_progress(self) -> list[JobSummary]:
        """Every InProgress job."""
        return self.list_jobs(status="InProgress")

    def list_jobs(
        self,
        *,
        status: str | None = None,
        created_after: datetime | None = None,
        page_size: int = 100,
    ) -> list[JobSummary]:
        """Every job (optionally of one status, created after a time). ListTrainingJobs filters
        *after* paging, so a page may come back short or empty while more jobs exist: follow
        NextToken to the end."""
        out: list[JobSummary] = []
        kwargs: dict[str, Any] = {"MaxResults": page_size}
        if status is not None:
            kwargs["StatusEquals"] = status
        if created_after is not None:
            kwargs["CreationTimeAfter"] = created_after
        while True:
            page = self._client.list_training_jobs(**kwargs)
            for item in page.get("TrainingJobSummaries", []):
                out.append(
                    JobSummary(
                        item["TrainingJobName"],
                        item.get("TrainingJobArn", ""),
                        item.get("TrainingJobStatus", ""),
                    )
                )
            token = page.get("NextToken")
            if not token:
                return out
            kwargs["NextToken"] = token

    def tags(self, arn: str) -> dict[str, str]:
        """The job's tags (paged). Raises :class:`JobNotFoundError` for an unknown job."""
        out: dict[str, str] = {}
        kwargs: dict[str, Any] = {"ResourceArn": arn, "MaxResults": 100}
        while True:
            try:
                page = self._client.list_tags(**kwargs)
            except ClientError as exc:
                if _is_not_found(exc):
                    raise JobNotFoundError(arn) from exc
                raise
            for tag in page.get("Tags", []):
                out[str(tag["Key"])] = str(tag.get("Value", ""))
            token = page.get("NextToken")
            if not token:
                return out
            kwargs["NextToken"] = token

    def describe(self, job: str) -> dict[str, Any]:
        """DescribeTrainingJob; raises :class:`JobNotFoundError` for an unknown job."""
        try:
            return dict(self._client.describe_training_job(TrainingJobName=job))
        except ClientError as exc:
            if _is_not_found(exc):
                raise JobNotFoundError(job) from exc
            raise


def _is_already_ending(exc: ClientError) -> bool:
    message = error_message(exc).lower()
    return any(
        word in message for word in ("stopping", "stopped", "completed", "failed", "in status")
    )


def _is_not_found(exc: ClientError) -> bool:
    code = error_code(exc)
    message = error_message(exc).lower()
    return code in ("ResourceNotFound", "ResourceNotFoundException") or (
        code == "ValidationException" and ("not find" in message or "not found" in message)
    )
