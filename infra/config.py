"""Deploy-time configuration: ``cdk.json`` context (or ``-c key=value``) -> one typed model.

The keys are not listed here: they derive from the one schema, the policy's declared settings
(:func:`trainguard.config.walk`) plus the stack's own (:class:`StackSettings`), each with its
context key, default, constraint and documentation. ``cdk.json`` and the README's table are
generated from the same declarations (``python -m infra.config --cdk-json | --readme-table``;
tests keep the committed files equal to them). A bad value fails synth with a message that
names the context key, e.g. ``cdk.json context 'minCompleted': median.min_completed must be
an integer >= 1, got 0``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from trainguard import constants as c
from trainguard.config import (
    Policy,
    PolicyError,
    Setting,
    check,
    parse_role_arns,
    setting,
    walk,
)

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The patterns CloudFormation gives AWS::Chatbot::SlackChannelConfiguration (SlackWorkspaceId,
# SlackChannelId) and AWS::Chatbot::MicrosoftTeamsChannelConfiguration (TeamId, TeamsTenantId:
# GUIDs; TeamsChannelId: the URL-encoded "19:...@thread.tacv2" of the channel's link). Checked
# here so a typo fails synth naming its key, not the deploy an hour later.
_SLACK_WORKSPACE = re.compile(r"^[0-9A-Z]{1,255}$")
_SLACK_CHANNEL = re.compile(r"^[A-Za-z0-9]{1,255}$")
_GUID = re.compile(r"^[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")
_TEAMS_PART = r"[A-Za-z0-9\-_=+/.,]*"
_TEAMS_CHANNEL = re.compile(rf"^{_TEAMS_PART}%3[aA]{_TEAMS_PART}%40{_TEAMS_PART}$")
CHAT_LOGGING_LEVELS = ("ERROR", "INFO", "NONE")
DEFAULT_DIGEST_SCHEDULE = "cron(0 8 ? * MON *)"  # Mondays 08:00 UTC
DIGEST_OFF = "off"
_CRON = re.compile(r"^cron\((.*)\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#-]+$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")


class ConfigError(ValueError):
    """A context value that cannot be deployed; the message names the context key."""


def _coerce(value: Any) -> Any:
    """``-c key=value`` always gives strings: read them as JSON when they parse."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _email(value: Any) -> str:
    """``alertEmail``: empty (no subscription) or an email address."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {value!r}")
    email = value.strip()
    if email and not _EMAIL.match(email):
        raise ValueError(f"not an email address: {email!r}")
    return email


def _role_arns(value: Any) -> tuple[str, ...]:
    """``retryRoleArns`` from cdk.json (a list) or ``-c`` (a JSON list or comma-separated)."""
    if isinstance(value, str) and value.strip().startswith("["):
        value = _coerce(value)
    return parse_role_arns(value)


def digest_schedule(value: Any) -> str | None:
    """The digest's schedule expression, None for ``off``; the shape EventBridge accepts is
    checked here so that a typo fails synth, not the deploy: ``cron(min hour day-of-month
    month day-of-week year)`` with one of the two day fields ``?``, or ``rate(N unit)``."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {value!r}")
    text = value.strip()
    if text.lower() == DIGEST_OFF:
        return None
    cron, rate = _CRON.match(text), _RATE.match(text)
    problem = None
    if cron:
        fields = cron.group(1).split()
        if len(fields) != 6:
            problem = f"a cron expression has 6 fields, this one {len(fields)}"
        elif not all(_CRON_FIELD.match(f) for f in fields):
            problem = "a cron field holds digits, names and the characters * ? , - / # L W"
        elif "?" not in (fields[2], fields[4]):
            problem = "one of day-of-month and day-of-week must be '?'"
    elif rate:
        count, unit = int(rate.group(1)), rate.group(2)
        if count < 1:
            problem = "a rate must be at least 1"
        elif (count == 1) != (not unit.endswith("s")):
            one = unit.rstrip("s")
            problem = f"EventBridge wants rate(1 {one}) and rate(N {one}s)"
    else:
        problem = "expected cron(...), rate(...) or off"
    if problem is not None:
        raise ValueError(f"{problem}, got {value!r}")
    return text


