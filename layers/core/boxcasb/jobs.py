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


class AsyncInvoker:
    def __init__(self, lambda_client: Any, function_name: str | None) -> None:
        self._client = lambda_client
        self._function_name = function_name

    def start_api_test(self, connection_id: str, reason: str) -> None:
        if not self._function_name:
            raise RuntimeError("API_TEST_FUNCTION_NAME is not set for this function")
        payload = ApiTestRequest(connection_id=connection_id, reason=reason)
        try:
            self._client.invoke(
                FunctionName=self._function_name,
                InvocationType="Event",
                Payload=json.dumps(payload.model_dump()).encode(),
            )
        except (BotoCoreError, ClientError) as exc:
            raise JobNotStarted(f"the Test API could not be started ({type(exc).__name__})") from exc
