"""The alert rules and the service over an in-memory repository with DynamoDB's write semantics.

The repository stores a version per alert and refuses a write whose expected version is not
the stored one (or a create over an existing alert), as the DynamoDB store's conditions do.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from boxcasb.alerts.model import (
    ACTIONS_KEPT,
    Alert,
    AlertPage,
    AlertQuery,
    AlertStatus,
    Change,
    Finding,
    ObjectRef,
    Resolution,
)
from boxcasb.alerts.notify import NotificationFailed
from boxcasb.alerts.service import (
    NOTIFY_LEASE,
    AlertContention,
    AlertNotFound,
    AlertResolved,
    AlertService,
    ObserveResult,
    Stored,
    on_gone,
    on_match,
    opened_alert,
)
from boxcasb.errors import InvalidRequest

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
CONN = "c0ffee00-0000-4000-8000-000000000001"
FILE = ObjectRef(connection_id=CONN, object_type="file", object_id="123")
CARDS, LINKS, TYPES = "cards", "public-link", "file-types"


def finding(policy_id: str = CARDS, at: datetime = T0, obj: ObjectRef = FILE, **overrides: Any) -> Finding:
    values: dict[str, Any] = {
        "connection_id": obj.connection_id,
        "policy_id": policy_id,
        "policy_name": f"policy {policy_id}",
        "severity": "high",
        "object_type": obj.object_type,
        "object_id": obj.object_id,
        "object_name": "budget.xlsx",
        "evidence": {"detector_counts": {"card": 1}, "samples": [f"4111 **** **** {at:%M%S}"]},
        "observed_at": at,
        "source": {"kind": "scan", "generation": 1},
    }
    return Finding.model_validate(values | overrides)


class MemoryAlerts:
    def __init__(self) -> None:
        self.items: dict[tuple[ObjectRef, str], Stored] = {}
        self.puts = 0
        self.queries: list[tuple[AlertQuery, list[str]]] = []
        self._lock = threading.Lock()

    def alerts_of(self, obj: ObjectRef) -> list[Stored]:
        return [stored for (o, _), stored in self.items.items() if o == obj]

    def alert_at(self, obj: ObjectRef, policy_id: str) -> Stored | None:
        return self.items.get((obj, policy_id))

    def find(self, connection_id: str, alert_id: str) -> Stored | None:
        return next(
            (
                s
                for s in self.items.values()
                if s.alert.connection_id == connection_id and s.alert.alert_id == alert_id
            ),
            None,
        )

    def put(self, alert: Alert, seen_version: int | None) -> bool:
        with self._lock:
            key = (alert.object, alert.policy_id)
            current = self.items.get(key)
            if (current.version if current else None) != seen_version:
                return False
            self.puts += 1
            self.items[key] = Stored(alert, (seen_version or 0) + 1)
            return True

    def pending_notifications(self, connection_id: str) -> list[Stored]:
        return [
            s
            for s in self.items.values()
            if s.alert.connection_id == connection_id and s.alert.notification_pending
        ]

    def query(self, query: AlertQuery, connection_ids: Sequence[str]) -> AlertPage:
        self.queries.append((query, list(connection_ids)))
        return AlertPage(alerts=[], cursor=None)


class SpyNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Change, int]] = []
        self.failures = 0  # how many of the next calls fail

    def notify(self, alert: Alert, change: Change) -> None:
        if self.failures:
            self.failures -= 1
            raise NotificationFailed("SNS refused the notification (Throttled)")
        self.sent.append((alert.alert_id, change, alert.openings))


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def repo() -> MemoryAlerts:
    return MemoryAlerts()


@pytest.fixture
def spy() -> SpyNotifier:
    return SpyNotifier()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(repo: MemoryAlerts, spy: SpyNotifier, clock: FakeClock) -> AlertService:
    return AlertService(repo, spy, connections=lambda: ["c1", "c2"], clock=clock)


def observe(
    service: AlertService, evaluated: set[str], *findings: Finding, at: datetime = T0, obj: ObjectRef = FILE
) -> ObserveResult:
    return service.observe(obj, evaluated, list(findings), observed_at=at)


def only(repo: MemoryAlerts, policy_id: str = CARDS) -> Alert:
    stored = repo.alert_at(FILE, policy_id)
    assert stored is not None
    return stored.alert


def test_the_same_finding_twice_is_one_alert_seen_twice(
    service: AlertService, repo: MemoryAlerts, spy: SpyNotifier
) -> None:
    first = observe(service, {CARDS}, finding())
    again = observe(service, {CARDS}, finding())  # a redelivered scan message

    assert [a.policy_id for a in first.opened] == [CARDS]
    assert not first.updated
    assert not again.opened
    assert [a.times_seen for a in again.updated] == [2]
    alert = only(repo)
    assert (alert.status, alert.times_seen, alert.openings) == (AlertStatus.OPEN, 2, 1)
    assert len(repo.items) == 1
    assert spy.sent == [(alert.alert_id, "opened", 1)]
    assert not alert.notification_pending


def test_a_later_scan_that_no_longer_matches_resolves(service: AlertService, repo: MemoryAlerts) -> None:
    observe(service, {CARDS}, finding(at=T0))
    result = observe(service, {CARDS}, at=T0 + timedelta(hours=12))

    assert [a.status for a in result.resolved] == [AlertStatus.RESOLVED]
    alert = only(repo)
    assert alert.resolution is Resolution.NO_LONGER_MATCHES
    assert alert.resolved_at == T0 + timedelta(hours=12)
    assert alert.last_seen == T0


def test_a_resolved_alert_that_matches_again_reopens_and_is_announced_again(
    service: AlertService, repo: MemoryAlerts, spy: SpyNotifier
) -> None:
    observe(service, {CARDS}, finding(at=T0))
    observe(service, {CARDS}, at=T0 + timedelta(hours=12))
    result = observe(service, {CARDS}, finding(at=T0 + timedelta(hours=24), severity="critical"))

    (alert,) = result.reopened
    assert alert.alert_id == only(repo).alert_id
    assert (alert.status, alert.openings, alert.times_seen) == (AlertStatus.OPEN, 2, 2)
    assert (alert.first_seen, alert.opened_at) == (T0, T0 + timedelta(hours=24))
    assert alert.resolved_at is None
    assert alert.resolution is None
    assert alert.severity == "critical"
    assert [change for _, change, _ in spy.sent] == ["opened", "reopened"]


def test_a_dismissed_alert_stays_dismissed(
    service: AlertService, repo: MemoryAlerts, spy: SpyNotifier
) -> None:
    observe(service, {CARDS}, finding(at=T0))
    dismissed = service.dismiss(CONN, only(repo).alert_id, by="admin@acme.example", reason="test data")
    later = T0 + timedelta(hours=12)

    result = observe(service, {CARDS}, finding(at=later, evidence={"samples": ["new ****"]}))
    assert not result.opened
    assert not result.reopened
    alert = only(repo)
    assert alert.status is AlertStatus.DISMISSED
    assert alert.last_seen == later
    assert alert.times_seen == 1
    assert alert.evidence == dismissed.evidence

    observe(service, {CARDS}, at=later + timedelta(hours=12))  # no match: a dismissal isn't resolved
    assert only(repo).status is AlertStatus.DISMISSED
    assert len(spy.sent) == 1


def test_policies_not_evaluated_leave_their_alerts_alone(service: AlertService, repo: MemoryAlerts) -> None:
    observe(service, {CARDS, LINKS}, finding(CARDS), finding(LINKS))
    before = repo.alert_at(FILE, LINKS)

    result = observe(service, {CARDS, TYPES}, at=T0 + timedelta(hours=1))  # only cards and types ran

    assert [a.policy_id for a in result.resolved] == [CARDS]
    assert repo.alert_at(FILE, LINKS) == before  # same alert, same version: not even rewritten
    assert repo.alert_at(FILE, TYPES) is None


def test_a_late_redelivery_cannot_undo_a_later_scan(
    service: AlertService, repo: MemoryAlerts, spy: SpyNotifier
) -> None:
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    observe(service, {CARDS}, finding(at=t1))
    observe(service, {CARDS}, at=t2)
    puts = repo.puts

    late = observe(service, {CARDS}, finding(at=t1))  # generation 1's message, delivered again
    assert not late.reopened
    assert only(repo).status is AlertStatus.RESOLVED
    assert repo.puts == puts
    assert len(spy.sent) == 1

    observe(service, {CARDS}, finding(at=T0 + timedelta(hours=3)))
    stale_miss = observe(service, {CARDS}, at=t2)  # older than the match it would undo
    assert not stale_miss.resolved
    assert only(repo).status is AlertStatus.OPEN


def test_an_older_finding_counts_but_the_newest_evidence_stays(
    service: AlertService, repo: MemoryAlerts
) -> None:
    newer = finding(at=T0 + timedelta(hours=1), severity="critical")
    observe(service, {CARDS}, newer)
    observe(service, {CARDS}, finding(at=T0, severity="low"))

    alert = only(repo)
    assert (alert.times_seen, alert.last_seen, alert.severity) == (2, newer.observed_at, "critical")
    assert alert.evidence == newer.evidence


def test_deleting_an_object_resolves_its_open_alerts(service: AlertService, repo: MemoryAlerts) -> None:
    observe(service, {CARDS, LINKS}, finding(CARDS), finding(LINKS))
    service.dismiss(CONN, only(repo, LINKS).alert_id, by="admin", reason="accepted risk")

    resolved = service.resolve_object_deleted(FILE, T0 + timedelta(minutes=5))

    assert [a.policy_id for a in resolved] == [CARDS]
    assert only(repo).resolution is Resolution.OBJECT_DELETED
    assert only(repo, LINKS).status is AlertStatus.DISMISSED
    assert service.resolve_object_deleted(FILE, T0 + timedelta(minutes=6)) == []


def test_dismiss_rules(service: AlertService, repo: MemoryAlerts, clock: FakeClock) -> None:
    observe(service, {CARDS, LINKS}, finding(CARDS), finding(LINKS))
    alert_id = only(repo).alert_id

    with pytest.raises(AlertNotFound):
        service.dismiss(CONN, "0" * 24, by="admin", reason="r")
    with pytest.raises(AlertNotFound):
        service.dismiss(CONN, "not-an-id", by="admin", reason="r")
    with pytest.raises(AlertNotFound):
        service.dismiss("c2", alert_id, by="admin", reason="r")  # another connection's alert
    for by, reason in [("", "r"), ("admin", "  "), ("a" * 201, "r"), ("admin", "r" * 1001)]:
        with pytest.raises(InvalidRequest):
            service.dismiss(CONN, alert_id, by=by, reason=reason)
    assert only(repo).status is AlertStatus.OPEN

    first = service.dismiss(CONN, alert_id, by="ann", reason="known test file")
    clock.now += timedelta(hours=1)
    again = service.dismiss(CONN, alert_id, by="bob", reason="other")
    assert first == again == only(repo)
    assert (first.dismissed_by, first.dismiss_reason, first.dismissed_at) == ("ann", "known test file", T0)

    observe(service, {LINKS}, at=T0 + timedelta(hours=2))
    with pytest.raises(AlertResolved):
        service.dismiss(CONN, only(repo, LINKS).alert_id, by="ann", reason="too late")
    assert only(repo, LINKS).status is AlertStatus.RESOLVED


def test_action_outcomes_keep_the_last_twenty(service: AlertService, repo: MemoryAlerts) -> None:
    observe(service, {CARDS}, finding())
    alert_id = only(repo).alert_id
    for i in range(ACTIONS_KEPT + 5):
        service.record_action(CONN, alert_id, {"action": "remove_shared_link", "n": i, "ok": True})

    actions = only(repo).actions
    assert [a["n"] for a in actions] == list(range(5, ACTIONS_KEPT + 5))
    with pytest.raises(InvalidRequest):
        service.record_action(CONN, alert_id, {"detail": "x" * 2000})
    with pytest.raises(InvalidRequest):
        service.record_action(CONN, alert_id, {"when": T0})  # type: ignore[dict-item]
    with pytest.raises(AlertNotFound):
        service.record_action(CONN, "f" * 24, {"action": "x"})
    assert only(repo).actions == actions


def test_a_failed_notification_is_kept_pending_and_retried_once_the_claim_lapses(
    service: AlertService, repo: MemoryAlerts, spy: SpyNotifier, clock: FakeClock
) -> None:
    spy.failures = 1
    result = observe(service, {CARDS}, finding(at=T0))
    assert len(result.opened) == 1  # the alert is stored whatever SNS said
    assert only(repo).notification_pending
    assert spy.sent == []

    clock.now = T0 + timedelta(minutes=1)  # the failed publisher's claim still holds
    observe(service, {CARDS}, finding(at=clock.now))
    assert spy.sent == []
    assert service.retry_notifications(CONN) == 0

    clock.now = T0 + timedelta(minutes=6)
    observe(service, {CARDS}, finding(at=clock.now))  # the next observation publishes it
    assert spy.sent == [(only(repo).alert_id, "opened", 1)]
    assert not only(repo).notification_pending
    observe(service, {CARDS}, finding(at=clock.now + timedelta(minutes=1)))
    assert service.retry_notifications(CONN) == 0
    assert len(spy.sent) == 1


def test_the_sweep_publishes_pending_openings_once(
    service: AlertService, repo: MemoryAlerts, spy: SpyNotifier, clock: FakeClock
) -> None:
    spy.failures = 2
    observe(service, {CARDS, LINKS}, finding(CARDS), finding(LINKS))
    assert spy.sent == []

    clock.now = T0 + timedelta(minutes=10)
    assert service.retry_notifications(CONN) == 2
    assert service.retry_notifications(CONN) == 0
    assert sorted(change for _, change, _ in spy.sent) == ["opened", "opened"]
    assert not any(s.alert.notification_pending for s in repo.items.values())


def test_a_pending_notification_is_dropped_once_resolved(
    service: AlertService, repo: MemoryAlerts, spy: SpyNotifier, clock: FakeClock
) -> None:
    spy.failures = 1
    observe(service, {CARDS}, finding(at=T0))
    observe(service, {CARDS}, at=T0 + timedelta(hours=1))
    clock.now = T0 + timedelta(hours=2)
    assert service.retry_notifications(CONN) == 0
    assert spy.sent == []


class RacingAlerts(MemoryAlerts):
    """Another worker creates the same alert between our read and our write."""

    def __init__(self, rival: Finding) -> None:
        super().__init__()
        self.rival: Finding | None = rival

    def put(self, alert: Alert, seen_version: int | None) -> bool:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            opened = opened_alert(rival)  # as the rival's service writes it: with its claim to announce
            claim = opened.notification.model_copy(update={"claimed_until": T0 + NOTIFY_LEASE})
            super().put(opened.model_copy(update={"notification": claim}), None)
        return super().put(alert, seen_version)


def test_losing_the_race_to_open_an_alert_updates_it_instead(spy: SpyNotifier, clock: FakeClock) -> None:
    repo = RacingAlerts(finding())
    service = AlertService(repo, spy, connections=list, clock=clock)

    result = observe(service, {CARDS}, finding())

    assert not result.opened
    assert [a.times_seen for a in result.updated] == [2]
    assert spy.sent == []  # the rival opened it: announcing is the rival's job


class BusyAlerts(MemoryAlerts):
    def put(self, alert: Alert, seen_version: int | None) -> bool:
        return False


def test_endless_contention_is_a_typed_error(spy: SpyNotifier, clock: FakeClock) -> None:
    with pytest.raises(AlertContention):
        observe(AlertService(BusyAlerts(), spy, connections=list, clock=clock), {CARDS}, finding())


@pytest.mark.parametrize(
    ("evaluated", "findings"),
    [
        ({CARDS}, [finding(obj=ObjectRef(connection_id=CONN, object_type="file", object_id="999"))]),
        ({CARDS}, [finding(obj=ObjectRef(connection_id=CONN, object_type="user", object_id="123"))]),
        ({LINKS}, [finding(CARDS)]),  # matched, yet not among the evaluated policies
        ({CARDS}, [finding(CARDS), finding(CARDS, at=T0 + timedelta(seconds=1))]),
        ({"bad#id"}, []),
    ],
)
def test_inconsistent_observations_are_refused_and_change_nothing(
    service: AlertService, repo: MemoryAlerts, evaluated: set[str], findings: list[Finding]
) -> None:
    observe(service, {CARDS}, finding())
    before = dict(repo.items)
    with pytest.raises(InvalidRequest):
        service.observe(FILE, evaluated, findings, observed_at=T0 + timedelta(hours=1))
    with pytest.raises(InvalidRequest):
        service.observe(FILE, {CARDS}, [], observed_at=datetime(2026, 11, 21))  # no time zone
    assert repo.items == before


def test_queries_are_checked_and_span_every_connection_when_none_is_given(
    service: AlertService, repo: MemoryAlerts
) -> None:
    service.query(AlertQuery(status=AlertStatus.OPEN))
    service.query(AlertQuery(connection_id=CONN, policy_id=CARDS))
    assert [ids for _, ids in repo.queries] == [["c1", "c2"], [CONN]]
    for bad in [
        AlertQuery(limit=0),
        AlertQuery(limit=201),
        AlertQuery(policy_id="a#b"),
        AlertQuery(connection_id="x#y"),
    ]:
        with pytest.raises(InvalidRequest):
            service.query(bad)
    assert len(repo.queries) == 2


def test_get(service: AlertService, repo: MemoryAlerts) -> None:
    observe(service, {CARDS}, finding())
    assert service.get(CONN, only(repo).alert_id) == only(repo)
    with pytest.raises(AlertNotFound):
        service.get(CONN, "a" * 24)


def test_the_rules_write_nothing_when_nothing_changes() -> None:
    alert = on_match(None, finding())
    assert alert is not None
    opened, move = alert
    assert move == "opened"
    assert on_gone(opened, T0, Resolution.NO_LONGER_MATCHES) is None  # not older than the match
    assert on_gone(None, T0, Resolution.OBJECT_DELETED) is None
    dismissed = opened.model_copy(update={"status": AlertStatus.DISMISSED})
    assert on_match(dismissed, finding(at=T0)) is None
    assert on_gone(dismissed, T0 + timedelta(hours=1), Resolution.NO_LONGER_MATCHES) is None
