"""The fake of :class:`~trainguard.ports.Checkpoints`: the objects stored under each
checkpoint prefix (a prefix matches every key that starts with it, as S3 lists them)."""

from __future__ import annotations

from trainguard.adapters.s3 import split_uri

from .faults import FaultInjector


class FakeCheckpoints(FaultInjector):
    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()  # "s3://bucket/key" of every stored object

    def put(self, s3_uri: str) -> None:
        split_uri(s3_uri)
        self.keys.add(s3_uri)

    def has_objects(self, s3_uri: str) -> bool:
        self._call("has_objects")
        bucket, prefix = split_uri(s3_uri)
        return any(key.startswith(f"s3://{bucket}/{prefix}") for key in self.keys)
