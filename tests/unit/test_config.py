"""The configuration package: the one precedence chain of a job's settings, rules built from
their settings by field name, the functions' environment and the shard message read by the
same engine, each bad value naming its key."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from trainguard import constants as c
from trainguard.config import (
    Controls,
    Environment,
    GpuIdleSettings,
    HangSettings,
    Policy,
    PolicyError,
    parse_controls,
    resolve_settings,
    walk,
)
from trainguard.config.settings import build
from trainguard.core.gpu_idle import GpuIdleRule
from trainguard.core.hang import HangRule
from trainguard.logic.shards import Shard, ShardMessageError
from trainguard.models import GroupPolicy

pytestmark = pytest.mark.unit

TAGS = {c.TAG_GROUP: "g", c.TAG_OBJECTIVE: "val_loss"}
ENV = {c.ENV_TABLE_NAME: "state", c.ENV_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:t"}


def calibrated(settings: dict[str, dict[str, object]]) -> GroupPolicy:
    return GroupPolicy("g", settings, applied_by="calibrate")


def test_precedence_tag_over_group_control_over_calibrated_over_global_over_deployed() -> None:
    deployed = Policy(mode="observe")
    group = calibrated({"catchup": {"noise_multiple": 4.0}})
    none = Controls()
    assert resolve_settings(TAGS, deployed, None, none).policy.catchup.noise_multiple == 8.0
    settings = resolve_settings(TAGS, deployed, group, none)
    assert settings.policy.catchup.noise_multiple == 4.0 and settings.mode == "observe"
    global_enforce = parse_controls({"GLOBAL": '{"mode": "enforce"}'})
    assert resolve_settings(TAGS, deployed, group, global_enforce).mode == "enforce"
    group_observe = parse_controls(
        {"GLOBAL": '{"mode": "enforce"}', "GROUP#g": '{"mode": "observe"}'}
    )
    assert resolve_settings(TAGS, deployed, group, group_observe).mode == "observe"
    tagged = {**TAGS, c.TAG_MODE: "enforce", "trainguard:catchup-k": "2"}
    settings = resolve_settings(tagged, deployed, group, group_observe)
    assert settings.mode == "enforce" and settings.policy.catchup.noise_multiple == 2.0


def test_a_pause_holds_the_groups_stops_whatever_the_mode() -> None:
    controls = parse_controls({"GROUP#g": '{"paused": true, "by": "ana"}'})
    settings = resolve_settings({**TAGS, c.TAG_MODE: "enforce"}, Policy(), None, controls)
    assert settings.paused == "group g paused by ana" and not settings.enforcing
    other = resolve_settings({**TAGS, c.TAG_GROUP: "h"}, Policy(), None, controls)
    assert other.paused is None


def test_a_refused_group_policy_leaves_the_deployed_one_and_a_bad_tag_is_named() -> None:
    refused = calibrated({"catchup": {"consecutive": 0}})
    assert resolve_settings(TAGS, Policy(), refused, Controls()).policy == Policy()
    with pytest.raises(PolicyError, match="trainguard:catchup-k"):
        resolve_settings({**TAGS, "trainguard:catchup-k": "-1"}, Policy(), None, Controls())


def test_rules_take_their_settings_by_field_name() -> None:
    hang = HangSettings(floor_minutes=7.0, stop_after_minutes=30.0)
    rule = build(HangRule, hang)
    for f in fields(hang):
        if f.name != "enabled":
            assert getattr(rule, f.name) == getattr(hang, f.name)
    assert build(GpuIdleRule, GpuIdleSettings()) == GpuIdleRule()


def test_the_environment_is_read_once_and_a_bad_value_names_its_variable() -> None:
    env = Environment.from_environ({**ENV, c.ENV_SHARD_SIZE: " 50 "})
    assert (env.table, env.shard_size, env.audit_ttl_days) == ("state", 50, 90)
    assert (env.region, env.retry_roles, env.config_error) == ("us-east-1", (), None)
    for key, value in ((c.ENV_AUDIT_TTL_DAYS, "0"), (c.ENV_SHARD_SIZE, "many")):
        with pytest.raises(PolicyError, match=key):
            Environment.from_environ({**ENV, key: value})
    with pytest.raises(PolicyError, match=f"{c.ENV_TOPIC_ARN} is not set"):
        Environment.from_environ({c.ENV_TABLE_NAME: "state"})
    unsafe = Environment.from_environ({**ENV, c.ENV_STOPS_DISABLED: "yes"})
    assert unsafe.policy.stops_disabled and c.ENV_STOPS_DISABLED in str(unsafe.config_error)


def test_the_environment_is_declared_with_the_schema() -> None:
    keys = {s.key for s, _ in walk(Environment)}
    assert {c.ENV_TABLE_NAME, c.ENV_TOPIC_ARN, c.ENV_RETRY_ROLE_ARNS, c.ENV_SHARD_SIZE} <= keys


def test_a_shard_message_without_runs_names_the_key() -> None:
    message = json.loads(json.dumps({"v": 1, "now": 1.0}))
    with pytest.raises(ShardMessageError, match="runs is missing"):
        Shard.from_message(message)
