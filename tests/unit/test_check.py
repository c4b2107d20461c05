"""``trainguard check --request FILE`` on CreateTrainingJob requests (tests/fixtures/check):
exit 0 when every rule the settings turn on will watch the job, 1 with each problem and its
fix when not, 2 in one line when the file is unusable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainguard.config import Controls, Policy, parse_controls
from trainguard.models import GroupPolicy
from trainguard_tools.check import Where, check_job, nearest, read_request, read_shape
from trainguard_tools.cli import main

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "check"


def check(name: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["check", "--offline", "--request", str(FIXTURES / name), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def request(name: str) -> dict[str, object]:
    return read_request(str(FIXTURES / name))


def statuses(out: str) -> dict[str, str]:
    doc = json.loads(out)
    return {r["rule"]: r["status"] for r in doc["rules"]}


def test_a_good_request_is_fully_watched(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check("good.json", capsys)
    assert code == 0 and err == ""
    assert "Verdict: fully watched: exit 0" in out
    assert "Instances: 2 x ml.g5.2xlarge (1 x A10G per host, $1.515/h per host)" in out
    assert "Policy:    the deployed defaults (--offline: no stack read)" in out
    code, out, _ = check("good.json", capsys, "--json")
    assert code == 0 and json.loads(out)["watched"] is True
    assert statuses(out) == {
        "catch-up": "watched",
        "median": "off",
        "patience": "off",
        "divergence": "watched",
        "runtime": "watched",
        "gpu-idle": "watched",
        "hang": "watched",
        "straggler": "watched",
        "throughput": "n/a",
    }


def test_a_typoed_objective_exits_1_and_names_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check("typo_objective.json", capsys)
    assert code == 1
    assert (
        "  - trainguard:objective=validation:loss names no MetricDefinitions entry of the job "
        "(it defines validation_loss, train_loss)\n"
        "    fix: did you mean validation_loss? set trainguard:objective=validation_loss\n"
    ) in out
    assert "Verdict: NOT fully watched (1 problem): exit 1" in out
    _, out, _ = check("typo_objective.json", capsys, "--json")
    rules = statuses(out)
    assert rules["catch-up"] == rules["divergence"] == rules["hang"] == "NOT WATCHED"
    assert rules["gpu-idle"] == rules["straggler"] == "watched"


def test_no_objective_tag_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check("no_objective.json", capsys)
    assert code == 1
    assert "  - no trainguard:objective tag: no objective rule judges the job" in out
    assert "fix: add trainguard:objective=<validation_loss or train_loss>" in out


def test_a_near_miss_key_and_a_bad_value_are_both_listed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = check("bad_tags.json", capsys)
    assert code == 1
    assert (
        "Problems (2):\n"
        "  - TrainGuard:Mode is not a trainguard key (keys are lower case): it is ignored\n"
        "    fix: rename the tag trainguard:mode\n"
        "  - trainguard:protect must be 'true' or 'false', got 'yes'\n"
        "    fix: trainguard:protect=true or trainguard:protect=false\n"
    ) in out
    assert "the evaluator skips the job until its tags are fixed" in out
    _, out, _ = check("bad_tags.json", capsys, "--json")
    doc = json.loads(out)
    assert [(p["key"], p["kind"]) for p in doc["tag_problems"]] == [
        ("TrainGuard:Mode", "near-miss"),
        ("trainguard:protect", "value"),
    ]
    assert doc["exit_code"] == 1
    rules = {r["rule"]: r for r in doc["rules"]}  # what watches it once the tags are fixed
    assert rules["catch-up"]["status"] == "NOT WATCHED"
    assert rules["catch-up"]["detail"].startswith("bad tags; once fixed: k 8 x noise")
    assert rules["gpu-idle"]["status"] == "watched"  # its alarms, as for any job


def test_bad_tags_do_not_hide_the_other_problems() -> None:
    doc = request("typo_objective.json")
    doc["Tags"] = [*doc["Tags"], {"Key": "trainguard:direction", "Value": "down"}]  # type: ignore[misc]
    report = check_job(read_shape(doc), Where(Policy(), "p"), "r")
    assert [t.key for t in report.tag_problems] == ["trainguard:direction"]
    (problem,) = report.problems
    assert problem.fix == "did you mean validation_loss? set trainguard:objective=validation_loss"


def test_an_unknown_instance_type_leaves_the_gpu_rules_unwatched(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = check("unknown_instance.json", capsys)
    assert code == 1
    assert "unknown instance type 'ml.g7.2xlarge': trainguard does not know its GPUs" in out
    assert "add it to the deployed policy's prices: -c prices='{\"ml.g7.2xlarge\"" in out
    _, out, _ = check("unknown_instance.json", capsys, "--json")
    rules = statuses(out)
    assert rules["gpu-idle"] == rules["hang"] == rules["straggler"] == "NOT WATCHED"
    assert rules["catch-up"] == "watched"
    # the policy's prices make it known: fully watched
    priced = Policy.from_mapping({"prices": {"ml.g7.2xlarge": {"gpus": 1, "usd_per_hour": 2}}})
    report = check_job(read_shape(request("unknown_instance.json")), Where(priced, "p"), "r")
    assert report.watched and report.exit_code == 0


def test_an_instance_groups_request_says_per_group_what_is_watched(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = check("instance_groups.json", capsys)
    assert code == 0  # the GPU group's hosts are watched (issue 20)
    assert (
        "Instances: group data: 1 x ml.c5.4xlarge (no GPU per host, $0.816/h per host): no GPU "
        "rule applies\n"
        "Instances: group train: 2 x ml.p4d.24xlarge (8 x A100 per host, $37.688/h per host): "
        "its hosts watched by gpu-idle, hang, straggler\n"
    ) in out
    assert "an alarm per GPU host (2, each once it reports" in out
    assert "a host 30 points per GPU below the others of its group (train) for 10 min" in out
    _, out, _ = check("instance_groups.json", capsys, "--json")
    rules = statuses(out)
    assert rules["gpu-idle"] == rules["hang"] == rules["straggler"] == "watched"
    # two GPU groups: their hosts cannot be told apart, so no straggler comparison
    doc = request("instance_groups.json")
    doc["ResourceConfig"]["InstanceGroups"][0]["InstanceType"] = "ml.g5.xlarge"  # type: ignore[index]
    report = check_job(read_shape(doc), Where(Policy(), "p"), "r")
    by_rule = {r.rule: r for r in report.rules}
    assert by_rule["gpu-idle"].status == by_rule["hang"].status == "watched"
    assert by_rule["straggler"].status == "NOT WATCHED"
    assert "cannot be told apart" in by_rule["straggler"].detail
    assert any("divided by the smallest count (1)" in n for n in report.notes)
    # a CPU-only heterogeneous cluster loses nothing
    doc = request("instance_groups.json")
    doc["ResourceConfig"]["InstanceGroups"][1]["InstanceType"] = "ml.m5.xlarge"  # type: ignore[index]
    report = check_job(read_shape(doc), Where(Policy(), "p"), "r")
    assert report.watched and {r.rule: r.status for r in report.rules}["gpu-idle"] == "n/a"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "cannot be read (No such file or directory)"),
        ('{"TrainingJobName": "x",', "not valid JSON (Expecting"),
        ("[1, 2]", "not a JSON object (a CreateTrainingJob request), got list"),
        ('{"Tags": "trainguard:group=g"}', "Tags must be a map or a list of Key/Value pairs"),
        ('{"ResourceConfig": []}', "ResourceConfig must be an object, got list"),
    ],
)
def test_unusable_input_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, why: str
) -> None:
    path = tmp_path / "request.json"
    if content is not None:
        path.write_text(content)
    code = main(["check", "--offline", "--request", str(path)])
    out = capsys.readouterr()
    assert code == 2 and out.out == "" and out.err.count("\n") == 1
    assert why in out.err and out.err.startswith("trainguard: ")


def test_the_committed_bad_json_fixture_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check("not_json.json", capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and "not valid JSON" in err


def test_the_settings_are_the_evaluators_own_chain() -> None:
    """Tags over the group's calibrated policy over the deployed one, the runtime controls."""
    doc = request("good.json")
    doc["Tags"] = [*doc["Tags"], {"Key": "trainguard:catchup-consecutive", "Value": "5"}]  # type: ignore[misc]
    group = GroupPolicy("digits", {"catchup": {"noise_multiple": 4.0}}, "calibrate")
    paused = parse_controls({"GROUP#digits": '{"paused": true, "mode": "enforce", "by": "ana"}'})
    report = check_job(read_shape(doc), Where(Policy(), "s", paused, group, references=1), "r")
    (catchup,) = [r for r in report.rules if r.rule == "catch-up"]
    assert catchup.status == "waiting" and catchup.detail == (
        "k 4 x noise, 5 reports in a row, 3 completed references; 1 of 3 completed jobs of its "
        "reference set so far"
    )
    assert report.mode == "enforce (paused: reports only)" and report.watched
    ready = check_job(read_shape(doc), Where(Policy(), "s", Controls(), group, references=3), "r")
    assert {r.rule: r.status for r in ready.rules}["catch-up"] == "watched"


