"""The functions' environment, declared with the same schema as the policy and read once per
cold start (:meth:`Environment.from_environ`): a missing or bad value is a
:class:`~.schema.PolicyError` naming its variable, except the two the functions fail safe on
(a bad policy or kill switch: every stop held; bad retry roles: retries off), which are said
in ``config_error`` (logged and alarmed at every invocation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field

from ..constants import (
    DEFAULT_AUDIT_TTL_DAYS,
    DEFAULT_SHARD_SIZE,
    ENV_ALERT_FUNCTION_ARN,
    ENV_AUDIT_TTL_DAYS,
    ENV_CHAT,
    ENV_RETRY_ROLE_ARNS,
    ENV_SHARD_QUEUE_URL,
    ENV_SHARD_SIZE,
    ENV_TABLE_NAME,
    ENV_TOPIC_ARN,
)
from ..core.values import frozen
from .policy import Policy
from .schema import DERIVED, PolicyError, declared, from_text, read_env, setting


class RetryConfigError(ValueError):
    """A retry setting that cannot be used (the message names it)."""


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]*[\w+=,.@-](/\*)?$")


def parse_role_arns(value: object) -> tuple[str, ...]:
    """The deploy-time ``retryRoleArns``: a list (or a comma-separated string) of IAM role
    ARNs, or of ARN patterns ending in ``/*`` for every role under an IAM path
    (``arn:aws:iam::123456789012:role/training/*``). Empty: retries are off."""
    if isinstance(value, str):
        items: list[object] = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise RetryConfigError(f"must be a list of IAM role ARNs, got {value!r}")
    out = []
    for item in items:
        arn = str(item).strip() if isinstance(item, str) else item
        if not isinstance(arn, str) or not _ROLE_ARN.match(arn):
            raise RetryConfigError(f"not an IAM role ARN (or arn:...:role/<path>/*): {item!r}")
        out.append(arn)
    return tuple(out)


@frozen
class Environment:
    """What the stack gives the functions (``infra/capabilities/functions.py`` sets them)."""

    table: str = setting("", key=ENV_TABLE_NAME, required=True, doc="the state table's name")
    topic: str = setting("", key=ENV_TOPIC_ARN, required=True, doc="the alert topic's ARN")
    audit_ttl_days: int = setting(
        DEFAULT_AUDIT_TTL_DAYS, key=ENV_AUDIT_TTL_DAYS, minimum=1, doc="audit records' TTL"
    )
    shard_queue_url: str = setting(
        "", key=ENV_SHARD_QUEUE_URL, doc="the sharded tick's queue (empty: every tick inline)"
    )
    shard_size: int = setting(
        DEFAULT_SHARD_SIZE, key=ENV_SHARD_SIZE, minimum=1, doc="jobs a shard of the tick"
    )
    chat: str = setting("", key=ENV_CHAT, doc="the chat channels' kinds (slack, teams)")
    alert_function_arn: str = setting(
        "", key=ENV_ALERT_FUNCTION_ARN, doc="the GPU-idle alarms' function"
    )
    retry_roles: tuple[str, ...] = setting(
        (),
        key=ENV_RETRY_ROLE_ARNS,
        parser=parse_role_arns,
        doc="the roles a capacity retry may pass (empty: retries off)",
    )
    aws_region: str = setting("", key="AWS_REGION", doc="the function's region (Lambda sets it)")
    default_region: str = setting("us-east-1", key="AWS_DEFAULT_REGION", doc="... else this")
    # TRAINGUARD_POLICY and TRAINGUARD_STOPS_DISABLED (:meth:`Policy.from_env_failing_safe`)
    policy: Policy = field(default_factory=Policy, metadata=DERIVED)
    # an unusable setting the functions go on without (stops held, or retries off)
    config_error: str | None = field(default=None, metadata=DERIVED)

    @property
    def region(self) -> str:
        return self.aws_region or self.default_region

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Environment:
        """The environment, read and checked; :class:`PolicyError` naming the variable."""
        policy, error = Policy.from_env_failing_safe(environ)
        roles = declared(cls.__dataclass_fields__["retry_roles"])
        try:
            retry_roles = from_text(roles, environ.get(roles.key), ())
        except PolicyError as exc:  # retries off, the rest goes on; said at each invocation
            retry_roles, error = (), error or str(exc)
        return read_env(cls, environ, policy=policy, config_error=error, retry_roles=retry_roles)
