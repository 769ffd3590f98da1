"""One budget of Box requests per connection, shared by every concurrent worker, kept in DynamoDB.

Box allows 1000 API requests per minute per user (the Box API notes, "Limits").
Every request a connection makes carries the connecting admin's token, As-User calls included.
Whether Box charges an As-User call to the admin or to the user named in the header is not
documented, so a connection has ONE budget, keyed by its id: the conservative choice (if Box
charges the target user, we merely use less than we could).

How. Time is cut into windows (10 s by default); window `w` = floor(epoch seconds / window).
Each window has one item in the state table:

    pk                 sk                   attributes
    RATE#<connection>  W#<window index>     used (tokens handed out), expires_at (TTL)

A worker takes a *chunk* of tokens (25 by default) with one conditional UpdateItem
(`ADD used :n` if `used <= cap - n`) and hands them out locally, one per HTTP attempt; it goes
back to DynamoDB only when its chunk is empty. When the window cannot give a full chunk, the
failed condition returns the item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`), and the
worker asks once more for exactly what is left. Tokens of window `w` are spent in window `w`
only: a worker's unspent tokens lapse with their window, so the store never over-spends; it can
only under-use (the safe side).

Lanes. `priority` (re-scans of changed items, the Test API, webhooks) may fill a window up to its
cap; `bulk` (full scans, backfills) only up to cap x (1 - reserve), so priority work always
finds tokens while a large scan runs. Both lanes count on the same item.

Waiting. With no token left in the current window, a worker sleeps until the next one if that
keeps its total wait within `max_wait_seconds`; otherwise it raises `RateLimitExhausted`, a
`BoxRateLimited`, whose `retry_after_seconds` the queue-driven callers already turn into a
delayed re-queue.

Cost. One UpdateItem per `chunk` Box calls (1/25 write per call at the defaults), plus at most
one failed conditional write (it costs a write unit too) per worker and window once a window is
spent. A sliding minute can touch `ceil(60 / window) + 1` windows, so the worst burst is
`window cap x (ceil(60 / window) + 1)`; `RateLimitSettings` refuses settings where that exceeds
Box's 1000 (800 per minute in 10 s windows: 133 per window, at most 931 in any minute).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from boxcasb.errors import BoxRateLimited
from boxcasb.state_store import delete_keys, query_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

Lane = Literal["priority", "bulk"]

BOX_REQUESTS_PER_MINUTE = 1000  # per user (uploads and search have lower limits of their own)
RATE_PREFIX = "RATE#"
WINDOW_PREFIX = "W#"
# A window's item outlives the window by this much, then DynamoDB's TTL sweep removes it.
ITEM_LIFETIME_SECONDS = 300
# Conditional tries per visit to DynamoDB: a full chunk, then what is left (again if raced).
_TAKE_ATTEMPTS = 3


class RateLimiter(Protocol):
    def acquire(self) -> None:
        """Return once one Box request may be sent; RateLimitExhausted if that means waiting too long."""
        ...


class RateLimitExhausted(BoxRateLimited):
    """The connection's budget is spent for longer than this worker may wait."""

    def __init__(self, key: str, lane: Lane, retry_after_seconds: float) -> None:
        super().__init__(
            f"the Box request budget of connection {key} ({lane} lane) is spent: "
            f"retry after {retry_after_seconds:.3g} s",
            retry_after_seconds,
        )
        self.key = key
        self.lane = lane


class RateLimitSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    per_minute: int = Field(default=800, ge=1, le=BOX_REQUESTS_PER_MINUTE)
    window_seconds: int = Field(default=10, ge=1, le=60)
    chunk: int = Field(default=25, ge=1, le=BOX_REQUESTS_PER_MINUTE)
    reserve_fraction: float = Field(default=0.2, ge=0, lt=1)
    max_wait_seconds: float = Field(default=10.0, ge=0, le=60)

    @property
    def window_cap(self) -> int:
        """Tokens one window may hand out, over both lanes."""
        return self.per_minute * self.window_seconds // 60

    def lane_cap(self, lane: Lane) -> int:
        """How full a lane may fill a window: the whole cap (priority) or all but the reserve (bulk)."""
        if lane == "priority":
            return self.window_cap
        return math.floor(self.window_cap * (1 - self.reserve_fraction) + 1e-9)

    @property
    def worst_minute(self) -> int:
        """The most tokens any 60 s (not aligned to windows) can hand out."""
        return self.window_cap * (math.ceil(60 / self.window_seconds) + 1)

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if self.lane_cap("bulk") < 1:
            raise ValueError(
                f"{self.per_minute}/min in {self.window_seconds} s windows with a reserve of "
                f"{self.reserve_fraction:g} leaves the bulk lane no token per window"
            )
        if self.worst_minute > BOX_REQUESTS_PER_MINUTE:
            raise ValueError(
                f"{self.per_minute}/min in {self.window_seconds} s windows can burst to "
                f"{self.worst_minute} requests in a minute, over Box's {BOX_REQUESTS_PER_MINUTE}: "
                "lower per_minute or shorten the window"
            )
        return self


