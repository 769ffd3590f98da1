"""Continuous ingestion: admin_logs_streaming from each connection's stored position, every minute.

The stream is at-least-once and out of order; the activity store's per-event keys absorb both.
The position moves only after a page is stored, and only from the position this run read
(a slow run overlapping the next one can't move it backwards or skip a page).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from boxcasb.activity.backfill import PAGE_SIZE, EventSource
from boxcasb.activity.ingest import Ingestor
from boxcasb.activity.model import EventPage
from boxcasb.activity.progress import IngestionStatus, StreamCheckpoint
from boxcasb.clock import Clock, utc_now
from boxcasb.errors import BoxAccessDenied, BoxCasbError, ReconnectRequired
from boxcasb.models import ConnectionStatus
from boxcasb.observability import logger
from boxcasb.state_store import StateStore


@dataclass
class PollReport:
    connections: int = 0
    pages: int = 0
    events: int = 0
    stopped: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # rate limited or unavailable: next run continues
    reconciled: list[str] = field(default_factory=list)  # backfill planned or resumed by this run


class StreamPoller:
    def __init__(
        self,
        state: StateStore,
        ingestor: Ingestor,
        events_for: Callable[[str], EventSource],
        reconcile: Callable[[str, datetime], bool],
        max_pages_per_run: int = 200,
        reserve_seconds: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        self._state = state
        self._ingestor = ingestor
        self._events_for = events_for
        self._reconcile = reconcile
        self._max_pages = max_pages_per_run
        self._reserve = reserve_seconds
        self._clock = clock

    def poll_all(self, seconds_left: Callable[[], float]) -> PollReport:
        report = PollReport()
        for connection in self._state.list_connections(limit=10_000):
            if connection.status is not ConnectionStatus.CONNECTED or connection.connected_at is None:
                continue
            if self._reconcile(connection.connection_id, connection.connected_at):
                report.reconciled.append(connection.connection_id)
            checkpoint = self._state.get_stream(connection.connection_id)
            if checkpoint is None or checkpoint.status is not IngestionStatus.RUNNING:
                continue
            report.connections += 1
            self._poll(connection.connection_id, checkpoint, seconds_left, report)
        return report

    def _poll(
        self,
        connection_id: str,
        checkpoint: StreamCheckpoint,
        seconds_left: Callable[[], float],
        report: PollReport,
    ) -> None:
        source = self._events_for(connection_id)

        def read(position: str | None) -> Future[EventPage]:
            return reader.submit(
                contextvars.copy_context().run,
                source.read_events,
                "admin_logs_streaming",
                position,
                limit=PAGE_SIZE,
            )

        # One reader thread: the next page is read while this one is stored (its position is
        # known as soon as the page is). Leaving the block waits for a read still under way, so
        # nothing runs on after the invocation; a page read ahead and not stored is dropped,
        # and the position, which moves only after a store, reads it again next run.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="boxcasb-stream-read") as reader:
            reading = read(checkpoint.position)
            for _ in range(self._max_pages):
                if seconds_left() < self._reserve:
                    return
                try:
                    page = reading.result()
                except (ReconnectRequired, BoxAccessDenied) as exc:
                    stopped = checkpoint.model_copy(
                        update={
                            "status": IngestionStatus.STOPPED,
                            "reason": f"stopped: {exc}",
                            "stopped_at": self._clock(),
                        }
                    )
                    self._state.replace_stream(connection_id, checkpoint, stopped)
                    report.stopped.append(connection_id)
                    logger.warning("event stream stopped", extra={"connection_id": connection_id})
                    return
                except BoxCasbError as exc:  # rate limited or unavailable: the next run picks it up
                    report.deferred.append(connection_id)
                    logger.info(
                        "event stream deferred",
                        extra={"connection_id": connection_id, "error": type(exc).__name__},
                    )
                    return
                if page.entries:
                    reading = read(page.next_stream_position)
                result = self._ingestor.ingest(connection_id, page.entries, "event_stream")
                after = checkpoint.model_copy(
                    update={
                        "position": page.next_stream_position,
                        "last_poll_at": self._clock(),
                        "events_received": checkpoint.events_received + result.written,
                    }
                )
                if not self._state.replace_stream(connection_id, checkpoint, after):
                    return  # another run moved the position: it owns the stream now
                checkpoint = after
                report.pages += 1
                report.events += result.written
                if not page.entries:
                    return
