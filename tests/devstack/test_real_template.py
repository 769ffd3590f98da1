"""The project's own template.yaml brought up locally: resources as declared, routes served as declared."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.stack import LocalStack
from tests.devstack.conftest import sign

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_stack() -> Iterator[LocalStack]:
    with LocalStack(
        ROOT / "template.yaml",
        box_base_url="http://127.0.0.1:9",
        box_client_id="cid",
        box_client_secret="csecret",
        poll_queues=False,
    ) as stack:
        yield stack


def test_state_table_matches_the_template(real_stack: LocalStack) -> None:
    dynamodb = real_stack.client("dynamodb")
    name = real_stack.env["TABLE_NAME"]

    table = dynamodb.describe_table(TableName=name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]

    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (gsi,) = table["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "gsi1"
    assert gsi["KeySchema"] == [
        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
    ]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_token_key_exists_with_rotation(real_stack: LocalStack) -> None:
    kms = real_stack.client("kms")
    key_arn = real_stack.env["TOKEN_KEY_ARN"]

    metadata = kms.describe_key(KeyId=key_arn)["KeyMetadata"]

    assert metadata["Enabled"] is True
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    # moto checks the encryption context on Decrypt, as KMS does.
    blob = kms.encrypt(KeyId=key_arn, Plaintext=b"t", EncryptionContext={"c": "1"})["CiphertextBlob"]
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"c": "2"})


def test_box_app_secret_is_configured(real_stack: LocalStack) -> None:
    secret = real_stack.client("secretsmanager").get_secret_value(
        SecretId=real_stack.env["BOX_APP_SECRET_ARN"]
    )

    assert json.loads(secret["SecretString"]) == {"client_id": "cid", "client_secret": "csecret"}


def test_environment_comes_from_the_template(real_stack: LocalStack) -> None:
    env = real_stack.env

    assert env["BOX_API_BASE_URL"] == "http://127.0.0.1:9"
    assert env["BOX_UPLOAD_BASE_URL"] == "http://127.0.0.1:9/api"
    assert env["BOX_AUTHORIZE_URL"] == "http://127.0.0.1:9/api/oauth2/authorize"
    assert env["OAUTH_REDIRECT_URI"] == real_stack.callback_url
    assert env["API_TEST_FUNCTION_NAME"] == "ApiTestFunction"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_routes_are_served_with_their_auth(real_stack: LocalStack) -> None:
    url = f"{real_stack.api_url}/connections"
    unsigned = requests.get(url, timeout=10)
    signed = requests.get(url, headers=sign("GET", url), timeout=10)
    callback = requests.get(f"{real_stack.api_url}/oauth/box/callback", timeout=10)

    assert unsigned.status_code == 403
    assert signed.status_code not in (403, 404)  # the handler's answer, whatever it is today
    assert callback.status_code not in (403, 404)  # public route: reached without a signature


def test_every_function_is_loaded(real_stack: LocalStack) -> None:
    assert {real_stack.function_name(f) for f in real_stack.template.functions} == set(
        real_stack.template.functions
    )
    assert sorted(s.function_id for s in real_stack.template.schedules) == [
        "ActivityPollerFunction",
        "AlertNotifierFunction",
        "ScanSchedulerFunction",
        "TokenKeeperFunction",
        "WebhookSyncFunction",
    ]
