"""boxsdk exceptions translated into the domain's typed errors, in one place."""

from __future__ import annotations

from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError

from boxcasb.box_gateway.retry import retry_after_seconds
from boxcasb.errors import (
    BoxAccessDenied,
    BoxCasbError,
    BoxRateLimited,
    BoxRequestFailed,
    BoxUnavailable,
    ReconnectRequired,
)


def translate(exc: BoxSDKError) -> BoxCasbError:
    """Our error for a boxsdk one. The message never includes the request (it may hold tokens)."""
    if not isinstance(exc, BoxAPIError):
        return BoxUnavailable(f"Box could not be reached: {type(exc.error or exc).__name__}")
    info = exc.response_info
    status, code = info.status_code, info.code or _oauth_error(info.body)
    summary = f"Box answered {status}" + (f" ({code})" if code else "")
    if status == 401 or code in {"invalid_grant", "invalid_token"}:
        return ReconnectRequired(f"{summary}: the stored Box authorization is no longer valid")
    if status == 403:
        return BoxAccessDenied(summary)
    if status == 429:
        wait = retry_after_seconds(_header(info.headers, "retry-after"))
        return BoxRateLimited(f"{summary}: retry after {wait:g} s", wait)
    if status >= 500:
        return BoxUnavailable(summary)
    return BoxRequestFailed(summary, status, code)


def oauth_error_code(exc: BoxSDKError) -> str | None:
    if isinstance(exc, BoxAPIError):
        return exc.response_info.code or _oauth_error(exc.response_info.body)
    return None


def _oauth_error(body: object) -> str | None:
    if isinstance(body, dict):
        value = body.get("error")
        return str(value) if value else None
    return None


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
