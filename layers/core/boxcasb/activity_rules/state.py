"""What activity rules remember between events: window counts and the countries a user was seen in.

The engine sees each event at least once (a stream redelivers, a batch is retried) and runs in
several Lambdas at once. So every write is keyed on the event itself and made with one atomic
UpdateItem, whose outcome alone decides whether a rule fires:

- a redelivered event is never counted twice (the window holds the events it counted);
- of all the events of a window, exactly one is the one that reached the threshold, whatever
  the concurrency (DynamoDB applies the updates of one item one at a time);
- a redelivery of that very event repeats the same decision (the same `ActivityMatch.match_id`),
  so an alert lost to a crash after the write is raised on the retry, and deduplicated otherwise.

Keys (one table, string `pk` and `sk`, TTL on a number attribute, `ttl` unless told otherwise):

    pk  ACT#<connection>#<policy>#<rule>#<user id>        (ids hold no '#'; the user id comes last)
    sk  W#<window index>   marks: list of "<epoch s>:<event id>", in the order counted (at most
                           `count` of them: once full, nothing more is counted); ttl
    sk  GEO                baseline: the first country recorded; c_<CC>: the event that first
                           showed country CC; ttl

A window is `floor(event time / window length)`, in event time (late and backfilled events land
in their own window). Window update: `SET marks = list_append(marks, [mark])` if
`size(marks) < count AND NOT contains(marks, mark)`; the update that makes the list `count` long
fires. A failed condition returns the item (`ALL_OLD`): if the mark at position `count` is this
event's, this is a redelivery of the deciding event and the decision is repeated.

Country update, unconditional: `SET c_<CC> = if_not_exists(c_<CC>, event), baseline =
if_not_exists(baseline, CC), ttl = now + remember` returning `ALL_OLD`. No old baseline: the
user's first login, recorded silently. No old `c_<CC>`: a new country, decided once. Old
`c_<CC>` equal to this event (and not the baseline): the redelivery of that decision. Every
login pushes the ttl back, so a user's countries are forgotten `remember_days` after their
last login, not after their first.

Expiry is never part of a condition: windows are keyed by their index (an old one is never
written again by new events), and a country set kept past its ttl until DynamoDB sweeps it only
remembers a little longer.

Cost (on demand): one write per watched event per rule, billed by item size (1 KB units). A
mark is ~50 bytes, so a window item costs 1 unit up to ~18 events, 2 up to ~38, and so on, up to
`count` events; past `count`, a Lambda that has seen the window fire skips the write (an
in-container memo), others pay one failed conditional write (billed like a write). One write
per login per new-country rule. No reads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from boxcasb.state_store import delete_keys

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

KEY_PREFIX = "ACT#"
WINDOW_PREFIX = "W#"
GEO_SK = "GEO"
COUNTRY_PREFIX = "c_"
_MEMO_SIZE = 10_000  # fired windows remembered per container


@dataclass(frozen=True)
class Scope:
    """Whose state: one rule of one policy, for one user of one connection."""

    connection_id: str
    policy_id: str
    rule_id: str
    user_id: str

    @property
    def pk(self) -> str:
        return f"{KEY_PREFIX}{self.connection_id}#{self.policy_id}#{self.rule_id}#{self.user_id}"


@dataclass(frozen=True)
class EventMark:
    """An event as a window holds it: its id (the dedupe key) and its time (for first/last)."""

    event_id: str
    at: datetime

    @property
    def token(self) -> str:
        return f"{int(self.at.timestamp())}:{self.event_id}"

    @classmethod
    def from_token(cls, token: str) -> EventMark:
        seconds, _, event_id = token.partition(":")
        return cls(event_id=event_id, at=datetime.fromtimestamp(int(seconds), UTC))


class Sighting(StrEnum):
    FIRST = "first"  # the user's first country: recorded, no alert
    KNOWN = "known"  # seen before for this user
    NEW = "new"  # not seen before for this user: this event decided it


@dataclass(frozen=True)
class CountrySighting:
    sighting: Sighting
    known: tuple[str, ...]  # the countries known for the user before this event, sorted


class ActivityState(Protocol):
    def count(
        self, scope: Scope, window: int, threshold: int, event: EventMark, expires_at: datetime
    ) -> tuple[EventMark, ...] | None:
        """Count `event` once in `window`. The window's first `threshold` events, in the order
        counted, if `event` is the one that reached `threshold` (also when it is redelivered);
        None otherwise."""
        ...

    def see_country(
        self, scope: Scope, country: str, event: EventMark, expires_at: datetime
    ) -> CountrySighting:
        """Record `country` for the user. NEW only for the event that first showed it (also when
        that event is redelivered); the user's first country ever is FIRST, not NEW."""
        ...


