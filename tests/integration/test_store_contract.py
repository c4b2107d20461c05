"""One contract per port of the state table, two implementations each: the in-memory fake the
logic tests use (``tests/fakes/``) and the DynamoDB adapter on moto
(``trainguard.adapters.dynamodb``) answer every case the same way (so a fast logic test means
what it says). Every case runs on both (``[memory]``, ``[dynamodb]``); a port's cases are its
class. Cases that cross ports (a claim mirrored on the run's item) use the ports of one table,
as the functions do. The fakes' faults are injected per method, on every method of every port
(:func:`test_a_fault_injected_into_a_method_is_raised_by_that_method`)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fakes import (
    FakeActionLedger,
    FakeAuditLog,
    FakeEventMarks,
    FakeIdleEpisodes,
    FakeJobs,
    FakeOutbox,
    FakeReferences,
    FakeRunningJobs,
    FakeTablePorts,
    FaultInjector,
)
from moto import mock_aws

from trainguard import ports
from trainguard.adapters.dynamodb import (
    DynamoDBActionLedger,
    DynamoDBAuditLog,
    DynamoDBEventMarks,
    DynamoDBIdleEpisodes,
    DynamoDBJobs,
    DynamoDBOutbox,
    DynamoDBReferences,
    DynamoDBRunningJobs,
    StoreError,
    TablePorts,
    table_ports,
)
from trainguard.adapters.dynamodb.keys import serialize
from trainguard.core.instances import InstanceGroup
from trainguard.core.median import ReferenceTable
from trainguard.core.progress import Progress
from trainguard.core.summary import CurveSummary
from trainguard.logic import messages
from trainguard.logic.ledger import Claim, ClaimState
from trainguard.message import Message
from trainguard.models import (
    MAX_ALARMED_HOSTS,
    GroupStats,
    JobRecord,
    ReferenceSet,
    RunId,
    alarmed_hosts,
    gpu_idle_alarm_name,
)
from trainguard_local.state_table import create_state_table

pytestmark = pytest.mark.integration

TABLE = "contract"

# each port of the table: its protocol, its fake, its DynamoDB adapter (by the attribute that
# Dependencies, TablePorts and FakeTablePorts hold it under)
PORTS: dict[str, tuple[type, type, type]] = {
    "jobs": (ports.Jobs, FakeJobs, DynamoDBJobs),
    "running": (ports.RunningJobs, FakeRunningJobs, DynamoDBRunningJobs),
    "events": (ports.EventMarks, FakeEventMarks, DynamoDBEventMarks),
    "ledger": (ports.ActionLedger, FakeActionLedger, DynamoDBActionLedger),
    "outbox": (ports.Outbox, FakeOutbox, DynamoDBOutbox),
    "audit": (ports.AuditLog, FakeAuditLog, DynamoDBAuditLog),
    "idle_episodes": (ports.IdleEpisodes, FakeIdleEpisodes, DynamoDBIdleEpisodes),
    "references": (ports.References, FakeReferences, DynamoDBReferences),
}


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The ports of one state table: the fakes over one FakeTable, or the adapters on moto."""
    if request.param == "memory":
        yield FakeTablePorts()
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(client, TABLE)
        yield table_ports(client, TABLE)


CREATED = 1_767_225_600_000  # the runs' CreationTime (epoch ms)
REFS = ReferenceSet("g", "loss", "minimize")


def job(name: str = "j", created_ms: int = CREATED, **kwargs: Any) -> JobRecord:
    return JobRecord(
        name=name,
        created_ms=created_ms,
        tags={"trainguard:group": "g"},
        opted_in=True,
        group="g",
        start_time=100.0,
        **kwargs,
    )


def run(name: str = "j", created_ms: int = CREATED) -> RunId:
    return RunId(name, created_ms)


# ---- the ports themselves ----------------------------------------------------------------
def _methods(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}


