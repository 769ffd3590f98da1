"""The domain's data, as pydantic models: what is stored, shown and passed between modules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectionStatus(StrEnum):
    PENDING = "pending"  # created, no tokens yet
    CONNECTED = "connected"
    RECONNECT_REQUIRED = "reconnect_required"  # Box refused our tokens for good
    DISCONNECTING = "disconnecting"  # an admin asked to disconnect: nothing new starts, data goes
    DISCONNECTED = "disconnected"  # tokens revoked, webhooks and data gone; the item is a tombstone

    @property
    def retired(self) -> bool:
        """Disconnecting or disconnected: no work may start, no reconnect is possible."""
        return self in (ConnectionStatus.DISCONNECTING, ConnectionStatus.DISCONNECTED)


class AuthorizationState(StrEnum):
    AWAITING_CONSENT = "awaiting_consent"
    COMPLETED = "completed"
    DENIED = "denied"
    FAILED = "failed"


class Authorization(_Model):
    """The latest OAuth round trip of a connection: what `boxcasb connect` waits on."""

    state: AuthorizationState
    started_at: datetime
    expires_at: datetime
    finished_at: datetime | None = None
    detail: str | None = None


class CheckStatus(StrEnum):
    PASS = "pass"  # noqa: S105 (a check status, not a password)
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


class CheckResult(_Model):
    name: str
    title: str
    status: CheckStatus
    detail: str
    fix_hint: str | None = None


class ApiTestOutcome(StrEnum):
    RUNNING = "running"
    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"


class ApiTestReport(_Model):
    requested_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: ApiTestOutcome
    checks: list[CheckResult] = Field(default_factory=list)
    box_calls: int = 0


class Disconnection(_Model):
    """Who asked to disconnect a connection, when it ended, and what it removed (counts per kind)."""

    requested_by: str  # the IAM principal that asked
    requested_at: datetime
    disconnected_at: datetime | None = None
    removed: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)  # what could not be done in Box, and why


class Connection(_Model):
    connection_id: str
    status: ConnectionStatus
    status_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    connected_at: datetime | None = None
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    admin_user_id: str | None = None
    admin_login: str | None = None
    admin_name: str | None = None
    role: str | None = None
    authorization: Authorization | None = None
    last_test: ApiTestReport | None = None
    disconnect: Disconnection | None = None


class BoxUser(_Model):
    id: str
    login: str | None = None
    name: str | None = None
    role: str | None = None
    status: str | None = None
    enterprise_id: str | None = None
    enterprise_name: str | None = None


class TokenSet(_Model):
    """A Box access/refresh token pair. SecretStr keeps the values out of reprs and logs."""

    access_token: SecretStr
    refresh_token: SecretStr
    access_expires_at: datetime
    issued_at: datetime


class StoredTokens(_Model):
    tokens: TokenSet
    version: int
    refreshed_at: datetime


class OAuthStateRecord(_Model):
    connection_id: str
    redirect_uri: str
    expires_at: datetime
