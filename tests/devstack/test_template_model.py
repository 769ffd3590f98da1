"""template.yaml into typed descriptions: the real template, SAM's Globals rules, and loud failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.template_model import TemplateError, load_template, merge_globals
from tests.devstack.conftest import write_app

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: a/
      Handler: app.handler
      Events:
{events}
"""


def test_real_template_functions_routes_and_schedules() -> None:
    template = load_template(ROOT / "template.yaml")

    assert set(template.functions) >= {
        "ConnectionsApiFunction",
        "OAuthCallbackFunction",
        "ApiTestFunction",
        "TokenKeeperFunction",
    }
    api_test = template.functions["ApiTestFunction"]
    assert (api_test.timeout_seconds, api_test.memory_mb, api_test.max_async_retries) == (60, 256, 1)
    assert template.functions["TokenKeeperFunction"].max_async_retries == 2  # Lambda's default
    assert api_test.handler_file == ROOT / "functions" / "api_test" / "app.py"
    # Globals variables merged with the function's own.
    connections = template.functions["ConnectionsApiFunction"]
    assert {"TABLE_NAME", "TOKEN_KEY_ARN", "API_TEST_FUNCTION_NAME"} <= set(connections.environment)
    assert template.layers["CoreLayer"].python_dir == ROOT / "layers" / "core"

    auth = {route.route_key: route.auth for route in template.routes}
    assert auth["GET /oauth/box/callback"] == "NONE"
    assert auth["GET /connections/{connection_id}"] == "AWS_IAM"
    assert auth["POST /connections/{connection_id}/test"] == "AWS_IAM"

    keeper = [s for s in template.schedules if s.function_id == "TokenKeeperFunction"]
    assert [(s.kind, s.expression) for s in keeper] == [("ScheduleV2", "rate(1 day)")]
    assert template.resources["StateTable"].type == "AWS::DynamoDB::Table"


def test_globals_merge_like_sam() -> None:
    globals_ = {"Timeout": 30, "Layers": ["g"], "Environment": {"Variables": {"A": "1", "B": "1"}}}
    local = {"Timeout": 5, "Layers": ["f"], "Environment": {"Variables": {"B": "2", "C": "3"}}}

    merged = merge_globals(globals_, local)

    assert merged == {
        "Timeout": 5,
        "Layers": ["g", "f"],
        "Environment": {"Variables": {"A": "1", "B": "2", "C": "3"}},
    }
    assert merge_globals({"Ref": "X"}, {"Key": "v"}) == {"Key": "v"}  # an intrinsic is replaced, not merged


def test_event_without_api_id_uses_the_implicit_api_without_auth(tmp_path: Path) -> None:
    events = "        Get: {Type: HttpApi, Properties: {Method: get, Path: /x}}"
    path = write_app(tmp_path, MINIMAL.format(events=events), {"a/app.py": "def handler(e, c): return e\n"})

    template = load_template(path)

    assert [(r.api_id, r.route_key, r.auth) for r in template.routes] == [
        ("ServerlessHttpApi", "GET /x", "NONE")
    ]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (
            "        J: {Type: HttpApi, Properties: {Path: /x, Method: GET, Auth: {Authorizer: MyJwt}}}",
            "MyJwt",
        ),
        (
            "        One: {Type: HttpApi, Properties: {Path: /x, Method: GET}}\n"
            "        Two: {Type: HttpApi, Properties: {Path: /x, Method: GET}}",
            "GET /x",
        ),
    ],
    ids=["unsupported-authorizer", "duplicate-route"],
)
def test_unservable_templates_fail_loudly(tmp_path: Path, events: str, message: str) -> None:
    path = write_app(tmp_path, MINIMAL.format(events=events), {"a/app.py": "def handler(e, c): return e\n"})

    with pytest.raises(TemplateError, match=message):
        load_template(path)


def test_missing_handler_file_fails_loudly(tmp_path: Path) -> None:
    events = "        S: {Type: Schedule, Properties: {Schedule: rate(1 minute)}}"
    path = write_app(tmp_path, MINIMAL.format(events=events), {"b/app.py": ""})

    with pytest.raises(TemplateError, match="does not exist"):
        load_template(path)
