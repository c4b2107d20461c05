"""The policy: defaults, validation that names the key, the global switch, tags per job."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from trainguard.config import (
    JobSettings,
    Policy,
    PolicyError,
    is_opted_in,
    job_settings,
    normalize_tags,
)
from trainguard.constants import (
    ENV_POLICY,
    ENV_STOPS_DISABLED,
    TAG_DIRECTION,
    TAG_GROUP,
    TAG_MODE,
    TAG_OBJECTIVE,
)
from trainguard.core.catchup import CatchUpRule
from trainguard.core.divergence import DivergenceRule
from trainguard.core.gpu_idle import GpuIdleRule
from trainguard.core.median import MedianStoppingRule
from trainguard.core.runtime_guard import RuntimeGuard

pytestmark = pytest.mark.unit


def test_defaults() -> None:
    policy = Policy.from_mapping({})
    assert policy == Policy() == Policy.from_json("") == Policy.from_env({})
    assert (policy.mode, policy.tick_minutes, policy.step_unit, policy.stops_disabled) == (
        "observe",
        1,
        "minute",
        False,
    )
    # the default objective rule is the catch-up rule; the median rule is off (available by
    # name: medianEnabled=true, catchupEnabled=false)
    c = policy.catchup
    assert (c.enabled, c.min_completed, c.noise_multiple, c.consecutive) == (True, 3, 8.0, 3)
    assert (policy.median.enabled, policy.median.min_completed, policy.median.grace) == (
        False,
        3,
        0.0,
    )
    assert (policy.patience.enabled, policy.patience.patience) == (False, 5)
    assert (policy.gpu_idle.threshold_pct, policy.gpu_idle.window_minutes) == (10.0, 15.0)
    assert policy.gpu_idle.warmup_minutes == 10.0
    assert policy.gpu_idle.stop_after_minutes is None


def test_a_full_document_round_trips() -> None:
    raw = {
        "mode": "enforce",
        "tick_minutes": 5,
        "median": {"min_completed": 5, "grace": 3},
        "patience": {"enabled": True, "patience": 3, "min_delta": 0.01},
        "gpu_idle": {"stop_after_minutes": 60},
        "prices": {"ml.g5.xlarge": {"usd_per_hour": 1.0}},
    }
    policy = Policy.from_mapping(raw)
    assert (policy.mode, policy.tick_minutes) == ("enforce", 5)
    assert (policy.median.min_completed, policy.median.grace) == (5, 3.0)
    assert policy.gpu_idle.stop_after_minutes == 60.0
    spec = policy.catalog().get("ml.g5.xlarge")
    assert spec is not None and spec.usd_per_hour == 1.0
    assert Policy.from_json(json.dumps(policy.to_dict())) == policy


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"median": {"min_completed": 0}}, "median.min_completed"),
        ({"median": {"min_completed": 2.5}}, "median.min_completed"),
        ({"median": {"min_completed": "3"}}, "median.min_completed"),
        ({"median": {"grace": -1}}, "median.grace"),
        ({"median": {"enabled": "yes"}}, "median.enabled"),
        ({"patience": {"min_delta": float("nan")}}, "patience.min_delta"),
        ({"divergence": {"explode_factor": 1}}, "divergence.explode_factor"),
        ({"gpu_idle": {"threshold_pct": 0}}, "gpu_idle.threshold_pct"),
        ({"gpu_idle": {"stop_after_minutes": 0}}, "gpu_idle.stop_after_minutes"),
        ({"runtime": {"duration_factor": True}}, "runtime.duration_factor"),
        ({"mode": "yolo"}, "mode"),
        ({"tick_minutes": 0}, "tick_minutes"),
        ({"step_unit": "epoch"}, "step_unit"),
        ({"median": []}, "median"),
        ({"prices": {"ml.x": {"gpus": -1}}}, "prices.ml.x.gpus"),
        ({"prices": {"ml.x": 3}}, "prices.ml.x"),
    ],
)
def test_bad_value_raises_naming_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(PolicyError, match=rf"(^|\s){re.escape(key)}\b"):
        Policy.from_mapping(raw)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"medain": {}}, "medain"),
        ({"median": {"min_complete": 3}}, "median.min_complete"),
        ({"prices": {"ml.x": {"gpu": 8}}}, "prices.ml.x.gpu"),
    ],
)
def test_unknown_keys_are_rejected(raw: dict[str, object], key: str) -> None:
    with pytest.raises(PolicyError, match=rf"unknown key {re.escape(key)}\b"):
        Policy.from_mapping(raw)


def test_not_an_object_or_not_json() -> None:
    with pytest.raises(PolicyError, match="JSON object"):
        Policy.from_mapping([])  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match=r"my\.json: not valid JSON"):
        Policy.from_json("{", source="my.json")


# ---- environment ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "disabled"), [("true", True), (" TRUE ", True), ("false", False), ("", False)]
)
def test_from_env_global_stop_switch(switch: str, disabled: bool) -> None:
    policy = Policy.from_env(
        {ENV_POLICY: json.dumps({"mode": "enforce"}), ENV_STOPS_DISABLED: switch}
    )
    assert policy.mode == "enforce"
    assert policy.stops_disabled is disabled


def test_from_env_bad_switch_names_the_variable() -> None:
    with pytest.raises(PolicyError, match=ENV_STOPS_DISABLED):
        Policy.from_env({ENV_STOPS_DISABLED: "yes"})


def test_from_env_bad_policy_names_the_variable() -> None:
    with pytest.raises(PolicyError, match=ENV_POLICY):
        Policy.from_env({ENV_POLICY: "{not json"})


def test_switch_in_the_document_is_kept_when_the_variable_is_unset() -> None:
    policy = Policy.from_env({ENV_POLICY: json.dumps({"stops_disabled": True})})
    assert policy.stops_disabled is True


# ---- tags ----------------------------------------------------------------------------------


def test_normalize_tags_accepts_both_shapes() -> None:
    as_map = {TAG_GROUP: "resnet", TAG_DIRECTION: "maximize"}
    as_list = [
        {"Key": TAG_GROUP, "Value": "resnet"},
        {"Key": TAG_DIRECTION, "Value": "maximize"},
        {"Value": "no key: ignored"},
    ]
    assert normalize_tags(as_map) == normalize_tags(as_list) == as_map
    assert normalize_tags(None) == {}
    assert normalize_tags([]) == {}
    with pytest.raises(PolicyError, match="Tags"):
        normalize_tags("trainguard:group=resnet")


def test_opt_in_is_the_group_tag() -> None:
    assert is_opted_in({TAG_GROUP: "resnet"})
    assert not is_opted_in({TAG_GROUP: "  "})
    assert not is_opted_in({TAG_OBJECTIVE: "loss"})
    with pytest.raises(PolicyError, match=TAG_GROUP):
        job_settings({TAG_OBJECTIVE: "loss"}, Policy())


def test_job_settings_from_tags() -> None:
    tags = {
        TAG_GROUP: " resnet ",
        TAG_OBJECTIVE: "val:acc",
        TAG_DIRECTION: "Maximize",
        TAG_MODE: "enforce",
    }
    settings = job_settings(tags, Policy())
    assert (settings.group, settings.objective, settings.direction, settings.mode) == (
        "resnet",
        "val:acc",
        "maximize",
        "enforce",
    )
    rules = settings.rules
    assert rules.catchup == CatchUpRule(
        direction="maximize", min_completed=3, noise_multiple=8.0, consecutive=3
    )
    assert rules.median is None  # off by default
    assert rules.divergence == DivergenceRule(
        direction="maximize", explode_factor=10.0, silence_minutes=10.0
    )
    assert rules.patience is None  # off unless asked for
    assert settings.rules is rules  # built once per job
    assert settings.gpu_idle == GpuIdleRule(
        threshold_pct=10.0, window_minutes=15.0, warmup_minutes=10.0, stop_after_minutes=None
    )
    assert settings.runtime_guard == RuntimeGuard(
        max_runtime_cap_hours=72.0, duration_factor=3.0, stall_minutes=30.0
    )


def test_job_settings_defaults_come_from_the_policy() -> None:
    settings = job_settings({TAG_GROUP: "g"}, Policy(mode="enforce"))
    assert (settings.direction, settings.mode, settings.objective) == ("minimize", "enforce", None)


def test_the_median_rule_by_name() -> None:
    policy = Policy.from_mapping({"median": {"enabled": True}, "catchup": {"enabled": False}})
    rules = job_settings({TAG_GROUP: "g"}, policy).rules
    assert rules.median == MedianStoppingRule(direction="minimize", min_completed=3, grace=0.0)
    assert rules.catchup is None


def test_tag_overrides_refine_the_policy_for_one_job() -> None:
    policy = replace(Policy(), median=replace(Policy().median, enabled=True))
    tags = {
        TAG_GROUP: "g",
        "trainguard:min-completed": "5",
        "trainguard:grace": "2.5",
        "trainguard:patience": "4",
        "trainguard:min-delta": "0.01",
        "trainguard:gpu-idle-threshold": "20",
        "trainguard:catchup-k": "6",
        "trainguard:catchup-consecutive": "2",
        "trainguard:catchup-min-completed": "4",
    }
    settings = job_settings(tags, policy)
    assert settings.rules.median == MedianStoppingRule(
        direction="minimize", min_completed=5, grace=2.5
    )
    assert settings.rules.catchup == CatchUpRule(
        direction="minimize", min_completed=4, noise_multiple=6.0, consecutive=2
    )
    assert settings.policy.patience.enabled is True  # asking for patience turns it on
    assert settings.rules.patience is not None
    assert (settings.policy.patience.patience, settings.policy.patience.min_delta) == (4, 0.01)
    assert settings.gpu_idle.threshold_pct == 20.0
    assert policy == replace(Policy(), median=replace(Policy().median, enabled=True))


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("trainguard:min-completed", "many"),
        ("trainguard:min-completed", "0"),
        ("trainguard:min-completed", "2.5"),
        ("trainguard:grace", "-1"),
        ("trainguard:grace", "nan"),
        ("trainguard:patience", "inf"),
        ("trainguard:patience", "0"),
        ("trainguard:min-delta", "-0.1"),
        ("trainguard:gpu-idle-threshold", "0"),
        ("trainguard:catchup-k", "-1"),
        ("trainguard:catchup-consecutive", "1.5"),
        ("trainguard:catchup-min-completed", "0"),
        (TAG_DIRECTION, "up"),
        (TAG_MODE, "stop-everything"),
    ],
)
def test_bad_tag_value_names_the_tag(tag: str, value: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(tag)):
        job_settings({TAG_GROUP: "g", tag: value}, Policy())


@pytest.mark.parametrize(
    ("mode", "stops_disabled", "enforcing"),
    [
        ("observe", False, False),
        ("observe", True, False),
        ("enforce", False, True),
        ("enforce", True, False),  # the global switch wins over the job's mode
    ],
)
def test_enforcing(mode: str, stops_disabled: bool, enforcing: bool) -> None:
    policy = Policy(stops_disabled=stops_disabled)
    settings = job_settings({TAG_GROUP: "g", TAG_MODE: mode}, policy)
    assert isinstance(settings, JobSettings)
    assert settings.enforcing is enforcing


def test_global_switch_from_the_environment_overrides_an_enforcing_tag() -> None:
    policy = Policy.from_env(
        {ENV_POLICY: json.dumps({"mode": "enforce"}), ENV_STOPS_DISABLED: "true"}
    )
    assert job_settings({TAG_GROUP: "g"}, policy).enforcing is False
    assert job_settings({TAG_GROUP: "g", TAG_MODE: "enforce"}, policy).enforcing is False


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"median": {"min_completed": 0}}, "minCompleted"),
        ({"catchup": {"noise_multiple": -1}}, "catchupNoiseMultiple"),
        ({"catchup": {"consecutive": 0}}, "catchupConsecutive"),
        ({"gpu_idle": {"stop_after_minutes": -1}}, "gpuIdleStopAfterMinutes"),
        ({"tick_minutes": 481}, "tickMinutes"),
        ({"stops_disabled": "yes"}, "stopsDisabled"),
        ({"prices": {"ml.x": {"usd": 1}}}, "prices"),
        ({"divergence": {"nope": 1}}, "divergenceEnabled"),  # blamed on its section
    ],
)
def test_a_bad_value_carries_its_declaration(raw: dict[str, object], key: str) -> None:
    with pytest.raises(PolicyError) as caught:
        Policy.from_mapping(raw)
    assert caught.value.setting is not None and caught.value.setting.key == key


@pytest.mark.parametrize("switch", ["1", "yes", "on", "TRUE!"])
def test_a_bad_kill_switch_fails_safe_stops_disabled_and_says_why(switch: str) -> None:
    env = {ENV_STOPS_DISABLED: switch, ENV_POLICY: '{"mode": "enforce"}'}
    policy, error = Policy.from_env_failing_safe(env)
    assert policy.stops_disabled is True and policy.mode == "enforce"  # the rest still read
    assert error is not None and ENV_STOPS_DISABLED in error and "stops are disabled" in error


def test_an_unreadable_policy_fails_safe_to_the_defaults_with_stops_disabled() -> None:
    policy, error = Policy.from_env_failing_safe({ENV_POLICY: "{not json"})
    assert policy == replace(Policy(), stops_disabled=True)
    assert error is not None and "not valid JSON" in error
    assert Policy.from_env_failing_safe({}) == (Policy(), None)
