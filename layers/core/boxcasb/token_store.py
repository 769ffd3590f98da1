"""Box tokens at rest, and a refresh that is safe when many Lambdas race.

Box refresh tokens are single use: if two workers spend the same one, the second gets
`invalid_grant` and the connection would look revoked. So a refresh is serialised per
connection: a worker first takes a short lease on the token item *at the version it saw*;
the lease holder spends the refresh token and writes the new pair with `version = seen`
as the condition. Every other worker waits for the version to move and re-reads instead
of spending the (now dead) refresh token. The lease expires by itself, so a worker that
dies while holding it delays the others by at most `lease_seconds`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from boxcasb.clock import Clock, utc_now
from boxcasb.errors import BoxUnavailable, ReconnectRequired
from boxcasb.models import StoredTokens, TokenSet
from boxcasb.state_store import ConcurrentUpdate, StateStore
from boxcasb.token_cipher import TokenCipher

Exchange = Callable[[str], TokenSet]
OnRevoked = Callable[[str, str], None]


class TokenStore:
    def __init__(
        self,
        state: StateStore,
        cipher: TokenCipher,
        on_revoked: OnRevoked,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        lease_seconds: float = 20.0,
        wait_seconds: float = 15.0,
        poll_seconds: float = 0.2,
    ) -> None:
        self._state = state
        self._cipher = cipher
        self._on_revoked = on_revoked
        self._clock = clock
        self._sleep = sleep
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds

    def save_new(self, connection_id: str, tokens: TokenSet) -> StoredTokens:
        """Store the pair from an authorization code (first connect or reconnect)."""
        now = self._clock()
        version = self._state.put_tokens_item(
            connection_id, self._cipher.encrypt(connection_id, tokens), now, expected_version=None
        )
        return StoredTokens(tokens=tokens, version=version, refreshed_at=now)

    def load(self, connection_id: str) -> StoredTokens:
        item = self._state.get_tokens_item(connection_id)
        if item is None:
            raise ReconnectRequired("no Box tokens are stored for this connection")
        return self._decode(connection_id, item)

    def refresh(self, connection_id: str, seen_version: int, exchange: Exchange) -> StoredTokens:
        """Return a pair newer than `seen_version`, spending the refresh token at most once."""
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + self._wait_seconds
        while True:
            item = self._state.get_tokens_item(connection_id)
            if item is None:
                raise ReconnectRequired("no Box tokens are stored for this connection")
            if _version(item) != seen_version:
                return self._decode(connection_id, item)  # someone else refreshed: use theirs
            if self._state.acquire_refresh_lease(connection_id, seen_version, owner, self._lease_seconds):
                break
            if time.monotonic() > deadline:
                raise BoxUnavailable("another worker is refreshing the Box token; try again shortly")
            self._sleep(self._poll_seconds)

        current = self._decode(connection_id, item)
        try:
            fresh = exchange(current.tokens.refresh_token.get_secret_value())
        except ReconnectRequired as exc:
            self._state.release_refresh_lease(connection_id, owner)
            self._on_revoked(connection_id, str(exc))
            raise
        except Exception:
            self._state.release_refresh_lease(connection_id, owner)
            raise
        now = self._clock()
        try:
            version = self._state.put_tokens_item(
                connection_id,
                self._cipher.encrypt(connection_id, fresh),
                now,
                expected_version=seen_version,
            )
        except ConcurrentUpdate:
            # Our lease ran out and another worker wrote first; Box honours only one of the two pairs.
            return self.load(connection_id)
        return StoredTokens(tokens=fresh, version=version, refreshed_at=now)

    def _decode(self, connection_id: str, item: dict[str, Any]) -> StoredTokens:
        ciphertext = item["ciphertext"]
        raw = bytes(ciphertext.value if hasattr(ciphertext, "value") else ciphertext)
        return StoredTokens(
            tokens=self._cipher.decrypt(connection_id, raw),
            version=_version(item),
            refreshed_at=datetime.fromisoformat(str(item["refreshed_at"])),
        )


def _version(item: dict[str, Any]) -> int:
    return int(str(item["version"]))
