"""The 60-day backfill: admin_logs cut into windows read in parallel, each checkpointed after every page.

Hand-over to the stream (designed, not assumed): the plan first takes the streaming position
"now", so continuous ingestion covers every event that *arrives* after the connection. The
backfill covers events *created* before it, and admin_logs shows events only after a delay, so
the newest window is read a settle time later (a delayed message). Events in both are stored once
(keys are per event), so the two overlap instead of leaving a gap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from boxcasb.activity.ingest import Ingestor
from boxcasb.activity.model import ActivityEvent, EventPage
from boxcasb.activity.progress import BackfillSummary, BackfillWindow, IngestionStatus, StreamCheckpoint
from boxcasb.backoff import MAX_UNAVAILABLE, unavailable_delay
from boxcasb.clock import Clock, utc_now
from boxcasb.errors import BoxAccessDenied, BoxRateLimited, BoxUnavailable, NotFound, ReconnectRequired
from boxcasb.observability import logger, metrics
from boxcasb.state_store import StateStore

PAGE_SIZE = 500
# Box's created_after/created_before bounds are not documented as inclusive or exclusive: ask a
# little wider and keep exactly [start, end) here, so no event at a boundary is lost or doubled.
_BOUND_SLACK = timedelta(seconds=1)


class EventSource(Protocol):
    def read_events(
        self,
        stream_type: str,
        stream_position: str | None,
        *,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = PAGE_SIZE,
    ) -> EventPage: ...


class BackfillMessage(BaseModel):
    """A backfill queue message: plan a connection's backfill, resume it, or read one window."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["plan", "resume", "window"]
    connection_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    connected_at: AwareDatetime | None = None
    window_start: AwareDatetime | None = None
    # Puts-back in a row after Box kept failing (5xx, timeouts) with no page read in between.
    unavailable: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> BackfillMessage:
        if self.kind == "window" and self.window_start is None:
            raise ValueError("a window message needs window_start")
        if self.kind == "plan" and self.connected_at is None:
            raise ValueError("a plan message needs connected_at")
        return self


class BackfillQueue(Protocol):
    def send(self, messages: list[BackfillMessage], delay_seconds: int = 0) -> None: ...


class WindowOutcome(StrEnum):
    DONE = "done"
    CONTINUE = "continue"  # out of time: the window goes back on the queue, resuming from its checkpoint
    RETRY_LATER = "retry_later"  # Box said wait longer than a Lambda should sleep
    UNAVAILABLE = "unavailable"  # Box kept failing: put back with a growing delay
    STOPPED = "stopped"  # an error retrying can't heal: status says why


@dataclass(frozen=True)
class WindowResult:
    outcome: WindowOutcome
    delay_seconds: int = 0
    progressed: bool = False  # at least one page was checkpointed before the outcome


@dataclass(frozen=True)
class BackfillSettings:
    days: int = 60
    window: timedelta = timedelta(days=1)
    settle: timedelta = timedelta(minutes=10)
    # Stop reading pages this long before the Lambda's deadline, to checkpoint and re-queue.
    reserve_seconds: float = 20.0


def plan_windows(start: datetime, end: datetime, size: timedelta) -> list[BackfillWindow]:
    windows, cursor = [], start
    while cursor < end:
        windows.append(BackfillWindow(start=cursor, end=min(cursor + size, end)))
        cursor += size
    return windows


