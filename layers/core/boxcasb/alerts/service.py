"""Alerts from findings: one per (connection, policy, object), and the rules that move it.

An evaluation of some policies on one object at `observed_at` (a scan of a file, a window of
a user's activity) is one `observe` call. A finding opens its alert, or updates it, or reopens
a resolved one; a dismissed alert only moves its last_seen (the admin decided for that policy
and object). An open alert of an evaluated policy that did not match is resolved. Policies
not evaluated leave their alerts alone.

Every write is conditional on the version read (a create: on the alert not existing), so under
concurrent or redelivered observations exactly one writer moves an alert to open; only that
writer announces the opening. The alert is written first, with a short claim on its
notification in the same write; the notification is published after it and recorded as sent.
A publish that fails (or a crash before it) leaves the alert open with `notification_pending`:
once the claim has lapsed, the next observation of that alert or `retry_notifications` (a
sweep over a connection's open alerts) publishes it. So an opening is announced once, and
again only after a failure or a crash between the publish and the record of it.

Time decides between stale and fresh input: a finding older than the resolution of its alert
does not reopen it, and a non-match older than the alert's last match does not resolve it,
so a redelivered message of an earlier scan cannot undo a later one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Literal, Protocol

from pydantic import JsonValue

from boxcasb.alerts.model import (
    ACTION_MAX_BYTES,
    ACTIONS_KEPT,
    ALERT_ID_PATTERN,
    POLICY_ID_PATTERN,
    Alert,
    AlertPage,
    AlertQuery,
    AlertStatus,
    Change,
    Finding,
    Notification,
    ObjectRef,
    Resolution,
    alert_id_for,
)
from boxcasb.alerts.notify import NotificationFailed, Notifier
from boxcasb.clock import Clock, utc_now
from boxcasb.errors import BoxCasbError, Conflict, InvalidRequest, NotFound
from boxcasb.observability import logger

NOTIFY_LEASE = timedelta(minutes=5)  # longer than a publish takes; a lapsed claim is retried
MAX_QUERY_LIMIT = 200
_ATTEMPTS = 16  # optimistic writes on one alert; each failed one means another writer progressed
_CONNECTION_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")

Move = Literal["opened", "reopened", "updated", "resolved", "dismissed", "acted"]


class AlertNotFound(NotFound):
    pass


class AlertResolved(Conflict):
    """A resolved alert can't be dismissed: nothing matches any more."""


class AlertContention(BoxCasbError):
    """An alert kept changing under us for every attempt; the caller's retry will re-read it."""


@dataclass(frozen=True)
class Stored:
    alert: Alert
    version: int


class AlertRepository(Protocol):
    def alerts_of(self, obj: ObjectRef) -> list[Stored]: ...

    def alert_at(self, obj: ObjectRef, policy_id: str) -> Stored | None: ...

    def find(self, connection_id: str, alert_id: str) -> Stored | None: ...

    def put(self, alert: Alert, seen_version: int | None) -> bool:
        """Write if the stored version is still `seen_version` (None: only if there is none)."""
        ...

    def pending_notifications(self, connection_id: str) -> list[Stored]: ...

    def query(self, query: AlertQuery, connection_ids: Sequence[str]) -> AlertPage: ...


@dataclass(frozen=True)
class ObserveResult:
    opened: list[Alert]  # opened by this call, and announced by it (or left pending if that failed)
    reopened: list[Alert]
    updated: list[Alert]
    resolved: list[Alert]


# --- the rules (pure) ---------------------------------------------------------------------------


def opened_alert(finding: Finding) -> Alert:
    return Alert(
        alert_id=alert_id_for(
            finding.connection_id, finding.policy_id, finding.object_type, finding.object_id
        ),
        connection_id=finding.connection_id,
        policy_id=finding.policy_id,
        policy_name=finding.policy_name,
        severity=finding.severity,
        object_type=finding.object_type,
        object_id=finding.object_id,
        object_name=finding.object_name,
        object_path=finding.object_path,
        owner_id=finding.owner_id,
        owner_login=finding.owner_login,
        status=AlertStatus.OPEN,
        first_seen=finding.observed_at,
        last_seen=finding.observed_at,
        times_seen=1,
        opened_at=finding.observed_at,
        openings=1,
        evidence=finding.evidence,
        source=finding.source,
    )


