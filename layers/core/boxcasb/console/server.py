"""The console's HTTP server: stdlib ThreadingHTTPServer on 127.0.0.1, every request through the guard.

A single admin's browser on the same machine is the only client, so the standard library's
threaded server is enough; the handler only moves bytes, `ConsoleServer.handle` decides.
"""

from __future__ import annotations

import sys
import threading
import traceback
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TextIO
from urllib.parse import urlsplit

from boxcasb.cli.api_client import AdminApi, ApiError
from boxcasb.console.app import Console, dispatch
from boxcasb.console.guard import LOOPBACK, SECURITY_HEADERS, Guard, loopback_host, refusal
from boxcasb.console.routes import ROUTES
from boxcasb.console.templates import environment
from boxcasb.console.web import (
    MAX_BODY_BYTES,
    BadForm,
    Request,
    Response,
    parse_cookies,
    parse_form,
    parse_query,
)

DEFAULT_PORT = 8765
STATIC_TYPES = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


class ConsoleServer:
    """Listens at once (so port 0 has its real port); serves on `serve_forever` or `start`."""

    def __init__(
        self,
        api: AdminApi,
        *,
        host: str = LOOPBACK,
        port: int = DEFAULT_PORT,
        token: str | None = None,
        log: TextIO | None = None,
    ) -> None:
        self._httpd = _HttpServer((loopback_host(host), port), _Handler)
        self._httpd.console = self
        self.port = int(self._httpd.server_address[1])
        self.guard = Guard.for_port(self.port, token)
        self.app = Console(api, environment(), self.guard.csrf)
        self.log = log
        package = resources.files("boxcasb.console") / "static"
        self._static = {name: (package / name).read_bytes() for name in STATIC_TYPES}
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    @property
    def launch_url(self) -> str:
        """The one link that lets a browser in: it carries this run's token."""
        return f"http://{LOOPBACK}:{self.port}{self.guard.launch_path()}"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.05)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="boxcasb-console", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: Callable[[int], bytes]
    ) -> Response:
        """One request: the guard first, then the body (POST), the CSRF token, and the page."""
        parts = urlsplit(target)
        request = Request(
            method=method,
            path=parts.path or "/",
            query=parse_query(parts.query),
            headers=headers,
            cookies=parse_cookies(headers.get("cookie")),
        )
        refused = self.guard.admit(request)
        if refused is not None:
            return refused
        if method == "POST":
            length = headers.get("content-length", "")
            if not length.isdigit():
                return refusal(411, "Length required", "A form must say how long it is.")
            if int(length) > MAX_BODY_BYTES:
                return refusal(413, "Too large", "The form is larger than the console accepts.")
            try:
                form = parse_form(headers.get("content-type", ""), body(int(length)))
            except BadForm:
                return refusal(400, "Not a form", "The console could not read that form.")
            if not self.guard.csrf_ok(form):
                return refusal(
                    403, "Stale form", "Reload the page and try again (the form is from another run)."
                )
            request = replace(request, form=form)
        static = request.path.partition("/static/")[2] if request.path.startswith("/static/") else ""
        if method == "GET" and static in self._static:
            return Response(200, self._static[static], STATIC_TYPES[static])
        try:
            return dispatch(self.app, ROUTES, request)
        except Exception:
            if self.log is not None:
                self.log.write(f"console: {method} {request.path} failed\n{traceback.format_exc()}")
            return refusal(500, "The console failed", "See the terminal that runs boxcasb console.")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    console: ConsoleServer


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "boxcasb-console"
    sys_version = ""
    timeout = 30  # a connection that stops sending frees its thread

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = self.server.console.handle(method, self.path, headers, self.rfile.read)
        self._send(response)
        log = self.server.console.log
        if log is not None:
            # The path only: the token travels in the query string and is never written anywhere.
            log.write(f"console: {method} {urlsplit(self.path).path} {response.status}\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests and other methods: the same headers as every answer, no echo."""
        self.close_connection = True
        self._send(refusal(code, "Refused", "The console does not answer that request."))

    def _send(self, response: Response) -> None:
        self.send_response_only(response.status)
        for name, value in (
            *SECURITY_HEADERS,
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            *response.headers,
        ):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        """Off: the standard log line is the raw request line, token included."""


def run(api: AdminApi, *, host: str, port: int, open_browser: bool) -> int:
    """`boxcasb console`: serve until Ctrl-C."""
    if api.session.get_credentials() is None:
        raise ApiError(0, "no_credentials", "no AWS credentials found (aws configure, or AWS_PROFILE)")
    try:
        server = ConsoleServer(api, host=host, port=port, log=sys.stderr)
    except OSError as exc:
        print(
            f"error: can't listen on {LOOPBACK}:{port} ({exc.strerror or exc}); "
            "choose another --port (0: any free port)",
            file=sys.stderr,
        )
        return 2
    print(
        f"boxcasb console on {server.url} (API: {api.base_url})\n"
        "Open this link; it carries this run's access token, so keep it to yourself:\n\n"
        f"  {server.launch_url}\n\nCtrl-C stops the console.",
        flush=True,
    )
    if open_browser and not webbrowser.open(server.launch_url):
        print("No browser could be opened: open the link above.", file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        server.close()
    return 0