@dataclass(frozen=True)
class StackSettings:
    """What configures the stack itself rather than the policy."""

    alert_email: str = setting(
        "",
        key="alertEmail",
        parser=_email,
        doc="email subscribed to the alert topic; empty = no subscription. The recipient must "
        "confirm the subscription email before anything is delivered.",
    )
    audit_ttl_days: int = setting(
        c.DEFAULT_AUDIT_TTL_DAYS,
        key="auditTtlDays",
        minimum=1,
        doc="TTL of audit records (env `TRAINGUARD_AUDIT_TTL_DAYS`)",
    )
    log_retention_days: int = setting(
        30,
        key="logRetentionDays",
        choices=LOG_RETENTION_DAYS,
        doc="CloudWatch Logs retention of the functions (a value CloudWatch accepts)",
    )
    retry_role_arns: str = setting(
        "",
        key="retryRoleArns",
        parser=_role_arns,
        doc="capacity retries (tag `trainguard:retry=N`): the IAM roles a retried job may run "
        "as, a list of role ARNs (or `arn:aws:iam::<account>:role/<path>/*`); the evaluator "
        "gets iam:PassRole for exactly these, to SageMaker only. Empty = retries off and no "
        "PassRole, CreateTrainingJob or AddTags permission at all",
    )
    slack_workspace_id: str = setting(
        "",
        key="slackWorkspaceId",
        doc="Slack workspace (team) id, e.g. `T0123ABCD`, once authorized in the Amazon Q "
        "Developer in chat applications console; with `slackChannelId` it adds a Slack channel "
        "that gets every alert. Empty = no Slack.",
    )
    slack_channel_id: str = setting(
        "",
        key="slackChannelId",
        doc="Slack channel id, e.g. `C0123ABCD` (the end of the channel's link); needs "
        "`slackWorkspaceId`. Invite the app to a private channel: `/invite @Amazon Q`.",
    )
    teams_tenant_id: str = setting(
        "",
        key="teamsTenantId",
        doc="Microsoft Teams tenant id (a GUID); with `teamsTeamId` and `teamsChannelId` it adds "
        "a Teams channel. Empty = no Teams.",
    )
    teams_team_id: str = setting(
        "",
        key="teamsTeamId",
        doc="Microsoft Teams team id (a GUID, shown when the team is authorized in the console)",
    )
    teams_channel_id: str = setting(
        "",
        key="teamsChannelId",
        doc="Microsoft Teams channel id: `19:...@thread.tacv2` from the channel's link, "
        "URL-encoded or not",
    )
    chat_logging_level: str = setting(
        "ERROR",
        key="chatLoggingLevel",
        choices=CHAT_LOGGING_LEVELS,
        doc="what the chat channel configurations log to CloudWatch Logs (ERROR: errors only; "
        "INFO: every event; NONE: nothing)",
    )

    digest_schedule: str = setting(
        DEFAULT_DIGEST_SCHEDULE,
        key="digestSchedule",
        parser=digest_schedule,
        doc="EventBridge schedule of the weekly digest (`cron(...)` with 6 fields or "
        "`rate(...)`, UTC); `off` removes the digest function and its rule",
    )


@dataclass(frozen=True)
class SlackChannel:
    workspace_id: str
    channel_id: str


@dataclass(frozen=True)
class TeamsChannel:
    tenant_id: str
    team_id: str
    channel_id: str  # URL-encoded, as CloudFormation takes it


@dataclass(frozen=True)
class ChatConfig:
    """The chat channels to add (at least one), through Amazon Q Developer in chat
    applications."""

    slack: SlackChannel | None
    teams: TeamsChannel | None
    logging_level: str

    @property
    def kinds(self) -> str:
        """The ``TRAINGUARD_CHAT`` value: which channels, so messages use their markdown."""
        return ",".join(k for k, on in (("slack", self.slack), ("teams", self.teams)) if on)


def settings() -> Iterator[tuple[Setting, Any]]:
    """Every context key's declaration and default: the policy's, then the stack's."""
    yield from walk(Policy)
    yield from walk(StackSettings)


def defaults() -> dict[str, Any]:
    """Context key -> default: what ``cdk.json`` holds."""
    return {s.key: default for s, default in settings()}


@dataclass(frozen=True)
class TrainguardConfig:
    policy: Policy
    alert_email: str
    audit_ttl_days: int
    log_retention_days: int
    chat: ChatConfig | None = None
    retry_role_arns: tuple[str, ...] = ()  # empty: capacity retries are off
    digest_schedule: str | None = DEFAULT_DIGEST_SCHEDULE  # None: no digest

    @property
    def tick_minutes(self) -> int:
        return self.policy.tick_minutes

    def policy_json(self) -> str:
        """The ``TRAINGUARD_POLICY`` document: compact, key-sorted, so synth is deterministic."""
        return json.dumps(self.policy.to_dict(), sort_keys=True, separators=(",", ":"))


def load_config(get_context: Callable[[str], Any]) -> TrainguardConfig:
    """Build the configuration from a context getter (``node.try_get_context``)."""
    values = {}
    for declared, _ in settings():
        raw = get_context(declared.key)
        if raw is not None:
            values[declared.key] = raw if declared.kind in ("text", "parsed") else _coerce(raw)
    return config_from_values(values)


