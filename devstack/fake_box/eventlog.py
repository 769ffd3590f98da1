"""The enterprise event log: recorded events, compact computed segments, and the two ways of reading them.

Every event has a sequence number (``seq``), handed out in recording order, which
is arrival order; the stream position is derived from it (``routes_events``). The
log is a sequence of *segments* in ``seq`` order:

- runs of recorded ``Event`` objects (``Tenant.add_event``);
- ``SyntheticEvents``: a formula that computes event ``i`` from ``i`` alone, so a
  million events cost a few hundred bytes plus their shared templates;
- ``PackedEvents``: parallel arrays of times and shared bodies (the seeded history:
  a few milliseconds to seed, whatever the clock).

Computed segments build ``Event`` objects only when read. Two indexes answer reads
without touching the whole log:

- time order, for ``admin_logs``: recorded events keep a sorted list of
  ``(created_at, seq)`` keys, a synthetic block rises in time with ``i``, a packed
  segment keeps its indexes sorted by time. A page bisects each and merges them
  lazily: O(segments * log N + limit).
- arrival order, for ``admin_logs_streaming``: ``seq`` order, segment by segment,
  from a bisect on the segments' first ``seq``; retention is a bisect too, as
  arrival never decreases inside a segment: O(log N + limit).

An ``event_type`` filter is applied while scanning, so a rare type costs a scan.

Times are kept as integer microseconds since the epoch inside the indexes.
``EventOptions`` switches on the behaviours tests want to provoke (latency, short
pages, duplicates, empty pages that move the position); see the README.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, overload

# Fixed, so event ids stay the same from run to run.
_EVENT_ID_SALT = 0x6F1C1F0E3D4B4A8E
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SECOND_US = 1_000_000
_MASK64 = (1 << 64) - 1
# Box keeps two weeks in admin_logs_streaming; the fake counts them from each event's arrival.
STREAMING_RETENTION = timedelta(days=14)
# How far back a duplicate is looked for, so an option never costs a scan of the log.
_DUPLICATE_LOOKBACK = 1000


def to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def event_id_for(seq: int) -> str:
    """A UUID-shaped id, unique per seq (the first half is a bijection of it) and cheap to compute."""
    # Each step is invertible mod 2**64 (odd multipliers, xor-shifts), so distinct seqs never collide.
    x = seq * 0x9E3779B97F4A7C15 & _MASK64
    x = (x ^ x >> 32) * 0xBF58476D1CE4E5B9 & _MASK64
    unique = f"{x ^ x >> 29:016x}"
    more = f"{(x + _EVENT_ID_SALT) * 0x94D049BB133111EB >> 7 & _MASK64:016x}"
    return f"{unique[:8]}-{unique[8:12]}-{unique[12:]}-{more[:4]}-{more[4:]}"


def mix(*values: int) -> int:
    """A well-spread 64-bit hash of integers (splitmix64 steps): deterministic, unlike ``hash``."""
    z = 0x9E3779B97F4A7C15
    for value in values:
        z = (z ^ (value & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB & _MASK64
        z ^= z >> 31
    return z


@dataclass(frozen=True, slots=True)
class Event:
    """An enterprise (admin_logs) event; ``source`` and users are snapshots taken when it happened.

    ``arrived_at`` is when Box had it (default: ``created_at``): ``admin_logs`` hides it
    until it is ``EventOptions.admin_logs_latency`` old, and the stream keeps it for
    two weeks from then. Events never change once recorded (the indexes rely on it).
    """

    seq: int  # recording order; the stream position is derived from it
    event_id: str
    event_type: str
    created_at: datetime
    arrived_at: datetime
    created_by: dict[str, Any]
    source: dict[str, Any] | None
    ip_address: str
    session_id: str
    additional_details: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)  # further top-level keys, e.g. accessible_by


@dataclass
class EventOptions:
    """How the event feeds misbehave; a FakeBox keeps one across ``reset()``. All off by default.

    - ``admin_logs_latency`` (seconds): admin_logs returns an event only once its
      ``arrived_at`` is at least this old.
    - ``admin_logs_short_pages``: some admin_logs pages that are not the last hold
      fewer than ``limit`` entries (never zero: only an empty page ends a window).
    - ``streaming_duplicates`` (N): every Nth stream page that resumes from a position
      and has new events starts by re-sending the latest event at or before that
      position (same ``event_id``, same body). 0: never.
    - ``streaming_empty_pages`` (N): every Nth stream read that finds nothing new answers
      an empty page whose position is past the request's (as if internal events were
      skipped). 0: never. Events are never hidden behind it (see the README).
    """

    admin_logs_latency: float = 0.0
    admin_logs_short_pages: bool = False
    streaming_duplicates: int = 0
    streaming_empty_pages: int = 0

    def __post_init__(self) -> None:
        if self.admin_logs_latency < 0 or self.streaming_duplicates < 0 or self.streaming_empty_pages < 0:
            raise ValueError("event options must not be negative")


class ComputedEvents(ABC):
    """A run of events not stored as objects: event ``i`` (``seq = first_seq + i``) is built on demand.

    Arrival never decreases with ``i`` (a segment is in stream order), so retention is a
    bisect; ``time_order`` gives the indexes in (created_at, seq) order.
    """

    first_seq: int
    count: int
    arrival_is_creation: bool

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.count - 1

    @abstractmethod
    def created_us(self, i: int) -> int: ...

    @abstractmethod
    def arrived_us(self, i: int) -> int: ...

    @abstractmethod
    def body(self, i: int) -> Event:
        """The template event ``i`` copies everything but its seq, id and times from."""

    @abstractmethod
    def time_order(self, low: tuple[int, int]) -> Iterator[int]:
        """Indexes in (created_us, seq) order, from the first whose key is above ``low``."""

    def event(self, i: int, created_us: int | None = None) -> Event:
        """Event ``i``; ``created_us`` saves recomputing it when the caller has it."""
        body = self.body(i)
        seq = self.first_seq + i
        if created_us is None:
            created_us = self.created_us(i)
        created = from_us(created_us)
        arrived_us = created_us if self.arrival_is_creation else self.arrived_us(i)
        return Event(
            seq=seq,
            event_id=event_id_for(seq),
            event_type=body.event_type,
            created_at=created,
            arrived_at=created if arrived_us == created_us else from_us(arrived_us),
            created_by=body.created_by,
            source=body.source,
            ip_address=body.ip_address,
            session_id=body.session_id,
            additional_details=body.additional_details,
            extra=body.extra,
        )

    def first_arrived_at_or_after(self, us: int) -> int:
        return bisect.bisect_left(range(self.count), us, key=self.arrived_us)


@dataclass(frozen=True, eq=False)
class SyntheticEvents(ComputedEvents):
    """``count`` events stored as a formula.

    ``created_at`` rises with ``i`` over ``[start, end)`` (whole seconds when there is room
    for one event per second), ``arrived_at`` equals it, and the body is one of
    ``templates``, picked by hashing ``(seed, i)``.
    """

    first_seq: int
    count: int
    start_us: int
    span_us: int
    seed: int
    templates: tuple[Event, ...]
    arrival_is_creation: bool = True

    def __post_init__(self) -> None:
        if self.count < 1 or self.span_us < 1 or not self.templates:
            raise ValueError("a synthetic block needs events, a time span and templates")

    def created_us(self, i: int) -> int:
        raw = self.start_us + self.span_us * i // self.count
        if self.whole_seconds:
            return -(-raw // _SECOND_US) * _SECOND_US  # rounded up: still inside [start, end), still rising
        return raw

    @functools.cached_property
    def whole_seconds(self) -> bool:
        """One event per second fits: times are whole seconds, as Box renders them."""
        return self.span_us >= self.count * _SECOND_US

    def arrived_us(self, i: int) -> int:
        return self.created_us(i)

    def body(self, i: int) -> Event:
        return self.templates[mix(self.seeded, i) % len(self.templates)]

    @functools.cached_property
    def seeded(self) -> int:
        return mix(self.seed)

    def time_order(self, low: tuple[int, int]) -> Iterator[int]:
        first_seq = self.first_seq
        start = bisect.bisect_right(range(self.count), low, key=lambda i: (self.created_us(i), first_seq + i))
        return iter(range(start, self.count))


@dataclass(frozen=True, eq=False)
class PackedEvents(ComputedEvents):
    """Events kept as parallel arrays (times in microseconds, shared bodies), in arrival order."""

    first_seq: int
    count: int
    created: list[int]
    arrived: list[int]
    bodies: list[Event]
    by_time: list[int]  # indexes sorted by (created, seq)
    arrival_is_creation: bool = False

    @classmethod
    def build(
        cls, first_seq: int, created: list[int], arrived: list[int], bodies: list[Event]
    ) -> PackedEvents:
        count = len(bodies)
        if not count or len(created) != count or len(arrived) != count:
            raise ValueError("packed events need as many times as bodies, and at least one")
        if any(a < c for a, c in zip(arrived, created, strict=True)) or arrived != sorted(arrived):
            raise ValueError("packed events arrive in order, never before they happen")
        by_time = sorted(range(count), key=created.__getitem__)  # stable: ties stay in seq order
        return cls(first_seq, count, created, arrived, bodies, by_time)

    def created_us(self, i: int) -> int:
        return self.created[i]

    def arrived_us(self, i: int) -> int:
        return self.arrived[i]

    def body(self, i: int) -> Event:
        return self.bodies[i]

    def time_order(self, low: tuple[int, int]) -> Iterator[int]:
        created, first_seq = self.created, self.first_seq
        start = bisect.bisect_right(self.by_time, low, key=lambda i: (created[i], first_seq + i))
        return itertools.islice(self.by_time, start, None)


def _same(event: Event) -> Event:
    return event


# Yielded by the time-ordered readers: (created_us, seq, how to build the event).
_Timed = tuple[int, int, Callable[[], Event]]
_Segment = list[Event] | ComputedEvents


class EventLog(Sequence[Event]):
    """All events in ``seq`` (stream) order; index, iterate and ``len`` it like a list.

    Not thread-safe by itself: the tenant lock guards it.
    """

    def __init__(self) -> None:
        self._segments: list[_Segment] = []
        self._segment_first_seq: list[int] = []
        self._segment_start: list[int] = []  # the log index of each segment's first event
        self._len = 0
        self._recorded: dict[int, Event] = {}
        self._time_index: list[tuple[int, int]] = []  # (created_us, seq) of recorded events, sorted
        self._computed: list[ComputedEvents] = []
        self._last_seq = 0  # the highest seq handed out, to an event or to a moving empty page
        self._last_event_seq = 0
        self._duplicate_pages = 0  # stream pages that could have carried a duplicate
        self._end_reads = 0  # stream reads that found nothing new

    # ----- writing ----------------------------------------------------------

    def allocate_seq(self) -> int:
        self._last_seq += 1
        return self._last_seq

    def record(self, event: Event) -> None:
        """Append an event whose seq came from ``allocate_seq`` (the latest one handed out)."""
        seq = event.seq
        if seq != self._last_seq or seq <= self._last_event_seq:
            raise ValueError("record events in the order their seqs were allocated")
        last = self._segments[-1] if self._segments else None
        if type(last) is list:
            last.append(event)
            self._len += 1
        else:
            self._add_segment([event], seq, 1)
        self._recorded[seq] = event
        key = ((event.created_at - _EPOCH) // _MICROSECOND, seq)
        index = self._time_index
        if not index or index[-1] < key:
            index.append(key)
        else:
            bisect.insort(index, key)
        self._last_event_seq = seq

    def add_block(
        self, count: int, start: datetime, end: datetime, seed: int, templates: Sequence[Event]
    ) -> SyntheticEvents:
        block = SyntheticEvents(
            first_seq=self._last_seq + 1,
            count=count,
            start_us=to_us(start),
            span_us=to_us(end) - to_us(start),
            seed=seed,
            templates=tuple(templates),
        )
        self._add_computed(block)
        return block

    def add_packed(self, created_us: list[int], arrived_us: list[int], bodies: list[Event]) -> PackedEvents:
        """Append events given as arrays (in arrival order); the seeded history uses this."""
        packed = PackedEvents.build(self._last_seq + 1, created_us, arrived_us, bodies)
        self._add_computed(packed)
        return packed

    def _add_computed(self, segment: ComputedEvents) -> None:
        self._add_segment(segment, segment.first_seq, segment.count)
        self._computed.append(segment)
        self._last_seq = self._last_event_seq = segment.last_seq

    def _add_segment(self, segment: _Segment, first_seq: int, size: int) -> None:
        self._segments.append(segment)
        self._segment_first_seq.append(first_seq)
        self._segment_start.append(self._len)
        self._len += size

    # ----- the Sequence protocol ---------------------------------------------

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...
    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("event index out of range")
        at = bisect.bisect_right(self._segment_start, index) - 1
        segment, offset = self._segments[at], index - self._segment_start[at]
        return segment[offset] if isinstance(segment, list) else segment.event(offset)

    def __iter__(self) -> Iterator[Event]:
        for segment in self._segments:
            if isinstance(segment, list):
                yield from list(segment)
            else:
                yield from map(segment.event, range(segment.count))

    # ----- lookups ------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The position ``stream_position=now`` answers: past every event and moving empty page."""
        return self._last_seq

    @property
    def last_event_seq(self) -> int:
        return self._last_event_seq

    def by_seq(self, seq: int) -> Event | None:
        recorded = self._recorded.get(seq)
        if recorded is not None:
            return recorded
        at = bisect.bisect_right(self._segment_first_seq, seq) - 1
        if at >= 0:
            segment = self._segments[at]
            if isinstance(segment, ComputedEvents) and seq <= segment.last_seq:
                return segment.event(seq - segment.first_seq)
        return None

    # ----- admin_logs -----------------------------------------------------------

    def admin_logs_page(
        self,
        *,
        after: datetime | None,
        before: datetime | None,
        cursor: Event | None,
        limit: int,
        types: frozenset[str] | None,
        now: datetime,
        options: EventOptions,
    ) -> list[Event]:
        """The next page in (created_at, seq) order after ``cursor``, both bounds inclusive.

        Only events that arrived at least ``admin_logs_latency`` before ``now`` count.
        """
        low = (-1 << 62, 0)  # exclusive lower key: after it in (created_us, seq) order
        if after is not None:
            low = (to_us(after), 0)  # seqs start at 1, so this keeps created_at == after
        if cursor is not None:
            low = max(low, (to_us(cursor.created_at), cursor.seq))
        high_us = to_us(before) if before is not None else 1 << 62
        visible_us = to_us(now) - round(options.admin_logs_latency * _SECOND_US)
        sources = [self._recorded_in_time(low, high_us, types, visible_us)]
        sources += [self._computed_in_time(part, low, high_us, types, visible_us) for part in self._computed]
        size = limit
        if options.admin_logs_short_pages and limit > 1:
            spread = mix(low[0], low[1], limit)
            if spread % 2 == 0:
                size = 1 + (spread >> 1) % (limit - 1)
        merged = heapq.merge(*sources) if len(sources) > 1 else sources[0]
        return [build() for _us, _seq, build in itertools.islice(merged, size)]

    def _recorded_in_time(
        self, low: tuple[int, int], high_us: int, types: frozenset[str] | None, visible_us: int
    ) -> Iterator[_Timed]:
        index = self._time_index
        for at in range(bisect.bisect_right(index, low), len(index)):
            created_us, seq = index[at]
            if created_us > high_us:
                return
            event = self._recorded[seq]
            if (types is None or event.event_type in types) and to_us(event.arrived_at) <= visible_us:
                yield created_us, seq, functools.partial(_same, event)

    @staticmethod
    def _computed_in_time(
        part: ComputedEvents,
        low: tuple[int, int],
        high_us: int,
        types: frozenset[str] | None,
        visible_us: int,
    ) -> Iterator[_Timed]:
        every_arrival_visible = part.arrival_is_creation
        if every_arrival_visible:
            high_us = min(high_us, visible_us)  # arrival is creation: nothing later is visible
        first_seq, created_us_of, arrived_us_of, body = (
            part.first_seq,
            part.created_us,
            part.arrived_us,
            part.body,
        )
        for i in part.time_order(low):
            created_us = created_us_of(i)
            if created_us > high_us:
                return
            if (every_arrival_visible or arrived_us_of(i) <= visible_us) and (
                types is None or body(i).event_type in types
            ):
                yield created_us, first_seq + i, functools.partial(part.event, i, created_us)

    # ----- admin_logs_streaming ---------------------------------------------------

    def stream_page(
        self, *, cursor: int, limit: int, types: frozenset[str] | None, now: datetime, options: EventOptions
    ) -> tuple[list[Event], int]:
        """The next page in seq order after ``cursor``, within retention, and its next position (a seq)."""
        horizon_us = to_us(now - STREAMING_RETENTION)
        fresh = list(itertools.islice(self._in_seq_order(cursor, types, horizon_us), limit))
        if not fresh:
            if options.streaming_empty_pages:
                self._end_reads += 1
                if self._end_reads % options.streaming_empty_pages == 0:
                    # Nothing is after cursor, so nothing is hidden behind the moved position.
                    return [], self.allocate_seq()
            return [], cursor
        if options.streaming_duplicates and cursor and limit > 1:
            self._duplicate_pages += 1
            if self._duplicate_pages % options.streaming_duplicates == 0:
                again = self._latest_at_or_before(cursor, types, horizon_us)
                if again is not None:
                    fresh = [again, *fresh[: limit - 1]]
        return fresh, fresh[-1].seq

    def _in_seq_order(self, cursor: int, types: frozenset[str] | None, horizon_us: int) -> Iterator[Event]:
        start = max(bisect.bisect_right(self._segment_first_seq, cursor) - 1, 0)
        for segment in itertools.islice(self._segments, start, None):
            if isinstance(segment, list):
                first = bisect.bisect_right(segment, cursor, key=lambda event: event.seq)
                for event in itertools.islice(segment, first, None):
                    if (types is None or event.event_type in types) and to_us(event.arrived_at) >= horizon_us:
                        yield event
            else:
                first = max(cursor + 1 - segment.first_seq, segment.first_arrived_at_or_after(horizon_us), 0)
                for i in range(first, segment.count):
                    if types is None or segment.body(i).event_type in types:
                        yield segment.event(i)

    def _latest_at_or_before(
        self, cursor: int, types: frozenset[str] | None, horizon_us: int
    ) -> Event | None:
        """The stream event a re-delivery repeats: the latest retained one at or before ``cursor``."""
        seq = min(cursor, self._last_event_seq)
        for candidate in range(seq, max(seq - _DUPLICATE_LOOKBACK, 0), -1):
            event = self.by_seq(candidate)
            if (
                event is not None
                and (types is None or event.event_type in types)
                and to_us(event.arrived_at) >= horizon_us
            ):
                return event
        return None
