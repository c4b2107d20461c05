"""The demo's summary: what the deployed control plane did, read back from the emulator.

Stops and alerts come from the DynamoDB audit records (``DECISION#`` items) the functions
wrote, job start/end times and statuses from SageMaker (``DescribeTrainingJob``), emails from
the topic's mailbox: the truth of what happened, not a parallel computation. The baseline
(every job run to its natural end) is the fleet plan's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainguard.adapters.dynamodb.audit import said_in_order
from trainguard.adapters.dynamodb.keys import deserialize
from trainguard.core.instances import InstanceCatalog, InstanceGroup, instances_text

from .fleet import CAPACITY_ROLE, HETERO_ROLE, RETRY_ROLE, FleetJob, best_jobs
from .revive import REVIVAL_ROLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

STOPPED = "STOPPED"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def read_decisions(dynamodb: DynamoDBClient, table: str) -> list[dict[str, Any]]:
    """Every ``DECISION#`` audit item of the table (Scan, every page), oldest first."""
    pages = dynamodb.get_paginator("scan").paginate(TableName=table)
    items = [deserialize(raw) for page in pages for raw in page.get("Items", [])]
    # a run's audit: sk RUN#<created_ms>#DECISION#... (per claim its last record); oldest first
    return said_in_order([i for i in items if "#DECISION#" in str(i.get("sk", ""))])


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def alert_host(decision: Mapping[str, Any]) -> str | None:
    """The host a GPU-idle or straggler alert names (its reason starts with
    ``<job>/algo-<n> idle:`` or ``<job>/algo-<n> at``)."""
    rule = decision.get("rule")
    if rule not in ("gpu_idle", "straggler"):
        return None
    head = str(decision.get("reason", "")).split(" idle:" if rule == "gpu_idle" else " at ", 1)[0]
    return head if "/algo-" in head else None


HEALTH = ("hung", "straggler", "throughput", "stalled")  # the distributed-training alerts
EXPECTED = {"hung": "hung", "straggler host": "straggler", "throughput halves": "throughput"}


