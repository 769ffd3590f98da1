"""Wiring rules that linters miss, checked on template.yaml itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from boxcasb.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
GLOBALS: dict[str, Any] = TEMPLATE["Globals"]["Function"]

# Everything else on the HttpApi must be IAM-signed. The webhook route joins this set later.
ALLOWED_PUBLIC_ROUTES = {"GET /oauth/box/callback", "POST /webhooks/box"}
# Only functions that call Box with stored tokens may decrypt them.
MAY_DECRYPT_TOKENS = {
    "ApiTestFunction",
    "TokenKeeperFunction",
    "ActivityBackfillFunction",
    "ActivityPollerFunction",
    "WebhookSyncFunction",
    "ScanWorkerFunction",
    "PriorityScanFunction",
    "GovernanceFunction",  # restores a quarantined file in Box
    "DisconnectFunction",  # deletes webhooks in Box, then revokes the tokens
}


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


FUNCTIONS = of_type("AWS::Serverless::Function")


def routes() -> dict[str, dict[str, Any]]:
    found = {}
    for name, fn in FUNCTIONS.items():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                p = event["Properties"]
                found[f"{p['Method']} {p['Path']}"] = {"function": name, "auth": p.get("Auth", {})}
    return found


def statements(fn: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in fn["Properties"].get("Policies", []) for s in policy.get("Statement", [])]


def test_api_defaults_to_iam_and_public_routes_are_only_the_allowed_ones() -> None:
    (api,) = of_type("AWS::Serverless::HttpApi").values()
    assert api["Properties"]["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    public = {route for route, r in routes().items() if r["auth"].get("Authorizer") == "NONE"}
    assert "GET /oauth/box/callback" in public
    assert public <= ALLOWED_PUBLIC_ROUTES
    others = {route: r["auth"] for route, r in routes().items() if route not in public}
    assert others, "the admin API routes are missing"
    assert all(auth.get("Authorizer", "AWS_IAM") == "AWS_IAM" for auth in others.values())


def test_access_log_format_has_no_query_string() -> None:
    (api,) = of_type("AWS::Serverless::HttpApi").values()
    log_format = api["Properties"]["AccessLogSettings"]["Format"]
    assert "querystring" not in log_format.lower()
    assert "$context.path" not in log_format  # routeKey, not the raw path with its query


@pytest.mark.parametrize("name", sorted(of_type("AWS::DynamoDB::Table")))
def test_tables_have_pitr_sse_ttl_and_are_retained(name: str) -> None:
    table = RESOURCES[name]
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_functions_run_python313_on_arm64_with_the_core_and_policies_layers() -> None:
    assert GLOBALS["Runtime"] == "python3.13"
    assert GLOBALS["Architectures"] == ["arm64"]
    assert GLOBALS["Layers"] == [{"Ref": "CoreLayer"}, {"Ref": "PoliciesLayer"}]
    layer = RESOURCES["CoreLayer"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}
    # The deployed policies: the Makefile lays them out where POLICIES_DIR points.
    assert RESOURCES["PoliciesLayer"]["Metadata"] == {"BuildMethod": "makefile"}
    assert RESOURCES["PoliciesLayer"]["Properties"]["ContentUri"] == "policies/"
    assert GLOBALS["Environment"]["Variables"]["POLICIES_DIR"] == "/opt/policies"
    for name, fn in FUNCTIONS.items():
        assert (ROOT / fn["Properties"]["CodeUri"] / "app.py").is_file(), name
        assert fn["Properties"]["Handler"] == "app.lambda_handler"


def test_every_function_has_a_log_group_with_retention() -> None:
    groups = of_type("AWS::Logs::LogGroup").values()
    named = {str(g["Properties"].get("LogGroupName")) for g in groups}
    for name in FUNCTIONS:
        assert any(name in n for n in named), f"{name} has no log group (retention would be forever)"
    assert all("RetentionInDays" in g["Properties"] for g in groups)


def test_no_wildcard_actions_or_resources_in_function_policies() -> None:
    for name, fn in FUNCTIONS.items():
        for statement in statements(fn):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a == "*" or a.endswith(":*") for a in actions), name
            assert statement["Resource"] != "*", name


def test_only_box_callers_can_decrypt_tokens_and_the_api_cannot_touch_the_key() -> None:
    for name, fn in FUNCTIONS.items():
        kms_actions = {
            a for s in statements(fn) for a in s["Action"] if isinstance(a, str) and a.startswith("kms:")
        }
        if name in MAY_DECRYPT_TOKENS:
            assert "kms:Decrypt" in kms_actions, name
        else:
            assert "kms:Decrypt" not in kms_actions, name
    assert not statements(FUNCTIONS["ConnectionsApiFunction"])  # no KMS at all
    callback = {a for s in statements(FUNCTIONS["OAuthCallbackFunction"]) for a in s["Action"]}
    assert callback == {"kms:Encrypt"}


def test_the_disconnect_function_reaches_only_what_it_deletes() -> None:
    policies = FUNCTIONS["DisconnectFunction"]["Properties"]["Policies"]
    crud = {p["DynamoDBCrudPolicy"]["TableName"]["Ref"] for p in policies if "DynamoDBCrudPolicy" in p}
    assert crud == {"StateTable", "ActivityTable", "InventoryTable", "AlertsTable"}
    kms = [s for s in statements(FUNCTIONS["DisconnectFunction"]) if s["Sid"] == "RevokeTokens"]
    assert [s["Resource"] for s in kms] == [{"Fn::GetAtt": ["TokenKey", "Arn"]}]
    assert not any("SQS" in name or "SNS" in name or "Lambda" in name for p in policies for name in p)
    api = FUNCTIONS["ConnectionsApiFunction"]["Properties"]
    assert {"LambdaInvokePolicy": {"FunctionName": {"Ref": "DisconnectFunction"}}} in api["Policies"]
    assert routes()["DELETE /connections/{connection_id}"]["function"] == "ConnectionsApiFunction"


def test_every_environment_variable_is_a_setting_or_a_powertools_one() -> None:
    names = set(GLOBALS["Environment"]["Variables"])
    for fn in FUNCTIONS.values():
        names |= set(fn["Properties"].get("Environment", {}).get("Variables", {}))
    unknown = {n for n in names if not n.startswith("POWERTOOLS_") and n.lower() not in Settings.model_fields}
    assert not unknown


def test_every_sample_event_belongs_to_a_function() -> None:
    code_dirs = {Path(fn["Properties"]["CodeUri"]).name for fn in FUNCTIONS.values()}
    events = sorted((ROOT / "events").glob("*.json"))
    assert events
    for event in events:
        assert any(event.stem.startswith(d) for d in code_dirs), event.name
    for directory in code_dirs:
        assert any(e.stem.startswith(directory) for e in events), f"no sample event for {directory}"


def test_secrets_hold_no_credentials_in_the_template() -> None:
    secrets = {
        name: s["Properties"]["SecretString"] for name, s in of_type("AWS::SecretsManager::Secret").items()
    }
    assert secrets == {
        "BoxAppSecret": '{"client_id": "", "client_secret": ""}',
        "WebhookKeysSecret": '{"primary": "", "secondary": ""}',
    }


def test_the_public_webhook_intake_reads_no_token_and_no_app_secret() -> None:
    intake = FUNCTIONS["WebhookIntakeFunction"]["Properties"]
    policies = json.dumps(intake["Policies"])
    assert "kms:" not in policies
    assert "BoxAppSecret" not in policies
    assert "DynamoDBCrudPolicy" not in policies  # exact actions only
    events = intake["Events"].values()
    assert [(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events] == [
        ("POST", "/webhooks/box")
    ]
    assert all(e["Properties"]["Auth"] == {"Authorizer": "NONE"} for e in events)


def sqs_sources() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, event["Properties"])
        for name, fn in FUNCTIONS.items()
        for event in fn["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]


def test_every_queue_has_a_dead_letter_queue_or_is_one() -> None:
    queues = of_type("AWS::SQS::Queue")
    dlqs = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert dlqs, "no queue has a dead-letter queue"
    for name, queue in queues.items():
        props = queue["Properties"]
        assert name in dlqs or "RedrivePolicy" in props, name
        if "RedrivePolicy" in props:
            assert 1 < props["RedrivePolicy"]["maxReceiveCount"] <= 10, name
        assert props.get("SqsManagedSseEnabled") is True, name


def test_consumers_report_partial_failures_and_outlive_their_timeout() -> None:
    sources = sqs_sources()
    assert sources
    for name, source in sources:
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        queue = RESOURCES[source["Queue"]["Fn::GetAtt"][0]]["Properties"]
        timeout = FUNCTIONS[name]["Properties"].get("Timeout", GLOBALS["Timeout"])
        assert queue["VisibilityTimeout"] >= 6 * timeout, name


def test_the_alerts_table_has_the_keys_its_store_uses() -> None:
    from boxcasb.alerts.store import TABLE_KEYS

    props = RESOURCES["AlertsTable"]["Properties"]
    for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes"):
        assert props[key] == TABLE_KEYS[key], key
