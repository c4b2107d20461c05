"""S3: the :class:`~trainguard.ports.Checkpoints` port (is anything stored under a training
job's checkpoint prefix)."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from ..models import CheckpointsUnreadable
from .aws import error_code, error_message

# CheckpointConfig.S3Uri's pattern (SageMaker API reference: ``(https|s3)://([^/]+)/?(.*)``)
_URI = re.compile(r"^s3://([^/]+)/?(.*)$")


def split_uri(s3_uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix); :class:`CheckpointsUnreadable` otherwise."""
    match = _URI.match(s3_uri.strip())
    if match is None:
        raise CheckpointsUnreadable(f"not an s3:// URI: {s3_uri!r}")
    return match.group(1), match.group(2)


class S3Checkpoints:
    def __init__(self, client: Any) -> None:  # an S3 client (its stubs are not installed)
        self._client = client

    def has_objects(self, s3_uri: str) -> bool:
        """One ListObjectsV2 of at most one key under the prefix."""
        bucket, prefix = split_uri(s3_uri)
        try:
            page = self._client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except ClientError as exc:
            raise CheckpointsUnreadable(f"{error_code(exc)}: {error_message(exc)}") from exc
        return int(page.get("KeyCount", 0)) > 0