def test_every_port_of_the_table_has_a_fake_and_an_adapter_with_its_methods() -> None:
    table_ports_ = {n for n, v in vars(ports.StateTable).items() if isinstance(v, property)}
    assert set(PORTS) == table_ports_ == set(TablePorts.__dataclass_fields__)
    for name, (port, fake, adapter) in PORTS.items():
        methods = _methods(port)
        assert 1 <= len(methods) <= 7, f"{name}: {sorted(methods)}"
        assert methods <= _methods(fake), f"{fake.__name__} lacks {methods - _methods(fake)}"
        assert methods <= _methods(adapter), f"{adapter.__name__} lacks some of {methods}"
        for method in methods:  # the same parameters, so a call moves between them unchanged
            want = list(inspect.signature(getattr(port, method)).parameters)
            assert list(inspect.signature(getattr(fake, method)).parameters) == want
            assert list(inspect.signature(getattr(adapter, method)).parameters) == want


SAMPLE_CALLS: dict[str, tuple[Any, ...]] = {
    "register_job": (job(),),
    "get_job": (run(),),
    "latest_run": ("j",),
    "update_start_time": (run(), 1.0),
    "finalize_job": (run(), "Completed", 2.0, None),
    "add_alarms": (run(), ["a"]),
    "batch_get_jobs": ([run()],),
    "running_jobs": (),
    "running_runs": (),
    "get_jobs": ([run()],),
    "save_progress": ([],),
    "set_episode": (run(), "hung", 1.0),
    "retag": (job(), False),
    "event_seen": (run(), "k"),
    "mark_event": (run(), "k", 1.0),
    "claim_action": (run(), "median#stop", 1.0, {}),
    "get_action": (run(), "median#stop"),
    "update_action": (run(), "median#stop"),
    "finish_action": (run(), "median#stop"),
    "open_actions": (),
    "enqueue": ("k", "s", "b", 1.0, 60.0),
    "pending_emails": (1.0,),
    "lease_email": ("k", 1.0, 60.0),
    "sent": ("k", 1.0),
    "send_failed": ("k", 1, 2.0, False),
    "dead_letters": (),
    "put_decision": (run(), "2026-01-01T00:00:00+00:00", "median", {}, 99),
    "decisions": (run(),),
    "decisions_on_day": ("2026-01-01",),
    "open_episode": (run(), "h", 1.0),
    "close_episode": (run(), "h", 1.0),
    "episode": (run(), "h"),
    "episodes": (run(),),
    "put_curve": (REFS, "a@1", [(1.0, 0.5)], 1.0),
    "get_curves": (REFS, ["a@1"]),
    "put_stats": (GroupStats(REFS, {}, 1.0, 1), None),
    "get_stats": (REFS,),
    "batch_get_stats": ([REFS],),
    "batch_get_group_state": ([REFS],),
}


class Injected(Exception):
    pass


@pytest.mark.parametrize(
    ("port", "method"),
    [(name, m) for name, (p, _, _) in PORTS.items() for m in sorted(_methods(p))],
)
def test_a_fault_injected_into_a_method_is_raised_by_that_method(port: str, method: str) -> None:
    fake = getattr(FakeTablePorts(), port)
    assert isinstance(fake, FaultInjector)
    fake.fail(method, Injected(method), after=1)
    getattr(fake, method)(*SAMPLE_CALLS[method])  # ``after=1``: the first call goes through
    with pytest.raises(Injected, match=method):
        getattr(fake, method)(*SAMPLE_CALLS[method])
    getattr(fake, method)(*SAMPLE_CALLS[method])  # once (``times=1``)
    assert fake.calls[method] == 3


