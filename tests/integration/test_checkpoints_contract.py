"""The :class:`~trainguard.ports.Checkpoints` port, two implementations: the fake the logic
tests use (``tests/fakes/s3.py``) and the S3 adapter on moto answer the same cases the same
way; the adapter's refusals (a missing bucket on moto, AccessDenied by botocore's Stubber,
which moto cannot produce) are :class:`CheckpointsUnreadable` naming the error."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from fakes import FakeCheckpoints
from moto import mock_aws

from trainguard.adapters.s3 import S3Checkpoints
from trainguard.models import CheckpointsUnreadable
from trainguard.ports import Checkpoints

pytestmark = pytest.mark.integration

REGION = "us-east-1"
STORED = ("s3://ckpt/team/job-a/step-10.pt", "s3://ckpt/team/job-a/rng.pt")


@pytest.fixture(params=["memory", "s3"])
def port(request: pytest.FixtureRequest) -> Iterator[Checkpoints]:
    if request.param == "memory":
        fake = FakeCheckpoints()
        for uri in STORED:
            fake.put(uri)
        yield fake
        return
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket="ckpt")
        for uri in STORED:
            client.put_object(Bucket="ckpt", Key=uri.removeprefix("s3://ckpt/"), Body=b"x")
        yield S3Checkpoints(client)


@pytest.mark.parametrize(
    ("uri", "has"),
    [
        ("s3://ckpt/team/job-a", True),
        ("s3://ckpt/team/job-a/", True),
        ("s3://ckpt/team/job-b", False),
        ("s3://ckpt/other/", False),
    ],
)
def test_a_prefix_has_objects_or_not(port: Checkpoints, uri: str, has: bool) -> None:
    assert port.has_objects(uri) is has


def test_a_uri_that_is_not_s3_is_unreadable(port: Checkpoints) -> None:
    with pytest.raises(CheckpointsUnreadable, match="not an s3:// URI"):
        port.has_objects("https://example.com/x")


def test_a_missing_bucket_is_unreadable_on_s3() -> None:
    with mock_aws():
        port = S3Checkpoints(boto3.client("s3", region_name=REGION))
        with pytest.raises(CheckpointsUnreadable, match="NoSuchBucket"):
            port.has_objects("s3://nobody/ckpt")


def test_access_denied_is_unreadable() -> None:
    client = boto3.client(
        "s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        stub.add_client_error("list_objects_v2", "AccessDenied", "Access Denied", 403)
        with pytest.raises(CheckpointsUnreadable, match="AccessDenied: Access Denied"):
            S3Checkpoints(client).has_objects("s3://theirs/ckpt")
