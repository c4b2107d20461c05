"""The ``aws`` fixture: in-process moto with the table, topic, queue (see runtime_support)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runtime_support import Aws, moto_aws


@pytest.fixture
def aws() -> Iterator[Aws]:
    yield from moto_aws()