# ---- Jobs ------------------------------------------------------------------------------------
class TestJobs:
    def test_runs_of_one_name_are_apart_and_the_latest_is_found(self, state: Any) -> None:
        assert state.jobs.latest_run("j") is None
        state.jobs.register_job(job(created_ms=CREATED))
        state.ledger.claim_action(run(), "median#stop", 1.0, {})
        state.jobs.register_job(job(created_ms=CREATED + 5_000))  # the name used again
        assert state.jobs.latest_run("j").created_ms == CREATED + 5_000
        assert state.jobs.get_job(run("j", CREATED + 5_000)).actions == frozenset()
        assert state.ledger.claim_action(run("j", CREATED + 5_000), "median#stop", 2.0, {}) is True
        assert sorted(j.created_ms for j in state.running.running_jobs()) == [
            CREATED,
            CREATED + 5_000,
        ]

    def test_register_once_and_read_back(self, state: Any) -> None:
        assert state.jobs.register_job(job()) is True
        assert state.jobs.register_job(job()) is False
        got = state.jobs.get_job(run("j"))
        assert got is not None and got.name == "j" and got.running and got.tags == job().tags
        assert state.jobs.get_job(run("nobody")) is None

    def test_a_heterogeneous_clusters_groups_read_back(self, state: Any) -> None:
        groups = (InstanceGroup("train", "ml.p4d.24xlarge", 2), InstanceGroup("data", "x", 1))
        state.jobs.register_job(
            job("h", instance_type="", instance_count=3, instance_groups=groups)
        )
        state.jobs.register_job(job("homogeneous", instance_type="ml.g5.xlarge"))
        assert state.jobs.get_job(run("h")).groups == groups
        assert state.jobs.get_job(run("homogeneous")).groups == (
            InstanceGroup("", "ml.g5.xlarge", 1),
        )

    def test_start_time_is_corrected_once(self, state: Any) -> None:
        state.jobs.register_job(job(start_exact=False))
        state.jobs.update_start_time(run("j"), 150.0)
        state.jobs.update_start_time(run("j"), 175.0)
        assert state.jobs.get_job(run("j")).start_time == 150.0

    def test_job_items_are_read_in_one_batch(self, state: Any) -> None:
        state.jobs.register_job(job("a"))
        state.jobs.register_job(job("b", instance_type="ml.g5.xlarge"))
        got = state.jobs.batch_get_jobs([run("a"), run("b"), run("ghost")])
        assert sorted(r.name for r in got) == ["a", "b"]
        assert got[run("b")].instance_type == "ml.g5.xlarge"
        assert state.jobs.batch_get_jobs([]) == {}

    def test_a_running_run_is_retagged_and_its_progress_forgotten_on_demand(
        self, state: Any
    ) -> None:
        state.jobs.register_job(job(objective="loss"))
        progress = Progress(CurveSummary(), "minute", 1.0)
        state.running.save_progress([(run(), progress)])
        state.ledger.claim_action(run(), "config#alert", 1.0, {})
        new = replace(job(objective=None, config_error="bad", mode="enforce"), group="h")
        new.tags = {"trainguard:group": "h", "trainguard:mode": "enforce"}
        assert state.running.retag(new, reset_progress=False) is True
        got = state.jobs.get_job(run())
        assert (got.tags, got.group, got.objective, got.mode) == (new.tags, "h", None, "enforce")
        assert got.config_error == "bad" and got.progress is not None
        assert got.actions == {"config#alert"}  # what others wrote stays
        fixed = job(objective="acc", direction="maximize")
        assert state.running.retag(fixed, reset_progress=True) is True
        got = state.jobs.get_job(run())
        assert (got.objective, got.direction, got.config_error) == ("acc", "maximize", None)
        assert got.progress is None and got.opted_in
        out = replace(job(), opted_in=False, group="", tags={})
        assert state.running.retag(out, reset_progress=False) is True
        assert not state.jobs.get_job(run()).opted_in
        assert [j.name for j in state.running.running_jobs()] == ["j"]  # still running

    def test_an_ended_or_unknown_run_is_not_retagged(self, state: Any) -> None:
        assert state.running.retag(job("ghost"), reset_progress=True) is False
        state.jobs.register_job(job())
        state.jobs.finalize_job(run(), "Completed", 200.0, None)
        assert state.running.retag(replace(job(), group="h"), reset_progress=False) is False
        assert state.jobs.get_job(run()).group == "g"


