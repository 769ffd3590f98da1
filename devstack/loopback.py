"""A threaded HTTP server on 127.0.0.1, bound at construction and served on a daemon thread.

Bound early on purpose: the stack needs each server's URL (for the environment and the
OAuth redirect URI) before the handlers that read it are loaded.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int, name: str) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._name = name
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> None:
        # A short poll keeps stop() quick: shutdown() waits for the serve loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=self._name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