def test_metric_names_checks() -> None:
    assert nearest("validation:loss", ["validation_loss", "train_loss"]) == "validation_loss"
    assert nearest("Val_Loss", ["val_loss"]) == "val_loss"
    assert nearest("accuracy", ["validation_loss"]) is None
    doc = request("good.json")
    doc["AlgorithmSpecification"] = {"TrainingImage": "img", "TrainingInputMode": "File"}
    report = check_job(read_shape(doc), Where(Policy(), "p"), "r")
    (problem,) = report.problems
    assert "the job defines no MetricDefinitions" in problem.what
    assert problem.fix.startswith('add {"Name": "validation_loss", "Regex": "..."}')
    doc["AlgorithmSpecification"] = {"AlgorithmName": "my-algo", "TrainingInputMode": "File"}
    report = check_job(read_shape(doc), Where(Policy(), "p"), "r")
    assert report.watched and "not checked" in report.notes[0]
    doc = request("good.json")
    doc["Tags"] = [*doc["Tags"], {"Key": "trainguard:throughput", "Value": "samples/s"}]  # type: ignore[misc]
    report = check_job(read_shape(doc), Where(Policy(), "p"), "r")
    assert {r.rule: r.status for r in report.rules}["throughput"] == "NOT WATCHED"
    assert report.problems[0].what.startswith("trainguard:throughput=samples/s names no")


def test_not_opted_in_and_a_bad_retry_tag_exit_1() -> None:
    doc = request("good.json")
    doc["Tags"] = [{"Key": "team", "Value": "vision"}]
    report = check_job(read_shape(doc), Where(Policy(), "p"), "r")
    assert report.exit_code == 1 and report.problems[0].what.startswith("no trainguard:group tag")
    doc = request("good.json")
    doc["Tags"] = [*doc["Tags"], {"Key": "trainguard:retry", "Value": "99"}]  # type: ignore[misc]
    report = check_job(read_shape(doc), Where(Policy(), "p"), "r")
    assert report.exit_code == 1 and report.tag_problems[0].key == "trainguard:retry"
