"""A tiny SAM app written to a temp dir (template + handlers + layer) and one local stack running it.

The tiny app exercises every kind of wiring the runner reads from a template, so these
tests do not depend on the project's own handlers or on the fake Box.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from devstack.local_aws import LOCAL_IDENTITY
from devstack.stack import LocalStack

BOX_URL = "http://127.0.0.1:9"  # never called: the tiny handlers don't talk to Box

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {Type: String, Default: hello}
  BoxApiBaseUrl: {Type: String, Default: https://api.box.com}
  OAuthRedirectUri: {Type: String, Default: ""}
Conditions:
  HasRedirect: !Not [!Equals [!Ref OAuthRedirectUri, ""]]
  Never: !Equals [a, b]
Globals:
  Function:
    Runtime: python3.13
    Timeout: 10
    MemorySize: 256
    Layers: [!Ref Shared]
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        KEY_ARN: !GetAtt Key.Arn
        BOX_APP_SECRET_ARN: !Ref Secret
        QUEUE_URL: !Ref Queue
        GREETING: !Sub "${Greeting} from ${AWS::Region} in ${AWS::AccountId}"
        BOX_URL: !Ref BoxApiBaseUrl
        REDIRECT: !If [HasRedirect, !Ref OAuthRedirectUri, !Ref AWS::NoValue]
        DROPPED: !If [Never, never, !Ref AWS::NoValue]
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer/}
    Metadata: {BuildMethod: python3.13}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Key:
    Type: AWS::KMS::Key
    Properties: {Description: tiny}
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties: {SecretString: '{"client_id": "", "client_secret": ""}'}
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 2}
  Dlq:
    Type: AWS::SQS::Queue
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth: {EnableIamAuthorizer: true, DefaultAuthorizer: AWS_IAM}
  EchoLogs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: !Sub "/aws/lambda/${EchoFunction}"}
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.lambda_handler
      Timeout: 7
      Environment: {Variables: {PEER: !Ref WorkerFunction}}
      Events:
        GetItem: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/items/{item_id}"}}
        Special: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: ANY, Path: /items/special}}
        PostItem: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: POST, Path: /items}}
        Files: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/files/{path+}"}}
        Public:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: /public, Auth: {Authorizer: NONE}}
        Nightly:
          Type: Schedule
          Properties: {Schedule: "cron(0 3 * * ? *)", Input: '{"from": "rule"}'}
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: app.lambda_handler
      EventInvokeConfig: {MaximumRetryAttempts: 1}
      Environment: {Variables: {ROLE: worker}}
      Events:
        Every5:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(5 minutes)}
  ConsumerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: consumer/
      Handler: app.lambda_handler
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
"""

PROBE = '''\
"""Shared by the tiny handlers (it is their layer): remembers what they were called with."""
import threading

LOCK = threading.Lock()
CALLS = []
ATTEMPTS = {}


def record(function_name, event):
    with LOCK:
        CALLS.append((function_name, event))


def attempt(key):
    with LOCK:
        ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
        return ATTEMPTS[key]


def calls_of(function_name):
    with LOCK:
        return [event for name, event in CALLS if name == function_name]
'''

ECHO = """\
import base64
import json
import os

import boto3
import tinyprobe


def lambda_handler(event, context):
    tinyprobe.record(context.function_name, event)
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "plain":
        return {"hello": "world"}
    if mode == "text":
        return "just text"
    if mode == "cookies":
        return {"statusCode": 201, "cookies": ["a=1", "b=2"], "headers": {"x-test": "yes"}, "body": ""}
    if mode == "binary":
        body = base64.b64encode(bytes([0, 1, 255])).decode()
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": body, "isBase64Encoded": True}
    if mode == "malformed":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if mode == "async":
        boto3.client("lambda").invoke(
            FunctionName=os.environ["PEER"],
            InvocationType="Event",
            Payload=json.dumps({"key": "from-echo", "fail_first": 0}).encode(),
        )
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({
            "event": event,
            "function": context.function_name,
            "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "layer": tinyprobe.__file__,
        }),
    }
"""

WORKER = """\
import tinyprobe


def lambda_handler(event, context):
    tinyprobe.record(context.function_name, event)
    key = event.get("key", "-")
    attempt = tinyprobe.attempt(key)
    if attempt <= int(event.get("fail_first", 0)):
        raise RuntimeError(f"attempt {attempt} of {key} fails on purpose")
    return {"key": key, "attempt": attempt, "request_id": context.aws_request_id}
"""

CONSUMER = """\
import tinyprobe


def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        tinyprobe.record(context.function_name, record)
        if record["body"] == "bad":
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""


def write_app(root: Path, template: str, files: Mapping[str, str]) -> Path:
    """Write template.yaml and the given files (relative path -> source) under root."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    template_path = root / "template.yaml"
    template_path.write_text(template, encoding="utf-8")
    return template_path


def write_tiny_app(root: Path) -> Path:
    return write_app(
        root,
        TEMPLATE,
        {
            "layer/tinyprobe.py": PROBE,
            "echo/app.py": ECHO,
            "worker/app.py": WORKER,
            "consumer/app.py": CONSUMER,
        },
    )


def sign(
    method: str,
    url: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    secret_key: str = LOCAL_IDENTITY.secret_key,
    service: str = "execute-api",
) -> dict[str, str]:
    """Headers for `requests`, signed the way boto3 clients sign (what the admin CLI does)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(LOCAL_IDENTITY.access_key, secret_key), service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


def sign_at(monkeypatch: pytest.MonkeyPatch, when: datetime, method: str, url: str) -> dict[str, str]:
    """Sign as if the clock said `when` (for expired signatures)."""
    with monkeypatch.context() as patched:
        patched.setattr(botocore.auth, "get_current_datetime", lambda: when)
        return sign(method, url)


@pytest.fixture(scope="package")
def tiny_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    template = write_tiny_app(tmp_path_factory.mktemp("tiny"))
    with LocalStack(template, box_base_url=BOX_URL) as stack:
        yield stack


@pytest.fixture
def probe(tiny_stack: LocalStack) -> Any:
    """The tiny layer's module, as the handlers see it; emptied before each test."""
    import tinyprobe  # type: ignore[import-not-found]  # on sys.path only while the stack runs

    with tinyprobe.LOCK:
        tinyprobe.CALLS.clear()
        tinyprobe.ATTEMPTS.clear()
    return tinyprobe
