"""Checkpoints and progress of activity ingestion (stored by state_store)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestionStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"  # an error that retrying can't heal (revoked token, missing permission)


class BackfillWindow(_Model):
    """One slice [start, end) of the backfill, resumable from `position` after any page."""

    start: datetime
    end: datetime
    position: str | None = None
    pages: int = 0
    events: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    done: bool = False


class BackfillSummary(_Model):
    span_start: datetime
    span_end: datetime
    windows_total: int
    planned_at: datetime
    status: IngestionStatus
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    reason: str | None = None


class BackfillProgress(_Model):
    status: IngestionStatus
    span_start: datetime
    span_end: datetime
    windows_total: int
    windows_done: int
    events_stored: int
    oldest_event: datetime | None
    newest_event: datetime | None
    planned_at: datetime
    finished_at: datetime | None
    reason: str | None


class StreamCheckpoint(_Model):
    """Where continuous ingestion (admin_logs_streaming) resumes. The position is Box's, verbatim."""

    position: str
    status: IngestionStatus
    started_at: datetime
    last_poll_at: datetime | None = None
    events_received: int = 0
    stopped_at: datetime | None = None
    reason: str | None = None


class ActivityProgress(_Model):
    backfill: BackfillProgress | None
    stream: StreamCheckpoint | None
