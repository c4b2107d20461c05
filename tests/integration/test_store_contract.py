"""One contract, two stores: the in-memory fake the logic tests use and the DynamoDB store on
moto answer every case the same way (so a fast logic test means what it says)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fakes import InMemoryStore
from moto import mock_aws

from trainguard.adapters.store import Store, StoreError, serialize
from trainguard.core.median import ReferenceTable
from trainguard.core.progress import Progress
from trainguard.core.summary import CurveSummary
from trainguard.logic import messages
from trainguard.logic.ledger import Claim, ClaimState
from trainguard.message import Message
from trainguard.models import GroupStats, JobRecord, ReferenceSet, RunId
from trainguard_local.state_table import create_state_table

pytestmark = pytest.mark.integration

TABLE = "contract"


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryStore()
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(client, TABLE)
        yield Store(client, TABLE)


CREATED = 1_767_225_600_000  # the runs' CreationTime (epoch ms)


def job(name: str = "j", created_ms: int = CREATED, **kwargs: Any) -> JobRecord:
    return JobRecord(name=name, created_ms=created_ms, tags={"trainguard:group": "g"},
                     opted_in=True, group="g", start_time=100.0, **kwargs)  # fmt: skip


def run(name: str = "j", created_ms: int = CREATED) -> RunId:
    return RunId(name, created_ms)


def test_runs_of_one_name_are_apart_and_the_latest_is_found(store: Any) -> None:
    assert store.latest_run("j") is None
    store.register_job(job(created_ms=CREATED))
    store.claim_action(run(), "median#stop", 1.0, {})
    store.register_job(job(created_ms=CREATED + 5_000))  # the name used again
    assert store.latest_run("j").created_ms == CREATED + 5_000
    assert store.get_job(run("j", CREATED + 5_000)).actions == frozenset()
    assert store.claim_action(run("j", CREATED + 5_000), "median#stop", 2.0, {}) is True
    assert sorted(j.created_ms for j in store.running_jobs()) == [CREATED, CREATED + 5_000]


def test_register_once_and_read_back(store: Any) -> None:
    assert store.register_job(job()) is True
    assert store.register_job(job()) is False
    got = store.get_job(run("j"))
    assert got is not None and got.name == "j" and got.running and got.tags == job().tags
    assert store.get_job(run("nobody")) is None


def test_running_index_lists_only_running_jobs(store: Any) -> None:
    store.register_job(job("a"))
    store.register_job(job("b"))
    assert store.finalize_job(run("b"), "Completed", 200.0, None) is True
    assert store.finalize_job(run("ghost"), "Completed", 200.0, None) is False
    assert [j.name for j in store.running_jobs()] == ["a"]
    ended = store.get_job(run("b"))
    assert ended.status == "Completed" and ended.end_time == 200.0


def test_start_time_is_corrected_once(store: Any) -> None:
    store.register_job(job(start_exact=False))
    store.update_start_time(run("j"), 150.0)
    store.update_start_time(run("j"), 175.0)
    assert store.get_job(run("j")).start_time == 150.0


def test_claims_win_once_are_mirrored_listed_open_and_finished(store: Any) -> None:
    store.register_job(job())
    assert store.claim_action(run(), "median#stop", 1.0, {"why": "x"}) is True
    assert store.claim_action(run(), "median#stop", 2.0, {}) is False
    assert store.claim_action(run("nobody"), "median#stop", 2.0, {}) is False  # unregistered
    assert store.get_job(run()).actions == frozenset({"median#stop"})
    assert store.open_actions() == [(run(), "median#stop")]
    claim = store.get_action(run(), "median#stop")
    assert claim["state"] == "claimed" and claim["details"] == {"why": "x"}
    store.update_action(run(), "median#stop", state="stopping", attempts=1)
    assert store.get_action(run(), "median#stop")["state"] == "stopping"
    store.finish_action(run(), "median#stop", outcome="STOPPED")
    assert store.open_actions() == []
    done = store.get_action(run(), "median#stop")
    assert (done["state"], done["outcome"]) == ("done", "STOPPED")


def test_an_email_is_written_once_leased_and_sent_or_dead_lettered(store: Any) -> None:
    assert store.enqueue("k1", "subject", "body", 100.0, 60.0) is True
    assert store.enqueue("k1", "subject", "body", 101.0, 60.0) is False  # written once
    assert store.pending_emails(120.0) == []  # leased to its sender
    assert [e["sk"] for e in store.pending_emails(161.0)] == ["k1"]  # its sender died
    assert store.lease_email("k1", 161.0, 60.0) is True
    assert store.lease_email("k1", 162.0, 60.0) is False  # one sender at a time
    store.send_failed("k1", 1, 300.0, dead=False)
    assert store.pending_emails(299.0) == [] and len(store.pending_emails(300.0)) == 1
    store.sent("k1", 301.0)
    assert store.pending_emails(1e9) == []
    assert store.enqueue("k1", "subject", "body", 400.0, 60.0) is False  # still never twice
    store.enqueue("k2", "s2", "b2", 500.0, 60.0)
    store.send_failed("k2", 8, 0.0, dead=True)
    assert store.pending_emails(1e9) == []
    assert [(d["subject"], d["attempts"]) for d in store.dead_letters()] == [("s2", 8)]


def test_a_claim_reads_back_as_the_ledger_s_value(store: Any) -> None:
    """What claim_action, update_action and finish_action wrote is a :class:`Claim` that
    writes back the same fields (nested details included, the numbers as they went in)."""
    store.register_job(job())
    details = {"decision": {"job": "j", "rule": "median", "stop": True, "step": 3,
                            "value": 1.5, "threshold": 0.75, "references": 3, "reason": "r",
                            "alert": False},
               "enforcing": True, "hold": None, "mode": "enforce", "savings": 12.5,
               "context": {"Group": "g", "Instances": "2 x ml.p4d.24xlarge"}}  # fmt: skip
    store.claim_action(run(), "median#stop", 100.0, details)
    store.update_action(run(), "median#stop", state="refused", attempts=1, retry_at=400.0,
                        outcome="COULD NOT STOP (AccessDenied)")  # fmt: skip
    claim = Claim.from_item(run(), "median#stop", store.get_action(run(), "median#stop"))
    assert (claim.state, claim.attempts, claim.due) == (ClaimState.REFUSED, 1, 400.0)
    assert claim.decision().threshold == 0.75 and claim.savings == 12.5
    assert claim.context == details["context"] and claim.hold is None
    item = store.get_action(run(), "median#stop")
    assert claim.to_item() == {k: v for k, v in item.items() if k not in ("pk", "sk")}
    store.finish_action(run(), "median#stop", state="given up", outcome=claim.outcome)
    done = Claim.from_item(run(), "median#stop", store.get_action(run(), "median#stop"))
    assert done.state is ClaimState.GIVEN_UP and done.outcome == "COULD NOT STOP (AccessDenied)"


def test_an_email_written_as_a_value_reads_back_as_that_value(store: Any) -> None:
    message = messages.config_error("j", "a bad tag: x", "us-east-1")
    assert store.enqueue("k3", message.subject, "", 100.0, 0.0, message=message.to_item())
    (item,) = store.pending_emails(100.0)
    assert Message.from_item(item["message"]) == message
    store.enqueue("k4", "s4", "b4", 100.0, 0.0)  # written as text: read as text
    (old,) = [i for i in store.pending_emails(100.0) if i["sk"] == "k4"]
    assert "message" not in old and Message.from_item(old) == Message.plain("s4", "b4")


def test_events_are_marked_once(store: Any) -> None:
    assert store.event_seen(run("j"), "Completed#Completed") is False
    assert store.mark_event(run("j"), "Completed#Completed", 1.0) is True
    assert store.mark_event(run("j"), "Completed#Completed", 2.0) is False
    assert store.event_seen(run("j"), "Completed#Completed") is True


def test_progress_round_trips_and_skips_ended_jobs(store: Any) -> None:
    store.register_job(job())
    summary = CurveSummary.of([(1.0, 0.5), (2.0, 0.4)])
    progress = Progress(summary, "minute", 300.0, 280.0)
    store.save_progress([(run("j"), progress), (run("gone"), progress)])
    assert store.get_job(run("j")).progress == progress
    assert store.get_job(run("gone")) is None


def test_episodes_open_once_close_once_and_mirror_idle_hosts(store: Any) -> None:
    store.register_job(job())
    assert store.open_episode(run("j"), "j/algo-1", 10.0) is True
    assert store.open_episode(run("j"), "j/algo-1", 11.0) is False
    assert store.get_job(run("j")).idle_hosts == {"j/algo-1": 10.0}
    assert store.close_episode(run("j"), "j/algo-1", 20.0) == 10.0
    assert store.close_episode(run("j"), "j/algo-1", 21.0) is None
    assert store.get_job(run("j")).idle_hosts == {}
    assert store.open_episode(run("j"), "j/algo-1", 30.0) is True  # a new episode


def test_health_episodes_open_and_close_on_the_run(store: Any) -> None:
    store.register_job(job())
    store.set_episode(run("j"), "hung", 10.0)
    store.set_episode(run("j"), "straggler:j/algo-3", 12.0)
    assert store.get_job(run("j")).episodes == {"hung": 10.0, "straggler:j/algo-3": 12.0}
    store.set_episode(run("j"), "hung", None)
    store.set_episode(run("j"), "throughput", None)  # not open: nothing to close
    assert store.get_job(run("j")).episodes == {"straggler:j/algo-3": 12.0}
    store.set_episode(run("gone"), "hung", 1.0)  # no such run: nothing is created
    assert store.get_job(run("gone")) is None


def test_a_run_registered_before_the_episodes_map_gets_one() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(client, TABLE)
        store = Store(client, TABLE)
        store.register_job(job())
        client.update_item(TableName=TABLE, Key=serialize({"pk": "JOB#j", "sk": f"RUN#{CREATED}"}),
                           UpdateExpression="REMOVE episodes")  # fmt: skip
        store.set_episode(run("j"), "hung", 10.0)
        assert store.get_job(run("j")).episodes == {"hung": 10.0}


def test_decisions_are_listed_in_time_order(store: Any) -> None:
    store.put_decision(run("j"), "2026-01-01T00:02:00+00:00", "median", {"action": "B"}, 99)
    store.put_decision(run("j"), "2026-01-01T00:01:00+00:00", "diverged", {"action": "A"}, 99)
    assert [d["action"] for d in store.decisions(run("j"))] == ["A", "B"]


REFS = ReferenceSet("g", "loss", "minimize")


def test_reference_curves_and_versioned_statistics(store: Any) -> None:
    store.put_curve(REFS, "a@1", [(1.0, 0.5), (2.0, 0.25)], 3.0)
    other = ReferenceSet("g", "loss", "maximize")
    store.put_curve(other, "a@1", [(1.0, 9.0)], 3.0)
    assert store.get_curves(REFS, ["a@1", "missing@2"]) == {"a@1": ([(1.0, 0.5), (2.0, 0.25)], 3.0)}
    table = ReferenceTable.build({"a@1": [(1.0, 0.5), (2.0, 0.25)]})
    stats = GroupStats(REFS, {"all": table}, 3.0, 1, ("a@1",), (3.0,), 1, 1)
    assert store.put_stats(stats, None) is True
    assert store.put_stats(stats, None) is False  # someone wrote them first
    got = store.batch_get_stats([REFS, other])
    assert list(got) == [REFS] and got[REFS] == stats
    newer = GroupStats(REFS, {"all": table}, 3.0, 1, ("a@1",), (3.0,), 2, 2,
                       throughput=(950.0,), instances=(4,))  # fmt: skip
    assert store.put_stats(newer, 0) is False  # read at an older version
    assert store.put_stats(newer, 1) is True and store.get_stats(REFS) == newer


def test_unprocessed_keys_are_asked_again_with_back_off_then_raise() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    slept: list[float] = []
    store = Store(client, TABLE, sleep=slept.append)
    key = {
        "Keys": [serialize({"pk": "GROUP#g", "sk": "STATS#loss#minimize"})],
        "ConsistentRead": True,
    }
    with Stubber(client) as stub:
        stub.add_response("batch_get_item", {"Responses": {}, "UnprocessedKeys": {TABLE: key}})
        stub.add_response("batch_get_item", {"Responses": {TABLE: []}, "UnprocessedKeys": {}})
        assert store.batch_get_stats([REFS]) == {}
        assert len(slept) == 1
        for _ in range(8):
            stub.add_response("batch_get_item", {"Responses": {}, "UnprocessedKeys": {TABLE: key}})
        with pytest.raises(StoreError, match="1 group statistics unprocessed after 8 attempts"):
            store.batch_get_stats([REFS])
    assert len(slept) == 1 + 7 and all(0 <= s <= 2.0 for s in slept)


def test_audit_records_are_read_one_day_at_a_time(store: Any) -> None:
    store.put_decision(run("a"), "2026-01-01T23:59:00+00:00", "median", {"action": "A"}, 99)
    store.put_decision(run("b", CREATED + 7), "2026-01-02T00:01:00+00:00", "hung", {"action": "B"},
                       99)  # fmt: skip
    store.put_decision(run("a"), "2026-01-02T00:00:30+00:00", "catch-up", {"action": "C"}, 99)
    day = store.decisions_on_day("2026-01-02")
    assert [(r, d["action"]) for r, d in day] == [(run("a"), "C"), (run("b", CREATED + 7), "B")]
    assert [d["action"] for _, d in store.decisions_on_day("2026-01-01")] == ["A"]
    assert store.decisions_on_day("2026-01-03") == []
    assert day[0][1]["audit_at"] == "2026-01-02T00:00:30+00:00"
    assert [d["action"] for d in store.decisions(run("a"))] == ["A", "C"]  # per run as before


def test_job_items_are_read_in_one_batch(store: Any) -> None:
    store.register_job(job("a"))
    store.register_job(job("b", instance_type="ml.g5.xlarge"))
    got = store.batch_get_jobs([run("a"), run("b"), run("ghost")])
    assert sorted(r.name for r in got) == ["a", "b"]
    assert got[run("b")].instance_type == "ml.g5.xlarge"
    assert store.batch_get_jobs([]) == {}


def test_a_runs_idle_episodes_by_host(store: Any) -> None:
    store.register_job(job())
    store.open_episode(run(), "j/algo-1", 10.0)
    store.open_episode(run(), "j/algo-2", 20.0)
    store.close_episode(run(), "j/algo-1", 70.0)
    got = store.episodes(run())
    assert sorted(got) == ["j/algo-1", "j/algo-2"]
    assert got["j/algo-1"]["state"] == "closed" and got["j/algo-1"]["closed_at"] == 70.0
    assert got["j/algo-2"]["state"] == "open" and got["j/algo-2"]["opened_at"] == 20.0
    assert store.episodes(run("other")) == {}