class InMemoryActivityState:
    """The same decisions in a process's memory (tests, the local stack). Thread-safe; no expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, int], list[str]] = {}
        self._countries: dict[str, dict[str, str]] = {}  # pk -> country -> first event id
        self._baselines: dict[str, str] = {}

    def count(
        self, scope: Scope, window: int, threshold: int, event: EventMark, expires_at: datetime
    ) -> tuple[EventMark, ...] | None:
        with self._lock:
            marks = self._windows.setdefault((scope.pk, window), [])
            if len(marks) < threshold and event.token not in marks:
                marks.append(event.token)
            return _crossed(marks, threshold, event.token)

    def see_country(
        self, scope: Scope, country: str, event: EventMark, expires_at: datetime
    ) -> CountrySighting:
        with self._lock:
            seen = self._countries.setdefault(scope.pk, {})
            old, old_baseline = dict(seen), self._baselines.get(scope.pk)
            seen.setdefault(country, event.event_id)
            self._baselines.setdefault(scope.pk, country)
            return _sighting(old, old_baseline, country, event.event_id)


class DynamoDbActivityState:
    """The decisions in one DynamoDB table (key design above)."""

    def __init__(self, table: Table, ttl_attribute: str = "ttl") -> None:
        self._table = table
        self._ttl = ttl_attribute
        self._lock = threading.Lock()
        self._fired: dict[tuple[str, int], str] = {}  # window -> the mark that reached its count
        self.writes = 0  # UpdateItem calls, failed conditions included (for tests and benchmarks)

    def forget_connection(self, connection_id: str) -> int:
        """Delete every window and country set of a connection (a disconnect).

        Their partitions are per policy, rule and user, which nothing lists, so this is the one
        Scan in the code: a filtered, keys-only read of the table, run once per disconnect.
        """
        keys: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "FilterExpression": "begins_with(pk, :prefix)",
            "ExpressionAttributeValues": {":prefix": f"{KEY_PREFIX}{connection_id}#"},
            "ProjectionExpression": "pk, sk",
        }
        while True:
            page = self._table.scan(**kwargs)
            keys.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return delete_keys(self._table, keys)

    def count(
        self, scope: Scope, window: int, threshold: int, event: EventMark, expires_at: datetime
    ) -> tuple[EventMark, ...] | None:
        token = event.token
        with self._lock:
            decider = self._fired.get((scope.pk, window))
            if decider is not None and decider != token:
                return None  # that window has fired: this event can change nothing
            self.writes += 1
        try:
            answer = self._table.update_item(
                Key={"pk": scope.pk, "sk": f"{WINDOW_PREFIX}{window}"},
                UpdateExpression="SET marks = list_append(if_not_exists(marks, :empty), :mark), #ttl = :ttl",
                ConditionExpression=(
                    "(attribute_not_exists(marks) OR size(marks) < :threshold) "
                    "AND NOT contains(marks, :token)"
                ),
                ExpressionAttributeNames={"#ttl": self._ttl},
                ExpressionAttributeValues={
                    ":empty": [],
                    ":mark": [token],
                    ":token": token,
                    ":threshold": threshold,
                    ":ttl": int(expires_at.timestamp()),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            response: dict[str, Any] = dict(exc.response)
            marks = _marks(_plain(response.get("Item") or {}).get("marks"))
        else:
            marks = _marks(answer.get("Attributes", {}).get("marks"))
        if len(marks) >= threshold:
            self._remember_fired((scope.pk, window), marks[threshold - 1])
        return _crossed(marks, threshold, token)

    def see_country(
        self, scope: Scope, country: str, event: EventMark, expires_at: datetime
    ) -> CountrySighting:
        with self._lock:
            self.writes += 1
        answer = self._table.update_item(
            Key={"pk": scope.pk, "sk": GEO_SK},
            UpdateExpression=(
                "SET #country = if_not_exists(#country, :event), "
                "baseline = if_not_exists(baseline, :code), #ttl = :ttl"
            ),
            ExpressionAttributeNames={"#country": COUNTRY_PREFIX + country, "#ttl": self._ttl},
            ExpressionAttributeValues={
                ":event": event.event_id,
                ":code": country,
                ":ttl": int(expires_at.timestamp()),
            },
            ReturnValues="ALL_OLD",
        )
        old: dict[str, Any] = dict(answer.get("Attributes") or {})
        seen = {
            str(name).removeprefix(COUNTRY_PREFIX): str(value)
            for name, value in old.items()
            if str(name).startswith(COUNTRY_PREFIX)
        }
        baseline = old.get("baseline")
        return _sighting(seen, str(baseline) if baseline is not None else None, country, event.event_id)

    def _remember_fired(self, window: tuple[str, int], decider: str) -> None:
        with self._lock:
            if len(self._fired) >= _MEMO_SIZE:
                del self._fired[next(iter(self._fired))]  # the oldest: windows move on
            self._fired[window] = decider


def _crossed(marks: list[str], threshold: int, token: str) -> tuple[EventMark, ...] | None:
    """The window's events if `token` is the one that reached `threshold` (newly, or again)."""
    if len(marks) < threshold or marks[threshold - 1] != token:
        return None
    return tuple(EventMark.from_token(m) for m in marks[:threshold])


def _sighting(seen: dict[str, str], baseline: str | None, country: str, event_id: str) -> CountrySighting:
    known = tuple(sorted(seen))
    if baseline is None:
        return CountrySighting(Sighting.FIRST, known)
    if country not in seen:
        return CountrySighting(Sighting.NEW, known)
    if seen[country] == event_id and country != baseline:
        # The event that showed this country first, delivered again: the same decision.
        return CountrySighting(Sighting.NEW, tuple(c for c in known if c != country))
    return CountrySighting(Sighting.KNOWN, known)


def _marks(value: object) -> list[str]:
    return [str(mark) for mark in value] if isinstance(value, list) else []


_DESERIALIZER = TypeDeserializer()


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB's wire form ({"L": [{"S": ...}]}), as a failed condition returns it."""
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}
