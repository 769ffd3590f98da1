"""OAuth 2.0 as Box does it: consent page, codes, single-use refresh tokens, expiry and revocation."""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.fake_box import FakeBox
from tests.fake_box.helpers import CLIENT_ID, REDIRECT_URI, BoxHttp, FakeClock, Tokens, query_of

WWW_AUTHENTICATE = (
    'Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid."'
)


def assert_invalid_token(response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
    assert response.content == b""


def oauth_error(response: requests.Response) -> tuple[str, str]:
    assert response.status_code == 400
    body = response.json()
    return body["error"], body["error_description"]


# ----- the browser side ------------------------------------------------------


def test_consent_page_offers_active_users_and_both_choices(http: BoxHttp) -> None:
    page = http.authorize(state="xyz")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    for login in ("admin@acme.example", "coadmin@acme.example", "alice@acme.example"):
        assert login in page.text
    assert "dave@acme.example" not in page.text  # suspended
    assert 'action="/api/oauth2/authorize/decision"' in page.text
    assert 'value="allow"' in page.text
    assert 'value="deny"' in page.text
    assert 'name="state" value="xyz"' in page.text


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_the_consent_form_redirects_with_a_code_and_the_state(http: BoxHttp, method: str) -> None:
    form = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "state": "s1",
        "login": "alice@acme.example",
        "decision": "allow",
    }
    url = f"{http.box.url}/api/oauth2/authorize/decision"
    if method == "POST":
        answer = http.session.post(url, data=form, allow_redirects=False)
    else:
        answer = http.session.get(url, params=form, allow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    assert query_of(location)["state"] == "s1"
    assert http.exchange(query_of(location)["code"]).status_code == 200


def test_deny_redirects_with_access_denied(http: BoxHttp) -> None:
    answer = http.authorize(state="s2", decision="deny")
    assert answer.status_code == 302
    query = query_of(answer.headers["Location"])
    assert query["error"] == "access_denied"
    assert query["error_description"]
    assert query["state"] == "s2"
    assert "code" not in query


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "someone-else"},
        {"response_type": "token"},
        {"redirect_uri": "not-a-url"},
        {"login": "nobody@acme.example", "decision": "allow"},
        {"login": "dave@acme.example", "decision": "allow"},  # suspended users cannot sign in
        {"login": "alice@acme.example", "decision": "maybe"},
    ],
)
def test_bad_authorize_requests_get_an_error_page(http: BoxHttp, params: dict[str, str]) -> None:
    answer = http.authorize(**params)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("text/html")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=st.text(min_size=1, max_size=60))
def test_state_comes_back_exactly(http: BoxHttp, state: str) -> None:
    answer = http.authorize(login="alice@acme.example", decision="allow", state=state)
    assert query_of(answer.headers["Location"])["state"] == state


def test_a_query_already_on_the_redirect_uri_is_kept(http: BoxHttp) -> None:
    answer = http.authorize(
        login="alice@acme.example", decision="allow", redirect_uri=REDIRECT_URI + "?tenant=7"
    )
    query = query_of(answer.headers["Location"])
    assert query["tenant"] == "7"
    assert query["code"]


# ----- codes -----------------------------------------------------------------


def test_a_code_is_single_use(http: BoxHttp) -> None:
    code = http.code_for("admin@acme.example")
    assert http.exchange(code).status_code == 200
    assert oauth_error(http.exchange(code)) == (
        "invalid_grant",
        "Auth code doesn't exist or is invalid for the client",
    )


def test_a_code_expires_after_30_seconds(http: BoxHttp, clock: FakeClock) -> None:
    fresh, stale = http.code_for("admin@acme.example"), http.code_for("admin@acme.example")
    clock.advance(29)
    assert http.exchange(fresh).status_code == 200
    clock.advance(2)
    assert oauth_error(http.exchange(stale))[0] == "invalid_grant"


def test_a_code_is_bound_to_its_redirect_uri(http: BoxHttp) -> None:
    code = http.code_for("admin@acme.example")
    assert oauth_error(http.exchange(code, redirect_uri="https://evil.example/cb"))[0] == "invalid_grant"


def test_codes_are_bound_to_the_user_who_consented(http: BoxHttp) -> None:
    tokens = http.connect("carol@acme.example")
    assert http.get("/2.0/users/me", tokens).json()["login"] == "carol@acme.example"


@pytest.mark.parametrize(
    "credentials", [{"client_secret": "wrong"}, {"client_id": "other-app"}, {"client_secret": ""}]
)
def test_wrong_client_credentials_are_invalid_client(http: BoxHttp, credentials: dict[str, str]) -> None:
    code = http.code_for("admin@acme.example")
    assert oauth_error(http.exchange(code, **credentials))[0] == "invalid_client"
    assert http.exchange(code).status_code == 200  # a refused client did not burn the code


def test_grant_type_is_required_and_checked(http: BoxHttp) -> None:
    assert oauth_error(http.token())[0] == "invalid_request"
    assert oauth_error(http.token(grant_type="client_credentials"))[0] == "unsupported_grant_type"


# ----- access and refresh tokens -------------------------------------------------


def test_a_refresh_token_is_single_use(http: BoxHttp) -> None:
    first = http.connect("admin@acme.example")
    answer = http.refresh(first.refresh)
    assert answer.status_code == 200
    second = answer.json()
    assert second["access_token"] != first.access
    assert second["refresh_token"] != first.refresh
    assert (second["token_type"], second["expires_in"], second["restricted_to"]) == ("bearer", 3600, [])
    assert oauth_error(http.refresh(first.refresh)) == ("invalid_grant", "Refresh token has expired")
    assert http.refresh(second["refresh_token"]).status_code == 200
    assert oauth_error(http.refresh("never-issued"))[0] == "invalid_grant"


