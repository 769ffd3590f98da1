"""The Lambda Invoke API on a local port, so `boto3.client("lambda").invoke(...)` works unchanged.

`AWS_ENDPOINT_URL_LAMBDA` points boto3 here. RequestResponse runs the handler and
answers its result (or the runtime's error document with X-Amz-Function-Error);
Event answers 202 at once and runs the handler on a worker thread, retrying a
failure as many times as the function's EventInvokeConfig allows (Lambda's default: 2).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from devstack.handlers import LocalFunction, function_arn
from devstack.loopback import LoopbackServer

log = logging.getLogger(__name__)

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
# Name, partial ARN ("123456789012:function:Name") or full ARN, each with an optional qualifier.
_FUNCTION_ARN = re.compile(
    r"^(?:arn:[^:]+:lambda:[^:]+:)?(?:\d{12}:)?(?:function:)?([A-Za-z0-9_-]+)(?::[^:]+)?$"
)


@dataclass(frozen=True)
class AsyncOutcome:
    """How one asynchronous invocation ended, for tests and logs."""

    function: str
    request_id: str
    attempts: int
    error: str | None  # None when an attempt succeeded
    result: Any = None


class AsyncInvocations:
    """Lambda's internal event queue: accept now, run later, retry on error."""

    def __init__(self, *, workers: int = 8, retry_delay_seconds: float = 0.0) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="devstack-async")
        self._retry_delay = retry_delay_seconds
        self._idle = threading.Condition()
        self._pending = 0
        self._outcomes: list[AsyncOutcome] = []

    def submit(self, function: LocalFunction, event: Any) -> str:
        request_id = str(uuid.uuid4())
        with self._idle:
            self._pending += 1
        self._executor.submit(self._run, function, event, request_id)
        return request_id

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def snapshot(self) -> list[AsyncOutcome]:
        with self._idle:
            return list(self._outcomes)

    def wait(self, timeout: float) -> bool:
        """True once nothing is queued or running (work submitted by running work included)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run(self, function: LocalFunction, event: Any, request_id: str) -> None:
        attempts = 1 + function.spec.max_async_retries
        outcome = AsyncOutcome(function.name, request_id, 0, "never ran")
        try:
            for attempt in range(1, attempts + 1):
                try:
                    # Lambda keeps the request id across retries of one asynchronous event.
                    result = function.invoke(event, request_id=request_id)
                except Exception as exc:
                    print(
                        f"devstack: async {function.name} attempt {attempt}/{attempts} failed:",
                        file=sys.stderr,
                    )
                    traceback.print_exc()
                    outcome = AsyncOutcome(function.name, request_id, attempt, f"{type(exc).__name__}: {exc}")
                    if attempt < attempts and self._retry_delay:
                        time.sleep(self._retry_delay)
                else:
                    outcome = AsyncOutcome(function.name, request_id, attempt, None, result)
                    break
        finally:
            with self._idle:
                self._outcomes.append(outcome)
                self._pending -= 1
                self._idle.notify_all()


class LambdaInvokeServer:
    def __init__(
        self,
        functions: Callable[[], Mapping[str, LocalFunction]],
        async_invocations: AsyncInvocations,
        port: int = 0,
    ) -> None:
        # A callable: the server is bound (its URL goes into the environment) before handlers load.
        self._functions = functions
        self._async = async_invocations
        self._loopback = LoopbackServer(_make_handler(self), port, "devstack-lambda")

    @property
    def url(self) -> str:
        return self._loopback.url

    def serve(self) -> None:
        self._loopback.serve()

    def stop(self) -> None:
        self._loopback.stop()

    def find(self, function_name: str) -> LocalFunction | None:
        match = _FUNCTION_ARN.match(function_name)
        name = match.group(1) if match else function_name
        for function in self._functions().values():
            if function.name == name:
                return function
        return None

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        route = _INVOKE_PATH.match(urlsplit(path).path)
        if route is None:
            return _error(404, "UnknownOperationException", f"no local emulation for {path}")
        requested = unquote(route.group(1))
        function = self.find(requested)
        if function is None:
            missing = requested if requested.startswith("arn:") else function_arn(requested)
            return _error(404, "ResourceNotFoundException", f"Function not found: {missing}")
        try:
            event = json.loads(body or b"{}")
        except ValueError as exc:
            return _error(
                400, "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
            )
        invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type == "Event":
            request_id = self._async.submit(function, event)
            return 202, {"x-amzn-requestid": request_id}, b""
        if invocation_type == "DryRun":
            return 204, {}, b""
        if invocation_type != "RequestResponse":
            return _error(400, "InvalidParameterValueException", f"unknown InvocationType {invocation_type}")
        request_id = str(uuid.uuid4())
        reply = {"x-amzn-requestid": request_id, "x-amz-executed-version": "$LATEST"}
        try:
            result = function.invoke(event, request_id=request_id)
        except Exception as exc:
            traceback.print_exc()
            document = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": request_id,
                "stackTrace": traceback.format_exception(exc)[1:-1],
            }
            # A function error is still a successful Invoke call: 200 plus this header.
            return 200, {**reply, "x-amz-function-error": "Unhandled"}, json.dumps(document).encode()
        return 200, reply, json.dumps(result).encode()


def _error(status: int, error_type: str, message: str) -> tuple[int, dict[str, str], bytes]:
    # botocore reads the error code from x-amzn-errortype and the message from the body.
    body = json.dumps({"Type": "User", "Message": message, "message": message}).encode()
    return status, {"x-amzn-errortype": error_type, "content-type": "application/json"}, body


def _make_handler(server: LambdaInvokeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, reply_headers, reply = server.handle(self.path, headers, body)
            self.send_response(status)
            for name, value in reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            log.info("devstack lambda: " + format, *args)

    return Handler