def _seen_again(alert: Alert, finding: Finding) -> Alert:
    at = finding.observed_at
    update: dict[str, object] = {"times_seen": alert.times_seen + 1, "last_seen": max(alert.last_seen, at)}
    if at >= alert.last_seen:  # the newest finding describes the alert; an older one only counts
        update |= {
            "policy_name": finding.policy_name,
            "severity": finding.severity,
            "object_name": finding.object_name,
            "object_path": finding.object_path,
            "owner_id": finding.owner_id,
            "owner_login": finding.owner_login,
            "evidence": finding.evidence,
            "source": finding.source,
        }
    return alert.model_copy(update=update)


def on_match(alert: Alert | None, finding: Finding) -> tuple[Alert, Move] | None:
    """The alert after `finding`, and what happened to it; None: nothing to write."""
    if alert is None:
        return opened_alert(finding), "opened"
    at = finding.observed_at
    if alert.status is AlertStatus.DISMISSED:
        if at <= alert.last_seen:
            return None
        return alert.model_copy(update={"last_seen": at}), "updated"
    if alert.status is AlertStatus.RESOLVED:
        if alert.resolved_at is not None and at < alert.resolved_at:
            return None  # an earlier scan's finding, delivered late: the resolution stands
        reopened = _seen_again(alert, finding).model_copy(
            update={
                "status": AlertStatus.OPEN,
                "opened_at": at,
                "openings": alert.openings + 1,
                "resolved_at": None,
                "resolution": None,
            }
        )
        return reopened, "reopened"
    return _seen_again(alert, finding), "updated"


def on_gone(alert: Alert | None, at: datetime, resolution: Resolution) -> tuple[Alert, Move] | None:
    """An open alert whose policy no longer matches (or whose object is gone) at `at`."""
    if alert is None or alert.status is not AlertStatus.OPEN or alert.last_seen >= at:
        return None  # not open, or a match at least as recent as this news
    resolved = alert.model_copy(
        update={"status": AlertStatus.RESOLVED, "resolved_at": at, "resolution": resolution}
    )
    return resolved, "resolved"


# --- the service --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Written:
    alert: Alert
    move: Move
    announce: Change | None  # this writer holds the claim on the alert's notification


