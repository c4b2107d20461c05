"""A small IAM evaluator for the synthesized template (tests only): does a function's role
allow an AWS call the function made?

* :class:`Template` resolves the template's intrinsic functions to the ARNs of a concrete
  account (the moto harness's table, topic, queue and functions);
* :func:`requests_of` turns one recorded API call (service, operation, parameters) into the
  IAM requests it needs: the action, the resource ARN and the condition keys the request
  carries (``dynamodb:LeadingKeys``, ``aws:RequestTag/*``, ``iam:PassedToService``);
  a transaction is one request per item, CreateTrainingJob with tags also needs
  ``sagemaker:AddTags`` and ``iam:PassRole`` for its role, PutMetricAlarm with tags
  ``cloudwatch:TagResource``; an operation it does not know fails loudly;
* :func:`allowed`: an Allow statement matches (action, resource, conditions) and no Deny does
  (identity policies; a resource policy is checked the same way with ``aws:PrincipalArn``).

Conditions are evaluated for the operators the stack uses (String*, Arn*, with the
``ForAnyValue`` / ``ForAllValues`` set operators; a missing key fails a positive operator
and satisfies a negated one, as IAM does); any other operator raises.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Context = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Context = field(default_factory=dict)


@dataclass
class Account:
    region: str
    account: str
    table: str
    topic_arn: str
    shard_queue_arn: str

    def arn(self, service: str, resource: str) -> str:
        region = "" if service == "iam" else self.region
        return f"arn:aws:{service}:{region}:{self.account}:{resource}"


class Template:
    """The template's resources, resolved for ``account``."""

    def __init__(self, template: Mapping[str, Any], account: Account) -> None:
        self.resources: Mapping[str, Any] = template["Resources"]
        self.account = account

    def _type(self, logical: str) -> str:
        return str(self.resources.get(logical, {}).get("Type", ""))

    def _arn_of(self, logical: str) -> str:
        kind, acct = self._type(logical), self.account
        props = self.resources.get(logical, {}).get("Properties", {})
        if kind == "AWS::DynamoDB::Table":
            return acct.arn("dynamodb", f"table/{acct.table}")
        if kind == "AWS::SNS::Topic":
            return acct.topic_arn
        if kind == "AWS::SQS::Queue":
            if "RedrivePolicy" in props and logical.startswith("FunctionsShardQueue"):
                return acct.shard_queue_arn
            return acct.arn("sqs", logical)
        if kind == "AWS::IAM::Role":
            return acct.arn("iam", f"role/{logical}")
        if kind == "AWS::Lambda::Function":
            return acct.arn("lambda", f"function:{props.get('FunctionName', logical)}")
        return f"<unresolved {logical}>"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if "Ref" in value:
            ref = value["Ref"]
            pseudo = {
                "AWS::Partition": "aws",
                "AWS::Region": self.account.region,
                "AWS::AccountId": self.account.account,
                "AWS::URLSuffix": "amazonaws.com",
            }
            if ref in pseudo:
                return pseudo[ref]
            if self._type(ref) == "AWS::SNS::Topic":
                return self.account.topic_arn
            return f"<unresolved {ref}>"
        if "Fn::GetAtt" in value:
            logical, attr = value["Fn::GetAtt"]
            return self._arn_of(logical) if attr == "Arn" else f"<unresolved {logical}.{attr}>"
        if "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return sep.join(str(self.resolve(p)) for p in parts)
        return f"<unresolved {value}>"

    def role_of_function(self, function_name: str) -> str:
        for res in self.resources.values():
            props = res.get("Properties", {})
            if (
                res["Type"] == "AWS::Lambda::Function"
                and props.get("FunctionName") == function_name
            ):
                return str(props["Role"]["Fn::GetAtt"][0])
        raise AssertionError(f"no function {function_name}")

    def role_statements(self, role: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for res in self.resources.values():
            if res["Type"] == "AWS::IAM::Policy" and {"Ref": role} in res["Properties"]["Roles"]:
                out += [
                    self.resolve_statement(s)
                    for s in res["Properties"]["PolicyDocument"]["Statement"]
                ]
        return out

    def queue_policy(self, queue_logical: str) -> list[dict[str, Any]]:
        for res in self.resources.values():
            props = res.get("Properties", {})
            if res["Type"] == "AWS::SQS::QueuePolicy" and props["Queues"] == [
                {"Ref": queue_logical}
            ]:
                return [self.resolve_statement(s) for s in props["PolicyDocument"]["Statement"]]
        return []

    def resolve_statement(self, st: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(st)
        for key in ("Action", "Resource"):
            if key in st:
                value = self.resolve(st[key])
                out[key] = value if isinstance(value, list) else [value]
        if "Condition" in st:
            out["Condition"] = {
                op: {k: _as_list(self.resolve(v)) for k, v in kv.items()}
                for op, kv in st["Condition"].items()
            }
        return out


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _like(pattern: str, value: str) -> bool:
    """IAM's ``*`` and ``?`` (nothing else is special)."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _condition_holds(op: str, key: str, expected: list[str], context: Context) -> bool:
    qualifier, _, base = op.rpartition(":")
    negated = "Not" in base
    positive = base.replace("Not", "")
    if positive in ("StringLike", "ArnLike", "ArnEquals"):
        match = _like
    elif positive in ("StringEquals", "Bool"):

        def match(pattern: str, value: str) -> bool:
            return pattern == value

    else:
        raise AssertionError(f"condition operator {op} not evaluated by this test")
    values = list(context.get(key) or ())
    if qualifier and negated:
        raise AssertionError(f"condition operator {op} not evaluated by this test")
    if qualifier == "ForAnyValue":
        return any(match(p, v) for v in values for p in expected)
    if qualifier == "ForAllValues":
        return all(any(match(p, v) for p in expected) for v in values)  # none: true
    if qualifier:
        raise AssertionError(f"condition operator {op} not evaluated by this test")
    if not values:
        return negated  # a missing key: a negated operator holds, a positive one does not
    hit = any(match(p, values[0]) for p in expected)
    return not hit if negated else hit


def _statement_matches(st: Mapping[str, Any], request: Request) -> bool:
    if not any(fnmatch.fnmatchcase(request.action.lower(), a.lower()) for a in st["Action"]):
        return False
    if not any(_like(r, request.resource) for r in st.get("Resource", ["*"])):
        return False
    for op, kv in st.get("Condition", {}).items():
        for key, expected in kv.items():
            if not _condition_holds(op, key, expected, request.context):
                return False
    return True


def allowed(statements: Sequence[Mapping[str, Any]], request: Request) -> bool:
    """An Allow matches and no Deny does."""
    if any(st["Effect"] == "Deny" and _statement_matches(st, request) for st in statements):
        return False
    return any(st["Effect"] == "Allow" and _statement_matches(st, request) for st in statements)


def denied(statements: Sequence[Mapping[str, Any]], request: Request) -> bool:
    """A Deny matches (a resource policy: everything not denied is up to the identity's)."""
    return any(st["Effect"] == "Deny" and _statement_matches(st, request) for st in statements)


# ---- from a recorded call to the IAM requests it needs -----------------------------------------
def _pk(key: Mapping[str, Any] | None) -> list[str]:
    value = (key or {}).get("pk", {})
    return [str(value["S"])] if "S" in value else []


def _query_leading_keys(params: Mapping[str, Any]) -> list[str]:
    if params.get("IndexName"):
        return []  # an index's partition key is not the table's: no LeadingKeys asserted
    match = re.search(r"\bpk\s*=\s*(:\w+)", str(params.get("KeyConditionExpression", "")))
    if not match:
        return []
    return _pk({"pk": params.get("ExpressionAttributeValues", {}).get(match.group(1), {})})


_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
_TRANSACT["ConditionCheck"] = "ConditionCheckItem"


def _dynamodb(acct: Account, op: str, params: Mapping[str, Any]) -> list[Request]:
    def table(name: str, index: str | None = None) -> str:
        arn = acct.arn("dynamodb", f"table/{name}")
        return f"{arn}/index/{index}" if index else arn

    if op in ("GetItem", "DeleteItem", "UpdateItem"):
        return [
            Request(
                f"dynamodb:{op}",
                table(params["TableName"]),
                {"dynamodb:LeadingKeys": _pk(params["Key"])},
            )
        ]
    if op == "PutItem":
        return [
            Request(
                "dynamodb:PutItem",
                table(params["TableName"]),
                {"dynamodb:LeadingKeys": _pk(params["Item"])},
            )
        ]
    if op in ("Query", "Scan"):
        ctx = {"dynamodb:LeadingKeys": _query_leading_keys(params)} if op == "Query" else {}
        return [Request(f"dynamodb:{op}", table(params["TableName"], params.get("IndexName")), ctx)]
    if op == "BatchGetItem":
        return [
            Request(
                "dynamodb:BatchGetItem",
                table(name),
                {"dynamodb:LeadingKeys": [k for key in req["Keys"] for k in _pk(key)]},
            )
            for name, req in params["RequestItems"].items()
        ]
    if op == "TransactWriteItems":
        out = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            keys = _pk(body.get("Key") or body.get("Item"))
            out.append(
                Request(
                    f"dynamodb:{_TRANSACT[kind]}",
                    table(body["TableName"]),
                    {"dynamodb:LeadingKeys": keys},
                )
            )
        return out
    if op == "DescribeTable":
        return [Request("dynamodb:DescribeTable", table(params["TableName"]))]
    raise AssertionError(f"dynamodb:{op} has no mapping in this test: add it")


def requests_of(
    acct: Account, service: str, op: str, params: Mapping[str, Any], tags_of: Any
) -> list[Request]:
    """The IAM requests of one call; ``tags_of(job_name)``: a training job's tags now."""
    if service == "dynamodb":
        return _dynamodb(acct, op, params)
    if service == "sagemaker":

        def job(name: str) -> str:
            return acct.arn("sagemaker", f"training-job/{name.lower()}")

        if op in ("DescribeTrainingJob",):
            return [Request(f"sagemaker:{op}", job(params["TrainingJobName"]))]
        if op == "StopTrainingJob":
            arn = job(params["TrainingJobName"])
            tags = {
                f"aws:ResourceTag/{k}": [v] for k, v in tags_of(params["TrainingJobName"]).items()
            }
            return [Request("sagemaker:StopTrainingJob", arn, tags)]
        if op == "ListTags":
            return [Request("sagemaker:ListTags", str(params["ResourceArn"]))]
        if op == "ListTrainingJobs":
            return [Request("sagemaker:ListTrainingJobs", "*")]
        if op == "CreateTrainingJob":
            arn = job(params["TrainingJobName"])
            request_tags: dict[str, Sequence[str]] = {
                f"aws:RequestTag/{t['Key']}": [t["Value"]] for t in params.get("Tags", [])
            }
            request_tags["aws:TagKeys"] = [t["Key"] for t in params.get("Tags", [])]
            out = [Request("sagemaker:CreateTrainingJob", arn, request_tags)]
            if params.get("Tags"):
                out.append(Request("sagemaker:AddTags", arn, request_tags))
            passed = {"iam:PassedToService": ["sagemaker.amazonaws.com"]}
            out.append(Request("iam:PassRole", str(params["RoleArn"]), passed))
            return out
    if service == "cloudwatch":

        def alarm(name: str) -> str:
            return acct.arn("cloudwatch", f"alarm:{name}")

        if op in ("GetMetricData", "DescribeAlarms", "ListMetrics"):
            return [Request(f"cloudwatch:{op}", "*")]
        if op == "PutMetricAlarm":
            out = [Request("cloudwatch:PutMetricAlarm", alarm(params["AlarmName"]))]
            if params.get("Tags"):
                out.append(Request("cloudwatch:TagResource", alarm(params["AlarmName"])))
            return out
        if op == "DeleteAlarms":
            return [Request("cloudwatch:DeleteAlarms", alarm(n)) for n in params["AlarmNames"]]
        if op == "TagResource":
            return [Request("cloudwatch:TagResource", str(params["ResourceARN"]))]
    if service == "sns" and op == "Publish":
        return [Request("sns:Publish", str(params.get("TopicArn") or params.get("TargetArn")))]
    if service == "sqs" and op in ("SendMessage", "SendMessageBatch"):
        name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        return [Request("sqs:SendMessage", acct.arn("sqs", name))]
    raise AssertionError(f"{service}:{op} has no mapping in this test: add it")
