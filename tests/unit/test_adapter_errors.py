"""AWS answers the adapters must not misread (issue 21), on botocore's Stubber: ListTags'
"does not exist" ValidationException is a missing job, and a GetMetricData query whose
StatusCode is not Complete is followed (PartialData: its NextToken) or an error
(InternalError, Forbidden), never "no new datapoints". StatusCode values: the CloudWatch API
reference, MetricDataResult (Complete | InternalError | PartialData | Forbidden)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from trainguard.adapters.cloudwatch import CloudWatchMetrics, MetricReadError
from trainguard.adapters.sagemaker import SageMakerAdapter
from trainguard.models import JobNotFoundError, MetricQuery

pytestmark = pytest.mark.unit

ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/gone"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def client(service: str) -> Any:
    return boto3.client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_list_tags_does_not_exist_is_a_missing_job_at_once() -> None:
    sagemaker = client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_client_error(
            "list_tags",
            service_error_code="ValidationException",
            service_message=f"Resource {ARN} does not exist.",
            http_status_code=400,
        )
        with pytest.raises(JobNotFoundError):
            SageMakerAdapter(sagemaker).tags(ARN)
        stub.assert_no_pending_responses()


QUERY = MetricQuery(id="q0", namespace="ns", metric="loss", dimensions=(("Job", "a"),))


def result(status: str, *values: float) -> dict[str, Any]:
    stamps = [T0.replace(minute=i) for i in range(len(values))]
    return {"Id": "q0", "StatusCode": status, "Timestamps": stamps, "Values": list(values)}


@pytest.fixture
def cloudwatch() -> Iterator[tuple[Any, Stubber]]:
    cw = client("cloudwatch")
    with Stubber(cw) as stub:
        yield cw, stub
        stub.assert_no_pending_responses()


def params(token: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MetricDataQueries": ANY,
        "StartTime": ANY,
        "EndTime": ANY,
        "ScanBy": "TimestampAscending",
    }
    if token is not None:
        out["NextToken"] = token
    return out


def test_partial_data_is_followed_through_its_next_token(cloudwatch: Any) -> None:
    cw, stub = cloudwatch
    page1 = {"MetricDataResults": [result("PartialData", 3.0)], "NextToken": "more"}
    stub.add_response("get_metric_data", page1, params())
    page2 = {"MetricDataResults": [{**result("Complete", 3.0, 2.0)}]}
    stub.add_response("get_metric_data", page2, params("more"))
    series = CloudWatchMetrics(cw).get_series([QUERY], T0.timestamp(), T0.timestamp() + 600)
    assert [v for _, v in series["q0"]] == [3.0, 2.0]


@pytest.mark.parametrize("status", ["InternalError", "Forbidden", "PartialData"])
def test_a_query_not_complete_at_its_last_page_is_an_error(cloudwatch: Any, status: str) -> None:
    cw, stub = cloudwatch
    stub.add_response("get_metric_data", {"MetricDataResults": [result(status)]}, params())
    with pytest.raises(MetricReadError, match=f"q0: {status}"):
        CloudWatchMetrics(cw).get_series([QUERY], T0.timestamp(), T0.timestamp() + 600)


def test_an_internal_error_retried_through_its_next_token_reads_whole(cloudwatch: Any) -> None:
    cw, stub = cloudwatch
    page1 = {"MetricDataResults": [result("InternalError")], "NextToken": "retry"}
    stub.add_response("get_metric_data", page1, params())
    stub.add_response(
        "get_metric_data", {"MetricDataResults": [result("Complete", 1.0)]}, params("retry")
    )
    series = CloudWatchMetrics(cw).get_series([QUERY], T0.timestamp(), T0.timestamp() + 600)
    assert [v for _, v in series["q0"]] == [1.0]
