"""``trainguard check JOB`` on moto: the running job read by DescribeTrainingJob and ListTags,
judged under the stack's deployed policy (and its group's references), or under the deployed
defaults when no stack is reachable (it says so); an unknown job is one line, exit 2.

moto answers DescribeTrainingJob with a ``MetricDefinitions`` of its own (``test:dcg``): the
test puts back the request's, as SageMaker keeps them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ops_world import deploy_stand_in, ops_policy
from runtime_support import Aws

from trainguard_local.emulator import ACCOUNT_ID, REGION
from trainguard_tools.cli import main

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "check"


def launch(aws: Aws, fixture: str) -> str:
    """CreateTrainingJob with the fixture's request, as ``--cli-input-json`` sends it."""
    from moto.sagemaker.models import sagemaker_backends

    request: dict[str, Any] = json.loads((FIXTURES / fixture).read_text())
    aws.sagemaker.create_training_job(**request)
    name = str(request["TrainingJobName"])
    job = sagemaker_backends[ACCOUNT_ID][REGION].training_jobs[name]
    job.algorithm_specification["MetricDefinitions"] = list(
        request["AlgorithmSpecification"]["MetricDefinitions"]
    )
    return name


def check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_running_job_with_a_typoed_objective_and_no_stack(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    name = launch(aws, "typo_objective.json")
    code, out, err = check([name], capsys)
    assert code == 1 and err == ""
    assert out.startswith(f"trainguard check: {name} (running job, InProgress)\n")
    assert "Policy:    the deployed defaults (no stack reachable: stack Trainguard not found" in out
    assert "fix: did you mean validation_loss? set trainguard:objective=validation_loss" in out


def test_a_running_job_under_the_stacks_policy_waits_for_references(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_stand_in(aws, ops_policy())  # the median rule, not catch-up
    name = launch(aws, "good.json")
    code, out, _ = check([name, "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["watched"] is True
    assert doc["policy"] == f"stack Trainguard ({REGION})"
    rules = {r["rule"]: r for r in doc["rules"]}
    assert rules["catch-up"]["status"] == "off"
    assert rules["median"]["status"] == "waiting"
    assert rules["median"]["detail"].endswith("0 of 3 completed jobs of its reference set so far")


def test_a_request_checked_against_the_stack(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    deploy_stand_in(aws, ops_policy())
    code, out, _ = check(["--request", str(FIXTURES / "good.json")], capsys)
    assert code == 0 and f"Policy:    stack Trainguard ({REGION})" in out
    assert "  median      waiting      3 completed references, grace 0, average all; 0 of 3" in out


def test_an_unknown_job_is_one_line_and_exit_2(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = check(["nope"], capsys)
    assert code == 2 and out == ""
    assert err == f"trainguard: training job nope not found in {REGION}\n"


def test_a_running_heterogeneous_cluster_says_per_group_what_is_watched(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    name = launch(aws, "instance_groups.json")
    code, out, _ = check([name, "--offline", "--json"], capsys)
    doc = json.loads(out)
    # the GPU group's hosts are watched (issue 20): fully watched, exit 0
    assert code == 0 and doc["policy"] == "the deployed defaults (--offline: no stack read)"
    assert doc["instances"] == [
        "group data: 1 x ml.c5.4xlarge (no GPU per host, $0.816/h per host): no GPU rule applies",
        "group train: 2 x ml.p4d.24xlarge (8 x A100 per host, $37.688/h per host): its hosts "
        "watched by gpu-idle, hang, straggler",
    ]
    rules = {r["rule"]: r["status"] for r in doc["rules"]}
    assert rules["gpu-idle"] == rules["hang"] == rules["straggler"] == "watched"
    assert rules["catch-up"] == "watched"
