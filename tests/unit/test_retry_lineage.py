"""A capacity retry's lineage and name come from what trainguard recorded when it created the
retry, never from a tag a user can set (issue 21): a job tagged ``trainguard:retry-of`` with
another job's name is a chain's first job, and a retry name taken by a job trainguard did not
create is said plainly."""

from __future__ import annotations

import pytest
from fakes import FakeJob
from test_capacity_retry import CAPACITY, RETRY_TAGS, RetryWorld

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("attempt", [None, "1"])
def test_a_job_tagged_as_another_jobs_retry_is_retried_under_its_own_name(
    attempt: str | None,
) -> None:
    world = RetryWorld()
    forged = {**RETRY_TAGS, "trainguard:retry-of": "prod-ranker"}
    if attempt is not None:
        forged["trainguard:retry-attempt"] = attempt
    world.fail("intruder", CAPACITY, forged)
    world.fakes.advance(2)
    world.resume()
    (request,) = world.fakes.training_jobs.created
    assert request["TrainingJobName"] == "intruder-retry-1"
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert (tags["trainguard:retry-of"], tags["trainguard:retry-attempt"]) == ("intruder", "1")
    world.emails()
    # then the real prod-ranker fails for capacity: retried, from its own description
    world.fail("prod-ranker", CAPACITY)
    world.fakes.advance(2)
    world.resume()
    names = [r["TrainingJobName"] for r in world.fakes.training_jobs.created]
    assert names == ["intruder-retry-1", "prod-ranker-retry-1"]
    assert world.fakes.training_jobs.jobs["prod-ranker-retry-1"].tags["trainguard:retry-of"] == (
        "prod-ranker"
    )
    assert "[trainguard] RETRIED prod-ranker as prod-ranker-retry-1 (attempt 1 of 2)" in (
        world.emails()
    )


def test_a_retry_name_a_user_took_with_our_tags_is_not_claimed_as_ours() -> None:
    world = RetryWorld()
    world.fail("ranker", CAPACITY)
    # someone creates the retry's name first, with the tags trainguard's retry would carry
    squatter = {**RETRY_TAGS, "trainguard:retry-of": "ranker", "trainguard:retry-attempt": "1"}
    world.fakes.training_jobs.add(FakeJob("ranker-retry-1", squatter, start=world.fakes.now))
    world.emails()
    world.fakes.advance(2)
    world.resume()
    assert world.fakes.training_jobs.created == []
    said = "NOT RETRIED (name ranker-retry-1 is taken by a job trainguard did not create)"
    assert world.decisions("ranker")[-1]["action"] == said
    (subject,) = world.emails()
    assert subject.startswith("[trainguard] NOT RETRIED ranker")
