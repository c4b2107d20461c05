"""Names shared by the runtime, the CDK stack and the tests: one place, imported by all three.

Nothing here reads the environment; it only names things.
"""

from __future__ import annotations

# --- Environment variables of the deployed functions -------------------------------------
ENV_TABLE_NAME = "TRAINGUARD_TABLE_NAME"
ENV_TOPIC_ARN = "TRAINGUARD_TOPIC_ARN"
ENV_ALERT_FUNCTION_ARN = "TRAINGUARD_ALERT_FUNCTION_ARN"
ENV_POLICY = "TRAINGUARD_POLICY"  # JSON document of trainguard.policy.Policy
ENV_STOPS_DISABLED = (
    "TRAINGUARD_STOPS_DISABLED"  # global switch: "true" turns every stop into a report
)
ENV_AUDIT_TTL_DAYS = "TRAINGUARD_AUDIT_TTL_DAYS"

# --- Tags on training jobs (opt-in and per-job overrides) --------------------------------
TAG_PREFIX = "trainguard:"
TAG_GROUP = "trainguard:group"  # the comparison group; its presence is the opt-in
TAG_OBJECTIVE = "trainguard:objective"
TAG_DIRECTION = "trainguard:direction"
TAG_MODE = "trainguard:mode"

# --- CloudWatch ----------------------------------------------------------------------------
TRAINING_NAMESPACE = "/aws/sagemaker/TrainingJobs"
GPU_METRIC = "GPUUtilization"
ALARM_PREFIX = "trainguard-"  # every alarm the functions create; IAM is scoped to it
METRICS_NAMESPACE = "trainguard"  # the control plane's own EMF metrics
SERVICE_NAME = "trainguard"

# --- EventBridge ------------------------------------------------------------------------------
TRAINING_STATE_CHANGE = "SageMaker Training Job State Change"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"

# --- Handlers (module:function inside the Lambda asset, which is lambdas/) ------------------
LIFECYCLE_HANDLER = "trainguard.handlers.lifecycle.handler"
EVALUATOR_HANDLER = "trainguard.handlers.evaluator.handler"
ALERT_HANDLER = "trainguard.handlers.alert.handler"
