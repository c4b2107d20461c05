"""The demo's report page in headless Chromium (installed with apt-get where it is missing and
we are root, as in CI): no broken image, nothing on the console, every stop marked inside its
chart's axes, the summary first and the checklist last.

The page is built from a small fixed run (the quick fleet of the committed curves, a made-up
audit with early stops, a diverged job far off the scale, the distributed group's
hang and straggler, a GPU-idle alarm) by the report's own code: no emulator, a few seconds.
Set ``REPORT_SCREENSHOT=path.png`` to keep the screenshot.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from headless_chromium import ChromiumUnavailable, find_or_install_chromium
from report_page import inspect_page, report_problems

from trainguard.config import Policy
from trainguard_local.demo.fleet import QUICK, FleetJob, best_jobs, plan_fleet
from trainguard_local.demo.report import write_report
from trainguard_local.demo.run import HostSample, RunRecord
from trainguard_local.demo.summary import build_summary
from trainguard_tools.curvefile import load_curves

pytestmark = pytest.mark.browser

CURVES = Path(__file__).resolve().parents[2] / "data" / "curves.jsonl"
T0 = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return find_or_install_chromium()
    except ChromiumUnavailable as exc:
        pytest.skip(str(exc))


def _played(job: FleetJob, stop_minute: int | None) -> int:
    """The minutes since its start the job ran (stopped, or its natural end)."""
    natural = job.end_minute - job.start_minute
    return natural if stop_minute is None else min(natural, stop_minute)


def fixed_run() -> dict[str, Any]:
    """write_report's inputs for a small run with every kind of mark the page draws."""
    records, problems = load_curves(CURVES)
    assert problems == []
    fleet = plan_fleet(records, QUICK)
    by_role = {j.role: j for j in fleet if j.role}
    best = set(best_jobs(fleet).values())
    # stops: every job but the first and the best, early (their values above the jobs that ran
    # to the end), the diverging job at its third report (far above the scale)
    stops: dict[str, tuple[str, int, float]] = {}
    for group in ("digits-mlp", "breast-cancer-mlp"):
        jobs = sorted(
            (j for j in fleet if j.group == group and not j.role),
            key=lambda j: (j.start_minute, j.name),
        )
        for j in jobs[1:]:  # the first runs to its end: the scale
            if j.name not in best:
                stops[j.name] = ("catch-up", 2, j.curve[1][1])
    d = by_role["diverging"]
    stops[d.name] = ("diverged", 3, d.curve[2][1])
    decisions: list[dict[str, Any]] = [
        {
            "job": name,
            "rule": rule,
            "step": step,
            "value": value,
            "threshold": value / 2,
            "references": 3,
            "action": "STOPPED",
            "reason": f"{rule}: {value:.4g} at minute {step}, worse than {value / 2:.4g} "
            "(3 reports in a row)",
        }
        for name, (rule, step, value) in stops.items()
    ]
    multi = by_role["multi-node, idle host"]
    hang, straggler = by_role["hung"], by_role["straggler host"]
    assert hang.hang_minute is not None
    decisions += [
        {
            "job": multi.name,
            "rule": "gpu_idle",
            "step": 6,
            "value": 2.0,
            "action": "ALERT",
            "reason": f"{multi.name}/algo-2 idle: 2% per GPU for 5 min, below 10%",
        },
        {
            "job": hang.name,
            "rule": "hung",
            "step": hang.hang_minute + 6,
            "value": 6.0,
            "action": "ALERT",
            "reason": "hung (pinned): no report for 6 min",
        },
        {
            "job": straggler.name,
            "rule": "straggler",
            "step": 8,
            "value": 45.0,
            "action": "ALERT",
            "reason": f"{straggler.name}/algo-3 at 45% per GPU vs 95%",
        },
    ]
    record = RunRecord(clock_start=T0, minutes=max(j.end_minute for j in fleet) + 1)
    descriptions = {}
    for j in fleet:
        ran = _played(j, stops[j.name][1] if j.name in stops else None)
        start = T0 + timedelta(minutes=j.start_minute)
        status = "Stopped" if j.name in stops else ("Completed" if j.publishes else "Failed")
        descriptions[j.name] = {
            "TrainingJobStatus": status,
            "TrainingStartTime": start,
            "TrainingEndTime": start + timedelta(minutes=ran),
        }
        if not j.publishes:
            continue
        for i, host in enumerate(j.hosts(), start=1):
            record.gpu[host] = [
                HostSample(m, j.gpu_utilization(i, m, 1))
                for m in range(j.start_minute, j.start_minute + ran + 1)
            ]
    alarm = f"trainguard-gpu-idle-{multi.name}-algo-2"
    transitions = [
        SimpleNamespace(alarm_name=alarm, state="ALARM", at=T0 + timedelta(minutes=m))
        for m in (multi.start_minute + 6,)
    ]
    emails = [
        SimpleNamespace(subject=f"[trainguard] STOPPED {name} ({rule})", body=f"{rule} at {s}")
        for name, (rule, s, _) in stops.items()
    ]
    summary = build_summary(
        fleet,
        decisions,
        descriptions,
        [e.subject for e in emails],
        Policy().catalog(),
        extra={"mode": "enforce", "tick_minutes": 1, "simulated_minutes": record.minutes},
    )
    return {
        "summary": summary,
        "fleet": fleet,
        "record": record,
        "transitions": transitions,
        "emails": emails,
        "stats": {},
        "policy": Policy(mode="enforce"),
    }


