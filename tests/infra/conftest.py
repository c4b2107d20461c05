"""Synthesize the stack once per test session (per xdist worker): jsii start-up dominates."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `infra` is the CDK app package at the repo root
    sys.path.insert(0, str(REPO_ROOT))

from infra_synth import CDK_JSON_CONTEXT, Synthesized, synthesize  # noqa: E402

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The stack with cdk.json's defaults plus an alert email (so the subscription exists)."""
    context = {**CDK_JSON_CONTEXT, "alertEmail": "ml-platform@example.com"}
    yield synthesize(context, tmp_path_factory.mktemp("cdk.out"))
