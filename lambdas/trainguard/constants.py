"""Names shared by the runtime, the CDK stack and the tests: one place, imported by all three.

Nothing here reads the environment; it only names things.
"""

from __future__ import annotations

# --- Environment variables of the deployed functions -------------------------------------
ENV_TABLE_NAME = "TRAINGUARD_TABLE_NAME"
ENV_TOPIC_ARN = "TRAINGUARD_TOPIC_ARN"
ENV_ALERT_FUNCTION_ARN = "TRAINGUARD_ALERT_FUNCTION_ARN"
ENV_POLICY = "TRAINGUARD_POLICY"  # JSON document of trainguard.config.Policy
ENV_STOPS_DISABLED = (
    "TRAINGUARD_STOPS_DISABLED"  # global switch: "true" turns every stop into a report
)
ENV_AUDIT_TTL_DAYS = "TRAINGUARD_AUDIT_TTL_DAYS"
# the chat channels the stack configured ("slack", "teams" or "slack,teams"); set only then:
# messages also go out as Chatbot custom notifications (the markdown follows the channels)
ENV_CHAT = "TRAINGUARD_CHAT"
# the IAM roles (ARNs, or ARN patterns ending in "/*" for an IAM path) a capacity retry may
# pass to SageMaker, comma-separated; empty = capacity retries are off in this deployment
ENV_RETRY_ROLE_ARNS = "TRAINGUARD_RETRY_ROLE_ARNS"

# --- Tags on training jobs (opt-in and per-job overrides) --------------------------------
TAG_PREFIX = "trainguard:"
TAG_GROUP = "trainguard:group"  # the comparison group; its presence is the opt-in
TAG_OBJECTIVE = "trainguard:objective"
TAG_DIRECTION = "trainguard:direction"
TAG_MODE = "trainguard:mode"
TAG_THROUGHPUT = "trainguard:throughput"  # the job's samples/s metric (MetricDefinitions)
TAG_PROTECT = "trainguard:protect"  # "true": never stopped (its decisions are still reported)
# capacity retries (trainguard.logic.retry): the opt-in with its count, and on a job that
# trainguard recreated, which attempt it is and the name of the chain's first job
TAG_RETRY = "trainguard:retry"
TAG_RETRY_ATTEMPT = "trainguard:retry-attempt"
TAG_RETRY_OF = "trainguard:retry-of"
RETRY_NAME_INFIX = "-retry-"  # a retry is named <first job>-retry-<k>; IAM is scoped to it
# revivals (trainguard.logic.revive): a stopped job recreated on its checkpoints is named
# <first job>-revived-<k> and tagged with the run it continues (a pointer, never trusted: the
# lineage is trainguard's own claim on that run)
TAG_REVIVED_FROM = "trainguard:revived-from"
REVIVED_NAME_INFIX = "-revived-"

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
SHARD_HANDLER = "trainguard.handlers.shard.handler"
DIGEST_HANDLER = "trainguard.handlers.digest.handler"

# --- Deployed names (fixed by the stack; the local run and the cleanup command rely on them) --
LIFECYCLE_FUNCTION_NAME = "trainguard-lifecycle"
EVALUATOR_FUNCTION_NAME = "trainguard-evaluator"
ALERT_FUNCTION_NAME = "trainguard-alert"
SHARD_FUNCTION_NAME = "trainguard-evaluator-shard"
# The sharded tick (docs/sharded-tick.md): the planner sends shards of at most this many
# jobs to the shard queue; a fleet of at most this many is judged by the planner itself.
ENV_SHARD_QUEUE_URL = "TRAINGUARD_SHARD_QUEUE_URL"
ENV_SHARD_SIZE = "TRAINGUARD_SHARD_SIZE"
DEFAULT_SHARD_SIZE = 500
DIGEST_FUNCTION_NAME = "trainguard-digest"  # absent when digestSchedule is "off"
DIGEST_RULE_NAME = "trainguard-digest"
TRAINING_STATE_RULE_NAME = "trainguard-training-state"
TICK_RULE_NAME = "trainguard-tick"
HEALTH_ALARM_RULE_NAME = "trainguard-health-alarms"
# The stack's own alarms (CloudFormation's): cleanup of run-time alarms must skip these.
HEALTH_ALARM_PREFIX = "trainguard-health-"

