"""HTTP plumbing: a threaded HTTP/1.1 server on 127.0.0.1 that turns requests into ``Request``
values, hands them to one dispatch function, and writes the ``Response`` back.

HTTP/1.1 keep-alive matters: boxsdk and requests reuse connections, and a
listing of thousands of items is many small calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .faults import ConnectionDropped
from .web import Request, Response

HOST = "127.0.0.1"
Dispatch = Callable[[Request], Response]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # many workers refreshing at once must not wait on a full backlog

    def __init__(self, port: int, dispatch: Dispatch) -> None:
        super().__init__((HOST, port), _Handler)
        self.dispatch = dispatch


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a kept-alive client waits ~40 ms
    # for its delayed ACK on every answer.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _handle(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        try:
            response = self.server.dispatch(request)
        except ConnectionDropped:
            self.close_connection = True  # the client reads EOF where the status line should be
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        # Request lines can carry download tokens; the redacted request log is the record.
        pass


class HttpServer:
    def __init__(self, dispatch: Dispatch, port: int) -> None:
        self._server = _Server(port, dispatch)
        # A short poll keeps stop() quick: shutdown() waits for the serve loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-box", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
