"""The webhook signature keys, read from Secrets Manager and cached per container.

Standard library only at import time: the Secrets Manager client is injected, so the intake Lambda
decides when boto3 is loaded. The secret is JSON `{"primary": "...", "secondary": "..."}`; during a
key rotation either may be null or empty. No message here ever contains a key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from boxcasb.errors import BoxCasbError
from boxcasb.webhooks.signature import WebhookKeys

TYPE_CHECKING = False  # typing itself costs milliseconds of cold start; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

_FIELDS = ("primary", "secondary")
_NOT_JSON = object()


class WebhookKeysNotConfigured(BoxCasbError):
    """The webhook keys secret is missing, not JSON, or holds no usable key."""


def parse_keys(secret_string: str) -> WebhookKeys:
    """The keys in a secret's JSON. Null, empty or blank means "not set"; surrounding blanks are dropped."""
    # Parsed outside any `except`, so no JSONDecodeError (which holds the whole secret in `.doc`)
    # is chained to the error we raise.
    data: object
    try:
        data = json.loads(secret_string)
    except (ValueError, TypeError):
        data = _NOT_JSON
    if data is _NOT_JSON:
        raise WebhookKeysNotConfigured("the webhook keys secret is not valid JSON")
    if not isinstance(data, dict):
        raise WebhookKeysNotConfigured(
            f'the webhook keys secret must be a JSON object {{"primary": ..., "secondary": ...}}, '
            f"not a JSON {_json_type(data)}"
        )
    values: dict[str, str | None] = {}
    for name in _FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise WebhookKeysNotConfigured(
                f'"{name}" in the webhook keys secret must be a string or null, '
                f"not a JSON {_json_type(value)}"
            )
        values[name] = (value or "").strip() or None
    if values["primary"] is None and values["secondary"] is None:
        others = sorted(str(name) for name in data if name not in _FIELDS)
        hint = f" (it has other fields: {', '.join(others)})" if others else ""
        raise WebhookKeysNotConfigured(
            f'the webhook keys secret sets neither "primary" nor "secondary"{hint}: '
            "copy the keys from the Box app's Webhooks tab"
        )
    problem: str | None = None
    try:
        return WebhookKeys(primary=values["primary"], secondary=values["secondary"])
    except ValueError as invalid:  # its messages name the field, never the value
        problem = str(invalid)
    raise WebhookKeysNotConfigured(f"the webhook keys secret is unusable: {problem}")


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else "string"


class WebhookKeyProvider:
    """The keys, cached per container.

    `get()` re-reads the secret once the cached keys are `max_age_seconds` old. After a signature
    miss, `refetch_after_miss()` re-reads it at once, so a key rotated in the secret works on the
    next delivery, but at most once per `min_refetch_seconds`: unsigned requests cannot turn into a
    Secrets Manager call each. Errors from the client or a bad secret propagate and leave the cache
    as it was. In the intake:

        rejection = verify_delivery(headers, body, provider.get(), now)
        if rejection is Rejection.SIGNATURE_MISMATCH and (fresh := provider.refetch_after_miss()):
            rejection = verify_delivery(headers, body, fresh, now)
    """

    def __init__(
        self,
        secrets_client: Any,
        secret_arn: str,
        clock: Callable[[], float] = time.monotonic,
        max_age_seconds: float = 300,
        min_refetch_seconds: float = 30,
    ) -> None:
        self._client = secrets_client
        self._arn = secret_arn
        self._clock = clock
        self._max_age = max_age_seconds
        self._min_refetch = min_refetch_seconds
        self._keys: WebhookKeys | None = None
        self._fetched_at = 0.0
        self._refetched_at: float | None = None

    def get(self) -> WebhookKeys:
        now = self._clock()
        if self._keys is not None and now - self._fetched_at < self._max_age:
            return self._keys
        return self._fetch(now)

    def refetch_after_miss(self) -> WebhookKeys | None:
        """The keys re-read after a signature miss; None when throttled or when they did not change."""
        now = self._clock()
        if self._refetched_at is not None and now - self._refetched_at < self._min_refetch:
            return None
        self._refetched_at = now  # counts even if the read fails: a failing secret is not hammered
        previous = self._keys
        keys = self._fetch(now)
        return None if keys == previous else keys

    def _fetch(self, now: float) -> WebhookKeys:
        secret_string = self._client.get_secret_value(SecretId=self._arn).get("SecretString")
        if not isinstance(secret_string, str):
            raise WebhookKeysNotConfigured("the webhook keys secret has no string value (SecretString)")
        keys = parse_keys(secret_string)
        self._keys = keys
        self._fetched_at = now
        return keys
