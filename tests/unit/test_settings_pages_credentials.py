"""Settings from the environment, callback pages, and Box app credentials parsing."""

from __future__ import annotations

import json

import pytest

from boxcasb.app_credentials import AppCredentialsProvider, parse_credentials
from boxcasb.connect import CallbackOutcome, CallbackResult, redirect_uri_for
from boxcasb.errors import AppNotConfigured, InvalidRequest
from boxcasb.pages import render_outcome
from boxcasb.settings import SettingsError, settings_from_env

BASE_ENV = {
    "TABLE_NAME": "t",
    "ACTIVITY_TABLE_NAME": "a",
    "BACKFILL_QUEUE_URL": "https://sqs/backfill",
    "PRIORITY_SCAN_QUEUE_URL": "https://sqs/priority.fifo",
    "TOKEN_KEY_ARN": "arn:k",
    "BOX_APP_SECRET_ARN": "arn:s",
}


def test_settings_defaults_point_at_real_box() -> None:
    s = settings_from_env(BASE_ENV)
    assert s.box_api_base == "https://api.box.com"
    assert s.box_oauth2_base == "https://account.box.com/api/oauth2"
    assert s.oauth_redirect_uri is None


def test_settings_follow_overrides_and_ignore_empty_values() -> None:
    s = settings_from_env(
        BASE_ENV
        | {
            "BOX_API_BASE_URL": "http://127.0.0.1:9000",
            "BOX_AUTHORIZE_URL": "http://127.0.0.1:9000/api/oauth2/authorize",
            "OAUTH_REDIRECT_URI": "",
        }
    )
    assert s.box_api_base == "http://127.0.0.1:9000"
    assert s.box_oauth2_base == "http://127.0.0.1:9000/api/oauth2"
    assert s.oauth_redirect_uri is None


def test_missing_settings_name_the_variables() -> None:
    with pytest.raises(SettingsError, match="TABLE_NAME"):
        settings_from_env({k: v for k, v in BASE_ENV.items() if k != "TABLE_NAME"})
    with pytest.raises(SettingsError, match="BOX_API_BASE_URL"):
        settings_from_env(BASE_ENV | {"BOX_API_BASE_URL": "not a url"})


def test_redirect_uri_derived_from_api_domain_unless_set() -> None:
    s = settings_from_env(BASE_ENV)
    assert redirect_uri_for(s, "abc.execute-api.eu-west-1.amazonaws.com") == (
        "https://abc.execute-api.eu-west-1.amazonaws.com/oauth/box/callback"
    )
    with pytest.raises(InvalidRequest):
        redirect_uri_for(s, None)
    custom = settings_from_env(BASE_ENV | {"OAUTH_REDIRECT_URI": "https://casb.example.com/cb"})
    assert redirect_uri_for(custom, "ignored") == "https://casb.example.com/cb"


def test_callback_page_escapes_everything() -> None:
    outcome = CallbackOutcome(
        result=CallbackResult.FAILED,
        title="<script>alert(1)</script>",
        message='Box said "<img src=x onerror=alert(1)>"',
        next_step="&",
    )
    status, html = render_outcome(outcome)
    assert status == 502
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[]",
        json.dumps({"client_id": "", "client_secret": ""}),
        json.dumps({"client_id": "x"}),
    ],
)
def test_unconfigured_credentials_are_a_clear_error(raw: str) -> None:
    with pytest.raises(AppNotConfigured, match="boxcasb configure"):
        parse_credentials(raw)


def test_credentials_cached_until_max_age() -> None:
    calls: list[str] = []

    class Secrets:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            calls.append(SecretId)
            return {"SecretString": json.dumps({"client_id": "id", "client_secret": "shh"})}

    provider = AppCredentialsProvider(Secrets(), "arn:s", max_age_seconds=300)
    first = provider.get(now=1000.0)
    assert provider.get(now=1299.0) is first
    provider.get(now=1301.0)
    assert calls == ["arn:s", "arn:s"]
    assert "shh" not in repr(first)
