"""The one ISO-8601 writer."""

from __future__ import annotations

import pytest

from trainguard.times import iso

pytestmark = pytest.mark.unit


def test_iso_writes_utc_to_the_second_with_an_offset_or_a_z() -> None:
    assert iso(1714564800.7) == "2024-05-01T12:00:00+00:00"
    assert iso(1714564800.7, zulu=True) == "2024-05-01T12:00:00Z"
