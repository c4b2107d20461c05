"""The audit's hash chain on plain data (``adapters/dynamodb/chain.py``): a record's hash is
the same before and after DynamoDB's type round trip (floats, integral floats, nested maps,
binary), and :func:`verify` names the first broken link: a record edited in place, one
rewritten with its hash recomputed (the next link breaks), a record deleted, a link edited;
a chain whose head expired starts later and is not broken."""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.types import Binary

from trainguard.adapters.dynamodb.chain import CHAIN_HASH, CHAIN_PREV, GENESIS, digest, link, verify
from trainguard.adapters.dynamodb.keys import deserialize, serialize
from trainguard.models import RunId

pytestmark = pytest.mark.unit

RUN = RunId("job", 1_700_000_000_000)


def chain(*actions: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    prev = GENESIS
    for seq, action in enumerate(actions):
        record = link({"pk": "AUDIT#job", "sk": f"s{seq}", "action": action, "x": 0.5}, seq, prev)
        out.append(record)
        prev = record[CHAIN_HASH]
    return out


def stored(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As a reader gets them back from DynamoDB."""
    return [deserialize(serialize(r)) for r in records]


def test_the_hash_survives_dynamodbs_type_round_trip() -> None:
    record = {
        "pk": "AUDIT#job",
        "threshold": 0.1 + 0.2,
        "steps": 12.0,  # stored as a Decimal, read back as the int 12
        "context": {"Savings": "$1.20", "nested": [1.5, {"a": 2}]},
        "blob": Binary(b"\x00\x01"),
        "gone": None,  # not stored at all
        "inf": float("inf"),  # non-finite: left out
    }
    linked = link(record, 0, GENESIS)
    (back,) = stored([linked])
    assert digest(back) == linked[CHAIN_HASH] == digest(linked)
    assert verify(RUN, [back]).ok


def test_an_intact_chain_in_any_order() -> None:
    records = stored(chain("COULD NOT STOP (Throttling)", "STOPPED", "ALERT"))
    check = verify(RUN, list(reversed(records)))
    assert check.ok and (check.records, check.first) == (3, 0)


def test_a_record_edited_in_place_is_rewritten() -> None:
    records = stored(chain("STOPPED", "ALERT"))
    records[0]["action"] = "WOULD STOP (observe)"
    broken = verify(RUN, records).broken
    assert broken is not None and (broken.seq, broken.kind) == (0, "rewritten")


def test_a_rewrite_with_its_hash_recomputed_breaks_the_next_link() -> None:
    records = stored(chain("STOPPED", "ALERT", "ALERT"))
    records[1]["action"] = "nothing to see"
    records[1][CHAIN_HASH] = digest(records[1])
    broken = verify(RUN, records).broken
    assert broken is not None and (broken.seq, broken.kind) == (2, "broken link")
    assert str(broken).startswith("record 2: broken link (it does not hold the hash of record 1")


def test_an_edited_first_link_is_named_even_with_its_hash_recomputed() -> None:
    records = stored(chain("STOPPED"))
    records[0][CHAIN_PREV] = "f" * 64  # a link edited and its hash recomputed
    records[0][CHAIN_HASH] = digest(records[0])
    broken = verify(RUN, records).broken
    assert broken is not None and (broken.seq, broken.kind) == (0, "broken link")


def test_a_deleted_record_is_missing_and_an_expired_head_is_not_a_break() -> None:
    records = stored(chain("A", "B", "C", "D"))
    broken = verify(RUN, [records[0], records[2], records[3]]).broken
    assert broken is not None and (broken.seq, broken.kind) == (1, "missing")
    later = verify(RUN, records[2:])
    assert later.ok and later.first == 2


def test_a_record_without_chain_fields_is_named() -> None:
    records = stored(chain("A", "B"))
    del records[1][CHAIN_HASH]
    broken = verify(RUN, records).broken
    assert broken is not None and (broken.seq, broken.kind) == (1, "rewritten")
