"""Disconnecting a connection: stop its work, delete its webhooks in Box, revoke its tokens, delete
its data, and keep the connection item as a tombstone (who asked, when it ended, what went).

The admin API only marks the connection `disconnecting` (`request`); the Disconnect function
carries it out (`run`). Every step is idempotent and reads what is left, so a crash, a redelivery
or a second request continues where the last run stopped and ends in the same state:

1. stop new work: the poller, the scheduler, the syncs, the token keeper, the backfill and the
   priority scan skip a connection that is not `connected`; a running scan generation is closed
   `incomplete` (its queued jobs are then dropped); the webhooks leave `gsi1`, so the intake no
   longer finds them;
2. delete the recorded webhooks in Box, As-User their owners (404: gone already), while the
   tokens still work;
3. revoke the tokens at Box (the refresh token, then the access token), then delete them here;
   with no token, no worker still running can read Box and write what step 4 deletes;
4. delete the data, kind by kind (counted on the connection as it goes);
5. mark the connection `disconnected`.

Box being down or rate limiting (after the gateway's retries) fails the run: the async invoke
retries it, and another `DELETE` starts it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from boxcasb.clock import Clock, utc_now
from boxcasb.errors import BoxCasbError, BoxRateLimited, BoxUnavailable, Conflict, ReconnectRequired
from boxcasb.models import Connection, ConnectionStatus, Disconnection, StoredTokens
from boxcasb.observability import logger
from boxcasb.scan.ledger import ScanLedger
from boxcasb.scan.model import GenerationStatus
from boxcasb.state_store import StateStore
from boxcasb.webhooks.registration import WebhookBox, WebhookRemoval, remove_recorded

Eraser = Callable[[str], int]  # deletes one kind of a connection's data; how many items it deleted


@dataclass(frozen=True)
class DisconnectPorts:
    """What a disconnect reaches beyond the state table (built lazily: the Box side loads boxsdk)."""

    ledger: ScanLedger
    box_for: Callable[[str], WebhookBox]
    load_tokens: Callable[[str], StoredTokens]
    revoke: Callable[[str], None]
    erasers: Sequence[tuple[str, Eraser]]  # (kind, eraser), in order; "state" last


class DisconnectService:
    def __init__(
        self, store: StateStore, ports: Callable[[], DisconnectPorts], clock: Clock = utc_now
    ) -> None:
        self._store = store
        self._ports = ports
        self._clock = clock

    def request(self, connection_id: str, requested_by: str) -> Connection:
        """Mark the connection `disconnecting` (once: a later request keeps the first requester)."""
        now = self._clock()

        def change(c: Connection) -> Connection:
            if c.status.retired:
                return c
            return c.model_copy(
                update={
                    "status": ConnectionStatus.DISCONNECTING,
                    "status_reason": f"disconnect requested by {requested_by}",
                    "updated_at": now,
                    "disconnect": Disconnection(requested_by=requested_by, requested_at=now),
                }
            )

        connection = self._store.update_connection(connection_id, change)
        logger.info("disconnect requested", extra={"connection_id": connection_id})
        return connection

    def run(self, connection_id: str) -> Connection:
        """Carry out a requested disconnect, or continue an interrupted one; a finished one is returned."""
        connection = self._store.get_connection(connection_id)
        if connection.status is ConnectionStatus.DISCONNECTED:
            return connection
        if connection.status is not ConnectionStatus.DISCONNECTING:
            raise Conflict(
                f"connection {connection_id} is {connection.status.value}: no disconnect was asked"
            )
        ports = self._ports()
        self._stop_work(connection_id, ports.ledger)
        self._delete_webhooks(connection, ports.box_for)
        self._revoke_tokens(connection_id, ports)
        for kind, erase in ports.erasers:
            self._progress(connection_id, {kind: erase(connection_id)})
        now = self._clock()

        def finished(c: Connection) -> Connection:
            record = c.disconnect or Disconnection(requested_by="unknown", requested_at=now)
            return c.model_copy(
                update={
                    "status": ConnectionStatus.DISCONNECTED,
                    "status_reason": f"disconnected at the request of {record.requested_by}",
                    "updated_at": now,
                    "disconnect": record.model_copy(update={"disconnected_at": now}),
                }
            )

        done = self._store.update_connection(connection_id, finished)
        logger.info(
            "connection disconnected",
            extra={
                "connection_id": connection_id,
                "removed": done.disconnect.removed if done.disconnect else {},
            },
        )
        return done

    def _stop_work(self, connection_id: str, ledger: ScanLedger) -> None:
        latest = ledger.latest(connection_id)
        if latest is not None and latest.status is GenerationStatus.RUNNING:
            ledger.close(latest, GenerationStatus.INCOMPLETE)  # its queued jobs are dropped from now on
        self._store.detach_webhooks(connection_id)

    def _delete_webhooks(self, connection: Connection, box_for: Callable[[str], WebhookBox]) -> None:
        cid = connection.connection_id
        if not self._store.list_webhooks(cid):
            return
        try:
            box = box_for(cid)
            admin_id = connection.admin_user_id or box.current_user().id
            removal = remove_recorded(self._store, box, cid, admin_id, self._clock)
        except ReconnectRequired as exc:
            # Box ends an app's webhooks with its last token; their records go with the data.
            removal = WebhookRemoval(0, [f"webhooks not deleted in Box: {exc}"])
        self._progress(cid, {"webhooks": removal.removed}, removal.refused)

    def _revoke_tokens(self, connection_id: str, ports: DisconnectPorts) -> None:
        try:
            stored = ports.load_tokens(connection_id)
        except ReconnectRequired:
            return  # none stored: revoked and deleted by an earlier run, or never connected
        notes: list[str] = []
        for name, secret in (
            ("refresh", stored.tokens.refresh_token),
            ("access", stored.tokens.access_token),
        ):
            try:
                ports.revoke(secret.get_secret_value())
            except (BoxUnavailable, BoxRateLimited):
                raise  # try again later: a token deleted here but alive at Box would be out of reach
            except BoxCasbError as exc:
                # Already invalid (expired, revoked, spent) is what revoking wants.
                notes.append(f"Box refused to revoke the {name} token ({type(exc).__name__}): deleted here")
        self._store.delete_tokens(connection_id)
        self._progress(connection_id, {"tokens": 1}, notes)

    def _progress(self, connection_id: str, removed: dict[str, int], notes: Sequence[str] = ()) -> None:
        """Add what a step removed (and what it could not do) to the connection's record."""
        if not any(removed.values()) and not notes:
            return
        now = self._clock()

        def add(c: Connection) -> Connection:
            record = c.disconnect or Disconnection(requested_by="unknown", requested_at=now)
            counts = dict(record.removed)
            for kind, count in removed.items():
                counts[kind] = counts.get(kind, 0) + count
            return c.model_copy(
                update={
                    "disconnect": record.model_copy(
                        update={"removed": counts, "notes": [*record.notes, *notes]}
                    )
                }
            )

        self._store.update_connection(connection_id, add)
