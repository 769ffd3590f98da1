"""Typed domain errors mapped to HTTP answers, once, for every API handler."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import ValidationError

from boxcasb.errors import (
    AppNotConfigured,
    BoxCasbError,
    Conflict,
    InvalidRequest,
    NotFound,
    ReconnectRequired,
)
from boxcasb.observability import logger

_STATUS: list[tuple[type[BoxCasbError], int, str]] = [
    (NotFound, 404, "not_found"),
    (InvalidRequest, 400, "invalid_request"),
    (Conflict, 409, "conflict"),
    (ReconnectRequired, 409, "reconnect_required"),
    (AppNotConfigured, 503, "app_not_configured"),
]


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = details
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]
    def invalid_body(exc: ValidationError) -> Response[dict[str, Any]]:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        return error_response(400, "invalid_request", "invalid fields: " + ", ".join(fields))

    @app.exception_handler(BoxCasbError)  # type: ignore[untyped-decorator]
    def domain_error(exc: BoxCasbError) -> Response[dict[str, Any]]:
        for kind, status, code in _STATUS:
            if isinstance(exc, kind):
                return error_response(status, code, str(exc), getattr(exc, "details", None))
        logger.warning("box error in admin api", extra={"error": type(exc).__name__})
        return error_response(502, "box_error", str(exc))
