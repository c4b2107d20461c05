"""Custom resource: on stack delete, delete the alarms the functions created at run time.

Deployed inline (ZipFile), so it stays small and uses only boto3 and the standard library.
It deletes alarms named ALARM_PREFIX* except the stack's own HEALTH_ALARM_PREFIX* alarms
(CloudFormation deletes those).
"""

import json
import os
import urllib.request

import boto3

PREFIX = os.environ.get("ALARM_PREFIX", "trainguard-")
KEEP = os.environ.get("KEEP_PREFIX", "trainguard-health-")


def runtime_alarm_names(cloudwatch):
    names = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=PREFIX, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    ):
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            if not alarm["AlarmName"].startswith(KEEP):
                names.append(alarm["AlarmName"])
    return names


def delete_runtime_alarms(cloudwatch):
    names = runtime_alarm_names(cloudwatch)
    for i in range(0, len(names), 100):  # DeleteAlarms takes up to 100 names
        cloudwatch.delete_alarms(AlarmNames=names[i : i + 100])
    return len(names)


def _respond(event, context, status, reason, data):
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3000],
            "PhysicalResourceId": event.get("PhysicalResourceId") or "trainguard-alarm-cleanup",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    urllib.request.urlopen(request, timeout=30).read()


def handler(event, context):
    data = {}
    try:
        if event["RequestType"] == "Delete":
            data["Deleted"] = delete_runtime_alarms(boto3.client("cloudwatch"))
            print(json.dumps({"deleted_alarms": data["Deleted"]}))
        _respond(event, context, "SUCCESS", "ok", data)
    except Exception as exc:  # never leave the stack waiting an hour for a reply
        print(json.dumps({"error": repr(exc)}))
        _respond(event, context, "FAILED", repr(exc), data)
