"""Starting work in another function without waiting for it (Lambda asynchronous invoke)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from boxcasb.errors import BoxCasbError


class JobNotStarted(BoxCasbError):
    """Lambda did not accept the asynchronous invocation (throttled, misconfigured, unreachable)."""


class ApiTestRequest(BaseModel):
    """The event the ApiTest function receives."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    reason: str = Field(default="on_demand", pattern=r"^(connect|on_demand)$")


class WebhookSyncRequest(BaseModel):
    """The event the WebhookSync function receives."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class RestoreRequest(BaseModel):
    """The event the Governance function receives: put a quarantined file back, as an admin asked."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    file_id: str = Field(pattern=r"^[0-9]{1,20}$")
    requested_by: str = Field(min_length=1, max_length=2048)  # the IAM principal that asked


class DisconnectRequest(BaseModel):
    """The event the Disconnect function receives: carry out (or continue) a requested disconnect."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class AsyncInvoker:
    def __init__(
        self,
        lambda_client: Any,
        api_test_function: str | None,
        webhook_sync_function: str | None = None,
        governance_function: str | None = None,
        disconnect_function: str | None = None,
    ) -> None:
        self._client = lambda_client
        self._api_test_function = api_test_function
        self._webhook_sync_function = webhook_sync_function
        self._governance_function = governance_function
        self._disconnect_function = disconnect_function

    def start_api_test(self, connection_id: str, reason: str) -> None:
        payload = ApiTestRequest(connection_id=connection_id, reason=reason)
        self._start(self._api_test_function, "API_TEST_FUNCTION_NAME", payload, "the Test API")

    def start_webhook_sync(self, connection_id: str) -> None:
        payload = WebhookSyncRequest(connection_id=connection_id)
        self._start(self._webhook_sync_function, "WEBHOOK_SYNC_FUNCTION_NAME", payload, "the webhook sync")

    def start_restore(self, request: RestoreRequest) -> None:
        self._start(self._governance_function, "GOVERNANCE_FUNCTION_NAME", request, "the restore")

    def start_disconnect(self, connection_id: str) -> None:
        payload = DisconnectRequest(connection_id=connection_id)
        self._start(self._disconnect_function, "DISCONNECT_FUNCTION_NAME", payload, "the disconnect")

    def _start(self, function: str | None, setting: str, payload: BaseModel, what: str) -> None:
        if not function:
            raise RuntimeError(f"{setting} is not set for this function")
        try:
            self._client.invoke(
                FunctionName=function,
                InvocationType="Event",
                Payload=json.dumps(payload.model_dump()).encode(),
            )
        except (BotoCoreError, ClientError) as exc:
            raise JobNotStarted(f"{what} could not be started ({type(exc).__name__})") from exc