# Powertools reads these (set on every function by the stack)
ENV_POWERTOOLS_SERVICE = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
ENV_POWERTOOLS_PARAMETERS_MAX_AGE = "POWERTOOLS_PARAMETERS_MAX_AGE"  # parameters' cache, seconds

# --- Runtime (added with the handlers; infra, the local run and tests import these) ---------
GPU_IDLE_ALARM_PREFIX = "trainguard-gpu-idle-"  # + "<job>-algo-<n>"; under ALARM_PREFIX
RUNNING_INDEX = "running"  # sparse GSI of the table, partition key RUNNING_ATTR, projection ALL
RUNNING_ATTR = "running_pk"
RUNNING_VALUE = "RUNNING"
TTL_ATTR = "ttl"
# sparse GSI of the audit records (DECISION# items only): partition AUDIT_DAY_ATTR (the UTC day,
# YYYY-MM-DD), sort AUDIT_AT_ATTR (the record's ISO-8601 time; not ``at``, which other items
# hold as a number and an index key has one type), projection ALL. ``trainguard report`` and
# the weekly digest read a week as seven Queries, never a Scan.
AUDIT_INDEX = "audit"
AUDIT_DAY_ATTR = "audit_day"
AUDIT_AT_ATTR = "audit_at"
DEFAULT_AUDIT_TTL_DAYS = 90
# The audit records written since the audit became append-only live under their own partition,
# AUDIT#<job name> (adapters/dynamodb/keys.py): the functions' roles deny every UpdateItem and
# DeleteItem whose partition key (``dynamodb:LeadingKeys``) starts with it (docs/audit.md).
AUDIT_PK_PREFIX = "AUDIT#"

# EMF metric names (namespace METRICS_NAMESPACE, dimension service=SERVICE_NAME)
METRIC_TICKS = "Ticks"  # the evaluator's heartbeat: one per completed tick
METRIC_STOPS = "Stops"
METRIC_WOULD_STOPS = "WouldStops"
METRIC_ALERTS = "Alerts"
METRIC_DECISIONS = "Decisions"
METRIC_DOLLARS_SAVED = "EstimatedDollarsSaved"
METRIC_TICK_DURATION = "TickDurationMs"
METRIC_SHARDS = "Shards"  # shards the planner sent (0: it judged the fleet inline)
METRIC_SHARD_DURATION = "ShardDurationMs"  # one shard's evaluation
METRIC_JOB_ERRORS = "JobErrors"  # alarmed: a job's evaluation, a stop, an email failed
METRIC_STOP_FAILURES = "StopFailures"  # stops SageMaker refused (also in JobErrors)
METRIC_EMAIL_DEAD_LETTERS = "EmailDeadLetters"  # emails given up after every retry (alarmed)
METRIC_DEFERRED = "DeferredJobs"  # jobs left for the next tick when the time ran out
METRIC_DIGESTS = "DigestsSent"  # the weekly digest's heartbeat
METRIC_CONFIG_ERRORS = "ConfigErrors"  # an unusable runtime setting: stops disabled (alarmed)
METRIC_UNWATCHED = "UnwatchedJobs"  # opted-in jobs judged by a tick, not fully watched

# a group's policy item in the state table, GROUP#<group> / POLICY (trainguard calibrate
# --apply writes it with a POLICY#<applied_at> history copy; the evaluator reads it)
GROUP_POLICY_SK = "POLICY"

# the runtime controls (``trainguard pause | resume | mode``): items of the state table under
# one partition, CONTROL / GLOBAL and CONTROL / GROUP#<group>, each a JSON ``value``; every change
# is also kept under CONTROL_HISTORY / <ISO time> (who, when, why)
CONTROL_PK = "CONTROL"
CONTROL_GLOBAL_SK = "GLOBAL"
CONTROL_GROUP_PREFIX = "GROUP#"
CONTROL_HISTORY_PK = "CONTROL_HISTORY"
CONTROLS_MAX_AGE_S = 30  # a function re-reads them at most this long after: the next tick
