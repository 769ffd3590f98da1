"""Composition root: builds the services from settings, once per container."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from boxcasb import aws_clients
from boxcasb.api_test import ApiTestService, BoxProbe
from boxcasb.app_credentials import AppCredentialsProvider
from boxcasb.box_gateway import BoxApp, BoxGatewayFactory
from boxcasb.connect import ConnectService
from boxcasb.jobs import AsyncInvoker
from boxcasb.models import Connection, ConnectionStatus
from boxcasb.settings import Settings, get_settings
from boxcasb.state_store import StateStore
from boxcasb.token_cipher import TokenCipher
from boxcasb.token_keeper import TokenKeeper
from boxcasb.token_store import TokenStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: StateStore
    tokens: TokenStore
    gateways: BoxGatewayFactory
    credentials: AppCredentialsProvider
    invoker: AsyncInvoker

    def connect(self) -> ConnectService:
        return ConnectService(
            self.settings,
            self.store,
            self.tokens,
            self.gateways,
            self.credentials,
            self.invoker.start_api_test,
        )

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


def build(settings: Settings) -> Services:
    store = StateStore(aws_clients.table(settings.table_name))
    credentials = AppCredentialsProvider(aws_clients.client("secretsmanager"), settings.box_app_secret_arn)

    def mark_revoked(connection_id: str, reason: str) -> None:
        store.update_connection(connection_id, lambda c: _reconnect_required(c, reason))

    tokens = TokenStore(store, TokenCipher(aws_clients.client("kms"), settings.token_key_arn), mark_revoked)

    def app() -> BoxApp:
        return BoxApp(credentials.get(time.time()), settings)

    return Services(
        settings=settings,
        store=store,
        tokens=tokens,
        gateways=BoxGatewayFactory(app, tokens),
        credentials=credentials,
        invoker=AsyncInvoker(aws_clients.client("lambda"), settings.api_test_function_name),
    )


def _reconnect_required(c: Connection, reason: str) -> Connection:
    return c.model_copy(update={"status": ConnectionStatus.RECONNECT_REQUIRED, "status_reason": reason})


@cache
def services() -> Services:
    return build(get_settings())
