"""Keeps idle connections alive: Box refresh tokens die 60 days after their last use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from boxcasb.clock import Clock, utc_now
from boxcasb.errors import BoxCasbError, ReconnectRequired
from boxcasb.models import ConnectionStatus
from boxcasb.observability import logger
from boxcasb.state_store import StateStore
from boxcasb.token_store import TokenStore

if TYPE_CHECKING:
    from boxcasb.box_gateway import BoxGatewayFactory


@dataclass
class KeeperReport:
    connections: int = 0
    refreshed: int = 0
    fresh_enough: int = 0
    reconnect_required: int = 0
    errors: int = 0


class TokenKeeper:
    def __init__(
        self,
        store: StateStore,
        tokens: TokenStore,
        gateways: BoxGatewayFactory,
        max_idle: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._gateways = gateways
        self._max_idle = max_idle
        self._clock = clock

    def run(self) -> KeeperReport:
        report = KeeperReport()
        for connection in self._store.list_connections(limit=10_000):
            if connection.status is not ConnectionStatus.CONNECTED:
                continue
            report.connections += 1
            cid = connection.connection_id
            try:
                stored = self._tokens.load(cid)
                if self._clock() - stored.refreshed_at < self._max_idle:
                    report.fresh_enough += 1
                    continue
                self._gateways.for_connection(cid).force_token_refresh()
                report.refreshed += 1
            except ReconnectRequired:
                report.reconnect_required += 1  # the token store has marked the connection
            except BoxCasbError as exc:
                # One connection's trouble must not stop the others; tomorrow's run retries it.
                logger.warning(
                    "token keeper skipped a connection",
                    extra={"connection_id": cid, "error": type(exc).__name__},
                )
                report.errors += 1
        return report
