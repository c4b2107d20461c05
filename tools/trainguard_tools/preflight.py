"""``make deploy``'s first step: say which account, region and identity the deploy goes to,
or, without credentials or a region, one line with the fix (exit 2) instead of a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from .stack import setup_problem

    session = boto3.session.Session()
    if not session.region_name:
        print(
            "make deploy: no AWS region: export AWS_DEFAULT_REGION=us-east-1 (your region) or set "
            "one in your profile (aws configure)",
            file=sys.stderr,
        )
        return 2
    try:
        identity = session.client("sts").get_caller_identity()
    except BotoCoreError as exc:
        print(f"make deploy: {setup_problem(exc) or exc}", file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"make deploy: AWS refused GetCallerIdentity: {exc}", file=sys.stderr)
        return 2
    print(
        f"Deploying trainguard to account {identity['Account']} in region "
        f"{session.region_name} as {identity['Arn']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
