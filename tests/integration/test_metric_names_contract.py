"""The contract of :meth:`~trainguard.ports.MetricReader.metric_names` (the objective notice's
"In CloudWatch" names): the fake and the CloudWatch adapter on moto answer alike: the names
of the training namespace's metrics with exactly the job's dimensions, sorted, every page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from fakes import FakeMetrics
from moto import mock_aws

from trainguard.adapters.cloudwatch import CloudWatchMetrics
from trainguard.constants import TRAINING_NAMESPACE

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).timestamp()  # ListMetrics lists metrics with a recent datapoint


class Reader:
    """One implementation and how to put a datapoint into it."""

    def __init__(self, metrics: Any, put: Any) -> None:
        self.metrics, self.put = metrics, put


@pytest.fixture(params=["memory", "cloudwatch"])
def reader(request: pytest.FixtureRequest) -> Iterator[Reader]:
    if request.param == "memory":
        fake = FakeMetrics()
        yield Reader(fake, lambda name, dims, ns=TRAINING_NAMESPACE: fake.put(name, dims, NOW, 1.0))
        return
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="us-east-1")

        def put(name: str, dims: dict[str, str], ns: str = TRAINING_NAMESPACE) -> None:
            client.put_metric_data(
                Namespace=ns,
                MetricData=[
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                        "Timestamp": datetime.fromtimestamp(NOW, UTC),
                        "Value": 1.0,
                    }
                ],
            )

        yield Reader(CloudWatchMetrics(client), put)


def test_the_names_of_the_jobs_metrics_are_listed_sorted(reader: Reader) -> None:
    for name in ("validation_loss", "train_loss", "epoch"):
        reader.put(name, {"TrainingJobName": "job-a"})
    reader.put("validation_loss", {"TrainingJobName": "job-b"})  # another job
    reader.put("GPUUtilization", {"Host": "job-a/algo-1"})  # another dimension
    names = reader.metrics.metric_names((("TrainingJobName", "job-a"),))
    assert names == ["epoch", "train_loss", "validation_loss"]
    assert reader.metrics.metric_names((("TrainingJobName", "nobody"),)) == []
