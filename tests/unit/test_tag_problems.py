"""Every bad trainguard tag at once (``tag_problems``): bad values with the words
``job_settings`` raises, keys in another case or a typo away from a trainguard key, unknown
``trainguard:`` keys, each with its fix; and the CONFIG notice that lists them all."""

from __future__ import annotations

import pytest

from trainguard import constants as c
from trainguard.config import Policy, PolicyError, TagProblem, job_settings, tag_problems
from trainguard.config.tags import distance
from trainguard.logic import messages
from trainguard.message import email_text

pytestmark = pytest.mark.unit

TAGS = {c.TAG_GROUP: "digits", c.TAG_OBJECTIVE: "validation_loss"}


def test_good_tags_and_tags_of_others_have_no_problem() -> None:
    assert tag_problems({}) == []
    assert tag_problems({"team": "vision", "Name": "x", "sagemaker:domain-arn": "a"}) == []
    assert (
        tag_problems(
            {
                **TAGS,
                c.TAG_DIRECTION: "Maximize",
                c.TAG_MODE: " enforce",
                c.TAG_PROTECT: "TRUE",
                "trainguard:catchup-k": "4",
                c.TAG_RETRY: "2",
                c.TAG_RETRY_OF: "j",
            }
        )
        == []
    )


def test_every_bad_value_is_reported_at_once_with_its_fix() -> None:
    tags = {
        **TAGS,
        c.TAG_DIRECTION: "down",
        c.TAG_PROTECT: "yes",
        c.TAG_MODE: "stop",
        "trainguard:catchup-k": "-1",
        "trainguard:patience": "five",
    }
    problems = tag_problems(tags)
    assert [(p.key, p.kind) for p in problems] == [
        (c.TAG_DIRECTION, "value"),
        (c.TAG_PROTECT, "value"),
        (c.TAG_MODE, "value"),
        ("trainguard:catchup-k", "value"),
        ("trainguard:patience", "value"),
    ]
    fixes = {p.key: p.fix for p in problems}
    assert fixes[c.TAG_PROTECT] == "trainguard:protect=true or trainguard:protect=false"
    assert (
        fixes[c.TAG_DIRECTION] == "trainguard:direction=minimize or trainguard:direction=maximize"
    )
    assert fixes["trainguard:catchup-k"] == "trainguard:catchup-k=<a number >= 0>"
    assert fixes["trainguard:patience"] == "trainguard:patience=<an integer >= 1>"
    # the first is the one job_settings stops at, in the same words
    with pytest.raises(PolicyError) as raised:
        job_settings(tags, Policy())
    assert str(raised.value) == problems[0].problem


@pytest.mark.parametrize(
    ("key", "fix", "why"),
    [
        ("TrainGuard:Group", c.TAG_GROUP, "keys are lower case"),
        ("TRAINGUARD:OBJECTIVE", c.TAG_OBJECTIVE, "keys are lower case"),
        ("trainguard:objetive", c.TAG_OBJECTIVE, "a typo of trainguard:objective?"),
        ("traingaurd:mode", c.TAG_MODE, "a typo of trainguard:mode?"),
        ("trainguard-protect", c.TAG_PROTECT, "a typo of trainguard:protect?"),
        ("trainguard:catchup_k", "trainguard:catchup-k", "a typo of trainguard:catchup-k?"),
    ],
)
def test_a_near_miss_key_names_the_key_it_misses(key: str, fix: str, why: str) -> None:
    (problem,) = tag_problems({**TAGS, key: "x"})
    assert problem == TagProblem(
        key,
        "x",
        "near-miss",
        f"{key} is not a trainguard key ({why}): it is ignored",
        f"rename the tag {fix}",
    )


def test_an_unknown_trainguard_key_lists_the_keys() -> None:
    (problem,) = tag_problems({**TAGS, "trainguard:owner": "ana"})
    assert problem.kind == "unknown" and problem.fix.startswith("one of trainguard:group, ")
    assert "trainguard:hang-stop-after" in problem.fix


def test_empty_values_of_the_named_tags_are_problems() -> None:
    problems = tag_problems({c.TAG_GROUP: " ", c.TAG_OBJECTIVE: ""})
    assert [p.problem for p in problems] == [
        "trainguard:group is empty: the job is not opted in",
        "trainguard:objective is empty: no objective rule can judge the job",
    ]


def test_the_edit_distance_counts_a_swap_as_one() -> None:
    assert distance("trainguard:mode", "trainguard:mode") == 0
    assert distance("traingaurd:mode", "trainguard:mode") == 1
    assert distance("trainguard:objetive", "trainguard:objective") == 1
    assert distance("abc", "") == 3 and distance("", "ab") == 2


def test_the_config_notice_lists_every_problem_with_its_fix() -> None:
    tags = {**TAGS, c.TAG_DIRECTION: "down", c.TAG_PROTECT: "yes", "TrainGuard:Mode": "enforce"}
    with pytest.raises(PolicyError) as raised:
        job_settings(tags, Policy())
    message = messages.config_error("typo", str(raised.value), "us-east-1", tag_problems(tags))
    assert message.subject == (
        "[trainguard] CONFIG typo: 3 tag problems, the first: trainguard:direction must be "
        "'minimize' or..."
    )
    text = email_text(message)
    assert text.startswith(
        "Job:     typo\n"
        "Problem: trainguard:direction must be 'minimize' or 'maximize', got 'down'\n"
        "Fix:     trainguard:direction=minimize or trainguard:direction=maximize\n"
        "Problem: trainguard:protect must be 'true' or 'false', got 'yes'\n"
        "Fix:     trainguard:protect=true or trainguard:protect=false\n"
        "Problem: TrainGuard:Mode is not a trainguard key (keys are lower case): it is ignored\n"
        "Fix:     rename the tag trainguard:mode\n"
        f"The job is not evaluated until its tags are fixed. {messages.LIVE_TAGS}\n"
    )
    # without the list (or an error the list does not hold), the error itself is said
    alone = email_text(messages.config_error("typo", "bad", "us-east-1"))
    assert alone.startswith("Job:     typo\nProblem: bad\nThe job is not evaluated")


def test_the_ticks_config_email_lists_every_bad_tag_of_the_job() -> None:
    from world import TAGS as WORLD_TAGS
    from world import World

    world = World()
    tags = {**WORLD_TAGS, c.TAG_PROTECT: "yes", c.TAG_DIRECTION: "down", "trainguard:objetive": "x"}
    world.report(world.start("typo", tags), [1.0])
    world.fakes.advance(6)
    world.tick()
    (email,) = [e for e in world.fakes.notifier.take() if "CONFIG" in e.subject]
    assert email.subject == (
        "[trainguard] CONFIG typo: 3 tag problems, the first: trainguard:direction must be "
        "'minimize' or..."
    )
    assert email.body.startswith(
        "Job:     typo\n"
        "Problem: trainguard:direction must be 'minimize' or 'maximize', got 'down'\n"
        "Fix:     trainguard:direction=minimize or trainguard:direction=maximize\n"
        "Problem: trainguard:protect must be 'true' or 'false', got 'yes'\n"
    )
    assert "Fix:     rename the tag trainguard:objective\n" in email.body
