"""Opaque page cursors for every listing API: a JSON object, base64url. Each store checks the
shape it expects on the way back in; anything else is a 400, never a stack trace."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from boxcasb.errors import InvalidRequest

NOT_OURS = "the cursor is not one this API gave out"


def encode_cursor(value: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(
        json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequest(NOT_OURS) from None
    if not isinstance(value, dict):
        raise InvalidRequest(NOT_OURS)
    return value


def decode_flat_cursor(cursor: str) -> dict[str, str]:
    """A cursor that must be a flat map of strings (a DynamoDB key, a set of positions)."""
    value = decode_cursor(cursor)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidRequest(NOT_OURS)
    return value
