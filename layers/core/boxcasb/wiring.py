"""Composition root: builds the services from settings, once per container.

boxsdk costs ~0.4 s to import (it loads every manager and schema), so the Box gateway is
built on first use: the admin API, which never calls Box, does not pay for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import cache, cached_property
from typing import TYPE_CHECKING

from boxcasb import aws_clients, intake_wiring
from boxcasb.activity.backfill import BackfillService, BackfillSettings
from boxcasb.activity.ingest import Ingestor
from boxcasb.activity.queue import SqsBackfillQueue
from boxcasb.activity.store import ActivityStore
from boxcasb.activity.stream import StreamPoller
from boxcasb.api_test import ApiTestService, BoxProbe
from boxcasb.app_credentials import AppCredentialsProvider
from boxcasb.connect import ConnectService
from boxcasb.jobs import AsyncInvoker
from boxcasb.models import Connection, ConnectionStatus
from boxcasb.scan_queue import PriorityScanQueue
from boxcasb.settings import Settings, SettingsError, get_settings
from boxcasb.state_store import StateStore
from boxcasb.token_cipher import TokenCipher
from boxcasb.token_keeper import TokenKeeper
from boxcasb.token_store import TokenStore
from boxcasb.webhooks.registration import WebhookRegistrar
from boxcasb.webhooks.sync import WebhookSyncService

if TYPE_CHECKING:
    from boxcasb.box_gateway import BoxGateway, BoxGatewayFactory


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = StateStore(aws_clients.table(settings.table_name))
        self.credentials = AppCredentialsProvider(
            aws_clients.client("secretsmanager"), settings.box_app_secret_arn
        )
        self.tokens = TokenStore(
            self.store,
            TokenCipher(aws_clients.client("kms"), settings.token_key_arn),
            self._mark_reconnect_required,
        )
        self.invoker = AsyncInvoker(
            aws_clients.client("lambda"), settings.api_test_function_name, settings.webhook_sync_function_name
        )

    @cached_property
    def gateways(self) -> BoxGatewayFactory:
        from boxcasb.box_gateway import BoxApp, BoxGatewayFactory  # noqa: PLC0415 (deferred on purpose)

        def app() -> BoxApp:
            return BoxApp(self.credentials.get(time.time()), self.settings)

        return BoxGatewayFactory(app, self.tokens)

    def connect(self) -> ConnectService:
        return ConnectService(
            self.settings,
            self.store,
            self.tokens,
            lambda: self.gateways,
            self.credentials,
            self.invoker.start_api_test,
            lambda connection_id, at: self.backfill().on_connected(connection_id, at),
        )

    @cached_property
    def activity_store(self) -> ActivityStore:
        return ActivityStore(
            aws_clients.table(self.settings.activity_table_name),
            timedelta(days=self.settings.activity_retention_days),
        )

    def ingestor(self) -> Ingestor:
        scans = PriorityScanQueue(aws_clients.client("sqs"), self.settings.priority_scan_queue_url)
        return Ingestor(self.activity_store, scans)

    def backfill(self) -> BackfillService:
        s = self.settings
        return BackfillService(
            self.store,
            self.ingestor(),
            SqsBackfillQueue(aws_clients.client("sqs"), s.backfill_queue_url),
            self._events_for,
            BackfillSettings(
                days=s.backfill_days,
                window=timedelta(hours=s.backfill_window_hours),
                settle=timedelta(seconds=s.backfill_settle_seconds),
            ),
        )

    def stream_poller(self) -> StreamPoller:
        return StreamPoller(self.store, self.ingestor(), self._events_for, self.backfill().reconcile)

    def _events_for(self, connection_id: str) -> BoxGateway:
        return self.gateways.for_connection(connection_id)  # deferred: boxsdk loads on first use

    def api_tests(self) -> ApiTestService:
        def probe_for(connection_id: str) -> tuple[BoxProbe, Callable[[], int]]:
            gateway = self.gateways.for_connection(connection_id)
            return gateway, lambda: gateway.counter.count

        return ApiTestService(self.store, probe_for)

    def token_keeper(self) -> TokenKeeper:
        return TokenKeeper(
            self.store,
            self.tokens,
            self.gateways,
            timedelta(days=self.settings.token_keeper_max_idle_days),
        )

    def webhook_sync(self) -> WebhookSyncService:
        return WebhookSyncService(self.store, self.webhook_registrar)

    def webhook_registrar(self) -> WebhookRegistrar:
        if self.settings.webhook_address is None:
            raise SettingsError("invalid or missing environment variables: WEBHOOK_ADDRESS")
        return WebhookRegistrar(
            self.store,
            self.gateways.for_connection,
            str(self.settings.webhook_address),
            folder_ids=self.settings.webhook_folders,
        )

    def _mark_reconnect_required(self, connection_id: str, reason: str) -> None:
        self.store.update_connection(connection_id, lambda c: _reconnect_required(c, reason))


def _reconnect_required(c: Connection, reason: str) -> Connection:
    return c.model_copy(update={"status": ConnectionStatus.RECONNECT_REQUIRED, "status_reason": reason})


@cache
def services() -> Services:
    return Services(get_settings())


def reset() -> None:
    """Forget the built services (tests and benchmarks switch environments between runs)."""
    services.cache_clear()
    intake_wiring.webhook_intake.cache_clear()