class AlertService:
    def __init__(
        self,
        repository: AlertRepository,
        notifier: Notifier,
        connections: Callable[[], Sequence[str]],
        clock: Clock = utc_now,
        notify_lease: timedelta = NOTIFY_LEASE,
    ) -> None:
        self._repo = repository
        self._notifier = notifier
        self._connections = connections  # every connection's id, for queries across connections
        self._clock = clock
        self._lease = notify_lease

    def observe(
        self,
        obj: ObjectRef,
        evaluated_policy_ids: Collection[str],
        findings: Sequence[Finding],
        *,
        observed_at: datetime,
    ) -> ObserveResult:
        """The outcome of evaluating `evaluated_policy_ids` on `obj` at `observed_at`."""
        evaluated = _checked_policy_ids(evaluated_policy_ids)
        matched = _checked_findings(obj, evaluated, findings)
        if observed_at.tzinfo is None:
            raise InvalidRequest("observed_at needs a time zone")
        current = {stored.alert.policy_id: stored for stored in self._repo.alerts_of(obj)}
        written: list[_Written] = []
        for policy_id, finding in sorted(matched.items()):
            done = self._write(obj, policy_id, current.get(policy_id), partial(on_match, finding=finding))
            if done:
                written.append(done)
        for policy_id in sorted(evaluated - matched.keys()):
            stored = current.get(policy_id)
            if stored is None or stored.alert.status is not AlertStatus.OPEN:
                continue  # nothing to resolve: no read, no write
            done = self._write(
                obj, policy_id, stored, lambda a: on_gone(a, observed_at, Resolution.NO_LONGER_MATCHES)
            )
            if done:
                written.append(done)
        for done in written:
            if done.announce is not None:
                self._announce(done.alert, done.announce)
        return _result(written)

    def resolve_object_deleted(self, obj: ObjectRef, deleted_at: datetime) -> list[Alert]:
        """Resolve the open alerts of a deleted object (a dismissed one stays dismissed)."""
        if deleted_at.tzinfo is None:
            raise InvalidRequest("deleted_at needs a time zone")
        resolved: list[Alert] = []
        for stored in self._repo.alerts_of(obj):
            if stored.alert.status is AlertStatus.OPEN:
                done = self._write(
                    obj,
                    stored.alert.policy_id,
                    stored,
                    lambda a: on_gone(a, deleted_at, Resolution.OBJECT_DELETED),
                )
                if done:
                    resolved.append(done.alert)
        return resolved

    def dismiss(self, connection_id: str, alert_id: str, by: str, reason: str) -> Alert:
        """Dismiss an open alert; dismissing a dismissed one changes nothing."""
        by, reason = by.strip(), reason.strip()
        if not 1 <= len(by) <= 200:
            raise InvalidRequest("say who dismisses the alert (1 to 200 characters)")
        if not 1 <= len(reason) <= 1000:
            raise InvalidRequest("give a reason for the dismissal (1 to 1000 characters)")
        stored = self._find(connection_id, alert_id)
        now = self._clock()

        def dismissed(alert: Alert | None) -> tuple[Alert, Move] | None:
            if alert is None:
                raise AlertNotFound(f"no alert {alert_id}")
            if alert.status is AlertStatus.RESOLVED:
                raise AlertResolved(f"alert {alert_id} is resolved: there is nothing left to dismiss")
            if alert.status is AlertStatus.DISMISSED:
                return None
            update = {
                "status": AlertStatus.DISMISSED,
                "dismissed_at": now,
                "dismissed_by": by,
                "dismiss_reason": reason,
            }
            return alert.model_copy(update=update), "dismissed"

        done = self._write(stored.alert.object, stored.alert.policy_id, stored, dismissed)
        return done.alert if done else self.get(connection_id, alert_id)

    def record_action(self, connection_id: str, alert_id: str, outcome: Mapping[str, JsonValue]) -> Alert:
        """Append a governance action's outcome; the alert keeps the last ACTIONS_KEPT."""
        try:
            size = len(json.dumps(outcome, separators=(",", ":")).encode())
        except (TypeError, ValueError):
            raise InvalidRequest("an action outcome must be JSON") from None
        if size > ACTION_MAX_BYTES:
            raise InvalidRequest(f"an action outcome is at most {ACTION_MAX_BYTES} bytes of JSON")
        stored = self._find(connection_id, alert_id)

        def acted(alert: Alert | None) -> tuple[Alert, Move] | None:
            if alert is None:
                raise AlertNotFound(f"no alert {alert_id}")
            actions = [*alert.actions, dict(outcome)][-ACTIONS_KEPT:]
            return alert.model_copy(update={"actions": actions}), "acted"

        done = self._write(stored.alert.object, stored.alert.policy_id, stored, acted)
        assert done is not None  # `acted` always writes
        return done.alert

    def alerts_of(self, obj: ObjectRef) -> list[Alert]:
        """Every alert of one object, whatever its status (one consistent read)."""
        return [s.alert for s in self._repo.alerts_of(obj)]

    def get(self, connection_id: str, alert_id: str) -> Alert:
        return self._find(connection_id, alert_id).alert

    def query(self, query: AlertQuery) -> AlertPage:
        if not 1 <= query.limit <= MAX_QUERY_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_QUERY_LIMIT}")
        if query.policy_id is not None and not re.fullmatch(POLICY_ID_PATTERN, query.policy_id):
            raise InvalidRequest("not a policy id")
        if query.connection_id is not None and not _CONNECTION_ID.fullmatch(query.connection_id):
            raise InvalidRequest("not a connection id")
        connection_ids = [query.connection_id] if query.connection_id else list(self._connections())
        return self._repo.query(query, connection_ids)

    def retry_notifications(self, connection_id: str) -> int:
        """Publish the openings whose notification failed or never finished; how many were sent."""
        sent = 0
        for stored in self._repo.pending_notifications(connection_id):
            done = self._write(stored.alert.object, stored.alert.policy_id, stored, _unchanged_if_pending)
            if done and done.announce and self._announce(done.alert, done.announce):
                sent += 1
        return sent

    # --- writing ------------------------------------------------------------------------------

    def _write(
        self,
        obj: ObjectRef,
        policy_id: str,
        stored: Stored | None,
        rule: Callable[[Alert | None], tuple[Alert, Move] | None],
    ) -> _Written | None:
        """Apply `rule` to the stored alert with an optimistic write, re-reading after a lost race."""
        for _ in range(_ATTEMPTS):
            outcome = rule(stored.alert if stored else None)
            if outcome is None:
                return None
            alert, move = outcome
            alert, announce = self._claim(alert, move)
            if stored is not None and stored.alert == alert:
                return None  # nothing changed (a retry whose claim someone else holds): no write
            if self._repo.put(alert, stored.version if stored else None):
                return _Written(alert, move, announce)
            stored = self._repo.alert_at(obj, policy_id)
        raise AlertContention(f"alert of policy {policy_id} kept changing; try again")

    def _claim(self, alert: Alert, move: Move) -> tuple[Alert, Change | None]:
        """Take the alert's notification if it is due: a new opening, or a lapsed earlier claim."""
        if not alert.notification_pending:
            return alert, None
        now = self._clock()
        claim = alert.notification.claimed_until
        if move not in ("opened", "reopened") and claim is not None and claim > now:
            return alert, None  # another writer is publishing this opening right now
        notification = alert.notification.model_copy(update={"claimed_until": now + self._lease})
        announce: Change = "opened" if alert.openings == 1 else "reopened"
        return alert.model_copy(update={"notification": notification}), announce

    def _announce(self, alert: Alert, change: Change) -> bool:
        try:
            self._notifier.notify(alert, change)
        except NotificationFailed as exc:
            logger.warning(
                "alert notification failed; it stays pending and is retried",
                extra={"connection_id": alert.connection_id, "alert_id": alert.alert_id, "error": str(exc)},
            )
            return False
        self._record_sent(alert)
        return True

    def _record_sent(self, alert: Alert) -> None:
        stored = self._repo.alert_at(alert.object, alert.policy_id)
        for _ in range(_ATTEMPTS):
            if stored is None or stored.alert.notification.sent_for_opening >= alert.openings:
                return
            current = stored.alert
            # A reopening since then holds its own claim: leave that one to its writer.
            claim = None if current.openings == alert.openings else current.notification.claimed_until
            sent = Notification(sent_for_opening=alert.openings, claimed_until=claim)
            if self._repo.put(current.model_copy(update={"notification": sent}), stored.version):
                return
            stored = self._repo.alert_at(alert.object, alert.policy_id)
        raise AlertContention(f"alert {alert.alert_id} kept changing; its notification was sent")

    def _find(self, connection_id: str, alert_id: str) -> Stored:
        if not (_CONNECTION_ID.fullmatch(connection_id) and re.fullmatch(ALERT_ID_PATTERN, alert_id)):
            raise AlertNotFound(f"no alert {alert_id!r}")
        stored = self._repo.find(connection_id, alert_id)
        if stored is None:
            raise AlertNotFound(f"no alert {alert_id}")
        return stored


