"""``trainguard demo --quick``: the short scenario of the demo's engine, end to end (the real
CDK deploy into moto server, the fleet, the deployed functions in-process), checked on the
summary it writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from trainguard_tools.cli import main

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, dict[str, Any]]:
    if shutil.which("npx") is None or not (REPO_ROOT / "node_modules" / ".bin" / "cdk").exists():
        pytest.skip("the pinned CDK CLI is not installed (make setup)")
    out = tmp_path_factory.mktemp("demo")
    code = main(["demo", "--quick", "--out", str(out)])
    return code, out, json.loads((out / "summary.json").read_text())


def test_the_quick_demo_passes_its_own_checks(demo: tuple[int, Path, dict[str, Any]]) -> None:
    code, _, summary = demo
    failed = [c for c in summary["checks"] if not c["ok"]]
    assert failed == [] and summary["ok"] and code == 0


def test_the_catch_up_rule_stopped_a_job(demo: tuple[int, Path, dict[str, Any]]) -> None:
    _, _, summary = demo
    stops = [s for s in summary["stopped"] if s["rule"] == "catch-up"]
    assert stops and all(s["references"] >= 3 for s in stops)


def test_the_summary_holds_what_the_deployed_control_plane_did(
    demo: tuple[int, Path, dict[str, Any]],
) -> None:
    _, _, summary = demo
    rules = {s["job"]: s["rule"] for s in summary["stopped"]}
    assert "median" not in rules.values()  # off by default
    assert rules.get("digits-mlp-030") == "diverged"  # the diverging job
    idle = {(a["job"], a["host"]) for a in summary["alerts"] if a["kind"] == "gpu_idle"}
    multi = [j for j in summary["job_details"] if j["role"] == "multi-node, idle host"]
    assert len(multi) == 1 and (multi[0]["job"], f"{multi[0]['job']}/algo-2") in idle
    untagged = [j for j in summary["job_details"] if not j["opted_in"]]
    assert untagged and all(j["status"] != "Stopped" for j in untagged)
    assert summary["not_opted_in_stopped"] == 0
    assert any(a["job"] == untagged[0]["job"] for a in summary["alerts"])  # alerted on
    assert any(a["kind"] == "max_runtime" for a in summary["alerts"])
    assert summary["best_job_survived"] and all(summary["best_job_survived"].values())
    assert summary["emails"] == len(summary["email_subjects"]) > 0
    for stop in summary["stopped"]:
        assert {"job", "group", "rule", "step", "value", "threshold", "references"} <= set(stop)
        assert any(stop["job"] in subject for subject in summary["email_subjects"])
    # distributed training: the hang within 10 minutes of its last report, the straggler host
    # named, the throughput drop, and no such alert on a healthy job
    health = summary["health"]
    assert health["hang_detection_minutes"] is not None and health["hang_detection_minutes"] <= 10
    assert health["straggler_host"] == "ddp-straggler/algo-3"
    assert health["caught"]["ddp-slowdown"]["kind"] == "throughput"
    assert health["false_alerts"] == [] and health["healthy_multi_node_jobs"] > 0
    assert 0 < summary["gpu_hours_used"] < summary["gpu_hours_baseline"]
    assert 0 < summary["saved_fraction"] < 1 and summary["usd_saved"] > 0


def test_the_report_is_one_self_contained_page(demo: tuple[int, Path, dict[str, Any]]) -> None:
    _, out, summary = demo
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(summary["groups"]) + 1
    assert "<img src='http" not in page and "<script" not in page
    assert all(subject.split(":")[0] in page for subject in summary["email_subjects"])


def test_the_capacity_failure_was_retried_once(demo: tuple[int, Path, dict[str, Any]]) -> None:
    _, _, summary = demo
    retries = summary["retries"]
    assert retries["capacity_failures"] == ["capacity-job"]
    assert (retries["attempted"], retries["succeeded"]) == (1, 1)
    assert retries["retry_jobs"] == {"capacity-job-retry-1": "Completed"}
    # nothing else, but the revival its owner asked for (issue 23: the demo's revive group)
    assert summary["created_by_trainguard"] == ["capacity-job-retry-1", "rev-stopped-revived-1"]
    retried = [s for s in summary["email_subjects"] if s.startswith("[trainguard] RETRIED")]
    assert retried == ["[trainguard] RETRIED capacity-job as capacity-job-retry-1 (attempt 1 of 1)"]


def test_the_report_renders_whole_in_a_browser(
    demo: tuple[int, Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The quick demo's own page in headless Chromium: no broken image, nothing on the
    console, every stop marked inside its chart's axes, the summary first (tests/browser)."""
    from headless_chromium import ChromiumUnavailable
    from report_page import inspect_page, report_problems

    _, out, summary = demo
    try:
        seen, rendered = inspect_page(out / "report.html", out / "report.png")
    except ChromiumUnavailable as exc:
        pytest.skip(str(exc))
    assert report_problems(seen, rendered.console) == []
    assert len(seen["stops"]["rows"]) == len(summary["stopped"])
