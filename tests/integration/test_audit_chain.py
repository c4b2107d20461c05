"""The audit is append-only and tamper-evident (issue 21), on moto: each run's records are a
hash chain under ``AUDIT#<name>``; a record rewritten in place, rewritten with its hash
recomputed, or deleted is named by ``trainguard audit verify`` (the chain's first broken link);
a claim's later outcome is appended (not written over the first) and read as its last word;
records written before the chain are read as before; two writers racing for the next record
both get theirs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ops_world import deploy_stand_in, ops_policy
from runtime_support import Aws, moto_aws

from trainguard.adapters.dynamodb.audit import DynamoDBAuditLog
from trainguard.adapters.dynamodb.chain import CHAIN_HASH, digest
from trainguard.adapters.dynamodb.keys import audit_pk, audit_sk, deserialize, job_pk, serialize
from trainguard.models import RunId
from trainguard_tools.cli import main

pytestmark = pytest.mark.integration

RUN = RunId("victim", 1_767_225_600_000)
T0, T1 = "2026-01-01T00:10:00+00:00", "2026-01-01T00:20:00+00:00"
STOP = {"rule": "median", "reason": "1.19 > 0.81", "mode": "enforce"}


@pytest.fixture
def aws() -> Iterator[Aws]:
    yield from moto_aws()


def audit_of(aws: Aws) -> DynamoDBAuditLog:
    return DynamoDBAuditLog(aws.dynamodb, aws.table)


def said(audit: DynamoDBAuditLog, outcomes: list[tuple[str, str]]) -> None:
    for at, action in outcomes:
        audit.put_decision(RUN, at, "median", {**STOP, "action": action}, 99)


def stored(aws: Aws, seq: int) -> dict[str, Any]:
    key = serialize({"pk": audit_pk(RUN.name), "sk": audit_sk(RUN, seq)})
    return deserialize(aws.dynamodb.get_item(TableName=aws.table, Key=key)["Item"])


def put_raw(aws: Aws, item: dict[str, Any]) -> None:
    aws.dynamodb.put_item(TableName=aws.table, Item=serialize(item))


def test_a_later_outcome_is_appended_and_read_as_the_claims_last_word(aws: Aws) -> None:
    audit = audit_of(aws)
    said(audit, [(T0, "COULD NOT STOP (ThrottlingException)"), (T0, "STOPPED")])
    said(audit, [(T0, "STOPPED")])  # said again by a resumed carry-out: not appended twice
    said(audit, [(T1, "WOULD STOP (observe)")])
    assert [r["action"] for r in audit.chain(RUN)] == [
        "COULD NOT STOP (ThrottlingException)",
        "STOPPED",
        "WOULD STOP (observe)",
    ]
    # the readers see one record per claim, as when the table overwrote it
    assert [d["action"] for d in audit.decisions(RUN)] == ["STOPPED", "WOULD STOP (observe)"]
    day = audit.decisions_on_day("2026-01-01")
    assert [(run, d["action"]) for run, d in day] == [
        (RUN, "STOPPED"),
        (RUN, "WOULD STOP (observe)"),
    ]
    assert all("chain_hash" not in d and "pk" not in d for _, d in day)
    (check,) = audit.verify()
    assert check.ok and check.records == 3 and check.first == 0


def test_a_stop_rewritten_in_place_is_named(aws: Aws) -> None:
    audit = audit_of(aws)
    said(audit, [(T0, "STOPPED"), (T1, "ALERT")])
    forged = {**stored(aws, 0), "action": "WOULD STOP (observe)"}  # the attack of the issue
    put_raw(aws, forged)
    assert audit.decisions(RUN)[0]["action"] == "WOULD STOP (observe)"  # it reads as forged...
    (check,) = audit.verify()
    assert check.broken is not None  # ...and the chain names it
    assert (check.broken.seq, check.broken.kind) == (0, "rewritten")


def test_a_rewrite_with_its_hash_recomputed_breaks_the_next_link(aws: Aws) -> None:
    audit = audit_of(aws)
    said(audit, [(T0, "STOPPED"), (T1, "ALERT")])
    forged = {**stored(aws, 0), "action": "WOULD STOP (observe)"}
    forged[CHAIN_HASH] = digest(forged)
    put_raw(aws, forged)
    (check,) = audit.verify(RUN.name)
    assert check.broken is not None
    assert (check.broken.seq, check.broken.kind) == (1, "broken link")
    assert "record 0 was rewritten" in check.broken.detail


def delete(aws: Aws, seq: int) -> None:
    key = {"pk": audit_pk(RUN.name), "sk": audit_sk(RUN, seq)}
    aws.dynamodb.delete_item(TableName=aws.table, Key=serialize(key))


def test_a_deleted_record_is_named(aws: Aws) -> None:
    audit = audit_of(aws)
    said(audit, [(T0, "STOPPED"), (T1, "ALERT"), ("2026-01-01T00:30:00+00:00", "ALERT")])
    delete(aws, 1)
    (check,) = audit.verify()
    assert check.broken is not None and (check.broken.seq, check.broken.kind) == (1, "missing")


def test_a_chain_whose_head_is_gone_starts_later_and_is_not_broken(aws: Aws) -> None:
    audit = audit_of(aws)
    said(audit, [(T0, "STOPPED"), (T1, "ALERT")])
    delete(aws, 0)  # the table's TTL expires a run's oldest records first
    (check,) = audit.verify()
    assert check.ok and check.first == 1 and check.records == 1


def test_records_written_before_the_chain_are_read_with_the_chained_ones(aws: Aws) -> None:
    legacy_sk = f"RUN#{RUN.created_ms:013d}#DECISION#{T0}#median"
    put_raw(
        aws,
        {
            "pk": job_pk(RUN.name),
            "sk": legacy_sk,
            **STOP,
            "action": "STOPPED",
            "audit_day": "2026-01-01",
            "audit_at": T0,
        },
    )
    audit = audit_of(aws)
    said(audit, [(T1, "ALERT")])
    assert [d["action"] for d in audit.decisions(RUN)] == ["STOPPED", "ALERT"]
    day = audit.decisions_on_day("2026-01-01")
    assert [(run, d["action"]) for run, d in day] == [(RUN, "STOPPED"), (RUN, "ALERT")]
    (check,) = audit.verify()  # the chain starts at its first chained record
    assert check.ok and check.records == 1


class StaleOnce(DynamoDBAuditLog):
    """A writer whose first read of the chain misses the record another writer just put."""

    stale = True

    def chain(self, run: RunId) -> list[dict[str, Any]]:
        if self.stale:
            self.stale = False
            return []
        return super().chain(run)


def test_two_writers_racing_for_the_next_record_both_get_theirs(aws: Aws) -> None:
    said(audit_of(aws), [(T0, "STOPPED")])
    late = StaleOnce(aws.dynamodb, aws.table)
    late.put_decision(RUN, T1, "median", {**STOP, "action": "ALERT"}, 99)  # loses record 0
    audit = audit_of(aws)
    assert [r["action"] for r in audit.chain(RUN)] == ["STOPPED", "ALERT"]
    assert stored(aws, 0)["action"] == "STOPPED"  # not written over
    (check,) = audit.verify()
    assert check.ok


def test_audit_verify_command_names_the_first_broken_link(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_stand_in(aws, ops_policy())
    audit = audit_of(aws)
    said(audit, [(T0, "STOPPED"), (T1, "ALERT")])
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("1 chains, 2 records: 0 broken")
    put_raw(aws, {**stored(aws, 0), "action": "WOULD STOP (observe)"})
    assert main(["audit", "verify", "--job", RUN.name]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN {RUN}: record 0: rewritten" in out
