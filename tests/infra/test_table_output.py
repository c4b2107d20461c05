"""The stack outputs its table's name, where ``trainguard calibrate --apply`` looks for it."""

from __future__ import annotations

import pytest
from infra_synth import Synthesized

from trainguard_tools.calibrate import table_from_outputs

pytestmark = pytest.mark.infra


def test_the_table_name_is_a_stack_output(synthesized: Synthesized) -> None:
    outputs = synthesized.template_json["Outputs"]
    (key,) = [k for k in outputs if "TableName" in k]
    (table,) = synthesized.template.find_resources("AWS::DynamoDB::Table")
    assert outputs[key]["Value"] == {"Ref": table}
    # as CloudFormation's DescribeStacks lists them: calibrate picks that one
    described = [{"OutputKey": k, "OutputValue": f"value-of-{k}"} for k in outputs]
    assert table_from_outputs(described) == f"value-of-{key}"
