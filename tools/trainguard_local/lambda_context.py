"""The one fake Lambda context object, for every in-process call of a handler: the tests, the
bench and the local run's router (:mod:`.router`) all pass this one.

It carries the attributes handlers and Powertools read (``Logger.inject_lambda_context`` logs
the name, memory, ARN and request id). No moto import: unit tests use it too.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
MAX_TIMEOUT_S = 900  # Lambda's maximum timeout


@dataclass
class LambdaContext:
    """A Lambda context; ``invoked_function_arn`` defaults to the function's ARN in moto's
    account, ``aws_request_id`` to a fresh UUID."""

    function_name: str = "trainguard-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # None: the time never runs out (Lambda's maximum, 900 s, always left): a module-level
    # context is shared by a whole test session, which may well last longer than 15 minutes;
    # a number: a real budget counted from the context's creation (the router's invocations)
    timeout_s: int | None = None
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = (
                f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"
            )

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        if self.timeout_s is None:
            return MAX_TIMEOUT_S * 1000
        spent = time.monotonic() - self._started
        return max(0, int((self.timeout_s - spent) * 1000))
