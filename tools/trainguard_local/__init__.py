"""The test harness: the local AWS emulator, its shims for what moto lacks, and the demo.

Not the product: nothing here ships to Lambda or is needed to operate trainguard. Its
dependencies (moto, matplotlib) are the ``local`` dependency group (``uv sync --group
local``; ``uv sync`` installs it with ``dev``). The ``trainguard`` CLI registers ``demo``
and ``local invoke`` from here and imports moto only when one of them runs.

The pieces (each module's docstring says what moto lacks and what the shim does):

- :mod:`.emulator`: :class:`Emulator`, moto's ``ThreadedMotoServer`` on loopback in this process.
- :mod:`.clock`: :class:`SimClock`, the run's one time base (simulated time on recent real
  datetimes).
- :mod:`.sagemaker_shim`: :class:`SageMakerShim`, jobs ``InProgress`` until the fleet ends them,
  ``StopTrainingJob``, "SageMaker Training Job State Change" events.
- :mod:`.router`: :class:`Wiring` (deployed rules, targets, functions read from the emulator) and
  :class:`EventRouter` (events and schedule ticks -> handlers run in-process).
- :mod:`.alarms`: :class:`AlarmEvaluator`, evaluates the ``trainguard-`` alarms and runs their
  actions.
- :mod:`.mailbox`: :class:`Mailbox`, the emails published to the topic.
- :mod:`.lambda_context`: :class:`LambdaContext`, the one fake Lambda context.
- :mod:`.emulator_deploy`: the real ``cdk deploy`` into the emulator (and the stand-in for the
  public Powertools layer).
- :mod:`.state_table`: the stack's table created through the API (for in-process moto).
- :mod:`.moto_harness`: :class:`MotoHarness`, in-process moto (``mock_aws``) with the table,
  topic, mailbox and SageMaker shim, and the runtime's dependencies: the tests' and the bench's.
- :mod:`.invoke`: ``trainguard local invoke``; :mod:`.demo`: ``trainguard demo``.

A run, end to end::

    clock = SimClock.ending_now(timedelta(hours=4))
    with Emulator() as emu, SageMakerShim(clock=clock.now) as shim:
        deploy(emu.endpoint_url)                        # the CDK deploy (emulator_deploy)
        wiring = Wiring.read(emu.endpoint_url)
        router = EventRouter(wiring, endpoint_url=emu.endpoint_url, sources=[shim])
        alarms = AlarmEvaluator(emu.endpoint_url, router)
        mailbox = Mailbox.attach(emu.endpoint_url, topic_arn)
        sm = emu.client("sagemaker")
        sm.create_training_job(...)                     # InProgress; event queued
        router.pump()                                   # lifecycle handler runs
        for _ in range(240):
            clock.advance(timedelta(minutes=1))
            ...                                         # put_metric_data at clock.now()
            shim.settle(clock.now())                    # Stopping -> Stopped when due
            router.tick(clock.now())                    # evaluator on its rate; pumps events
            alarms.evaluate(clock.now())                # alarm actions -> alert handler
        mailbox.emails(), router.failures, alarms.transitions

Exports are loaded lazily: the CLI imports this package's command modules without paying
for moto.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Emulator": "emulator",
    "ACCOUNT_ID": "emulator",
    "REGION": "emulator",
    "SimClock": "clock",
    "SageMakerShim": "sagemaker_shim",
    "ShimError": "sagemaker_shim",
    "state_change_event": "sagemaker_shim",
    "Wiring": "router",
    "EventRouter": "router",
    "Invocation": "router",
    "DeployedFunction": "router",
    "DeployedRule": "router",
    "RuleTarget": "router",
    "LambdaContext": "lambda_context",
    "count_aws_calls": "router",
    "AlarmEvaluator": "alarms",
    "AlarmSpec": "alarms",
    "AlarmTransition": "alarms",
    "decide_state": "alarms",
    "Mailbox": "mailbox",
    "Email": "mailbox",
    "MotoHarness": "moto_harness",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
