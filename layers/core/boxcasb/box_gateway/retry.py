"""boxsdk retry policy fit for a Lambda: bounded waits, a single re-authentication, jittered 5xx retries."""

from __future__ import annotations

import random
from weakref import WeakKeyDictionary

from box_sdk_gen.networking.fetch_options import FetchOptions
from box_sdk_gen.networking.fetch_response import FetchResponse
from box_sdk_gen.networking.retries import RetryStrategy


class LambdaRetryStrategy(RetryStrategy):
    """Unlike boxsdk's default, never sleeps longer than `max_wait_seconds`.

    A 429 whose Retry-After exceeds the cap is not retried here: the error reaches the
    caller, which puts the work back on its queue with that delay instead of paying for
    an idle Lambda. A 401 triggers a token refresh up to three times per request,
    whatever came before it and even on the last attempt: a 401 is an expired token until a
    refresh says otherwise (a revoked grant fails the refresh with invalid_grant). Three,
    because a refresh may hand us the pair another worker stored, which Box may have expired
    as well, and Box may expire tokens again while one request backs off from 5xx.
    """

    MAX_REAUTHENTICATIONS = 3

    def __init__(
        self, *, max_attempts: int = 4, max_wait_seconds: float = 5.0, base_seconds: float = 0.5
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.max_attempts = max_attempts
        self.max_wait_seconds = max_wait_seconds
        self.base_seconds = base_seconds
        # Per request (boxsdk makes one FetchOptions per call), forgotten with it.
        self._reauthenticated: WeakKeyDictionary[FetchOptions, int] = WeakKeyDictionary()

    def should_retry(
        self, fetch_options: FetchOptions, fetch_response: FetchResponse, attempt_number: int
    ) -> bool:
        status = fetch_response.status
        if status == 401:
            done = self._reauthenticated.get(fetch_options, 0)
            if fetch_options.auth is None or done >= self.MAX_REAUTHENTICATIONS:
                return False
            self._reauthenticated[fetch_options] = done + 1
            fetch_options.auth.refresh_token(network_session=fetch_options.network_session)
            return True
        if attempt_number >= self.max_attempts:
            return False
        if status == 0:  # connection error or timeout
            return True
        if status == 429:
            return self._retry_after_header(fetch_response) <= self.max_wait_seconds
        if status == 202 and self._has_retry_after(fetch_response):
            return self._retry_after_header(fetch_response) <= self.max_wait_seconds
        return status >= 500

    def retry_after(
        self, fetch_options: FetchOptions, fetch_response: FetchResponse, attempt_number: int
    ) -> float:
        if fetch_response.status == 401:
            return 0.0  # the token was just refreshed: nothing to wait for
        if self._has_retry_after(fetch_response):
            return min(self._retry_after_header(fetch_response), self.max_wait_seconds)
        # Full jitter: spreads the retries of many concurrent workers.
        backoff = self.base_seconds * 2**attempt_number
        return random.uniform(0, min(self.max_wait_seconds, backoff))  # noqa: S311 (jitter, not crypto)

    @staticmethod
    def _has_retry_after(response: FetchResponse) -> bool:
        return response.headers.get("Retry-After") is not None

    @staticmethod
    def _retry_after_header(response: FetchResponse) -> float:
        return retry_after_seconds(response.headers.get("Retry-After"))


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default