# ---- RunningJobs -----------------------------------------------------------------------------
class TestRunningJobs:
    def test_running_index_lists_only_running_jobs(self, state: Any) -> None:
        state.jobs.register_job(job("a"))
        state.jobs.register_job(job("b"))
        assert state.jobs.finalize_job(run("b"), "Completed", 200.0, None) is True
        assert state.jobs.finalize_job(run("ghost"), "Completed", 200.0, None) is False
        assert [j.name for j in state.running.running_jobs()] == ["a"]
        (slim,) = state.running.running_runs()  # what planning reads
        full = state.running.running_jobs()[0]
        assert (slim.run, slim.reference_set, slim.opted_in, slim.running) == (
            full.run,
            full.reference_set,
            full.opted_in,
            True,
        )
        # and the tags the live tags compare with what ListTags says
        assert (slim.instance_type, slim.instance_count, slim.tags) == (
            full.instance_type,
            full.instance_count,
            full.tags,
        )
        ended = state.jobs.get_job(run("b"))
        assert ended.status == "Completed" and ended.end_time == 200.0

    def test_progress_round_trips_and_skips_ended_jobs(self, state: Any) -> None:
        state.jobs.register_job(job())
        summary = CurveSummary.of([(1.0, 0.5), (2.0, 0.4)])
        progress = Progress(summary, "minute", 300.0, 280.0)
        state.running.save_progress([(run("j"), progress), (run("gone"), progress)])
        assert state.jobs.get_job(run("j")).progress == progress
        assert state.jobs.get_job(run("gone")) is None

    def test_health_episodes_open_and_close_on_the_run(self, state: Any) -> None:
        state.jobs.register_job(job())
        state.running.set_episode(run("j"), "hung", 10.0)
        state.running.set_episode(run("j"), "straggler:j/algo-3", 12.0)
        assert state.jobs.get_job(run("j")).episodes == {"hung": 10.0, "straggler:j/algo-3": 12.0}
        state.running.set_episode(run("j"), "hung", None)
        state.running.set_episode(run("j"), "throughput", None)  # not open: nothing to close
        assert state.jobs.get_job(run("j")).episodes == {"straggler:j/algo-3": 12.0}
        state.running.set_episode(run("gone"), "hung", 1.0)  # no such run: nothing is created
        assert state.jobs.get_job(run("gone")) is None

    def test_a_shards_jobs_are_read_in_one_batch(self, state: Any) -> None:
        state.jobs.register_job(job("a"))
        state.jobs.register_job(job("b"))
        got = state.running.get_jobs([run("b"), run("ghost"), run("a"), run("b")])
        assert sorted(j.name for j in got) == ["a", "b"]


def test_a_run_registered_before_the_episodes_map_gets_one() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(client, TABLE)
        state = table_ports(client, TABLE)
        state.jobs.register_job(job())
        client.update_item(
            TableName=TABLE,
            Key=serialize({"pk": "JOB#j", "sk": f"RUN#{CREATED}"}),
            UpdateExpression="REMOVE episodes",
        )
        state.running.set_episode(run("j"), "hung", 10.0)
        assert state.jobs.get_job(run("j")).episodes == {"hung": 10.0}


# ---- EventMarks ------------------------------------------------------------------------------
class TestEventMarks:
    def test_events_are_marked_once(self, state: Any) -> None:
        assert state.events.event_seen(run("j"), "Completed#Completed") is False
        assert state.events.mark_event(run("j"), "Completed#Completed", 1.0) is True
        assert state.events.mark_event(run("j"), "Completed#Completed", 2.0) is False
        assert state.events.event_seen(run("j"), "Completed#Completed") is True


