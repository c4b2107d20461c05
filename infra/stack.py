"""TrainguardStack: the whole control plane in one stack, one construct per capability."""

from __future__ import annotations

from aws_cdk import Stack
from constructs import Construct

from infra.capabilities.alarms import HealthAlarms
from infra.capabilities.chat import ChatChannels
from infra.capabilities.cleanup import AlarmCleanup
from infra.capabilities.dashboard import Dashboard
from infra.capabilities.digest import Digest
from infra.capabilities.events import EventWiring
from infra.capabilities.functions import LOG_RETENTION, RUNTIME, Functions
from infra.capabilities.notifications import Notifications
from infra.capabilities.state import StateTable
from infra.config import TrainguardConfig

STACK_NAME = "Trainguard"


class TrainguardStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: TrainguardConfig, **kwargs: object
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="trainguard: early stopping, GPU-idle alerts and cost guards for "
            "SageMaker training",
            **kwargs,  # type: ignore[arg-type]
        )
        self.config = config
        self.state = StateTable(self, "State")
        self.notifications = Notifications(self, "Notifications", alert_email=config.alert_email)
        # Slack / Teams only when the context names a channel: no Chatbot resources otherwise
        self.chat = (
            ChatChannels(self, "Chat", config=config.chat, topic=self.notifications.topic)
            if config.chat is not None
            else None
        )
        self.functions = Functions(
            self,
            "Functions",
            config=config,
            table=self.state.table,
            topic=self.notifications.topic,
        )
        fns = self.functions
        # the weekly digest (absent with digestSchedule=off); before the alarms, which alarm
        # every dead-letter queue of the functions, its own included
        self.digest = (
            Digest(
                self,
                "Digest",
                schedule=config.digest_schedule,
                functions=fns,
                table=self.state.table,
                topic=self.notifications.topic,
            )
            if config.digest_schedule is not None
            else None
        )
        by_label = {
            "Lifecycle": fns.lifecycle,
            "Evaluator": fns.evaluator,
            "Alert": fns.alert,
            "Shard": fns.shard,
        }
        self.events = EventWiring(
            self,
            "Events",
            tick_minutes=config.tick_minutes,
            lifecycle=fns.lifecycle,
            evaluator=fns.evaluator,
            alert=fns.alert,
            dead_letter_queues=dict(fns.dead_letter_queues),
        )
        self.alarms = HealthAlarms(
            self,
            "Alarms",
            tick_minutes=config.tick_minutes,
            functions=by_label,
            evaluator=fns.evaluator,
            alert=fns.alert,
            dead_letter_queues=fns.dead_letter_queues,
            topic=self.notifications.topic,
            trainguard_alarms_arn=fns.trainguard_alarms_arn,
        )
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            functions=by_label,
            shard_dead_letters=fns.dead_letter_queues["Shard"],
        )
        self.cleanup = AlarmCleanup(
            self,
            "AlarmCleanup",
            runtime=RUNTIME,
            trainguard_alarms_arn=fns.trainguard_alarms_arn,
            log_retention=LOG_RETENTION[config.log_retention_days],
        )
        # Delete order on `cdk destroy`: rules and functions go first (nothing creates alarms
        # any more), then the cleanup resource deletes what they left behind.
        digest = (self.digest.function, self.digest.rule) if self.digest is not None else ()
        for dependent in (*fns.functions, *self.events.rules, *digest):
            dependent.node.add_dependency(self.cleanup.resource)
