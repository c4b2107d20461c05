"""What is stored stays within DynamoDB's limits whatever a user sets (issue 21): a sort key of
at most 1,024 bytes, an item of at most 400 KB."""

from __future__ import annotations

import pytest
from world import World

from trainguard.adapters.dynamodb.keys import (
    KEY_HASH_CHARS,
    MAX_KEY_TEXT_BYTES,
    curve_sk,
    key_text,
    stats_sk,
)
from trainguard.models import MAX_ALARMED_HOSTS, ReferenceSet

pytestmark = pytest.mark.unit

FOUR_BYTES = "\U0001d4db"  # 4 bytes in UTF-8
SORT_KEY_MAX_BYTES = 1024


def test_a_short_key_text_is_itself_and_a_long_one_a_bounded_prefix_and_hash() -> None:
    assert key_text("validation:loss") == "validation:loss"  # every key so far: unchanged
    long = FOUR_BYTES * 250
    bounded = key_text(long)
    assert len(bounded.encode()) <= MAX_KEY_TEXT_BYTES
    prefix, digest = bounded.rsplit("~", 1)
    assert long.startswith(prefix) and len(digest) == KEY_HASH_CHARS
    assert key_text(long[:-1] + "x") != bounded  # same prefix, another text: another key
    assert key_text(long) == bounded  # and the same text always the same one


@pytest.mark.parametrize("char", ["a", "\u00e9", "\u20ac", FOUR_BYTES])
def test_every_objective_tag_fits_the_sort_keys(char: str) -> None:
    refs = ReferenceSet("g", char * 256, "maximize")  # a tag value: at most 256 characters
    run = f"{'j' * 63}@1767225600000"  # the longest SageMaker job name
    assert len(curve_sk(refs, run).encode()) <= SORT_KEY_MAX_BYTES
    assert len(stats_sk(refs).encode()) <= SORT_KEY_MAX_BYTES


def test_a_job_of_thousands_of_hosts_gets_alarms_for_its_first_thousand_only() -> None:
    world = World()
    job = world.start("huge", count=5000)  # 60 alarms now, the reconcile 60 a tick after
    ticks = 0
    while len(world.record("huge").alarms) < MAX_ALARMED_HOSTS and ticks < 100:
        world.fakes.advance(1)
        world.tick()
        ticks += 1
    assert len(world.record("huge").alarms) == MAX_ALARMED_HOSTS == len(world.fakes.alarms.alarms)
    world.fakes.advance(1)
    assert world.tick().errors == 0 and len(world.fakes.alarms.alarms) == MAX_ALARMED_HOSTS
    assert f"trainguard-gpu-idle-huge-algo-{MAX_ALARMED_HOSTS + 1}" not in world.fakes.alarms.alarms
    world.end(job)  # its end deletes what it has
    assert world.fakes.alarms.alarms == {}
