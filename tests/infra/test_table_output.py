"""The stack outputs its table's name and its topic, where the operator commands
(``trainguard pause | status | calibrate --apply`` ...) look for them."""

from __future__ import annotations

import pytest
from infra_synth import Synthesized

from trainguard_tools.stack import output

pytestmark = pytest.mark.infra


def test_the_table_name_is_a_stack_output(synthesized: Synthesized) -> None:
    outputs = synthesized.template_json["Outputs"]
    (key,) = [k for k in outputs if "TableName" in k]
    (table,) = synthesized.template.find_resources("AWS::DynamoDB::Table")
    assert outputs[key]["Value"] == {"Ref": table}
    # as CloudFormation's DescribeStacks lists them: the commands pick that one, and the topic
    described = {k: f"value-of-{k}" for k in outputs}
    assert output(described, "TableName", "Trainguard") == f"value-of-{key}"
    (topic_key,) = [k for k in outputs if "TopicArn" in k]
    assert output(described, "TopicArn", "Trainguard") == f"value-of-{topic_key}"
