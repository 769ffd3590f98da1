"""One page of Box events in: stored once each, content and exposure changes sent to be scanned."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from boxcasb.activity.classify import ScanRequest, impact_of_event, scan_request
from boxcasb.activity.model import ActivityEvent, InvalidEvent
from boxcasb.activity.store import ActivityStore
from boxcasb.observability import logger, metrics


class ScanQueue(Protocol):
    def enqueue(self, connection_id: str, requests: Sequence[ScanRequest], origin: str) -> int: ...


@dataclass(frozen=True)
class IngestResult:
    written: int
    oldest: datetime | None
    newest: datetime | None


class ActivityJudge(Protocol):
    def judge(self, connection_id: str, events: Sequence[ActivityEvent]) -> int: ...


class Ingestor:
    def __init__(self, store: ActivityStore, scans: ScanQueue, judge: ActivityJudge | None = None) -> None:
        self._store = store
        self._scans = scans
        self._judge = judge

    def ingest(
        self,
        connection_id: str,
        entries: Sequence[dict[str, Any]],
        origin: str,
        keep: Callable[[ActivityEvent], bool] = lambda _: True,
    ) -> IngestResult:
        events: list[ActivityEvent] = []
        rejected = 0
        for entry in entries:
            try:
                event = ActivityEvent.from_box(entry)
            except InvalidEvent:
                rejected += 1  # kept out: without id, type and time it can't be stored or deduplicated
                continue
            if keep(event):
                events.append(event)
        written = self._store.put_events(connection_id, events)
        requests: dict[tuple[str, str], ScanRequest] = {}
        for event in events:
            request = scan_request(
                impact_of_event(event.event_type),
                event.event_type,
                event.item_type,
                event.item_id,
                event.item_owner_id,
                event.created_at,
            )
            if request is not None:
                requests.setdefault((request.item_type, request.item_id), request)
        # Stored first, then queued: a crash in between re-reads the page, and both steps are idempotent.
        # Backfilled history queues nothing: the full scan after connecting sees those files as
        # they are now, and a rescan per old change would only repeat it, file by file.
        # Nor is it judged by the activity policies: 60 days of history would raise a flood of
        # alerts about the past on the day a connection is made.
        if origin != "backfill":
            self._scans.enqueue(connection_id, list(requests.values()), origin)
            if self._judge is not None:
                self._judge.judge(connection_id, events)
        if rejected:
            logger.warning("events without id, type or time were skipped", extra={"count": rejected})
        metrics.add_metric(name="EventsIngested", unit="Count", value=written)
        return IngestResult(
            written=written,
            oldest=min((e.created_at for e in events), default=None),
            newest=max((e.created_at for e in events), default=None),
        )