# ---- ActionLedger ----------------------------------------------------------------------------
class TestActionLedger:
    def test_claims_win_once_are_mirrored_listed_open_and_finished(self, state: Any) -> None:
        state.jobs.register_job(job())
        assert state.ledger.claim_action(run(), "median#stop", 1.0, {"why": "x"}) is True
        assert state.ledger.claim_action(run(), "median#stop", 2.0, {}) is False
        unregistered = run("nobody")
        assert state.ledger.claim_action(unregistered, "median#stop", 2.0, {}) is False
        assert state.jobs.get_job(run()).actions == frozenset({"median#stop"})
        assert state.ledger.open_actions() == [(run(), "median#stop")]
        claim = state.ledger.get_action(run(), "median#stop")
        assert claim["state"] == "claimed" and claim["details"] == {"why": "x"}
        state.ledger.update_action(run(), "median#stop", state="stopping", attempts=1)
        assert state.ledger.get_action(run(), "median#stop")["state"] == "stopping"
        state.ledger.finish_action(run(), "median#stop", outcome="STOPPED")
        assert state.ledger.open_actions() == []
        done = state.ledger.get_action(run(), "median#stop")
        assert (done["state"], done["outcome"]) == ("done", "STOPPED")

    def test_a_claim_reads_back_as_the_ledger_s_value(self, state: Any) -> None:
        """What claim_action, update_action and finish_action wrote is a :class:`Claim` that
        writes back the same fields (nested details included, the numbers as they went in)."""
        state.jobs.register_job(job())
        details = {
            "decision": {
                "job": "j",
                "rule": "median",
                "stop": True,
                "step": 3,
                "value": 1.5,
                "threshold": 0.75,
                "references": 3,
                "reason": "r",
                "alert": False,
            },
            "enforcing": True,
            "hold": None,
            "mode": "enforce",
            "savings": 12.5,
            "context": {"Group": "g", "Instances": "2 x ml.p4d.24xlarge"},
        }
        state.ledger.claim_action(run(), "median#stop", 100.0, details)
        state.ledger.update_action(
            run(),
            "median#stop",
            state="refused",
            attempts=1,
            retry_at=400.0,
            outcome="COULD NOT STOP (AccessDenied)",
        )
        claim = Claim.from_item(run(), "median#stop", state.ledger.get_action(run(), "median#stop"))
        assert (claim.state, claim.attempts, claim.due) == (ClaimState.REFUSED, 1, 400.0)
        assert claim.decision().threshold == 0.75 and claim.savings == 12.5
        assert claim.context == details["context"] and claim.hold is None
        item = state.ledger.get_action(run(), "median#stop")
        assert claim.to_item() == {k: v for k, v in item.items() if k not in ("pk", "sk")}
        state.ledger.finish_action(run(), "median#stop", state="given up", outcome=claim.outcome)
        done = Claim.from_item(run(), "median#stop", state.ledger.get_action(run(), "median#stop"))
        assert done.state is ClaimState.GIVEN_UP and done.outcome == "COULD NOT STOP (AccessDenied)"


# ---- Outbox ----------------------------------------------------------------------------------
class TestOutbox:
    def test_an_email_is_written_once_leased_and_sent_or_dead_lettered(self, state: Any) -> None:
        outbox = state.outbox
        assert outbox.enqueue("k1", "subject", "body", 100.0, 60.0) is True
        assert outbox.enqueue("k1", "subject", "body", 101.0, 60.0) is False  # written once
        assert outbox.pending_emails(120.0) == []  # leased to its sender
        assert [e["sk"] for e in outbox.pending_emails(161.0)] == ["k1"]  # its sender died
        assert outbox.lease_email("k1", 161.0, 60.0) is True
        assert outbox.lease_email("k1", 162.0, 60.0) is False  # one sender at a time
        outbox.send_failed("k1", 1, 300.0, dead=False)
        assert outbox.pending_emails(299.0) == [] and len(outbox.pending_emails(300.0)) == 1
        outbox.sent("k1", 301.0)
        assert outbox.pending_emails(1e9) == []
        assert outbox.enqueue("k1", "subject", "body", 400.0, 60.0) is False  # still never twice
        outbox.enqueue("k2", "s2", "b2", 500.0, 60.0)
        outbox.send_failed("k2", 8, 0.0, dead=True)
        assert outbox.pending_emails(1e9) == []
        assert [(d["subject"], d["attempts"]) for d in outbox.dead_letters()] == [("s2", 8)]

    def test_an_email_written_as_a_value_reads_back_as_that_value(self, state: Any) -> None:
        message = messages.config_error("j", "a bad tag: x", "us-east-1")
        assert state.outbox.enqueue(
            "k3", message.subject, "", 100.0, 0.0, message=message.to_item()
        )
        (item,) = state.outbox.pending_emails(100.0)
        assert Message.from_item(item["message"]) == message
        state.outbox.enqueue("k4", "s4", "b4", 100.0, 0.0)  # written as text: read as text
        (old,) = [i for i in state.outbox.pending_emails(100.0) if i["sk"] == "k4"]
        assert "message" not in old and Message.from_item(old) == Message.plain("s4", "b4")