def config_from_values(values: Mapping[str, Any]) -> TrainguardConfig:
    """Context key -> value (missing keys take their defaults)."""
    document: dict[str, Any] = {}
    for declared, default in walk(Policy):
        target = document
        *sections, name = declared.path.split(".")
        for part in sections:
            target = target.setdefault(part, {})
        target[name] = values.get(declared.key, default)
    stack = {
        declared.path: _checked(declared, values.get(declared.key, default))
        for declared, default in walk(StackSettings)
    }
    try:
        policy = Policy.from_mapping(document)
    except PolicyError as exc:
        key = exc.setting.key if exc.setting is not None else "policy"
        raise ConfigError(f"cdk.json context '{key}': {exc}") from exc
    return TrainguardConfig(
        policy=policy,
        alert_email=stack["alert_email"],
        audit_ttl_days=stack["audit_ttl_days"],
        log_retention_days=stack["log_retention_days"],
        chat=chat_config(stack),
        retry_role_arns=stack["retry_role_arns"],
        digest_schedule=stack["digest_schedule"],
    )


def _ids(stack: Mapping[str, Any], *paths: str) -> dict[str, str]:
    return {path: str(stack[path]).strip() for path in paths}


def _key(path: str) -> str:
    return next(d.key for d, _ in walk(StackSettings) if d.path == path)


def _require_all(ids: Mapping[str, str], what: str) -> bool:
    """All of ``ids`` set (True), none (False), or a ConfigError naming the first missing."""
    given = [path for path, value in ids.items() if value]
    if not given:
        return False
    for path, value in ids.items():
        if not value:
            others = ", ".join(f"'{_key(p)}'" for p in given)
            raise ConfigError(
                f"cdk.json context '{_key(path)}': {what} needs it too (given: {others}); "
                "set it, or leave them all empty for no channel"
            )
    return True


def _match(path: str, value: str, pattern: re.Pattern[str], example: str) -> str:
    if not pattern.match(value):
        raise ConfigError(
            f"cdk.json context '{_key(path)}': not a valid id: {value!r} (expected e.g. {example})"
        )
    return value


def chat_config(stack: Mapping[str, Any]) -> ChatConfig | None:
    """The chat channels the context asks for; None without any chat key (then the stack has
    no Chatbot resources at all). A channel given in part, or a malformed id, is a
    :class:`ConfigError` naming the key."""
    slack_ids = _ids(stack, "slack_workspace_id", "slack_channel_id")
    teams_ids = _ids(stack, "teams_tenant_id", "teams_team_id", "teams_channel_id")
    slack = teams = None
    if _require_all(slack_ids, "a Slack channel"):
        slack = SlackChannel(
            _match(
                "slack_workspace_id",
                slack_ids["slack_workspace_id"],
                _SLACK_WORKSPACE,
                "'T0123ABCD', upper-case letters and digits",
            ),
            _match(
                "slack_channel_id",
                slack_ids["slack_channel_id"],
                _SLACK_CHANNEL,
                "'C0123ABCD', letters and digits",
            ),
        )
    if _require_all(teams_ids, "a Microsoft Teams channel"):
        guid = "'a1b2c3d4-0000-4000-8000-0123456789ab'"
        channel = teams_ids["teams_channel_id"]
        if ":" in channel or "@" in channel:  # as copied from the link: encode it
            channel = quote(channel, safe="")
        teams = TeamsChannel(
            _match("teams_tenant_id", teams_ids["teams_tenant_id"], _GUID, guid),
            _match("teams_team_id", teams_ids["teams_team_id"], _GUID, guid),
            _match("teams_channel_id", channel, _TEAMS_CHANNEL, "'19:abc123@thread.tacv2'"),
        )
    if slack is None and teams is None:
        return None
    return ChatConfig(slack=slack, teams=teams, logging_level=stack["chat_logging_level"])


def _checked(declared: Setting, value: Any) -> Any:
    try:
        return check(declared, value)
    except PolicyError as exc:
        # a value's own reader (kind "parsed") says what is wrong without the path
        reason = exc.__cause__ if declared.kind == "parsed" and exc.__cause__ else exc
        raise ConfigError(f"cdk.json context '{declared.key}': {reason}") from exc


# ---- the documents derived from the schema ----------------------------------------------------


def cdk_json_context() -> dict[str, Any]:
    return defaults()


def readme_table() -> str:
    """The README's configuration table (Markdown)."""
    rows = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for declared, default in settings():
        rows.append(
            f"| `{declared.key}` | `{json.dumps(default)}` | {declared.describe()} "
            f"| {declared.doc} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description="documents derived from the config schema")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--cdk-json", action="store_true", help="the context of cdk.json (JSON)")
    what.add_argument("--readme-table", action="store_true", help="the README's table")
    args = parser.parse_args()
    if args.cdk_json:
        print(json.dumps(cdk_json_context(), indent=2))
    else:
        print(readme_table())


if __name__ == "__main__":
    main()