def test_the_replaced_access_token_lives_until_its_own_expiry(http: BoxHttp, clock: FakeClock) -> None:
    old = http.connect("admin@acme.example")
    clock.advance(1800)
    new = http.refresh(old.refresh).json()["access_token"]
    assert http.get("/2.0/users/me", old).status_code == 200
    clock.advance(1801)
    assert_invalid_token(http.get("/2.0/users/me", old))
    assert http.get("/2.0/users/me", new).status_code == 200


def test_access_tokens_expire(http: BoxHttp, clock: FakeClock) -> None:
    tokens = http.connect("admin@acme.example")
    clock.advance(3599)
    assert http.get("/2.0/users/me", tokens).status_code == 200
    clock.advance(1)
    assert_invalid_token(http.get("/2.0/users/me", tokens))
    assert http.refresh(tokens.refresh).status_code == 200


def test_refresh_tokens_expire_after_60_days(http: BoxHttp, clock: FakeClock) -> None:
    tokens = http.connect("admin@acme.example")
    clock.advance(60 * 24 * 3600 + 1)
    assert oauth_error(http.refresh(tokens.refresh))[0] == "invalid_grant"


def test_the_access_token_lifetime_is_configurable(clock: FakeClock) -> None:
    with FakeBox(access_token_ttl=60, clock=clock) as box, requests.Session() as session:
        http = BoxHttp(box, session)
        tokens = http.connect("admin@acme.example")
        clock.advance(60)
        assert_invalid_token(http.get("/2.0/users/me", tokens))
        assert http.refresh(tokens.refresh).json()["expires_in"] == 60


def test_expire_access_tokens(http: BoxHttp, box: FakeBox) -> None:
    admin, alice = http.connect("admin@acme.example"), http.connect("alice@acme.example")
    assert box.expire_access_tokens() == 2
    assert_invalid_token(http.get("/2.0/users/me", admin))
    assert_invalid_token(http.get("/2.0/users/me", alice))
    renewed = http.refresh(admin.refresh).json()["access_token"]
    assert http.get("/2.0/users/me", renewed).status_code == 200


def test_revoke_refresh_tokens_for_one_user_then_everyone(http: BoxHttp, box: FakeBox) -> None:
    admin, alice = http.connect("admin@acme.example"), http.connect("alice@acme.example")
    box.revoke_refresh_tokens(login="admin@acme.example")
    assert oauth_error(http.refresh(admin.refresh))[0] == "invalid_grant"
    alice_next = http.refresh(alice.refresh)
    assert alice_next.status_code == 200
    box.revoke_refresh_tokens()
    assert oauth_error(http.refresh(alice_next.json()["refresh_token"]))[0] == "invalid_grant"
    assert http.get("/2.0/users/me", admin).status_code == 200  # access tokens live on until expiry


@pytest.mark.parametrize("which", ["access", "refresh"])
def test_the_revoke_endpoint_ends_the_whole_grant(http: BoxHttp, which: str) -> None:
    tokens = http.connect("admin@acme.example")
    url = f"{http.box.url}/oauth2/revoke"
    token = tokens.access if which == "access" else tokens.refresh
    refused = http.session.post(url, data={"client_id": CLIENT_ID, "client_secret": "x", "token": token})
    assert oauth_error(refused)[0] == "invalid_client"
    revoked = http.session.post(
        url, data={"client_id": CLIENT_ID, "client_secret": "fake-client-secret", "token": token}
    )
    assert (revoked.status_code, revoked.content) == (200, b"")
    assert_invalid_token(http.get("/2.0/users/me", tokens))
    assert oauth_error(http.refresh(tokens.refresh))[0] == "invalid_grant"


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Basic YWJj", "Bearer not-a-token"])
def test_api_calls_without_a_live_token_get_401(http: BoxHttp, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_invalid_token(http.session.get(f"{http.box.url}/2.0/users/me", headers=headers))
    assert_invalid_token(http.session.get(f"{http.box.url}/2.0/no/such/route", headers=headers))


def test_a_suspended_users_tokens_stop_working(http: BoxHttp, box: FakeBox) -> None:
    tokens = http.connect("bob@acme.example")
    box.tenant.user_by_login("bob@acme.example").status = "inactive"
    assert_invalid_token(http.get("/2.0/users/me", tokens))


def test_grants_are_logged_and_no_token_is_recorded(http: BoxHttp, box: FakeBox) -> None:
    tokens: Tokens = http.connect("alice@acme.example")
    renewed = http.refresh(tokens.refresh).json()
    http.refresh(tokens.refresh)
    http.exchange("bogus")
    http.get("/2.0/users/me", renewed["access_token"])
    assert [(g.grant_type, g.login, g.ok, g.error) for g in box.token_grants] == [
        ("authorization_code", "alice@acme.example", True, None),
        ("refresh_token", "alice@acme.example", True, None),
        ("refresh_token", "alice@acme.example", False, "invalid_grant"),
        ("authorization_code", None, False, "invalid_grant"),
    ]
    recorded = json.dumps([entry.to_json() for entry in box.requests]) + repr(box.token_grants)
    for secret in (tokens.access, tokens.refresh, renewed["access_token"], renewed["refresh_token"]):
        assert secret not in recorded
    assert '"authorization": "Bearer [redacted]"' in recorded