# ---- AuditLog --------------------------------------------------------------------------------
class TestAuditLog:
    def test_decisions_are_listed_in_time_order(self, state: Any) -> None:
        audit = state.audit
        audit.put_decision(run("j"), "2026-01-01T00:02:00+00:00", "median", {"action": "B"}, 99)
        audit.put_decision(run("j"), "2026-01-01T00:01:00+00:00", "diverged", {"action": "A"}, 99)
        assert [d["action"] for d in audit.decisions(run("j"))] == ["A", "B"]

    def test_audit_records_are_read_one_day_at_a_time(self, state: Any) -> None:
        audit = state.audit
        audit.put_decision(run("a"), "2026-01-01T23:59:00+00:00", "median", {"action": "A"}, 99)
        audit.put_decision(
            run("b", CREATED + 7), "2026-01-02T00:01:00+00:00", "hung", {"action": "B"}, 99
        )
        audit.put_decision(run("a"), "2026-01-02T00:00:30+00:00", "catch-up", {"action": "C"}, 99)
        day = audit.decisions_on_day("2026-01-02")
        assert [(r, d["action"]) for r, d in day] == [(run("a"), "C"), (run("b", CREATED + 7), "B")]
        assert [d["action"] for _, d in audit.decisions_on_day("2026-01-01")] == ["A"]
        assert audit.decisions_on_day("2026-01-03") == []
        assert day[0][1]["audit_at"] == "2026-01-02T00:00:30+00:00"
        assert [d["action"] for d in audit.decisions(run("a"))] == ["A", "C"]  # per run as before

    def test_a_claims_later_outcome_is_read_as_its_last_word(self, state: Any) -> None:
        """The same claim (time and rule) said again: one record read back, the last one (the
        table appends it to the run's hash chain; the fake keeps only the last)."""
        audit, at = state.audit, "2026-01-01T00:05:00+00:00"
        audit.put_decision(run("j"), at, "median", {"action": "COULD NOT STOP (x)"}, 99)
        audit.put_decision(run("j"), at, "median", {"action": "STOPPED"}, 99)
        audit.put_decision(run("j"), at, "median", {"action": "STOPPED"}, 99)  # said again
        assert [d["action"] for d in audit.decisions(run("j"))] == ["STOPPED"]
        day = audit.decisions_on_day("2026-01-01")
        assert [(r, d["action"]) for r, d in day] == [(run("j"), "STOPPED")]


# ---- IdleEpisodes ----------------------------------------------------------------------------
class TestIdleEpisodes:
    def test_episodes_open_once_close_once_and_mirror_idle_hosts(self, state: Any) -> None:
        episodes = state.idle_episodes
        state.jobs.register_job(job())
        assert episodes.open_episode(run("j"), "j/algo-1", 10.0) is True
        assert episodes.open_episode(run("j"), "j/algo-1", 11.0) is False
        assert state.jobs.get_job(run("j")).idle_hosts == {"j/algo-1": 10.0}
        assert episodes.close_episode(run("j"), "j/algo-1", 20.0) == 10.0
        assert episodes.close_episode(run("j"), "j/algo-1", 21.0) is None
        assert state.jobs.get_job(run("j")).idle_hosts == {}
        assert episodes.open_episode(run("j"), "j/algo-1", 30.0) is True  # a new episode

    def test_a_runs_idle_episodes_by_host(self, state: Any) -> None:
        episodes = state.idle_episodes
        state.jobs.register_job(job())
        episodes.open_episode(run(), "j/algo-1", 10.0)
        episodes.open_episode(run(), "j/algo-2", 20.0)
        episodes.close_episode(run(), "j/algo-1", 70.0)
        assert episodes.episode(run(), "j/algo-2")["state"] == "open"
        assert episodes.episode(run(), "j/algo-3") is None
        got = episodes.episodes(run())
        assert sorted(got) == ["j/algo-1", "j/algo-2"]
        assert got["j/algo-1"]["state"] == "closed" and got["j/algo-1"]["closed_at"] == 70.0
        assert got["j/algo-2"]["state"] == "open" and got["j/algo-2"]["opened_at"] == 20.0
        assert episodes.episodes(run("other")) == {}