def test_the_report_renders_whole_in_a_browser(chromium: str, tmp_path: Path) -> None:
    run = fixed_run()
    page = write_report(tmp_path / "report.html", **run)
    shot = Path(os.environ.get("REPORT_SCREENSHOT") or tmp_path / "report.png")
    seen, rendered = inspect_page(page, shot)
    assert report_problems(seen, rendered.console) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # what the fixture holds is on the page: a chart a group plus the GPU chart; every stop,
    # the one far off the scale drawn on the axis' edge
    summary = run["summary"]
    assert len(seen["images"]) == len(summary["groups"]) + 1
    assert len(seen["stops"]["rows"]) == len(summary["stopped"]) >= 5
    marks = [m for i in seen["images"] for m in _chart(i)["marks"] if m["kind"] == "stop"]
    assert {m["job"] for m in marks} == {s["job"] for s in summary["stopped"]}
    assert [m["off_scale"] for m in marks if m["rule"] == "diverged"] == ["top"]


def _chart(image: dict[str, Any]) -> dict[str, Any]:
    chart: dict[str, Any] = json.loads(image["chart"])
    return chart


BROKEN = """<!doctype html><html><head><meta charset='utf-8'></head><body>
<h1>x</h1><h2>Checks</h2>
<img alt='broken' src='data:image/png;base64,AAAA'>
<img alt='chart' data-chart='{chart}' src='data:image/png;base64,{png}'>
<h2>Summary</h2><script>console.error("boom")</script></body></html>"""
PIXEL = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_the_checks_catch_a_broken_page(chromium: str, tmp_path: Path) -> None:
    """The browser check itself: a broken image, a console error, a stop outside its axes, a
    missing Stops table and the checklist first are each reported."""
    chart = {
        "chart": "curves",
        "group": "g",
        "image": [1, 1],
        "xlim": [0, 10],
        "ylim": [0, 1],
        "axes_px": [0, 0, 1, 1],
        "marks": [{"kind": "stop", "job": "j", "x": 5, "y": 3.0, "px": [0.5, -5.0]}],
    }
    page = tmp_path / "broken.html"
    page.write_text(BROKEN.format(chart=json.dumps(chart), png=PIXEL), encoding="utf-8")
    seen, rendered = inspect_page(page)
    problems = report_problems(seen, rendered.console)
    assert any("'broken' did not load" in p for p in problems)
    assert any(p.startswith("console: console.error: boom") for p in problems)
    assert any("stop mark outside its axes" in p for p in problems)
    assert any("no Stops table" in p for p in problems)
    assert any("does not open with its summary" in p for p in problems)
    assert any("checklist is not last" in p for p in problems)