class BackfillService:
    def __init__(
        self,
        state: StateStore,
        ingestor: Ingestor,
        queue: BackfillQueue,
        events_for: Callable[[str], EventSource],
        settings: BackfillSettings,
        clock: Clock = utc_now,
    ) -> None:
        self._state = state
        self._ingestor = ingestor
        self._queue = queue
        self._events_for = events_for
        self._settings = settings
        self._clock = clock

    def handle(self, message: BackfillMessage, seconds_left: Callable[[], float]) -> str:
        """One queue message. An unfinished window goes back on the queue (delayed if Box asked)."""
        cid = message.connection_id
        try:
            if self._state.get_connection(cid).status.retired:
                return "disconnected"  # dropped: its data is being deleted
        except NotFound:
            # Nothing to plan for and nowhere to record it: a forged or stale message writes nothing.
            logger.warning("backfill message for an unknown connection dropped")
            return "unknown connection"
        try:
            if message.kind == "plan":
                assert message.connected_at is not None  # checked by the model
                self.plan(cid, message.connected_at)
                return "planned"
            if message.kind == "resume":
                self.resume(cid, message.connected_at)
                return "resumed"
            assert message.window_start is not None
            result = self.run_window(cid, message.window_start, seconds_left)
        except BoxUnavailable:
            # Plan and resume are safe to run again; nothing of theirs is lost by a put-back.
            result = WindowResult(WindowOutcome.UNAVAILABLE)
        if result.outcome is WindowOutcome.UNAVAILABLE:
            self._put_back_unavailable(message, result.progressed)
        elif result.outcome in (WindowOutcome.CONTINUE, WindowOutcome.RETRY_LATER):
            self._queue.send([message.model_copy(update={"unavailable": 0})], result.delay_seconds)
        return result.outcome.value

    def _put_back_unavailable(self, message: BackfillMessage, progressed: bool) -> None:
        """Later each time; after MAX_UNAVAILABLE in a row with no page read, the record fails (SQS, DLQ)."""
        in_a_row = 0 if progressed else message.unavailable
        if in_a_row >= MAX_UNAVAILABLE:
            raise BoxUnavailable(f"Box kept failing through {in_a_row} puts-back of this backfill message")
        delay = unavailable_delay(in_a_row)
        self._queue.send([message.model_copy(update={"unavailable": in_a_row + 1})], delay)
        logger.warning(
            "backfill message put back after Box errors",
            extra={"connection_id": message.connection_id, "kind": message.kind, "delay_seconds": delay},
        )

    def on_connected(self, connection_id: str, connected_at: datetime) -> None:
        """After a connect: plan the backfill the first time, resume what a stop left after a reconnect."""
        kind: Literal["plan", "resume"] = "resume" if self._state.get_backfill(connection_id) else "plan"
        self._queue.send([BackfillMessage(kind=kind, connection_id=connection_id, connected_at=connected_at)])

    def reconcile(self, connection_id: str, connected_at: datetime) -> bool:
        """The poller's safety net: start what the callback could not, resume after a reconnect.

        Returns True when it queued work. A stop is resumed only once the connection was made
        again after it, so a missing permission does not turn into a retry every minute.
        """
        summary = self._state.get_backfill(connection_id)
        stream = self._state.get_stream(connection_id)
        stops = [
            s.stopped_at for s in (summary, stream) if s is not None and s.status is IngestionStatus.STOPPED
        ]
        if summary is not None and stream is not None and not any(t and connected_at > t for t in stops):
            return False
        self.on_connected(connection_id, connected_at)
        return True

    def plan(self, connection_id: str, connected_at: datetime) -> int:
        """Take the stream position, record the windows, queue them. Safe to run twice.

        The span starts `days` before the connection and ends when the stream position was
        taken (a few seconds after the connection): an event created in between is in
        admin_logs, and one that arrives later is in the stream, so none falls between.
        """
        now = self._clock()
        span_start = connected_at - timedelta(days=self._settings.days)
        try:
            stream = self._start_stream(connection_id)
        except (ReconnectRequired, BoxAccessDenied) as exc:
            # Recorded, not retried. No windows yet: their span must end where a stream starts,
            # and none has. A reconnect with the right account plans them then (see resume).
            never_started = BackfillSummary(
                span_start=span_start,
                span_end=connected_at,
                windows_total=0,
                planned_at=now,
                status=IngestionStatus.STOPPED,
                stopped_at=now,
                reason=f"stopped: {exc}",
            )
            self._state.put_backfill_plan(connection_id, never_started, [])
            logger.warning(
                "backfill not started", extra={"connection_id": connection_id, "error": type(exc).__name__}
            )
            return 0
        span_end = max(connected_at, stream.started_at)
        windows = plan_windows(span_start, span_end, self._settings.window)
        summary = BackfillSummary(
            span_start=span_start,
            span_end=span_end,
            windows_total=len(windows),
            planned_at=now,
            status=IngestionStatus.RUNNING,
        )
        if self._state.put_backfill_plan(connection_id, summary, windows):
            logger.info("backfill planned", extra={"connection_id": connection_id, "windows": len(windows)})
        else:  # planned before (a redelivered message, or a stop now resumed): keep that plan's windows
            existing = self._state.get_backfill(connection_id)
            if existing is not None:
                windows = plan_windows(existing.span_start, existing.span_end, self._settings.window)
                span_end = existing.span_end
        self._queue_windows(connection_id, windows, span_end)
        return len(windows)

    def resume(self, connection_id: str, connected_at: datetime | None) -> int:
        """After a reconnect: restart a stopped stream, run what a stop left unfinished."""
        summary = self._state.get_backfill(connection_id)
        if (
            summary is not None
            and summary.windows_total == 0
            and self._state.get_stream(connection_id) is None
        ):
            # Stopped before anything started: plan afresh from this connection.
            if connected_at is None:
                logger.error("cannot plan a backfill without the connection time")
                return 0
            self._state.delete_backfill_plan(connection_id)
            return self.plan(connection_id, connected_at)
        try:
            self._start_stream(connection_id)
        except (ReconnectRequired, BoxAccessDenied) as exc:
            self._stop(connection_id, exc)
            return 0
        if summary is None or summary.status is IngestionStatus.FINISHED:
            return 0
        self._state.set_backfill_status(connection_id, IngestionStatus.RUNNING, self._clock())
        windows = plan_windows(summary.span_start, summary.span_end, self._settings.window)
        pending = [w for w in windows if not (self._state.get_window(connection_id, w.start) or w).done]
        self._queue_windows(connection_id, pending, summary.span_end)
        return len(pending)

    def _start_stream(self, connection_id: str) -> StreamCheckpoint:
        """Store the streaming position "now" once; a stopped stream restarts where it stopped."""
        stream = self._state.get_stream(connection_id)
        if stream is None:
            source = self._events_for(connection_id)
            position = source.read_events("admin_logs_streaming", "now").next_stream_position
            stream = StreamCheckpoint(
                position=position, status=IngestionStatus.RUNNING, started_at=self._clock()
            )
            if not self._state.put_stream(connection_id, stream):
                stream = self._state.get_stream(connection_id) or stream  # a concurrent plan stored one first
        elif stream.status is IngestionStatus.STOPPED:
            running = stream.model_copy(
                update={"status": IngestionStatus.RUNNING, "reason": None, "stopped_at": None}
            )
            self._state.replace_stream(connection_id, stream, running)
            stream = running
        return stream

    def run_window(
        self, connection_id: str, start: datetime, seconds_left: Callable[[], float]
    ) -> WindowResult:
        window = self._state.get_window(connection_id, start)
        if window is None:
            logger.error("backfill window not planned", extra={"connection_id": connection_id})
            return WindowResult(WindowOutcome.STOPPED)
        source = self._events_for(connection_id)
        pages = 0
        while not window.done:
            if seconds_left() < self._settings.reserve_seconds:
                return WindowResult(WindowOutcome.CONTINUE)
            try:
                page = source.read_events(
                    "admin_logs",
                    window.position,
                    created_after=window.start - _BOUND_SLACK,
                    created_before=window.end + _BOUND_SLACK,
                    limit=PAGE_SIZE,
                )
            except BoxRateLimited as exc:
                return WindowResult(WindowOutcome.RETRY_LATER, _queue_delay(exc.retry_after_seconds))
            except BoxUnavailable:
                return WindowResult(WindowOutcome.UNAVAILABLE, progressed=pages > 0)
            except (ReconnectRequired, BoxAccessDenied) as exc:
                self._stop(connection_id, exc)
                return WindowResult(WindowOutcome.STOPPED)
            window = self._checkpoint(connection_id, window, page)
            pages += 1
        self._finish_if_complete(connection_id)
        return WindowResult(WindowOutcome.DONE)

    def _checkpoint(self, connection_id: str, window: BackfillWindow, page: EventPage) -> BackfillWindow:
        def inside(event: ActivityEvent) -> bool:
            return window.start <= event.created_at < window.end

        result = self._ingestor.ingest(connection_id, page.entries, "backfill", keep=inside)
        after = window.model_copy(
            update={
                "position": page.next_stream_position,
                "pages": window.pages + 1,
                "events": window.events + result.written,
                "oldest": _earliest(window.oldest, result.oldest),
                "newest": _latest(window.newest, result.newest),
                # admin_logs ends a window with an empty page (a short page is not the end).
                "done": not page.entries,
            }
        )
        if self._state.advance_window(connection_id, window, after):
            return after
        # Another worker checkpointed this window first (a duplicate message): continue from theirs.
        return self._state.get_window(connection_id, window.start) or after

    def _finish_if_complete(self, connection_id: str) -> None:
        progress = self._state.backfill_progress(connection_id)
        if progress is None or progress.windows_done < progress.windows_total:
            return
        if self._state.set_backfill_status(connection_id, IngestionStatus.FINISHED, self._clock()):
            logger.info(
                "backfill finished", extra={"connection_id": connection_id, "events": progress.events_stored}
            )
            metrics.add_metric(name="BackfillsFinished", unit="Count", value=1)

    def _stop(self, connection_id: str, exc: Exception) -> None:
        reason = f"stopped: {exc}"
        self._state.set_backfill_status(connection_id, IngestionStatus.STOPPED, self._clock(), reason)
        logger.warning(
            "backfill stopped", extra={"connection_id": connection_id, "error": type(exc).__name__}
        )

    def _queue_windows(self, connection_id: str, windows: list[BackfillWindow], span_end: datetime) -> None:
        settle_until = span_end - self._settings.settle
        ready = [w for w in windows if w.end <= settle_until]
        settling = [w for w in windows if w.end > settle_until]
        self._queue.send([_window_message(connection_id, w) for w in ready])
        if settling:
            # Newest events reach admin_logs late: read their window once they have settled.
            wait = (span_end + self._settings.settle - self._clock()).total_seconds()
            self._queue.send([_window_message(connection_id, w) for w in settling], _queue_delay(wait))


def _window_message(connection_id: str, window: BackfillWindow) -> BackfillMessage:
    return BackfillMessage(kind="window", connection_id=connection_id, window_start=window.start)


def _queue_delay(seconds: float) -> int:
    return max(0, min(900, int(seconds + 0.999)))  # SQS allows up to 15 minutes


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x) if a or b else None


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x) if a or b else None
