"""Checks an AWS account (or an emulator) before scripts/deploy.sh deploys a stage.

Usage: preflight.py <region> Key="Value" ...  (the parameter overrides deploy.sh passes)

It fails, saying what to do, on what would make the deployment fail or the
product not work there (docs/operations.md, "First deploy to an AWS account"):
  - NotificationSender on a domain no one can verify (example.org, .test, ...);
  - no verified SES identity for it, unless the stack creates one
    (CreateSenderIdentity=true);
  - access logging without API Gateway's account CloudWatch role, unless the
    stack sets it (ApiGatewayCloudWatchRole=true).
It warns when the SES account is still in the sandbox.
"""
import os
import sys

import boto3
from botocore.exceptions import ClientError

# RFC 2606 and RFC 6761 names: no one receives mail there, so SES cannot verify them.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TLDS = ("example", "test", "invalid", "localhost", "local")


def params(args):
    out = {}
    for a in args:
        k, _, v = a.partition("=")
        out[k] = v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v
    return out


def main():
    region, p = sys.argv[1], params(sys.argv[2:])
    emulator = bool(os.environ.get("AWS_ENDPOINT_URL"))
    problems, warnings = [], []

    sender = p.get("NotificationSender", "")
    domain = sender.rpartition("@")[2].lower()
    labels = domain.split(".")
    if not sender:
        problems.append("NotificationSender is not set: add it to the stage's parameters (an address on your domain)")
    elif not emulator and (labels[-1] in RESERVED_TLDS or any(domain == d or domain.endswith("." + d) for d in RESERVED_DOMAINS)):
        problems.append(f"NotificationSender {sender} is on a reserved domain SES cannot verify: set an address on your own domain")

    ses = boto3.client("sesv2", region_name=region)
    if sender and p.get("CreateSenderIdentity", "false") != "true":
        candidates = [sender] + [".".join(labels[i:]) for i in range(len(labels) - 1)]
        verified = False
        for c in candidates:
            try:
                verified = ses.get_email_identity(EmailIdentity=c).get("VerifiedForSendingStatus", False)
            except ClientError as e:
                if e.response["Error"]["Code"] != "NotFoundException":
                    raise
                continue
            if verified:
                break
        if not verified:
            problems.append(
                f"no verified SES identity covers {sender} in {region}: verify its domain ({domain}) in SES first "
                "(docs/operations.md), or deploy with CreateSenderIdentity=true and verify the identity the stack creates")
    try:
        if not ses.get_account().get("ProductionAccessEnabled", False):
            warnings.append("SES is in the sandbox in this region: emails reach only verified addresses until you request production access")
    except ClientError:
        pass

    if p.get("ApiGatewayCloudWatchRole", "false") != "true":
        try:
            role = boto3.client("apigateway", region_name=region).get_account().get("cloudwatchRoleArn")
        except ClientError:
            role = None
        if not role:
            problems.append(
                f"API Gateway has no CloudWatch Logs role in {region}, which the stages' access logging needs: "
                "deploy once with ApiGatewayCloudWatchRole=true (one stack per account and region), or set the role "
                "in API Gateway's settings (docs/operations.md)")

    for w in warnings:
        print("warning: " + w)
    if problems:
        print("The deployment would fail or not work:\n  - " + "\n  - ".join(problems), file=sys.stderr)
        sys.exit(1)
    print("preflight: the account is ready for this stage")


if __name__ == "__main__":
    main()
