"""The deploy into the emulator hides moto's notes on the CloudFormation resource types it
skips (a page of them per deploy), and nothing else."""

from __future__ import annotations

import logging
import warnings

import pytest

from trainguard_local.emulator_deploy import quiet_moto_cloudformation

pytestmark = pytest.mark.unit

SKIPPED = (
    "Tried to parse AWS::CloudWatch::Alarm but it's not supported by moto's CloudFormation "
    "implementation"
)


def test_moto_cloudformation_notes_are_hidden_during_the_deploy_only() -> None:
    moto = logging.getLogger("moto")
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with quiet_moto_cloudformation():
            warnings.warn(SKIPPED, UserWarning, stacklevel=1)
            warnings.warn("something else", UserWarning, stacklevel=1)
            assert not moto.isEnabledFor(logging.WARNING)  # "No Moto CloudFormation support"
            assert moto.isEnabledFor(logging.ERROR)  # moto's errors still show
        warnings.warn(SKIPPED, UserWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["something else", SKIPPED]
    assert moto.isEnabledFor(logging.WARNING)
