"""Runtime settings: the environment the template gives each function, validated once."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, ValidationInfo, field_validator

from boxcasb.rate_limit import RateLimitSettings


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
    governance_function_name: str | None = None
    disconnect_function_name: str | None = None
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
    # File scanning: the inventory, the bulk queue (the priority queue is above), the enterprise's
    # mail domains (empty: the connecting admin's), and when a generation with no progress is closed.
    inventory_table_name: str | None = None
    bulk_scan_queue_url: str | None = None
    scan_internal_domains: str = Field(default="", pattern=r"^[A-Za-z0-9.,\- ]*$")
    scan_after_api_test: bool = True  # a connection's first passing Test API starts its first scan
    scan_stall_minutes: int = Field(default=120, ge=10, le=7 * 24 * 60)
    # Policies: the deployed folder (the PoliciesLayer's /opt/policies; unset: none deployed), and
    # what one file's inspection may cost.
    policies_dir: str | None = None
    alerts_table_name: str | None = None
    alerts_topic_arn: str | None = None  # unset: alerts are kept, nothing is published
    # An IP-to-country CSV (DB-IP "IP to Country Lite" layout, CC BY 4.0) for the new-country rule;
    # unset: that rule is inactive, and says so.
    geoip_country_csv: str | None = None
    inspect_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024, le=8 * 1024**3)
    inspect_max_chars: int = Field(default=50_000_000, ge=1_000_000, le=2_000_000_000)
    inspect_timeout_seconds: int = Field(default=120, ge=5, le=840)
    # Box allows 1000 requests/min per user: one budget per connection shared by every worker
    # (boxcasb.rate_limit). per_minute comes last: its check reads the others.
    box_rate_limit_window_seconds: int = Field(default=10, ge=1, le=60)
    box_rate_limit_chunk: int = Field(default=25, ge=1, le=1000)
    box_rate_limit_reserve_fraction: float = Field(default=0.2, ge=0, lt=1)
    box_rate_limit_max_wait_seconds: float = Field(default=10.0, ge=0, le=60)
    box_rate_limit_per_minute: int = Field(default=800, ge=1, le=1000, validate_default=True)
    box_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    box_read_timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    @field_validator("box_rate_limit_per_minute")
    @classmethod
    def _rate_limit_fits(cls, value: int, info: ValidationInfo) -> int:
        names = ("window_seconds", "chunk", "reserve_fraction", "max_wait_seconds")
        others = {n: info.data[f"box_rate_limit_{n}"] for n in names if f"box_rate_limit_{n}" in info.data}
        try:
            RateLimitSettings(per_minute=value, **others)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return value

    @property
    def box_rate_limit(self) -> RateLimitSettings:
        return RateLimitSettings(
            per_minute=self.box_rate_limit_per_minute,
            window_seconds=self.box_rate_limit_window_seconds,
            chunk=self.box_rate_limit_chunk,
            reserve_fraction=self.box_rate_limit_reserve_fraction,
            max_wait_seconds=self.box_rate_limit_max_wait_seconds,
        )

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
