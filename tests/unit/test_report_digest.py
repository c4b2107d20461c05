"""The period summary (logic/report.py) and the weekly digest (logic/digest.py) on the
in-memory fakes: what counts as a stop, a would-be stop and an alert; dollars and GPU hours;
per group and in total; the three output formats; the digest's lists."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from fakes import Fakes, FakeTablePorts

from trainguard.config import Policy
from trainguard.core.catchup import CatchUpModel
from trainguard.logic.digest import build_digest, send_digest
from trainguard.logic.report import days, format_csv, format_json, format_text, summarize
from trainguard.models import GroupStats, JobRecord, ReferenceSet, RunId

NOW = datetime(2026, 1, 12, 8, 0, tzinfo=UTC).timestamp()  # a Monday, 08:00 UTC
DAY = 86400.0
CATALOG = Policy().catalog()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def job(
    name: str,
    group: str,
    *,
    itype: str = "ml.p4d.24xlarge",
    count: int = 1,
    status: str = "InProgress",
    start: float = NOW - 3600,
    **kw: Any,
) -> JobRecord:
    return JobRecord(
        name=name,
        created_ms=int(start * 1000),
        tags={"trainguard:group": group},
        opted_in=True,
        group=group,
        objective="loss",
        instance_type=itype,
        instance_count=count,
        start_time=start,
        status=status,
        **kw,
    )


def audit(
    table: FakeTablePorts,
    j: JobRecord,
    at: float,
    rule: str,
    action: str,
    saved: float | None = None,
) -> None:
    """An audit record as logic/act.py writes it."""
    record = {
        "job": j.name,
        "rule": rule,
        "stop": action != "ALERT",
        "step": 30,
        "value": 0.9,
        "threshold": 0.5,
        "references": 4,
        "reason": "r",
        "alert": action == "ALERT",
        "mode": "enforce",
        "action": action,
        "estimated_dollars_saved": saved,
    }
    table.audit.put_decision(j.run, iso(at), rule, record, int(at + 90 * DAY))


def seeded(table: FakeTablePorts | None = None) -> tuple[FakeTablePorts, dict[str, JobRecord]]:
    table = table or FakeTablePorts()
    jobs = {
        "a": job("a", "vision", count=2),  # 2 x p4d: 16 GPUs, $75.376/h
        "b": job("b", "vision"),
        "c": job("c", "nlp", itype="ml.g5.2xlarge"),
        "old": job("old", "nlp"),
    }
    for j in jobs.values():
        table.jobs.register_job(j)
    audit(table, jobs["a"], NOW - 2 * DAY, "catch-up", "STOPPED", 75.376)  # 1 h of 2 x p4d
    audit(table, jobs["b"], NOW - 3 * DAY, "median", "WOULD STOP (observe)", 37.688)
    audit(table, jobs["b"], NOW - 3 * DAY + 60, "gpu_idle", "ALERT")
    audit(table, jobs["c"], NOW - 1 * DAY, "median", "NOT STOPPED (already ending)")
    audit(table, jobs["c"], NOW - 1 * DAY + 5, "hung", "ALERT")
    audit(table, jobs["c"], NOW - 6 * DAY, "median", "COULD NOT STOP (AccessDenied: no)")
    audit(table, jobs["old"], NOW - 8 * DAY, "median", "STOPPED", 1000.0)  # before the week
    return table, jobs


def test_a_week_is_read_one_day_partition_at_a_time() -> None:
    table, _ = seeded()
    summary = summarize(table.audit, table.jobs, CATALOG, NOW - 7 * DAY, NOW)
    assert len(days(NOW - 7 * DAY, NOW)) == 8  # Monday 08:00 back to Monday 08:00
    assert table.audit.calls["decisions_on_day"] == 8 and table.jobs.calls["batch_get_jobs"] == 1
    assert [e.run.name for e in summary.entries] == ["c", "b", "b", "a", "c", "c"]


def test_only_stops_trainguard_made_count_and_save() -> None:
    table, _ = seeded()
    t = summarize(table.audit, table.jobs, CATALOG, NOW - 7 * DAY, NOW).total
    assert (t.stops, t.would_stops, t.alerts, t.not_stopped) == (1, 1, 2, 2)
    assert round(t.dollars_saved, 3) == 75.376  # the old stop is outside the week
    assert round(t.gpu_hours_saved, 3) == 16.0  # 1 h of 2 x 8 A100s
    assert round(t.would_dollars_saved, 3) == 37.688 and round(t.would_gpu_hours_saved, 3) == 8.0
    assert t.alerts_by_rule == {"gpu_idle": 1, "hung": 1}
    assert t.jobs == 3


def test_per_group_and_the_three_formats() -> None:
    table, _ = seeded()
    summary = summarize(table.audit, table.jobs, CATALOG, NOW - 7 * DAY, NOW)
    assert sorted(summary.groups) == ["nlp", "vision"]
    vision, nlp = summary.groups["vision"], summary.groups["nlp"]
    assert (vision.stops, vision.would_stops, vision.alerts, vision.jobs) == (1, 1, 1, 2)
    assert (nlp.stops, nlp.not_stopped, nlp.alerts, nlp.jobs) == (0, 2, 1, 1)
    doc = json.loads(format_json(summary))
    assert doc["total"]["stops"] == 1 and doc["groups"]["vision"]["gpu_hours_saved"] == 16.0
    assert doc["since"] == "2026-01-05T08:00:00+00:00"
    rows = list(csv.DictReader(io.StringIO(format_csv(summary))))
    assert [r["group"] for r in rows] == ["nlp", "vision", "TOTAL"]
    assert rows[-1]["dollars_saved"] == "75.376" and rows[-1]["would_stops"] == "1"
    text = format_text(summary)
    assert "TOTAL" in text and "$75.38" in text and "alerts by rule: gpu_idle 1, hung 1" in text


def test_an_empty_period_says_so() -> None:
    empty = FakeTablePorts()
    summary = summarize(empty.audit, empty.jobs, CATALOG, NOW - DAY, NOW)
    assert summary.total.stops == 0 and "no audit records in the period" in format_text(summary)


def test_the_digest_lists_idle_long_running_and_close_calls() -> None:
    table, jobs = seeded()
    b = jobs["b"]
    table.idle_episodes.open_episode(b.run, "b/algo-1", NOW - 3 * DAY)
    table.idle_episodes.close_episode(b.run, "b/algo-1", NOW - 3 * DAY + 45 * 60)  # 45 min idle
    table.jobs.register_job(job("marathon", "nlp", start=NOW - 50 * 3600))
    # b was reported (observe) and then completed as its group's best: a close call
    table.jobs.finalize_job(b.run, "Completed", NOW - 2 * DAY, None)
    refs = ReferenceSet("vision", "loss", "minimize")
    curve = [(1.0, 0.9), (2.0, 0.4), (3.0, 0.31)]
    table.references.put_curve(refs, str(b.run), curve, 3.0)
    model = CatchUpModel.build([curve, [(1.0, 1.0), (3.0, 0.6)]], "minimize")
    table.references.put_stats(GroupStats(refs, {}, 3.0, 2, catchup=model), None)
    digest = build_digest(table, CATALOG, NOW)
    assert [(i.run.name, i.host, round(i.minutes)) for i in digest.idle] == [("b", "b/algo-1", 45)]
    assert digest.running[0].run.name == "marathon" and round(digest.running[0].hours) == 50
    assert [(c.run.name, c.group, c.rule) for c in digest.close_calls] == [
        ("b", "vision", "median")
    ]
    body = digest.body()
    assert "b (vision) b/algo-1: 45 min idle" in body
    assert "vision: b completed as the best (loss 0.31) after median said WOULD STOP" in body


def test_the_digest_goes_out_as_one_message() -> None:
    fakes = Fakes(policy=Policy())
    seeded(fakes)
    digest = send_digest(fakes.deps(), now=NOW)
    (message,) = fakes.notifier.take()
    assert message.subject == digest.subject()
    assert message.subject.startswith("[trainguard] weekly digest: 1 stops, 1 would-be stops")
    assert "Stops:            1 (16.0 GPU hours, $75.38 saved)" in message.body
    assert digest.close_calls == [] and RunId("a", jobs_created("a", fakes)) in {
        e.run for e in digest.summary.entries
    }


def jobs_created(name: str, table: FakeTablePorts) -> int:
    latest = table.jobs.latest_run(name)
    assert latest is not None
    return latest.created_ms
