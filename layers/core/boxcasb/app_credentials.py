"""The Box app's client id and secret, read from Secrets Manager and cached for a few minutes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from boxcasb.errors import AppNotConfigured

CONFIGURE_HINT = "run `boxcasb configure --client-id <id>` with the Box app's credentials"


@dataclass(frozen=True)
class BoxAppCredentials:
    client_id: str
    client_secret: SecretStr


def parse_credentials(secret_string: str) -> BoxAppCredentials:
    try:
        data = json.loads(secret_string)
    except json.JSONDecodeError:
        raise AppNotConfigured(f"the Box app secret is not JSON: {CONFIGURE_HINT}") from None
    client_id = str(data.get("client_id") or "") if isinstance(data, dict) else ""
    client_secret = str(data.get("client_secret") or "") if isinstance(data, dict) else ""
    if not client_id or not client_secret:
        raise AppNotConfigured(f"the Box app credentials are not set: {CONFIGURE_HINT}")
    return BoxAppCredentials(client_id=client_id, client_secret=SecretStr(client_secret))


class AppCredentialsProvider:
    """Caches the secret per container; a rotated secret is seen within `max_age_seconds`."""

    def __init__(self, secrets_client: Any, secret_arn: str, max_age_seconds: float = 300.0) -> None:
        self._client = secrets_client
        self._arn = secret_arn
        self._max_age = max_age_seconds
        self._cached: tuple[float, BoxAppCredentials] | None = None

    def get(self, now: float) -> BoxAppCredentials:
        if self._cached is not None and now - self._cached[0] < self._max_age:
            return self._cached[1]
        value = self._client.get_secret_value(SecretId=self._arn)["SecretString"]
        credentials = parse_credentials(value)
        self._cached = (now, credentials)
        return credentials
