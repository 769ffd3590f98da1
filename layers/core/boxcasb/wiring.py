"""Composition root: builds the services from settings, once per container.

boxsdk costs ~0.4 s to import (it loads every manager and schema), so the Box gateway is
built on first use: the admin API, which never calls Box, does not pay for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from boxcasb import aws_clients, intake_wiring
from boxcasb.activity.backfill import BackfillService, BackfillSettings
from boxcasb.activity.ingest import Ingestor
from boxcasb.activity.queue import SqsBackfillQueue
from boxcasb.activity.store import ActivityStore
from boxcasb.activity.stream import StreamPoller
from boxcasb.activity_rules.engine import ActivityEngine
from boxcasb.activity_rules.geo import ip_country
from boxcasb.activity_rules.model import ActivityPolicy
from boxcasb.activity_rules.state import DynamoDbActivityState
from boxcasb.alerts.notify import notifier_for
from boxcasb.alerts.service import AlertService
from boxcasb.alerts.store import AlertStore
from boxcasb.api_test import ApiTestService, BoxProbe
from boxcasb.app_credentials import AppCredentialsProvider
from boxcasb.clock import utc_now
from boxcasb.connect import ConnectService
from boxcasb.disconnect import DisconnectPorts, DisconnectService
from boxcasb.errors import NotFound
from boxcasb.govern.actions import Governor
from boxcasb.govern.box_writes import GatewayBoxWrites
from boxcasb.inspect.content import ContentReader
from boxcasb.inspect.extract import ExtractLimits
from boxcasb.jobs import AsyncInvoker
from boxcasb.models import Connection, ConnectionStatus
from boxcasb.policies.activity_verdicts import ActivityVerdicts
from boxcasb.policies.enforcement import AuditLog, GovernanceEnforcement, Restorer
from boxcasb.policies.inspector import PolicyInspector
from boxcasb.policies.owner_groups import BoxOwnerGroups
from boxcasb.policies.source import OverridesStore, PolicySource
from boxcasb.policies.verdicts import AlertingVerdicts
from boxcasb.rate_limit import RateLimiters
from boxcasb.scan.bulk_queue import BulkScanQueue
from boxcasb.scan.exposure import internal_domains_from
from boxcasb.scan.file_scan import FileScanner
from boxcasb.scan.inventory import InventoryStore
from boxcasb.scan.ledger import ScanLedger
from boxcasb.scan.priority import PriorityScanner
from boxcasb.scan.reads import ScanReads
from boxcasb.scan.service import ScanService
from boxcasb.scan.walk import BulkScanWorker
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
        self._domains: dict[str, frozenset[str]] = {}
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
            aws_clients.client("lambda"),
            settings.api_test_function_name,
            settings.webhook_sync_function_name,
            settings.governance_function_name,
            settings.disconnect_function_name,
        )

    @cached_property
    def rate_limiters(self) -> RateLimiters:
        return RateLimiters(self.store.table, self.settings.box_rate_limit)

    @cached_property
    def gateways(self) -> BoxGatewayFactory:
        from boxcasb.box_gateway import BoxApp, BoxGatewayFactory  # noqa: PLC0415 (deferred on purpose)

        def app() -> BoxApp:
            return BoxApp(self.credentials.get(time.time()), self.settings)

        return BoxGatewayFactory(app, self.tokens, limiter_for=self.rate_limiters)

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
        return Ingestor(self.activity_store, scans, self.activity_verdicts)

    @cached_property
    def activity_verdicts(self) -> ActivityVerdicts:
        geo = ip_country(self.settings.geoip_country_csv)  # loaded once per container
        state = DynamoDbActivityState(self.store.table, ttl_attribute="expires_at")

        def engine(policies: Sequence[ActivityPolicy]) -> ActivityEngine:
            return ActivityEngine(policies, state, geo, self.internal_domains)

        return ActivityVerdicts(self.policies.for_connection, engine, self.alerts)

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

        first_scan = self.scans().start_first if self.settings.scan_after_api_test else None
        return ApiTestService(self.store, probe_for, on_passed=first_scan)

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

    # --- file scanning ----------------------------------------------------------------

    @cached_property
    def inventory(self) -> InventoryStore:
        return InventoryStore(
            aws_clients.table(_required(self.settings.inventory_table_name, "INVENTORY_TABLE_NAME"))
        )

    @cached_property
    def policy_overrides(self) -> OverridesStore:
        return OverridesStore(self.store.table)

    @cached_property
    def policies(self) -> PolicySource:
        folder = self.settings.policies_dir
        return PolicySource(Path(folder) if folder else None, self.policy_overrides)

    @cached_property
    def alerts(self) -> AlertService:
        table = aws_clients.table(_required(self.settings.alerts_table_name, "ALERTS_TABLE_NAME"))
        return AlertService(
            AlertStore(table),
            notifier_for(self.settings.alerts_topic_arn, lambda: aws_clients.client("sns")),
            lambda: [c.connection_id for c in self.store.list_connections()],
        )

    @cached_property
    def scan_ledger(self) -> ScanLedger:
        return ScanLedger(self.store.table)

    def internal_domains(self, connection_id: str) -> frozenset[str]:
        """The enterprise's mail domains: the setting, or the connecting admin's (read once)."""
        if connection_id not in self._domains:
            admin_login = self.store.get_connection(connection_id).admin_login
            self._domains[connection_id] = internal_domains_from(
                self.settings.scan_internal_domains, admin_login
            )
        return self._domains[connection_id]

    @cached_property
    def audit_log(self) -> AuditLog:
        return AuditLog(self.store.table)

    @cached_property
    def file_scanner(self) -> FileScanner:
        s = self.settings
        reader = ContentReader(
            ExtractLimits(
                max_input_bytes=s.inspect_max_bytes,
                max_output_chars=s.inspect_max_chars,
                timeout_seconds=s.inspect_timeout_seconds,
            )
        )
        enforcement = GovernanceEnforcement(
            self._governor, self.alerts, self.audit_log, self.internal_domains
        )
        inspector = PolicyInspector(
            self.policies.for_connection,
            reader,
            AlertingVerdicts(self.alerts, enforcement),
            BoxOwnerGroups(lambda connection_id: self.gateways.for_connection(connection_id, lane="bulk")),
        )
        return FileScanner(inspector, self.internal_domains)

    def restorer(self) -> Restorer:
        return Restorer(self._governor, self.audit_log, self.alerts)

    def _governor(self, connection_id: str) -> Governor:
        connection = self.store.get_connection(connection_id)
        return Governor(
            GatewayBoxWrites(self.gateways.for_connection(connection_id)),
            connection_id=connection_id,
            admin_user_id=connection.admin_user_id or "",
        )

    def _bulk_queue(self) -> BulkScanQueue:
        url = _required(self.settings.bulk_scan_queue_url, "BULK_SCAN_QUEUE_URL")
        return BulkScanQueue(aws_clients.client("sqs"), url)

    def priority_queue(self) -> PriorityScanQueue:
        return PriorityScanQueue(aws_clients.client("sqs"), self.settings.priority_scan_queue_url)

    def scans(self) -> ScanService:
        return ScanService(
            self.scan_ledger,
            self.store.get_connection,
            self.store.list_connections,
            self._bulk_queue().send,
            self.file_scanner.policy_version,
            timedelta(minutes=self.settings.scan_stall_minutes),
        )

    def bulk_scan_worker(self) -> BulkScanWorker:
        return BulkScanWorker(
            self.scan_ledger,
            self.inventory,
            self._bulk_queue().send,
            lambda connection_id: ScanReads(self.gateways.for_connection(connection_id, lane="bulk")),
            lambda connection_id: self.gateways.for_connection(connection_id, lane="bulk"),
            self.file_scanner,
            lambda message, delay: self._bulk_queue().send_messages([message], delay),
        )

    def priority_scanner(self) -> PriorityScanner:
        queue = self.priority_queue()
        return PriorityScanner(
            self.inventory,
            lambda connection_id: ScanReads(self.gateways.for_connection(connection_id)),
            self.file_scanner,
            self._admin_of_live,
            lambda connection_id, requests: queue.enqueue(connection_id, requests, "scan"),
        )

    def _admin_of_live(self, connection_id: str) -> str:
        """The connected admin's user id; NotFound for a disconnected connection (its work is dropped)."""
        connection = self.store.get_connection(connection_id)
        if connection.status.retired:
            raise NotFound(f"connection {connection_id} is {connection.status.value}")
        return connection.admin_user_id or ""

    def disconnects(self) -> DisconnectService:
        return DisconnectService(self.store, self._disconnect_ports)

    def _disconnect_ports(self) -> DisconnectPorts:
        activity_state = DynamoDbActivityState(self.store.table, ttl_attribute="expires_at")
        alerts_table = aws_clients.table(_required(self.settings.alerts_table_name, "ALERTS_TABLE_NAME"))

        def overrides(connection_id: str) -> int:
            self.policies.forget(connection_id)
            return int(self.policy_overrides.delete(connection_id))

        return DisconnectPorts(
            ledger=self.scan_ledger,
            box_for=self.gateways.for_connection,
            load_tokens=self.tokens.load,
            revoke=lambda token: self.gateways.app().revoke(token),
            erasers=(
                (
                    "activity",
                    lambda connection_id: self.activity_store.delete_connection(connection_id, utc_now()),
                ),
                ("inventory", self.inventory.delete_connection),
                ("scans", self.scan_ledger.delete_connection),
                ("alerts", AlertStore(alerts_table).delete_connection),
                ("policies", overrides),
                ("audit", self.audit_log.delete_connection),
                ("rate_limit", self.rate_limiters.forget),
                ("activity_rules", activity_state.forget_connection),
                ("state", self.store.delete_connection_items),  # last: checkpoints, webhook records
            ),
        )

    def _mark_reconnect_required(self, connection_id: str, reason: str) -> None:
        self.store.update_connection(connection_id, lambda c: _reconnect_required(c, reason))


def _required(value: str | None, name: str) -> str:
    if not value:
        raise SettingsError(f"invalid or missing environment variables: {name}")
    return value


def _reconnect_required(c: Connection, reason: str) -> Connection:
    if c.status.retired:
        return c  # a disconnect revokes the tokens itself: its status must not turn back
    return c.model_copy(update={"status": ConnectionStatus.RECONNECT_REQUIRED, "status_reason": reason})


@cache
def services() -> Services:
    return Services(get_settings())


def reset() -> None:
    """Forget the built services (tests and benchmarks switch environments between runs)."""
    services.cache_clear()
    intake_wiring.webhook_intake.cache_clear()