def _conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _used_in(exc: ClientError) -> int | None:
    """`used` from the item a failed condition returned (low-level form: {"N": "12"})."""
    response: dict[str, Any] = dict(exc.response)
    value = (response.get("Item") or {}).get("used")
    if isinstance(value, dict):
        value = value.get("N")
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


class WindowedRateLimiter:
    """One lane of one connection's budget, for one worker (container). Thread-safe.

    Keep one per (connection, lane) per container (`RateLimiters`): its unspent chunk then
    serves the container's next invocation in the same window instead of lapsing.
    """

    def __init__(
        self,
        table: Table,
        key: str,
        lane: Lane = "priority",
        settings: RateLimitSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        self._key = key
        self._lane: Lane = lane
        self._settings = settings or RateLimitSettings()
        self._cap = self._settings.lane_cap(lane)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._window: int | None = None  # the window the local tokens belong to
        self._tokens = 0  # local tokens left in that window
        self._spent = False  # that window has nothing left for this lane: don't ask again
        self.granted = 0  # tokens handed out to callers (for tests and benchmarks)
        self.taken = 0  # tokens taken from the shared budget
        self.writes = 0  # UpdateItem calls, failed conditions included

    @property
    def settings(self) -> RateLimitSettings:
        return self._settings

    def acquire(self) -> None:
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                window = self._window_of(now)
                if window != self._window:  # a new window: tokens of the old one lapse
                    self._window, self._tokens, self._spent = window, 0, False
                if self._tokens == 0 and not self._spent:
                    granted, full = self._take(window)
                    now = self._clock()
                    if self._window_of(now) != window:
                        continue  # the write straddled a window's end: those tokens lapsed already
                    # A full window has nothing more for this lane: once these are spent, wait.
                    self._tokens, self._spent = granted, full
                if self._tokens > 0:
                    self._tokens -= 1
                    self.granted += 1
                    return
                wait = (window + 1) * self._settings.window_seconds - now
            if waited + wait > self._settings.max_wait_seconds:
                raise RateLimitExhausted(self._key, self._lane, wait)
            self._sleep(wait)
            waited += wait

    def _window_of(self, now: float) -> int:
        return math.floor(now / self._settings.window_seconds)

    def _take(self, window: int) -> tuple[int, bool]:
        """Take up to a chunk of `window`'s tokens from the shared budget.

        How many were taken, and whether the window is now full for this lane (then there is no
        point asking again in it: `used` only grows within a window).
        """
        want = min(self._settings.chunk, self._cap)
        expires_at = (window + 1) * self._settings.window_seconds + ITEM_LIFETIME_SECONDS
        for _ in range(_TAKE_ATTEMPTS):
            self.writes += 1
            try:
                answer = self._table.update_item(
                    Key={"pk": RATE_PREFIX + self._key, "sk": f"{WINDOW_PREFIX}{window}"},
                    UpdateExpression="ADD #used :n SET #expires = :expires",
                    ConditionExpression="attribute_not_exists(#used) OR #used <= :room",
                    ExpressionAttributeNames={"#used": "used", "#expires": "expires_at"},
                    ExpressionAttributeValues={
                        ":n": want,
                        ":room": self._cap - want,
                        ":expires": expires_at,
                    },
                    ReturnValues="UPDATED_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if not _conditional_failure(exc):
                    raise  # fail closed: no token without the shared count
                used = _used_in(exc)
                if used is None:
                    return 0, True
                want = min(want, self._cap - used)
                if want <= 0:
                    return 0, True
                continue
            self.taken += want
            now_used = answer.get("Attributes", {}).get("used")
            return want, now_used is not None and int(str(now_used)) >= self._cap
        return 0, True  # lost every race for what was left: as good as full


class RateLimiters:
    """`limiter_for` of the gateway factory: one limiter per (connection, lane), kept per container."""

    def __init__(
        self,
        table: Table,
        settings: RateLimitSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        self._settings = settings or RateLimitSettings()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._limiters: dict[tuple[str, Lane], WindowedRateLimiter] = {}

    def forget(self, key: str) -> int:
        """Delete the windows of `key` (a disconnected connection); they would expire minutes later."""
        with self._lock:
            for lane in ("priority", "bulk"):
                self._limiters.pop((key, lane), None)
        windows = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": RATE_PREFIX + key},
            ProjectionExpression="pk, sk",
        )
        return delete_keys(self._table, list(windows))

    def __call__(self, key: str, lane: Lane) -> WindowedRateLimiter:
        with self._lock:
            limiter = self._limiters.get((key, lane))
            if limiter is None:
                limiter = WindowedRateLimiter(
                    self._table, key, lane, self._settings, clock=self._clock, sleep=self._sleep
                )
                self._limiters[(key, lane)] = limiter
            return limiter
