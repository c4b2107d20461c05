"""Context -> configuration: defaults, coercion of -c strings, and errors that name the key."""

from __future__ import annotations

from typing import Any

import pytest
from infra_synth import CDK_JSON_CONTEXT, REPO_ROOT

from infra.config import (
    ConfigError,
    cdk_json_context,
    config_from_values,
    defaults,
    load_config,
    readme_table,
)
from trainguard.config import Policy, walk

pytestmark = pytest.mark.infra


def test_cdk_json_is_the_schema_s_defaults() -> None:
    # regenerate with: uv run python -m infra.config --cdk-json
    assert cdk_json_context() == CDK_JSON_CONTEXT
    assert list(CDK_JSON_CONTEXT) == list(cdk_json_context())


def test_readme_table_is_the_schema_s() -> None:
    # regenerate with: uv run python -m infra.config --readme-table
    readme = (REPO_ROOT / "README.md").read_text()
    assert readme_table() in readme


def test_every_policy_setting_has_its_own_context_key_and_defaults_match_the_dataclasses() -> None:
    declared = list(walk(Policy))
    keys = [s.key for s, _ in declared]
    assert len(keys) == len(set(keys))
    policy = Policy()
    for s, default in declared:
        value = policy
        for part in s.path.split("."):
            value = getattr(value, part)
        assert value == default, s.path
        assert defaults()[s.key] == default


def test_empty_context_is_the_documented_defaults() -> None:
    config = load_config(lambda key: None)
    assert config.policy.mode == "observe"
    assert config.tick_minutes == 1
    assert config.alert_email == ""
    assert config.policy.median.min_completed == 3
    assert config.policy.gpu_idle.window_minutes == 15


def test_command_line_strings_are_coerced() -> None:
    ctx = {"tickMinutes": "5", "stopsDisabled": "true", "prices": '{"ml.g5.xlarge": {"gpus": 1}}'}
    config = load_config(ctx.get)
    assert config.tick_minutes == 5
    assert config.policy.stops_disabled is True
    assert config.policy.prices["ml.g5.xlarge"]["gpus"] == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("minCompleted", 0),
        ("mode", "yolo"),
        ("tickMinutes", 0),
        ("tickMinutes", 1000),
        ("grace", -1),
        ("patience", "many"),
        ("gpuIdleThresholdPct", 0),
        ("gpuIdleWindowMinutes", -5),
        ("gpuIdleWarmupMinutes", "x"),
        ("stopsDisabled", "maybe"),
        ("stopsDisabled", "1"),
        ("stopsDisabled", "yes"),
        ("prices", {"ml.p4d.24xlarge": {"gpus": 8, "usd": 1}}),
        ("alertEmail", "not-an-email"),
        ("logRetentionDays", 11),
    ],
)
def test_bad_value_names_the_context_key(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'"):
        config_from_values({key: value})


def test_bad_context_fails_synth_with_the_key(tmp_path: Any) -> None:
    from infra.app import build_app

    with pytest.raises(ConfigError, match=r"'minCompleted'.*min_completed"):
        build_app(context={**CDK_JSON_CONTEXT, "minCompleted": 0}, outdir=str(tmp_path))


def test_tick_minutes_drive_schedule_and_timeouts() -> None:
    from infra.capabilities.functions import evaluator_timeout_seconds

    assert evaluator_timeout_seconds(1) == 55
    assert evaluator_timeout_seconds(5) == 295
    assert evaluator_timeout_seconds(60) == 900
