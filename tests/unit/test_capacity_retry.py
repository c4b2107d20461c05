"""Capacity retries (trainguard.logic.retry) over the fakes: which failures are retried, the
back-off and the chain's count, the request built from the description, exactly-once under
crashes and duplicates, refusals said once, and everything that must never be recreated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.session
import pytest
from fakes import ACCOUNT, FakeJob
from world import TAGS, World

from trainguard.config import RetryConfigError, parse_role_arns
from trainguard.logic import retry
from trainguard.logic.actions import Act
from trainguard.models import CreateRefused

pytestmark = pytest.mark.unit

ROLE = f"arn:aws:iam::{ACCOUNT}:role/training"
CAPACITY = (
    "CapacityError: Unable to provision requested ML compute capacity. Please retry using a "
    "different ML instance type."
)
LIMIT = (
    "ResourceLimitExceeded: The account-level service limit 'ml.p3.8xlarge for training job "
    "usage' is 2 Instances, with current utilization of 3 Instances and a request delta of 1 "
    "Instances. Please contact AWS support to request an increase for this limit."
)
RETRY_TAGS = {**TAGS, "trainguard:retry": "2"}


@dataclass
class RetryWorld(World):
    roles: tuple[str, ...] = (ROLE,)

    def deps(self, policy: Any = None) -> Any:
        deps = super().deps(policy)
        deps.retry_roles = self.roles
        return deps

    def fail(self, name: str, reason: str, tags: dict[str, str] | None = None) -> FakeJob:
        job = self.start(name, dict(RETRY_TAGS if tags is None else tags))
        self.fakes.advance(1)
        self.end(job, "Failed", reason=reason)
        return job

    def resume(self) -> int:
        return Act(self.deps(), self.fakes.now).resume_open()

    def bodies(self) -> list[str]:
        return [e.body for e in self.fakes.notifier.take()]


# ---- the patterns ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        (CAPACITY, "SageMaker.CAPACITY_ERROR"),
        ("Unable to provision requested ML compute capacity.", "SageMaker.CAPACITY_ERROR"),
        (
            "EC2InsufficientCapacityError: Instance type 'ml.g5.48xlarge' is temporarily "
            "unavailable in supported availability zones [euw1-az1].",
            "SageMaker.CAPACITY_ERROR",
        ),
        ("InsufficientCapacityError: no capacity", "SageMaker.CAPACITY_ERROR"),
        (LIMIT, "SageMaker.RESOURCE_LIMIT"),
        (
            "The account-level service limit 'ml.p4d.24xlarge for training job usage' is 0",
            "SageMaker.RESOURCE_LIMIT",
        ),
        ("AlgorithmError: CapacityError: my own code raised this", None),
        ("ClientError: Please ensure the ResourceLimitExceeded ...", None),
        ("InternalServerError: We encountered an internal error. Please try again.", None),
        ("AlgorithmError: CUDA out of memory", None),
        ("", None),
        (None, None),
    ],
)
def test_capacity_patterns(reason: str | None, kind: str | None) -> None:
    assert retry.capacity_kind(reason) == kind


def test_every_pattern_names_its_source() -> None:
    assert all(p.source.startswith("https://") for p in retry.CAPACITY_PATTERNS)
    assert {p.kind for p in retry.CAPACITY_PATTERNS} == {
        "SageMaker.CAPACITY_ERROR",
        "SageMaker.RESOURCE_LIMIT",
    }


# ---- names, tags, back-off -----------------------------------------------------------------------
def test_retry_names_are_deterministic_and_valid() -> None:
    assert retry.retry_name("train-a", 1) == "train-a-retry-1"
    long = "x" * 60
    name = retry.retry_name(long, 10)
    assert len(name) <= 63 and name.endswith("-retry-10")
    assert name == retry.retry_name(long, 10)
    assert name != retry.retry_name("x" * 59 + "y", 10)  # cut names keep a hash of the whole


@pytest.mark.parametrize("bad", ["0", "11", "-1", "three", "2.5", ""])
def test_a_bad_retry_tag_is_a_clear_error(bad: str) -> None:
    with pytest.raises(retry.RetryConfigError, match="trainguard:retry must be a whole number"):
        retry.retry_count({"trainguard:retry": bad})


def test_backoff_doubles_and_is_capped() -> None:
    assert [retry.backoff_s(k) / 60 for k in (1, 2, 3, 4, 10)] == [2, 4, 8, 16, 60]


def test_role_arns_parse_and_match() -> None:
    roles = parse_role_arns(f"{ROLE}, arn:aws:iam::{ACCOUNT}:role/teams/*")
    assert retry.role_allowed(ROLE, roles)
    assert retry.role_allowed(f"arn:aws:iam::{ACCOUNT}:role/teams/ml-train", roles)
    assert not retry.role_allowed(f"arn:aws:iam::{ACCOUNT}:role/admin", roles)
    assert parse_role_arns([]) == () and parse_role_arns("") == ()
    for bad in ("*", "arn:aws:iam::123:role/x", f"arn:aws:iam::{ACCOUNT}:user/x", 5):
        with pytest.raises(RetryConfigError):
            parse_role_arns(bad if not isinstance(bad, str) else [bad])


# ---- the request, against botocore's own shapes ------------------------------------------------
def _model() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


def test_copied_fields_are_what_create_accepts_and_describe_returns() -> None:
    model = _model()
    create = model.operation_model("CreateTrainingJob").input_shape
    describe = model.operation_model("DescribeTrainingJob").output_shape
    copied = set(retry.COPIED_FIELDS)
    assert copied <= set(create.members) and copied <= set(describe.members)
    # every field both have is copied, but the name (new) and the tags (from ListTags)
    both = set(create.members) & set(describe.members)
    assert both - copied == {"TrainingJobName"}
    for key in copied:  # the same shape on both sides: a described value is a valid input
        assert describe.members[key].name == create.members[key].name, key


def _full_description() -> dict[str, Any]:
    """A DescribeTrainingJob answer with every member the service model declares, each a
    small valid-looking value of its shape."""
    describe = _model().operation_model("DescribeTrainingJob").output_shape

    def sample(shape: Any, depth: int = 0) -> Any:
        if shape.type_name == "structure":
            return {k: sample(v, depth + 1) for k, v in shape.members.items() if depth < 10}
        if shape.type_name == "list":
            return [sample(shape.member, depth + 1)] if depth < 10 else []
        if shape.type_name == "map":
            return {"k": "v"}
        if shape.type_name in ("integer", "long"):
            return 1
        if shape.type_name == "boolean":
            return False
        if shape.type_name == "timestamp":
            return "2026-01-01T00:00:00Z"
        if shape.type_name == "double" or shape.type_name == "float":
            return 1.0
        return shape.enum[0] if shape.enum else "s"

    return {key: sample(shape) for key, shape in describe.members.items()}


def test_the_request_drops_read_only_fields_and_passes_botocore_validation() -> None:
    from botocore.validate import ParamValidator

    description = _full_description()
    tags = retry.retry_tags({"team": "a", "aws:cloudformation:stack-name": "s"}, "base", 1)
    request = retry.create_request(description, "base-retry-1", tags)
    for read_only in (
        "TrainingJobArn",
        "TrainingJobStatus",
        "CreationTime",
        "FailureReason",
        "ModelArtifacts",
        "SecondaryStatusTransitions",
        "FinalMetricDataList",
        "WarmPoolStatus",
        "BillableTimeInSeconds",
        "LastModifiedTime",
    ):
        assert read_only not in request
    kept_fields = (
        "AlgorithmSpecification RoleArn InputDataConfig OutputDataConfig "
        "ResourceConfig StoppingCondition HyperParameters VpcConfig CheckpointConfig "
        "DebugHookConfig Environment RetryStrategy"
    )
    for kept in kept_fields.split():
        assert request[kept] == description[kept]
    assert request["Tags"] == [
        {"Key": "team", "Value": "a"},
        {"Key": "trainguard:retry-attempt", "Value": "1"},
        {"Key": "trainguard:retry-of", "Value": "base"},
    ]
    shape = _model().operation_model("CreateTrainingJob").input_shape
    report = ParamValidator().validate(request, shape)
    # the samples are not all valid values (lengths, patterns are not checked by botocore),
    # but no key is unknown and none required is missing
    assert "Unknown parameter" not in report.generate_report()
    assert "Missing required parameter" not in report.generate_report()


def test_empty_fields_are_left_out() -> None:
    request = retry.create_request(
        {
            "RoleArn": ROLE,
            "VpcConfig": {},
            "HyperParameters": {},
            "OutputDataConfig": {"S3OutputPath": "s3://b"},
        },
        "n",
        [],
    )
    assert request == {
        "TrainingJobName": "n",
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://b"},
    }


# ---- the whole story ----------------------------------------------------------------------------
def test_a_capacity_failure_is_retried_once_after_its_backoff() -> None:
    world = RetryWorld()
    world.fail("big", CAPACITY)
    (body,) = world.bodies()
    assert (
        "Retry:   attempt 1 of 2 (SageMaker.CAPACITY_ERROR), created by trainguard as "
        "big-retry-1" in body
    )
    assert world.resume() == 0  # not due yet: nothing created before its time
    assert world.fakes.training_jobs.created == []
    world.fakes.advance(2)
    assert world.resume() == 1
    (request,) = world.fakes.training_jobs.created
    assert request["TrainingJobName"] == "big-retry-1" and request["RoleArn"] == ROLE
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags == {**RETRY_TAGS, "trainguard:retry-attempt": "1", "trainguard:retry-of": "big"}
    emails = world.fakes.notifier.take()
    assert [e.subject for e in emails] == [
        "[trainguard] RETRIED big as big-retry-1 (attempt 1 of 2)"
    ]
    assert emails[0].body.splitlines()[:4] == [
        "Job:         big (Failed)",
        "Outcome:     RETRIED",
        "Retry:       big-retry-1 (attempt 1 of 2, trainguard:retry=2)",
        "Retry link:  https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1"
        "#/jobs/big-retry-1",
    ]
    assert f"Failed with: {CAPACITY}" in emails[0].body
    audit = [d["action"] for d in world.decisions("big")]
    assert audit == ["RETRY SCHEDULED", "RETRIED"]
    assert world.resume() == 0 and world.fakes.training_jobs.created == [request]  # once
    assert world.fakes.ledger.open_actions() == []


def test_the_chain_is_counted_across_retries_and_stops_at_the_tag() -> None:
    world = RetryWorld()
    world.fail("c", LIMIT)
    world.fakes.advance(2)
    world.resume()
    retry1 = world.fakes.training_jobs.jobs["c-retry-1"]
    world.event(retry1)  # its InProgress: registered, opted in through the copied tags
    assert world.record("c-retry-1").opted_in
    world.fakes.advance(1)
    world.end(retry1, "Failed", reason=CAPACITY)
    world.fakes.advance(3)
    assert world.resume() == 0  # attempt 2 waits 4 minutes
    world.fakes.advance(1)
    assert world.resume() == 1
    retry2 = world.fakes.training_jobs.jobs["c-retry-2"]
    assert (retry2.tags["trainguard:retry-of"], retry2.tags["trainguard:retry-attempt"]) == (
        "c",
        "2",
    )
    world.event(retry2)
    world.fakes.advance(1)
    world.bodies()
    world.end(retry2, "Failed", reason=CAPACITY)
    (body,) = world.bodies()
    assert "Retry:   not retried: all 2 retries of the chain are used" in body
    world.fakes.advance(60)
    assert world.resume() == 0 and len(world.fakes.training_jobs.created) == 2


@pytest.mark.parametrize(
    ("tags", "reason", "status"),
    [
        ({**TAGS}, CAPACITY, "Failed"),  # no retry tag
        ({"trainguard:retry": "3"}, CAPACITY, "Failed"),  # not opted in (no group)
        (RETRY_TAGS, "AlgorithmError: CUDA out of memory", "Failed"),  # another reason
        (RETRY_TAGS, CAPACITY, "Stopped"),  # a stopped job
        (RETRY_TAGS, None, "Completed"),
    ],
)
def test_nothing_else_is_ever_recreated(
    tags: dict[str, str], reason: str | None, status: str
) -> None:
    world = RetryWorld()
    job = world.start("other", dict(tags))
    world.fakes.advance(1)
    world.end(job, status, reason=reason)
    world.fakes.advance(120)
    world.tick()
    world.resume()
    assert world.fakes.training_jobs.created == []
    assert not any(a.startswith("retry#") for _, a in world.fakes.ledger.open_actions())


def test_a_bad_tag_is_a_notice_not_a_crash() -> None:
    world = RetryWorld()
    world.fail("bad", CAPACITY, {**TAGS, "trainguard:retry": "lots"})
    (body,) = world.bodies()
    assert (
        "Retry:   not retried: a bad tag: trainguard:retry must be a whole number from 1 to "
        "10, got 'lots'" in body
    )
    world.fakes.advance(10)
    world.resume()
    assert world.fakes.training_jobs.created == []
    assert world.decisions("bad")[-1]["action"].startswith("NOT RETRIED (a bad tag")


def test_retries_off_in_the_deployment_say_so() -> None:
    world = RetryWorld(roles=())
    world.fail("off", CAPACITY)
    (body,) = world.bodies()
    assert "not retried: retries are not enabled in this deployment" in body
    world.fakes.advance(10)
    world.resume()
    assert world.fakes.training_jobs.created == []


def test_a_duplicate_failure_event_claims_one_retry() -> None:
    world = RetryWorld()
    job = world.fail("dup", CAPACITY)
    job.secondary = "Failed-again"
    world.event(job)
    world.fakes.advance(2)
    world.resume()
    world.resume()
    assert len(world.fakes.training_jobs.created) == 1
    assert len(world.emails()) == 2  # the failure, the retry: each once


def test_a_crash_after_the_create_is_resumed_without_a_second_job() -> None:
    world = RetryWorld()
    world.fail("crash", CAPACITY)
    world.fakes.advance(2)
    world.fakes.ledger.fail("finish_action", RuntimeError("the invocation died"))
    world.resume()  # created, then died before closing the action
    assert len(world.fakes.training_jobs.created) == 1
    assert len(world.fakes.ledger.open_actions()) == 1
    world.emails()
    assert world.resume() == 1  # the name is in use, by this very retry: done
    assert len(world.fakes.training_jobs.created) == 1
    assert world.fakes.ledger.open_actions() == []
    assert world.emails() == []  # its email was written once (the outbox dedups)


def test_a_crash_between_claim_and_create_is_resumed_by_the_next_tick() -> None:
    world = RetryWorld()
    world.fail("mid", CAPACITY)
    world.fakes.advance(2)
    world.fakes.training_jobs.fail("describe", RuntimeError("timed out"))
    world.resume()  # the invocation failed on its re-check: the action stays open
    assert world.fakes.training_jobs.created == []
    world.tick()  # the evaluator's tick resumes open actions
    assert [j["TrainingJobName"] for j in world.fakes.training_jobs.created] == ["mid-retry-1"]


def test_a_refused_create_is_said_once_and_not_retried() -> None:
    world = RetryWorld()
    world.fail("denied", CAPACITY)
    world.emails()
    world.fakes.advance(2)
    world.fakes.training_jobs.fail(
        "create", CreateRefused("AccessDenied: not authorized to perform: iam:PassRole")
    )
    world.resume()
    assert world.emails() == ["[trainguard] RETRY REFUSED denied: attempt 1 of 2"]
    world.fakes.advance(60)
    world.resume()
    world.tick()
    assert world.fakes.training_jobs.created == [] and world.emails() == []
    assert world.decisions("denied")[-1]["action"].startswith("RETRY REFUSED (AccessDenied")


def test_a_passing_create_error_is_tried_again_then_given_up() -> None:
    world = RetryWorld()
    world.fail("busy", CAPACITY)
    world.emails()
    world.fakes.advance(2)
    world.fakes.training_jobs.fail("create", RuntimeError("ThrottlingException"), times=99)
    outcomes = []
    for _ in range(retry.MAX_CREATE_TRIES):
        world.fakes.advance(60 * 60)  # past every back-off
        outcomes.append(
            Act(world.deps(), world.fakes.now).resume(world.record("busy").run, "retry#1")
        )
    assert outcomes == ["RETRY DEFERRED"] * (retry.MAX_CREATE_TRIES - 1) + [
        "RETRY GIVEN UP (5 tries, the last: RuntimeError: ThrottlingException)"
    ]
    subjects = world.emails()
    assert subjects == ["[trainguard] RETRY GIVEN UP busy: attempt 1 of 2"]
    assert world.fakes.ledger.open_actions() == []


def test_a_role_outside_the_deployment_is_not_passed() -> None:
    world = RetryWorld(roles=(f"arn:aws:iam::{ACCOUNT}:role/other",))
    world.fail("role", CAPACITY)
    world.fakes.advance(2)
    world.resume()
    assert world.fakes.training_jobs.created == []
    assert "is not among this deployment's retryRoleArns" in world.decisions("role")[-1]["action"]


def test_a_job_no_longer_opted_in_is_not_recreated() -> None:
    world = RetryWorld()
    job = world.fail("gone", CAPACITY)
    job.tags.pop("trainguard:group")  # the owner removed the opt-in meanwhile
    world.fakes.advance(2)
    world.resume()
    assert world.fakes.training_jobs.created == []


def test_the_kill_switch_holds_a_retry_back() -> None:
    from dataclasses import replace

    world = RetryWorld()
    world.fail("held", CAPACITY)
    world.fakes.advance(2)
    off = replace(world.policy, stops_disabled=True)
    deps = world.deps(off)
    assert Act(deps, world.fakes.now).resume_open() == 1  # held, still open
    assert world.fakes.training_jobs.created == []
    world.fakes.advance(5)
    world.resume()
    assert len(world.fakes.training_jobs.created) == 1


def test_a_runtime_pause_holds_a_retry_back() -> None:
    from trainguard.config import parse_controls

    world = RetryWorld()
    world.fail("paused", CAPACITY)
    world.fakes.advance(2)
    paused = parse_controls({"GLOBAL": '{"paused": true, "by": "ana"}'})
    assert Act(world.deps(), world.fakes.now, controls=paused).resume_open() == 1  # held
    assert world.fakes.training_jobs.created == []
    world.fakes.advance(5)
    world.resume()  # resumed: no pause
    assert len(world.fakes.training_jobs.created) == 1


def test_a_name_taken_by_someone_else_is_refused() -> None:
    world = RetryWorld()
    world.fail("taken", CAPACITY)
    world.fakes.training_jobs.add(FakeJob("taken-retry-1", {"team": "x"}))
    world.fakes.advance(2)
    world.resume()
    assert world.fakes.training_jobs.created == []
    assert "is taken by a job trainguard did not create" in world.decisions("taken")[-1]["action"]


def test_the_runtime_reads_the_roles_and_fails_safe_on_a_bad_list() -> None:
    from trainguard import constants as c
    from trainguard.handlers.runtime import aws_dependencies

    env = {c.ENV_TABLE_NAME: "t", c.ENV_TOPIC_ARN: "arn:aws:sns:us-east-1:1:t"}
    assert aws_dependencies(env).retry_roles == ()
    deps = aws_dependencies({**env, c.ENV_RETRY_ROLE_ARNS: ROLE})
    assert deps.retry_roles == (ROLE,) and deps.config_error is None
    bad = aws_dependencies({**env, c.ENV_RETRY_ROLE_ARNS: "not-a-role"})
    assert bad.retry_roles == () and "TRAINGUARD_RETRY_ROLE_ARNS" in str(bad.config_error)
