"""The Lambda retry policy and the translation of boxsdk errors into ours."""

from __future__ import annotations

from typing import Any

import pytest
from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError, RequestInfo, ResponseInfo
from box_sdk_gen.networking.fetch_options import FetchOptions
from box_sdk_gen.networking.fetch_response import FetchResponse

from boxcasb.box_gateway.errors import translate
from boxcasb.box_gateway.retry import LambdaRetryStrategy, retry_after_seconds
from boxcasb.errors import (
    BoxAccessDenied,
    BoxRateLimited,
    BoxRequestFailed,
    BoxUnavailable,
    ReconnectRequired,
)


class CountingAuth:
    def __init__(self) -> None:
        self.refreshes = 0

    def refresh_token(self, *, network_session: Any = None) -> None:
        self.refreshes += 1


def response(status: int, headers: dict[str, str] | None = None) -> FetchResponse:
    return FetchResponse(status=status, headers=headers or {})


def options(auth: Any = None) -> FetchOptions:
    return FetchOptions(url="https://api.box.com/2.0/users/me", method="GET", auth=auth)


def test_short_retry_after_is_waited_long_one_is_handed_back() -> None:
    strategy = LambdaRetryStrategy(max_wait_seconds=5)
    short = response(429, {"Retry-After": "2"})
    long = response(429, {"Retry-After": "100"})
    assert strategy.should_retry(options(), short, 1)
    assert strategy.retry_after(options(), short, 1) == 2.0
    assert not strategy.should_retry(options(), long, 1)


def test_5xx_retried_with_bounded_jitter_until_max_attempts() -> None:
    strategy = LambdaRetryStrategy(max_attempts=3, max_wait_seconds=1.5, base_seconds=1)
    assert strategy.should_retry(options(), response(503), 1)
    assert strategy.should_retry(options(), response(500), 2)
    assert not strategy.should_retry(options(), response(503), 3)
    waits = [strategy.retry_after(options(), response(503), 4) for _ in range(200)]
    assert all(0 <= w <= 1.5 for w in waits)
    assert len(set(waits)) > 100  # jittered, not a fixed sleep


def test_401_refreshes_at_most_three_times_per_request() -> None:
    auth = CountingAuth()
    strategy = LambdaRetryStrategy()
    request = options(auth)
    assert strategy.should_retry(request, response(401), 1)
    assert strategy.retry_after(request, response(401), 1) == 0.0  # no sleep after a refresh
    assert strategy.should_retry(request, response(401), 2)  # the pair adopted was stale too
    assert strategy.should_retry(request, response(401), 3)  # Box expired tokens again meanwhile
    assert not strategy.should_retry(request, response(401), 4)
    assert auth.refreshes == 3
    assert strategy.should_retry(options(auth), response(401), 1)  # another request starts afresh
    assert auth.refreshes == 4


def test_a_401_on_the_last_attempt_still_refreshes() -> None:
    # Found by the chaos run: 503, 429, 503, then a token Box had just expired.
    auth = CountingAuth()
    strategy = LambdaRetryStrategy(max_attempts=4)
    request = options(auth)
    assert not strategy.should_retry(request, response(503), 4)
    assert strategy.should_retry(request, response(401), 4)
    assert auth.refreshes == 1


def test_a_401_after_a_5xx_still_refreshes() -> None:
    # Found by the chaos run: the token expired while the first attempt met a 503.
    auth = CountingAuth()
    strategy = LambdaRetryStrategy()
    request = options(auth)
    assert strategy.should_retry(request, response(503), 1)
    assert strategy.should_retry(request, response(401), 2)
    assert auth.refreshes == 1


def test_client_errors_and_success_are_not_retried() -> None:
    strategy = LambdaRetryStrategy()
    for status in (200, 400, 403, 404, 409):
        assert not strategy.should_retry(options(), response(status), 1)


@pytest.mark.parametrize(
    ("raw", "seconds"), [("3", 3.0), ("0.5", 0.5), ("junk", 1.0), (None, 1.0), ("-4", 0.0)]
)
def test_retry_after_parsing(raw: str | None, seconds: float) -> None:
    assert retry_after_seconds(raw) == seconds


def api_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> BoxAPIError:
    return BoxAPIError(
        request_info=RequestInfo(method="GET", url="u", query_params={}, headers={}),
        response_info=ResponseInfo(
            status_code=status, headers=headers or {}, body=body, code=body.get("code")
        ),
        message=f"{status}",
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (api_error(401, {}), ReconnectRequired),
        (api_error(400, {"error": "invalid_grant"}), ReconnectRequired),
        (api_error(403, {"code": "access_denied_insufficient_permissions"}), BoxAccessDenied),
        (api_error(429, {"code": "rate_limit_exceeded"}, {"Retry-After": "42"}), BoxRateLimited),
        (api_error(503, {}), BoxUnavailable),
        (api_error(404, {"code": "not_found"}), BoxRequestFailed),
        (BoxSDKError(message="connection reset", error=ConnectionError("reset")), BoxUnavailable),
    ],
)
def test_translate(error: BoxSDKError, kind: type[Exception]) -> None:
    translated = translate(error)
    assert isinstance(translated, kind)
    if isinstance(translated, BoxRateLimited):
        assert translated.retry_after_seconds == 42.0