def _unchanged_if_pending(alert: Alert | None) -> tuple[Alert, Move] | None:
    return (alert, "updated") if alert is not None and alert.notification_pending else None


def _checked_policy_ids(policy_ids: Collection[str]) -> frozenset[str]:
    bad = sorted(p for p in policy_ids if not re.fullmatch(POLICY_ID_PATTERN, p))
    if bad:
        raise InvalidRequest(f"not policy ids: {bad[:5]}")
    return frozenset(policy_ids)


def _checked_findings(
    obj: ObjectRef, evaluated: frozenset[str], findings: Sequence[Finding]
) -> dict[str, Finding]:
    matched: dict[str, Finding] = {}
    for finding in findings:
        if finding.object != obj:
            raise InvalidRequest("a finding is about another object than the one evaluated")
        if finding.policy_id not in evaluated:
            raise InvalidRequest(f"policy {finding.policy_id} matched but is not among those evaluated")
        if finding.policy_id in matched:
            raise InvalidRequest(f"policy {finding.policy_id} has two findings on one object")
        matched[finding.policy_id] = finding
    return matched


def _result(written: Sequence[_Written]) -> ObserveResult:
    def moved(move: Move) -> list[Alert]:
        return [done.alert for done in written if done.move == move]

    return ObserveResult(
        opened=moved("opened"),
        reopened=moved("reopened"),
        updated=moved("updated"),
        resolved=moved("resolved"),
    )
