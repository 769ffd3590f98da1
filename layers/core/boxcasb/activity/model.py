"""Box enterprise events at our edge: validated, normalised for indexing, raw body kept whole."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class InvalidEvent(ValueError):
    """An entry without the fields every Box event has (id, type, time)."""


class EventPage(BaseModel):
    """One page of /events. The position stays a string: it can exceed 2^53 (floats would round it)."""

    model_config = ConfigDict(frozen=True)

    entries: list[dict[str, Any]]
    next_stream_position: str

    @field_validator("next_stream_position", mode="before")
    @classmethod
    def _exact_position(cls, value: object) -> str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("next_stream_position must be an integer or a string")
        return str(value)


class ActivityEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    event_type: str
    created_at: datetime
    user_id: str | None = None
    user_login: str | None = None
    item_type: str | None = None
    item_id: str | None = None
    item_name: str | None = None
    item_owner_id: str | None = None  # who owns the file or folder: the user a rescan acts as
    ip_address: str | None = None
    raw: dict[str, Any]

    @property
    def sort_key(self) -> str:
        """Chronological and unique: the same event always lands on the same key (dedupe)."""
        return f"{timestamp(self.created_at)}#{self.event_id}"

    @classmethod
    def from_box(cls, entry: dict[str, Any]) -> ActivityEvent:
        try:
            event_id = str(entry["event_id"])
            event_type = str(entry["event_type"])
            created_at = parse_time(str(entry["created_at"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidEvent(f"event without a usable {exc}") from None
        actor, source = _mapping(entry.get("created_by")), _mapping(entry.get("source"))
        item_type = _text(source.get("item_type") or source.get("type"))
        item_id = _text(
            source.get("item_id") or (source.get("id") if item_type in {"file", "folder"} else None)
        )
        return cls(
            event_id=event_id,
            event_type=event_type,
            created_at=created_at,
            user_id=_text(actor.get("id")),
            user_login=_text(actor.get("login")),
            item_type=item_type,
            item_id=item_id,
            item_name=_text(source.get("item_name") or source.get("name")),
            item_owner_id=_text(_mapping(source.get("owned_by")).get("id")),
            ip_address=_text(entry.get("ip_address")),
            raw=entry,
        )


WEBHOOK_EVENT_PREFIX = "webhook:"


def webhook_activity(payload: dict[str, Any], received_at: datetime) -> ActivityEvent:
    """A verified V2 webhook delivery as activity: its trigger is the event type, its body the raw event.

    Its id is the delivery's own (`webhook:<id>`, the same across Box's retries), so a retried
    delivery lands on the same item. The enterprise event for the same change has another id
    and is kept too: the log shows both sources; the scan queue dedupes the item.
    """
    created_by, source = _mapping(payload.get("created_by")), _mapping(payload.get("source"))
    event_id, event_type = WEBHOOK_EVENT_PREFIX + str(payload["id"]), str(payload["trigger"])
    try:
        created_at = parse_time(str(payload["created_at"]))
    except (KeyError, ValueError):
        created_at = received_at
    return ActivityEvent(
        event_id=event_id,
        event_type=event_type,
        created_at=created_at,
        user_id=_text(created_by.get("id")),
        user_login=_text(created_by.get("login")),
        item_type=_text(source.get("type")),
        item_id=_text(source.get("id")),
        item_name=_text(source.get("name")),
        item_owner_id=_text(_mapping(source.get("owned_by")).get("id")),
        # Box's payload whole, plus the two fields every activity entry has, so the API reads alike.
        raw={"event_id": event_id, "event_type": event_type, **payload},
    )


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("created_at without a time zone")
    return moment.astimezone(UTC)


def timestamp(moment: datetime) -> str:
    """Fixed-width UTC text, so string order is time order in DynamoDB sort keys."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
