"""cdk-nag (v3): AwsSolutions checks run as a CDK validation plugin at synth; a finding that is not
acknowledged interrupts synthesis. Every acknowledgement goes through `acknowledge` with a reason.

cdk-nag v3 acknowledges each finding by its full id, e.g.
``AwsSolutions::AwsSolutions-IAM5[Resource::*]`` (plugin name, then rule and finding).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

PLUGIN = "AwsSolutions::"


def acknowledge(scope: IConstruct, finding_id: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding on ``scope`` and its children, with its reason."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PLUGIN}{finding_id}", reason=reason))
