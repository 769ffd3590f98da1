"""Typed failures of the domain, mapped to HTTP answers once, at the edge."""

from __future__ import annotations


class BoxCasbError(Exception):
    """Base of every failure the domain reports on purpose."""


class NotFound(BoxCasbError):
    pass


class InvalidRequest(BoxCasbError):
    pass


class Conflict(BoxCasbError):
    """The request is well formed but the object is not in a state that allows it."""


class AuthorizationCodeRejected(InvalidRequest):
    """Box refused the authorization code: it lives 30 seconds, works once, and belongs to one app."""


class AppCredentialsRejected(InvalidRequest):
    """Box does not recognise the client id/secret stored in Secrets Manager."""


class AppNotConfigured(BoxCasbError):
    """The Box app's client id/secret have not been written to Secrets Manager yet."""


class ReconnectRequired(BoxCasbError):
    """Box refused our tokens for good (revoked, expired or spent refresh token)."""


class BoxAccessDenied(BoxCasbError):
    """Box answered 403: the connecting account lacks a role, scope or permission."""


class BoxRateLimited(BoxCasbError):
    """Box answered 429 with a wait longer than a Lambda should sleep."""

    def __init__(self, message: str, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class BoxUnavailable(BoxCasbError):
    """Box kept failing (5xx, timeouts) after the retries allowed in one invocation."""


class BoxRequestFailed(BoxCasbError):
    """Any other Box answer we did not expect (4xx), with its status and Box error code."""

    def __init__(self, message: str, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ContentTooLarge(BoxCasbError):
    """A file's content is over the inspection limit: nothing past the limit was read."""
