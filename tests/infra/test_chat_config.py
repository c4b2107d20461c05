"""The chat context keys: all of a channel or none, ids in CloudFormation's shapes, and an
error that names the key."""

from __future__ import annotations

import pytest

from infra.config import ConfigError, config_from_values

pytestmark = pytest.mark.infra

SLACK = {"slackWorkspaceId": "T0123ABCD", "slackChannelId": "C0456EFGH"}
TEAMS = {
    "teamsTenantId": "a1b2c3d4-0000-4000-8000-0123456789ab",
    "teamsTeamId": "b1b2c3d4-0000-4000-8000-0123456789ab",
    "teamsChannelId": "19%3Aabc123def%40thread.tacv2",
}


def test_no_chat_keys_no_chat() -> None:
    assert config_from_values({}).chat is None
    assert config_from_values({"slackWorkspaceId": " ", "teamsTeamId": ""}).chat is None


def test_slack_teams_and_both() -> None:
    slack = config_from_values(SLACK).chat
    assert slack is not None and slack.teams is None and slack.kinds == "slack"
    assert slack.slack is not None and slack.slack.channel_id == "C0456EFGH"
    assert slack.logging_level == "ERROR"
    teams = config_from_values(TEAMS).chat
    assert teams is not None and teams.slack is None and teams.kinds == "teams"
    both = config_from_values({**SLACK, **TEAMS, "chatLoggingLevel": "NONE"}).chat
    assert both is not None and both.kinds == "slack,teams" and both.logging_level == "NONE"


def test_teams_channel_id_as_copied_from_the_link_is_encoded() -> None:
    chat = config_from_values({**TEAMS, "teamsChannelId": "19:abc123def@thread.tacv2"}).chat
    assert chat is not None and chat.teams is not None
    assert chat.teams.channel_id == "19%3Aabc123def%40thread.tacv2"


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"slackWorkspaceId": "T0123ABCD"}, "slackChannelId"),
        ({"slackChannelId": "C0456EFGH"}, "slackWorkspaceId"),
        ({**TEAMS, "teamsTeamId": ""}, "teamsTeamId"),
        ({"teamsChannelId": TEAMS["teamsChannelId"]}, "teamsTenantId"),
    ],
)
def test_a_channel_given_in_part_names_the_missing_key(values: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=f"context '{key}': .* needs it too"):
        config_from_values(values)


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("slackWorkspaceId", "t0123abcd"),  # Slack ids are upper case
        ("slackWorkspaceId", "https://app.slack.com/client/T0123ABCD"),
        ("slackChannelId", "#alerts"),  # a channel name, not its id
        ("teamsTenantId", "contoso.onmicrosoft.com"),
        ("teamsTeamId", "a1b2c3d4-0000-4000-8000"),
        ("teamsChannelId", "General"),
    ],
)
def test_malformed_ids_fail_naming_the_key(key: str, bad: str) -> None:
    base = {**SLACK} if key.startswith("slack") else {**TEAMS}
    with pytest.raises(ConfigError, match=f"context '{key}': not a valid id: "):
        config_from_values({**base, key: bad})


def test_logging_level_is_one_of_chatbot_s() -> None:
    with pytest.raises(ConfigError, match="context 'chatLoggingLevel'"):
        config_from_values({**SLACK, "chatLoggingLevel": "DEBUG"})
