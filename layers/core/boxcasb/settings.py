"""Runtime settings: the environment the template gives each function, validated once."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError


class SettingsError(RuntimeError):
    """The function's environment is incomplete or malformed (a deployment fault, not a user error)."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(min_length=1)
    activity_table_name: str = Field(min_length=1)
    backfill_queue_url: str = Field(min_length=1)
    priority_scan_queue_url: str = Field(min_length=1)
    token_key_arn: str = Field(min_length=1)
    box_app_secret_arn: str = Field(min_length=1)
    box_api_base_url: HttpUrl = HttpUrl("https://api.box.com")
    box_upload_base_url: HttpUrl = HttpUrl("https://upload.box.com/api")
    box_authorize_url: HttpUrl = HttpUrl("https://account.box.com/api/oauth2/authorize")
    # Empty: derive https://<api domain>/oauth/box/callback from the request.
    oauth_redirect_uri: HttpUrl | None = None
    api_test_function_name: str | None = None
    webhook_sync_function_name: str | None = None
    oauth_state_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    # Refresh tokens live 60 days; refresh those untouched for this long so none dies unused.
    token_keeper_max_idle_days: int = Field(default=30, ge=1, le=55)
    # A Lambda must not sleep through a long Retry-After: past this the call fails and the
    # work goes back on its queue with that delay.
    box_max_retry_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    activity_retention_days: int = Field(default=180, ge=1, le=3650)
    backfill_days: int = Field(default=60, ge=1, le=365)
    backfill_window_hours: int = Field(default=72, ge=1, le=24 * 31)
    # admin_logs shows events late: the newest window is read this long after the connection.
    backfill_settle_seconds: int = Field(default=600, ge=0, le=900)
    # Webhooks: the signature keys' secret (the intake reads only this one), the public intake
    # address the registration gives Box, and the folder ids to cover (empty: every managed
    # user's top-level folders).
    webhook_keys_secret_arn: str | None = None
    webhook_address: HttpUrl | None = None
    webhook_folder_ids: str = Field(default="", pattern=r"^[0-9, ]*$")
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=6 * 1024 * 1024)
    box_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    box_read_timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    @property
    def webhook_folders(self) -> tuple[str, ...]:
        return tuple(f for f in (part.strip() for part in self.webhook_folder_ids.split(",")) if f)

    @property
    def box_api_base(self) -> str:
        return str(self.box_api_base_url).rstrip("/")

    @property
    def box_upload_base(self) -> str:
        return str(self.box_upload_base_url).rstrip("/")

    @property
    def box_oauth2_base(self) -> str:
        """boxsdk's oauth_2_url: the authorize URL without its last path segment."""
        return str(self.box_authorize_url).rstrip("/").rsplit("/", 1)[0]


def settings_from_env(environ: dict[str, str] | os._Environ[str]) -> Settings:
    values = {key.lower(): value for key, value in environ.items() if value != ""}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]).upper() for err in exc.errors())
        raise SettingsError(f"invalid or missing environment variables: {fields}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_env(os.environ)
