"""The local HttpApi: an HTTP server on 127.0.0.1 that routes, authorizes and invokes like API Gateway."""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from devstack.http_events import (
    HttpRequest,
    HttpResponse,
    MalformedResponseError,
    build_event,
    error_response,
    new_request_id,
    to_http_response,
)
from devstack.local_aws import LocalIdentity
from devstack.loopback import LoopbackServer
from devstack.routes import RouteTable
from devstack.sigv4 import SignatureRejected, SignedRequest, verify

log = logging.getLogger(__name__)

# HTTP APIs give up on an integration after 30 seconds and answer 503.
INTEGRATION_TIMEOUT_SECONDS = 30.0

Invoke = Callable[[str, dict[str, Any]], Any]


class HttpGateway:
    def __init__(
        self,
        routes: RouteTable,
        invoke: Invoke,
        api_ids: Mapping[str, str],
        identity: LocalIdentity,
        port: int = 0,
    ) -> None:
        self._routes = routes
        self._invoke = invoke
        self._api_ids = dict(api_ids)
        self._identity = identity
        self._loopback = LoopbackServer(_make_handler(self), port, "devstack-http-api")

    @property
    def port(self) -> int:
        return self._loopback.port

    @property
    def url(self) -> str:
        return self._loopback.url

    def serve(self) -> None:
        self._loopback.serve()

    def stop(self) -> None:
        self._loopback.stop()

    def respond(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        response = self._respond(request, request_id)
        response.headers.append(("apigw-requestid", request_id))
        return response

    def _respond(self, request: HttpRequest, request_id: str) -> HttpResponse:
        match = self._routes.match(request.method, request.raw_path)
        if match is None:
            return error_response(404, "Not Found", request_id)
        identity: LocalIdentity | None = None
        if match.route.auth == "AWS_IAM":
            signed = SignedRequest(
                request.method, request.raw_path, request.raw_query, request.headers, request.body
            )
            try:
                verify(signed, self._identity)
            except SignatureRejected as rejected:
                # The caller only learns "Forbidden", like with API Gateway; the reason helps the developer.
                log.warning("devstack: 403 for %s %s: %s", request.method, request.raw_path, rejected)
                return error_response(403, "Forbidden", request_id)
            identity = self._identity
        event = build_event(
            request,
            match,
            api_id=self._api_ids.get(match.route.api_id, match.route.api_id),
            request_id=request_id,
            identity=identity,
        )
        started = time.monotonic()
        try:
            response = to_http_response(self._invoke(match.route.function_id, event))
        except MalformedResponseError as malformed:
            log.error("devstack: %s returned a malformed response: %s", match.route.function_id, malformed)
            return error_response(500, "Internal Server Error", request_id)
        except Exception:
            print(f"devstack: {match.route.function_id} raised on {match.route.route_key}:", file=sys.stderr)
            traceback.print_exc()
            return error_response(500, "Internal Server Error", request_id)
        if time.monotonic() - started > INTEGRATION_TIMEOUT_SECONDS:
            log.error("devstack: %s took longer than API Gateway waits", match.route.function_id)
            return error_response(503, "Service Unavailable", request_id)
        return response


def _make_handler(gateway: HttpGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            request = HttpRequest(
                method=self.command,
                raw_path=parts.path or "/",
                raw_query=parts.query,
                headers=list(self.headers.items()),
                body=self._read_body(),
                source_ip=self.client_address[0],
                server_port=gateway.port,
            )
            response = gateway.respond(request)
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        def log_message(self, format: str, *args: Any) -> None:
            log.info("devstack http: " + format, *args)

    return Handler