# ---- References ------------------------------------------------------------------------------
class TestReferences:
    def test_reference_curves_and_versioned_statistics(self, state: Any) -> None:
        references = state.references
        references.put_curve(REFS, "a@1", [(1.0, 0.5), (2.0, 0.25)], 3.0)
        other = ReferenceSet("g", "loss", "maximize")
        references.put_curve(other, "a@1", [(1.0, 9.0)], 3.0)
        assert references.get_curves(REFS, ["a@1", "missing@2"]) == {
            "a@1": ([(1.0, 0.5), (2.0, 0.25)], 3.0)
        }
        table = ReferenceTable.build({"a@1": [(1.0, 0.5), (2.0, 0.25)]})
        stats = GroupStats(REFS, {"all": table}, 3.0, 1, ("a@1",), (3.0,), 1, 1)
        assert references.put_stats(stats, None) is True
        assert references.put_stats(stats, None) is False  # someone wrote them first
        got = references.batch_get_stats([REFS, other])
        assert list(got) == [REFS] and got[REFS] == stats
        newer = GroupStats(
            REFS,
            {"all": table},
            3.0,
            1,
            ("a@1",),
            (3.0,),
            2,
            2,
            throughput=(950.0,),
            instances=(4,),
        )
        assert references.put_stats(newer, 0) is False  # read at an older version
        assert references.put_stats(newer, 1) is True and references.get_stats(REFS) == newer
        stats_of, policies = references.batch_get_group_state([REFS, other])
        assert stats_of == {REFS: newer} and policies == {}

    def test_a_long_objective_of_four_byte_characters_fits_the_sort_key(self, state: Any) -> None:
        """A 250-character objective tag of four-byte characters (1,000 bytes) overflowed the
        1,024-byte sort key with ``CURVE#``, the direction and a run id: the key holds a
        bounded prefix and a hash of it, the item the objective itself."""
        objective = "\U0001d4db" * 250  # MATHEMATICAL BOLD SCRIPT CAPITAL L, 4 bytes in UTF-8
        refs = ReferenceSet("g" * 63, objective, "minimize")
        twin = ReferenceSet("g" * 63, objective[:-1] + "x", "minimize")  # same long prefix
        run = f"{'j' * 63}@{CREATED}"
        state.references.put_curve(refs, run, [(1.0, 0.5)], 2.0)
        state.references.put_curve(twin, run, [(1.0, 9.0)], 2.0)
        assert state.references.get_curves(refs, [run]) == {run: ([(1.0, 0.5)], 2.0)}
        table = ReferenceTable.build({run: [(1.0, 0.5)]})
        stats = GroupStats(refs, {"all": table}, 2.0, 1, (run,), (2.0,), 1, 1)
        assert state.references.put_stats(stats, None) is True
        assert state.references.get_stats(refs) == stats
        assert state.references.get_stats(twin) is None


def test_a_run_of_thousands_of_hosts_stays_within_the_item_limit(state: Any) -> None:
    """Every alarm a run has and every idle host's episode are kept on its item: for a job of
    thousands of hosts that overflowed DynamoDB's 400 KB, so only its first MAX_ALARMED_HOSTS
    hosts get an alarm (and can go idle). The largest item they make is written and read."""
    name = "j" * 63  # the longest SageMaker job name
    hosts = alarmed_hosts(5000)
    assert hosts == MAX_ALARMED_HOSTS
    run = job(name, instance_count=5000, instance_type="ml.p5.48xlarge")
    assert state.jobs.register_job(run) is True
    state.jobs.add_alarms(run.run, [gpu_idle_alarm_name(name, i) for i in range(1, hosts + 1)])
    for i in range(1, hosts + 1):
        assert state.idle_episodes.open_episode(run.run, f"{name}/algo-{i}", 1000.0 + i)
    stored = state.jobs.get_job(run.run)
    assert stored is not None and len(stored.alarms) == len(stored.idle_hosts) == hosts


def test_unprocessed_keys_are_asked_again_with_back_off_then_raise() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    slept: list[float] = []
    references = DynamoDBReferences(client, TABLE, sleep=slept.append)
    key = {
        "Keys": [serialize({"pk": "GROUP#g", "sk": "STATS#loss#minimize"})],
        "ConsistentRead": True,
    }
    with Stubber(client) as stub:
        stub.add_response("batch_get_item", {"Responses": {}, "UnprocessedKeys": {TABLE: key}})
        stub.add_response("batch_get_item", {"Responses": {TABLE: []}, "UnprocessedKeys": {}})
        assert references.batch_get_stats([REFS]) == {}
        assert len(slept) == 1
        for _ in range(8):
            stub.add_response("batch_get_item", {"Responses": {}, "UnprocessedKeys": {TABLE: key}})
        with pytest.raises(StoreError, match="1 group statistics unprocessed after 8 attempts"):
            references.batch_get_stats([REFS])
    assert len(slept) == 1 + 7 and all(0 <= s <= 2.0 for s in slept)
