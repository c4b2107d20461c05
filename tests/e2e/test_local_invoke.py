"""``trainguard local invoke`` of the lifecycle function with AWS's documented sample event
(a Completed job with ``"Tags": {}`` that the fresh emulator has never seen), end to end: the
real deploy into moto server, the job registered from the event, a prompt, clear result."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from trainguard_tools.cli import main

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "examples" / "aws-sample-training-job-state-change.json"


def test_the_aws_sample_event_gives_a_prompt_clear_result(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if shutil.which("npx") is None or not (REPO_ROOT / "node_modules" / ".bin" / "cdk").exists():
        pytest.skip("the pinned CDK CLI is not installed (make setup)")
    began = time.monotonic()
    code = main(["local", "invoke", "lifecycle", "--event", str(SAMPLE), "--json"])
    elapsed = time.monotonic() - began
    out, err = capsys.readouterr()
    invocation = json.loads(out)
    assert code == 0 and invocation["ok"], invocation["error"]
    result = invocation["result"]
    assert result["job"] == "89c96cc8-dded-4739-afcc-6f1dc936701d"
    assert (result["status"], result["action"], result["opted_in"]) == (
        "Completed",
        "finalized",
        False,
    )
    assert invocation["aws_calls"]["SageMaker.ListTags"] == 1  # answered, not retried
    assert invocation["duration_ms"] < 10_000  # the handler itself: no retry loop
    assert elapsed < 180  # the deploy into moto takes 20-40 s
    assert any("registered training job kmeans-1" in note for note in invocation["notes"])
    assert "Traceback" not in err  # (the CloudFormation noise: tests/unit/test_emulator_deploy)