def build_summary(
    fleet: Sequence[FleetJob],
    decisions: Sequence[Mapping[str, Any]],
    descriptions: Mapping[str, Mapping[str, Any]],
    email_subjects: Sequence[str],
    catalog: InstanceCatalog,
    *,
    failures: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary dict (``summary.json``); ``descriptions``: job -> DescribeTrainingJob."""
    by_name = {j.name: j for j in fleet}
    stopped = [
        {
            "job": d["job"],
            "group": by_name[d["job"]].group if d["job"] in by_name else None,
            "rule": d["rule"],
            "step": _num(d.get("step")),
            "value": _num(d.get("value")),
            "threshold": _num(d.get("threshold")),
            "references": int(d.get("references") or 0),
            "reason": d.get("reason"),
            "estimated_dollars_saved": _num(d.get("estimated_dollars_saved")),
        }
        for d in decisions
        if d.get("action") == STOPPED
    ]
    alerts = [
        {
            "job": d["job"],
            "host": alert_host(d),
            "kind": d["rule"],
            "minute": _num(d.get("step")),  # of the job's run
            "value": _num(d.get("value")),
            "reason": d.get("reason"),
        }
        for d in decisions
        if d.get("action") == "ALERT"
    ]
    jobs: list[dict[str, Any]] = []
    base_h = used_h = base_usd = used_usd = 0.0
    for j in fleet:
        desc = descriptions.get(j.name, {})
        start, end = desc.get("TrainingStartTime"), desc.get("TrainingEndTime")
        ran_min = (end - start).total_seconds() / 60.0 if start and end else None
        # a revival continues its original: the chain's natural length is counted once, on
        # the original; the revival's run is spent against it
        natural_min = 0.0 if j.role == REVIVAL_ROLE else float(j.end_minute - j.start_minute)
        groups = j.instance_groups or (InstanceGroup("", j.instance_type, j.instance_count),)
        specs = [(catalog.get(g.instance_type), g.count) for g in groups]
        gpus = sum(spec.gpus * n for spec, n in specs if spec)  # the cluster's, every group's
        price = sum(spec.usd_per_hour * n for spec, n in specs if spec)
        base_h += gpus * natural_min / 60.0
        base_usd += price * natural_min / 60.0
        used = ran_min if ran_min is not None else natural_min
        used_h += gpus * used / 60.0
        used_usd += price * used / 60.0
        jobs.append(
            {
                "job": j.name,
                "group": j.group,
                "opted_in": j.tagged,
                "role": j.role,
                "instance": instances_text(groups),
                "status": desc.get("TrainingJobStatus"),
                "minutes_run": None if ran_min is None else round(ran_min, 1),
                "minutes_if_not_stopped": natural_min,
            }
        )
    status = {j["job"]: j["status"] for j in jobs}
    stopped_jobs = {s["job"] for s in stopped}
    best = best_jobs(fleet)
    best_survived = {
        g: status.get(name) != "Stopped" and name not in stopped_jobs for g, name in best.items()
    }
    not_opted_in_stopped = sum(
        1
        for j in fleet
        if not j.tagged and (status.get(j.name) == "Stopped" or j.name in stopped_jobs)
    )
    saved_h = base_h - used_h
    summary: dict[str, Any] = {
        "jobs": len(fleet),
        "groups": sorted({j.group for j in fleet if j.tagged}),
        "stopped": stopped,
        "stops_by_rule": _count(s["rule"] for s in stopped),
        "alerts": alerts,
        "alerts_by_kind": _count(a["kind"] for a in alerts),
        "emails": len(email_subjects),
        "email_subjects": list(email_subjects),
        "gpu_hours_baseline": round(base_h, 3),
        "gpu_hours_used": round(used_h, 3),
        "gpu_hours_saved": round(saved_h, 3),
        "saved_fraction": round(saved_h / base_h, 4) if base_h else None,
        "usd_baseline": round(base_usd, 2),
        "usd_used": round(used_usd, 2),
        "usd_saved": round(base_usd - used_usd, 2),
        "usd_saved_estimated_by_control_plane": round(
            sum(s["estimated_dollars_saved"] or 0.0 for s in stopped), 2
        ),
        "best_job": best,
        "best_job_survived": best_survived,
        "not_opted_in_stopped": not_opted_in_stopped,
        "health": health(fleet, alerts),
        "heterogeneous": heterogeneous(fleet, alerts, descriptions),
        "retries": retries(fleet, decisions, status),
        "handler_failures": list(failures),
        "job_details": jobs,
        **dict(extra or {}),
    }
    summary["checks"] = [c.to_dict() for c in checks(fleet, summary)]
    summary["ok"] = all(c["ok"] for c in summary["checks"])
    return summary


def health(fleet: Sequence[FleetJob], alerts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the distributed-training rules said: each special job's alert (the hang's
    detection delay: minutes from its last report), and the health alerts on every other job
    of the fleet (false alerts: none expected)."""
    special = {j.name: EXPECTED[j.role] for j in fleet if j.role in EXPECTED}
    caught: dict[str, Any] = {}
    for name, kind in sorted(special.items()):
        found = [a for a in alerts if a["job"] == name and a["kind"] == kind]
        caught[name] = found[0] if found else None
    hang = next((j for j in fleet if j.role == "hung"), None)
    first = caught.get(hang.name) if hang is not None else None
    false = [a for a in alerts if a["kind"] in HEALTH and special.get(a["job"]) != a["kind"]]
    watched = [j for j in fleet if j.tagged and j.name not in special]
    return {
        "caught": caught,
        # the hang alert's value: minutes the objective had been silent when it was alerted
        "hang_detection_minutes": first["value"] if first else None,
        "straggler_host": (caught.get("ddp-straggler") or {}).get("host"),
        "false_alerts": false,
        "healthy_jobs": len(watched),
        "healthy_multi_node_jobs": sum(1 for j in watched if j.instance_count > 1),
    }


def heterogeneous(
    fleet: Sequence[FleetJob],
    alerts: Sequence[Mapping[str, Any]],
    descriptions: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any] | None:
    """The heterogeneous cluster's job (issue 20): its groups as SageMaker holds them, which
    of its hosts are idle GPU hosts, and which hosts the GPU rules alerted on."""
    job = next((j for j in fleet if j.role == HETERO_ROLE), None)
    if job is None:
        return None
    held = descriptions.get(job.name, {}).get("ResourceConfig", {}).get("InstanceGroups", [])
    return {
        "job": job.name,
        "instances": instances_text(job.instance_groups),
        "instance_groups_held": len(held),
        "host_groups": {h: g for h, g in zip(job.hosts(), job.host_groups, strict=True)},
        "idle_gpu_hosts": [f"{job.name}/algo-{i}" for i in sorted(job.idle_hosts)],
        "alerted_hosts": sorted(
            {a["host"] for a in alerts if a["job"] == job.name and a["host"] is not None}
        ),
    }


def _heterogeneous_checks(hetero: Mapping[str, Any] | None) -> list[Check]:
    """Issue 20's: the heterogeneous cluster's idle GPU host alerted, no other host of it."""
    if hetero is None:
        return []
    idle, alerted = hetero["idle_gpu_hosts"], hetero["alerted_hosts"]
    return [
        Check(
            "heterogeneous",
            hetero["instance_groups_held"] > 1 and bool(idle) and alerted == idle,
            f"{hetero['job']} ({hetero['instances']}): idle GPU host(s) {', '.join(idle)}; "
            f"alerted: {', '.join(alerted) or 'none'}",
        )
    ]


RETRY_RULE = "capacity_retry"  # trainguard.logic.retry.RULE


def retries(
    fleet: Sequence[FleetJob], decisions: Sequence[Mapping[str, Any]], status: Mapping[str, Any]
) -> dict[str, Any]:
    """Capacity retries: the failures that asked for one, the retries trainguard created (its
    audit's ``RETRIED`` records) and how many of those ran to completion."""
    created = [d for d in decisions if d.get("rule") == RETRY_RULE and d.get("action") == "RETRIED"]
    played = [j.name for j in fleet if j.role == RETRY_ROLE]
    return {
        "capacity_failures": [j.name for j in fleet if j.role == CAPACITY_ROLE],
        "attempted": len(created),
        "succeeded": sum(1 for name in played if status.get(name) == "Completed"),
        "retry_jobs": {name: status.get(name) for name in played},
        "audit": [f"{d['job']}: {d['action']}" for d in decisions if d.get("rule") == RETRY_RULE],
    }


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


OBJECTIVE_RULE = "catch-up"  # trainguard.core.catchup.RULE: the default policy's objective rule


def checks(fleet: Sequence[FleetJob], summary: Mapping[str, Any]) -> list[Check]:
    """Issue 6's "done when", checked on the summary."""
    stops = summary["stopped"]
    # the default objective rule (the policy's catch-up rule; the median rule is off by default)
    objective = [s["job"] for s in stops if s["rule"] == OBJECTIVE_RULE]
    diverging = [j.name for j in fleet if j.role == "diverging"]
    diverging_stops = [s for s in stops if s["job"] in diverging]
    idle = [f"{j.name}/algo-{i}" for j in fleet if j.tagged for i in sorted(j.idle_hosts)]
    alerted = {a["host"] for a in summary["alerts"] if a["host"] and a["kind"] == "gpu_idle"}
    lost = [g for g, ok in summary["best_job_survived"].items() if not ok]
    return [
        Check(
            "a job stopped by the catch-up rule",
            bool(objective),
            f"{len(objective)} {OBJECTIVE_RULE} stop(s): {', '.join(objective) or 'none'}",
        ),
        Check(
            "the diverging job stopped",
            bool(diverging) and len({s["job"] for s in diverging_stops}) == len(diverging),
            ", ".join(f"{s['job']} by {s['rule']} at minute {s['step']}" for s in diverging_stops)
            or f"{', '.join(diverging)} not stopped",
        ),
        Check(
            "the idle host alerted",
            bool(idle) and set(idle) <= alerted,
            f"idle host(s) {', '.join(idle)}; "
            f"alerted hosts: {', '.join(sorted(alerted)) or 'none'}",
        ),
        Check(
            "the job without the opt-in tag not stopped",
            summary["not_opted_in_stopped"] == 0,
            f"not_opted_in_stopped = {summary['not_opted_in_stopped']}",
        ),
        Check(
            "every group's best job survived",
            not lost and bool(summary["best_job_survived"]),
            "; ".join(f"{g}: {summary['best_job'][g]}" for g in summary["best_job"])
            + (f" (lost: {', '.join(lost)})" if lost else ""),
        ),
        *_health_checks(fleet, summary["health"]),
        *_heterogeneous_checks(summary.get("heterogeneous")),
        *_pause_checks(summary.get("pause")),
        *_retry_checks(summary),
        *_sharded_checks(summary),
        *_coverage_checks(summary.get("coverage")),
        *_coverage_checks(summary.get("revive")),  # issue 23's, the same shape
        Check(
            "no failed function invocation",
            not summary["handler_failures"],
            f"{len(summary['handler_failures'])} failure(s)",
        ),
    ]


def _coverage_checks(coverage: Mapping[str, Any] | None) -> list[Check]:
    """Issue 20's: each coverage job noticed, fixed or watched (:mod:`.coverage`); issue 23's
    ``revive`` object has the same shape (:mod:`.revive`)."""
    if coverage is None:
        return []
    return [Check(c["check"], bool(c["ok"]), str(c["detail"])) for c in coverage["checks"]]


def _pause_checks(pause: Mapping[str, Any] | None) -> list[Check]:
    """Issue 14's: ``trainguard pause`` mid-run held every stop until ``resume``, both said."""
    if pause is None:
        return []
    held, during = pause["stops_held"], pause["stopped_while_paused"]
    return [
        Check(
            "the pause held every stop until resume",
            pause["resumed_at_minute"] is not None
            and held >= 1
            and not during
            and len(pause["announced"]) == 2
            and pause["cli_exit_codes"] == [0, 0],
            f"paused minutes {pause['paused_at_minute']}-{pause['resumed_at_minute']}: "
            f"{held} stop(s) held as reports, {len(during)} stopped "
            f"({', '.join(during) or 'none'}); announced: {len(pause['announced'])}",
        )
    ]


def _sharded_checks(summary: Mapping[str, Any]) -> list[Check]:
    """Issue 15's: the ticks fanned out to the shard function (the demo's shards are small)."""
    sharded = summary.get("sharded_tick")
    if sharded is None:
        return []
    return [
        Check(
            "the tick ran sharded",
            sharded["fanned_out_ticks"] > 0 and sharded["shard_invocations"] > 0,
            f"{sharded['fanned_out_ticks']} tick(s) fanned out, "
            f"{sharded['shard_invocations']} shard invocation(s)",
        )
    ]


def _health_checks(fleet: Sequence[FleetJob], health: Mapping[str, Any]) -> list[Check]:
    """Issue 13's checks: the hang alerted within 10 minutes of its last report, the
    straggler host named, the throughput drop alerted, no such alert on a healthy job."""
    caught, delay = health["caught"], health["hang_detection_minutes"]
    straggler = next((j for j in fleet if j.role == "straggler host"), None)
    expected_hosts = (
        [f"{straggler.name}/algo-{i}" for i in sorted(straggler.straggler_hosts)]
        if straggler is not None
        else []
    )
    slow = [name for name, a in caught.items() if a and a["kind"] == "throughput"]
    false = health["false_alerts"]
    return [
        Check(
            "the hung job alerted within 10 minutes of its last report",
            delay is not None and delay <= 10,
            f"alerted after {delay} silent minutes" if delay is not None else "not alerted",
        ),
        Check(
            "the straggler host named",
            bool(expected_hosts) and health["straggler_host"] in expected_hosts,
            f"named {health['straggler_host'] or 'none'}; straggling {', '.join(expected_hosts)}",
        ),
        Check(
            "the throughput drop alerted",
            bool(slow),
            f"alerted on {', '.join(slow)}" if slow else "no throughput alert",
        ),
        Check(
            "no health alert on a healthy job",
            not false,
            f"{len(false)} on {health['healthy_jobs']} healthy jobs "
            f"({health['healthy_multi_node_jobs']} multi-node)"
            + (": " + ", ".join(f"{a['job']} {a['kind']}" for a in false) if false else ""),
        ),
    ]


def _retry_checks(summary: Mapping[str, Any]) -> list[Check]:
    """Issue 14's: the capacity failure retried once, the retry ran to completion, and no
    other job was created by trainguard."""
    r = summary["retries"]
    if not r["capacity_failures"]:
        return []
    extra = summary.get("created_by_trainguard")
    expected = sorted(r["retry_jobs"])
    if extra is not None:  # the revivals an owner asked for are checked by _revive's checks
        revived = set((summary.get("revive") or {}).get("revived_jobs") or ())
        extra = [name for name in extra if name not in revived]
    return [
        Check(
            "a capacity failure retried once",
            r["attempted"] == len(r["capacity_failures"]) == r["succeeded"]
            and (extra is None or sorted(extra) == expected),
            f"{r['attempted']} retried, {r['succeeded']} completed: "
            + (", ".join(f"{k} {v}" for k, v in r["retry_jobs"].items()) or "none")
            + ("" if extra is None else f"; jobs created by trainguard: {extra or 'none'}"),
        )
    ]


def format_summary(summary: Mapping[str, Any]) -> str:
    """The summary as the terminal shows it."""
    created = len(summary.get("created_by_trainguard") or [])
    jobs = f"{summary['jobs']} jobs" + (
        f" ({summary['jobs'] - created} played + {created} created by trainguard's capacity retry)"
        if created
        else ""
    )
    lines = [
        "",
        f"trainguard demo: {jobs} in {len(summary['groups'])} opted-in groups, "
        f"{summary.get('simulated_minutes', '?')} simulated minutes, "
        f"mode {summary.get('mode', '?')}",
        "",
        f"Stopped ({len(summary['stopped'])}; step = the job's own minute since its start):",
    ]
    for s in summary["stopped"]:
        thr = "-" if s["threshold"] is None else f"{s['threshold']:.4g}"
        val = "-" if s["value"] is None else f"{s['value']:.4g}"
        step = "-" if s["step"] is None else f"{s['step']:g}"
        lines.append(
            f"  {s['job']:<24} {s['rule']:<9} step {step:>4}  value {val:>10}  "
            f"threshold {thr:>10}  refs {s['references']}"
        )
    lines += ["", f"Alerts ({len(summary['alerts'])}):"]
    for a in summary["alerts"]:
        lines.append(f"  {a['job']:<24} {a['kind']:<12} {a['host'] or ''}")
    lines += ["", f"Emails ({summary['emails']}):"]
    lines += [f"  {s}" for s in summary["email_subjects"]]
    frac = summary["saved_fraction"]
    lines += [
        "",
        f"GPU hours: {summary['gpu_hours_used']:.2f} used of {summary['gpu_hours_baseline']:.2f} "
        f"if every job ran to its end: {summary['gpu_hours_saved']:.2f} saved "
        f"({'n/a' if frac is None else f'{100 * frac:.1f}%'}), "
        f"${summary['usd_saved']:,.2f} of ${summary['usd_baseline']:,.2f}",
        "  (less than `trainguard replay data/curves.jsonl` reports on the same curves: most of "
        "the demo's jobs are the references each group needs before its first stop, or play a "
        "health scenario to its end; the replay judges every recorded job)",
        "Best job survived: "
        + ", ".join(
            f"{g} ({summary['best_job'][g]}): {'yes' if ok else 'NO'}"
            for g, ok in summary["best_job_survived"].items()
        ),
        f"Jobs without the opt-in tag stopped: {summary['not_opted_in_stopped']}",
        "",
        "Checks:",
    ]
    for c in summary["checks"]:
        lines.append(f"  [{'ok' if c['ok'] else 'FAIL'}] {c['check']}: {c['detail']}")
    return "\n".join(lines)
