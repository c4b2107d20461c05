"""Every AWS call is bounded: a few attempts and short timeouts (a throttled write cannot
hold a tick past its timeout)."""

from __future__ import annotations

import pytest

from trainguard.adapters.aws import boto_config

pytestmark = pytest.mark.unit


def test_calls_are_bounded() -> None:
    config = boto_config()
    assert config.retries == {"mode": "adaptive", "max_attempts": 4}
    assert (config.connect_timeout, config.read_timeout) == (5, 15)
