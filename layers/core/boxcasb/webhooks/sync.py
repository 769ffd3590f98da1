"""A webhook sync as a job: asked for through the admin API, run asynchronously, its report kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from boxcasb.clock import Clock, utc_now
from boxcasb.errors import BoxCasbError, Conflict
from boxcasb.models import ConnectionStatus
from boxcasb.state_store import StateStore
from boxcasb.webhooks.model import SyncOutcome, WebhookSyncReport


class Registrar(Protocol):
    def sync(self, connection_id: str) -> WebhookSyncReport: ...


class WebhookSyncService:
    def __init__(self, store: StateStore, registrar: Callable[[], Registrar], clock: Clock = utc_now) -> None:
        self._store = store
        self._registrar = registrar  # built on run only: it loads boxsdk
        self._clock = clock

    def request(self, connection_id: str) -> WebhookSyncReport:
        """Record that a sync was asked for (what the 202 answer shows until the run ends)."""
        connection = self._store.get_connection(connection_id)
        if connection.status is not ConnectionStatus.CONNECTED:
            raise Conflict(f"connection {connection_id} is {connection.status.value}: connect Box first")
        report = WebhookSyncReport(outcome=SyncOutcome.RUNNING, started_at=self._clock())
        self._store.put_webhook_sync(connection_id, report)
        return report

    def run_due(self) -> dict[str, WebhookSyncReport]:
        """The daily pass: re-sync every connected connection whose admin has synced before.

        It re-creates what Box deleted or disabled (marked by the intake), covers new top-level
        folders and drops ours on folders that went away. A connection that never ran a sync
        gets no webhooks from the schedule: creating them is the admin's decision.
        """
        due = [
            c.connection_id
            for c in self._store.list_connections(limit=10_000)
            if c.status is ConnectionStatus.CONNECTED and self._store.get_webhook_sync(c.connection_id)
        ]
        return {connection_id: self.run(connection_id) for connection_id in due}

    def run(self, connection_id: str) -> WebhookSyncReport:
        connection = self._store.get_connection(connection_id)  # NotFound for an unknown connection
        started = self._clock()
        if connection.status.retired:
            # A disconnect deletes the webhooks: a sync must not create them again (nor a report).
            return WebhookSyncReport(
                outcome=SyncOutcome.FAILED,
                started_at=started,
                finished_at=started,
                error=f"connection {connection_id} is {connection.status.value}",
            )
        try:
            report = self._registrar().sync(connection_id)
        except BoxCasbError as exc:
            # Revoked token, missing permission, rate limit: reported, not retried in a loop.
            # What was created before the failure is already recorded; the next sync continues.
            report = WebhookSyncReport(
                outcome=SyncOutcome.FAILED, started_at=started, finished_at=self._clock(), error=str(exc)
            )
        self._store.put_webhook_sync(connection_id, report)
        return report
