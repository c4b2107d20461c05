"""One Logger and one Metrics for every function (Powertools).

No Powertools Tracer: it rests on the AWS X-Ray SDK, in maintenance since 2026-02-25 and at
end of support on 2027-02-25, and it was about 160 ms of each handler's import. The
functions keep Lambda's active tracing (the stack turns it on), which needs no SDK.
"""

from __future__ import annotations

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics

from .constants import METRICS_NAMESPACE, SERVICE_NAME

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
