"""Synthesis helper for the infra tests (imported by conftest and tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


@dataclass
class Synthesized:
    stack: Any
    template: Any  # aws_cdk.assertions.Template
    template_json: dict[str, Any]
    template_path: Path


def synthesize(context: dict[str, Any], outdir: Path) -> Synthesized:
    from aws_cdk.assertions import Template

    from infra.app import build_app
    from infra.stack import STACK_NAME

    app = build_app(context=context, outdir=str(outdir))
    assembly = app.synth()  # runs the cdk-nag validation plugin: fails on any finding
    stack = app.node.find_child(STACK_NAME)
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    path = Path(assembly.directory) / artifact.template_file
    return Synthesized(stack, Template.from_stack(stack), artifact.template, path)


CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))  # the locked cfn-lint in this venv


def assert_cfn_lint_clean(template: Path) -> None:
    """cfn-lint finds no error in ``template`` (warnings allowed: W3005, an explicit DependsOn
    also implied by GetAtt, is how CDK writes function roles)."""
    result = subprocess.run(
        [CFN_LINT, "--format", "parseable", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line or line.startswith("E")]
    assert not errors, result.stdout
    # exit code bits: 2 = errors, 4 = warnings, 8 = informational; 1 = cfn-lint itself failed
    assert result.returncode & 3 == 0, result.stdout + result.stderr
