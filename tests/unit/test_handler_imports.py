"""What a handler's cold start imports (issue 19: no handler's import grows; bench/RESULTS.md
cold_start has the figures). A module needed only on a rare path is imported when that path is
first taken, and the ports are the type checker's: these tests keep such a module out of the
handlers' imports, and check that the rare path still finds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"

# module -> why a cold start leaves it out
RARE = {
    "trainguard.ports": "protocols: imported for the type checker only",
    "trainguard.logic.retry": "a capacity retry: the first failure or retry carry-out",
    "trainguard.logic.revalidate": "a resumed act (an earlier invocation died mid-act)",
    "trainguard.core.hang": "built by a job's settings when the tick first judges hangs",
    "trainguard.core.straggler": "built by a job's settings when the tick first judges it",
    "trainguard.core.runtime_guard": "built by a job's settings when the tick first judges it",
    "trainguard.adapters.chat": "the chat card: when a message is sent",
}
# besides, per handler (module -> why)
RARE_FOR = {
    "lifecycle": {
        "trainguard.logic.actions": "the failure notice: the ledger's carry-outs",
        "trainguard.logic.messages": "the failure notice's text",
        "trainguard.logic.shards": "only the shard function reads shard messages",
        "trainguard.core.engine": "the objective rules: built when a job's settings need them",
        "trainguard.logic.report": "the audit's reader: the digest, an evidence revival",
    },
    "alert": {
        "trainguard.logic.shards": "only the shard function reads shard messages",
        "trainguard.logic.report": "the audit's reader: the digest, an evidence revival",
    },
    "digest": {
        "trainguard.logic.shards": "only the shard function reads shard messages",
        "trainguard.logic.actions": "the digest reads coverage without acting",
        "trainguard.logic.revive": "the digest reads coverage without acting",
    },
    "evaluator": {
        "trainguard.logic.lifecycle": "the reconcile of a lost event",
        "trainguard.logic.shards": "the fan-out of a fleet larger than a shard",
        "trainguard.logic.report": "the audit's reader: the digest, an evidence revival",
    },
    "shard": {
        "trainguard.logic.lifecycle": "the reconcile of a lost event",
        "trainguard.logic.report": "the audit's reader: the digest, an evidence revival",
    },
}


def fresh(code: str) -> object:
    """What ``code`` prints as JSON in a fresh interpreter importing the asset's sources."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=LAMBDAS,
        env={
            **os.environ,
            "PYTHONPATH": str(LAMBDAS),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",  # no bytecode written into the asset
        },
    )
    return json.loads(out.stdout)


def loaded(module: str) -> set[str]:
    """The trainguard modules a fresh interpreter holds after importing ``module``."""
    names = fresh(
        f"import json, sys; import {module}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('trainguard'))))"
    )
    assert isinstance(names, list)
    return set(names)


@pytest.mark.parametrize("handler", sorted(RARE_FOR))
def test_a_cold_start_leaves_the_rare_paths_out(handler: str) -> None:
    modules = loaded(f"trainguard.handlers.{handler}")
    assert f"trainguard.handlers.{handler}" in modules
    wrongly = {m: why for m, why in {**RARE, **RARE_FOR[handler]}.items() if m in modules}
    assert not wrongly, f"{handler} imports at its cold start: {wrongly}"


# in a fresh interpreter: the trainguard modules whose import is under way when boto3's starts
_UNDER_WAY_AT_BOTO3 = """
import json, sys
class Spy:
    seen = None
    def find_spec(self, name, path=None, target=None):
        if name == "boto3" and Spy.seen is None:
            Spy.seen = sorted(
                m for m, module in list(sys.modules.items())
                if m.startswith("trainguard") and getattr(module.__spec__, "_initializing", False)
            )
        return None
sys.meta_path.insert(0, Spy())
import trainguard.handlers.%s
print(json.dumps(Spy.seen))
"""


@pytest.mark.parametrize("handler", sorted(RARE_FOR))
def test_boto3_is_imported_at_the_handlers_package_top(handler: str) -> None:
    """Imported from deep inside the package's imports, boto3's own import crossed one of
    CPython 3.13's frame-stack chunks thousands of times (trainguard/handlers/__init__.py):
    it is imported first, by the handlers package, before any other module of ours."""
    assert fresh(_UNDER_WAY_AT_BOTO3 % handler) == ["trainguard.handlers"]


@pytest.mark.parametrize("handler", sorted(RARE_FOR))
def test_boto3s_objects_are_frozen_and_ours_are_collected_as_usual(handler: str) -> None:
    """boto3's module-level objects are moved out of the collector's generations
    (``gc.freeze``, trainguard/handlers/__init__.py): no later collection walks them; our own
    modules' objects, created after, are still tracked."""
    tracked = fresh(
        f"import gc, json, sys; import trainguard.handlers.{handler}; "
        "tracked = {id(o) for o in gc.get_objects()}; "
        "ours, theirs = sys.modules['trainguard.models'].JobRecord, sys.modules['boto3'].Session; "
        "print(json.dumps([id(theirs) in tracked, id(ours) in tracked]))"
    )
    assert tracked == [False, True]


def test_the_rare_paths_find_their_modules() -> None:
    """What the rare paths import lazily resolves (a renamed function fails here, not in the
    first failed job of a deployment)."""
    from trainguard.config import JobSettings, Policy
    from trainguard.logic import act, actions, reconcile
    from trainguard.logic.ledger import ActionKind

    assert actions.CARRY_OUTS[ActionKind.RETRY].__name__ == "_carry_out_retry"
    from trainguard.logic.lifecycle import apply_change, change_from_description, create_alarms
    from trainguard.logic.retry import carry_out
    from trainguard.logic.revalidate import revalidate

    assert callable(carry_out) and callable(revalidate) and callable(create_alarms)
    assert callable(apply_change) and callable(change_from_description)
    assert act and reconcile
    from trainguard.adapters.chat import message_notification_json
    from trainguard.logic.report import format_csv, read_audit

    assert callable(message_notification_json) and callable(read_audit) and callable(format_csv)
    from trainguard.logic.shards import Shard, plan_shards

    assert callable(plan_shards) and Shard.from_message is not None
    settings = JobSettings("g", "loss", "minimize", "observe", Policy())
    assert settings.hang and settings.straggler and settings.runtime_guard
    assert settings.throughput and settings.gpu_idle and settings.rules.ordered is not None
