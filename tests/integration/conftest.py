"""The ``aws`` fixture: the moto harness (trainguard_local.moto_harness) with the table, topic,
mailbox and SageMaker shim (see runtime_support)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runtime_support import Aws, moto_aws


@pytest.fixture
def aws() -> Iterator[Aws]:
    yield from moto_aws()
