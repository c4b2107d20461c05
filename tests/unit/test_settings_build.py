"""Rules built from their settings sections by field name (``config.settings.build``): the
section's settings reach the rule, and a setting the rule does not take fails loudly, on every
build (the field names are read once per pair of classes)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from trainguard.config.settings import build
from trainguard.core.curves import Direction
from trainguard.core.median import MedianStoppingRule

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class _Median:
    enabled: bool = True
    min_completed: int = 5
    grace: float = 2.0
    average: str = "all"


@dataclass(frozen=True)
class _Unknown:
    enabled: bool = True
    min_completed: int = 5
    window: int = 3  # no parameter of MedianStoppingRule


def test_a_section_builds_its_rule_by_field_name_build_after_build() -> None:
    for section in (_Median(), _Median(min_completed=7, grace=0.0)):
        rule = build(MedianStoppingRule, section, direction=Direction.MAXIMIZE)
        assert rule == MedianStoppingRule(
            Direction.MAXIMIZE, section.min_completed, section.grace, "all"
        )


def test_a_setting_the_rule_does_not_take_fails_on_every_build() -> None:
    for _ in range(2):
        with pytest.raises(AssertionError, match="MedianStoppingRule takes no parameter window"):
            build(MedianStoppingRule, _Unknown())
