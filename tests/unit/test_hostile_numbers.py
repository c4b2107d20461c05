"""Numbers a user writes (issue 21): ``"²".isdigit()`` is True but ``int("²")`` raises, so a
superscript (or any non-ASCII digit) in an InstanceCount or a retry tag is a clear error
naming the field, never a bare ValueError."""

from __future__ import annotations

import pytest
from fakes.sagemaker import FakeJob, describe_job

from trainguard.logic.retry import (
    TAG_RETRY,
    TAG_RETRY_ATTEMPT,
    RetryConfigError,
    attempt_of,
    retry_count,
)
from trainguard.models import EventError, parse_job_description

pytestmark = pytest.mark.unit

NOT_ASCII_DIGITS = ["²", "٣", "１"]  # superscript two, Arabic-Indic three, fullwidth one


@pytest.mark.parametrize("count", NOT_ASCII_DIGITS)
def test_a_non_ascii_instance_count_is_an_event_error_naming_the_field(count: str) -> None:
    detail = describe_job(FakeJob("j", {}))
    detail["ResourceConfig"]["InstanceCount"] = count
    with pytest.raises(EventError, match="InstanceCount"):
        parse_job_description(detail, event_time=None)


def test_an_ascii_instance_count_string_is_still_read() -> None:
    detail = describe_job(FakeJob("j", {}))
    detail["ResourceConfig"]["InstanceCount"] = "2"
    assert parse_job_description(detail, event_time=None).instance_count == 2


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_a_non_ascii_retry_tag_is_a_config_error_naming_the_tag(value: str) -> None:
    with pytest.raises(RetryConfigError, match=TAG_RETRY):
        retry_count({TAG_RETRY: value})
    assert attempt_of({TAG_RETRY_ATTEMPT: value}) == 0
