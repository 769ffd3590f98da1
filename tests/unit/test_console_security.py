"""The console's guard over real sockets: loopback only, the per-run token, Host, Origin, CSRF, headers.

The admin API behind it is a recording stand-in: every refusal must reach it zero times.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from boxcasb.cli.api_client import AdminApi
from boxcasb.cli.main import main as boxcasb
from boxcasb.console.guard import NotLoopback
from boxcasb.console.server import ConsoleServer

TOKEN = "per-run-token-for-the-tests-0123456789abcdef"
CID = "c0ffee00-0000-4000-8000-000000000001"


PENDING = {
    "connection_id": CID,
    "status": "pending",
    "status_reason": None,
    "created_at": "2026-11-01T09:00:00+00:00",
    "updated_at": "2026-11-01T09:00:00+00:00",
    "connected_at": None,
    "enterprise_id": None,
    "enterprise_name": None,
    "admin_user_id": None,
    "admin_login": None,
    "admin_name": None,
    "role": None,
    "authorization": {
        "state": "awaiting_consent",
        "started_at": "2026-11-01T09:00:00+00:00",
        "expires_at": "2999-01-01T00:00:00+00:00",
        "finished_at": None,
        "detail": None,
    },
    "last_test": None,
    "activity": {},
    "scan": None,
}


class RecordingApi(AdminApi):
    """Answers like the admin API would for an empty deployment, and records every call."""

    def __init__(self) -> None:
        session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="not-a-secret")
        super().__init__("http://127.0.0.1:9/", session)
        self.calls: list[tuple[str, str]] = []

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((method, path))
        if (method, path) == ("POST", "/connections"):
            return {
                "connection_id": CID,
                "authorize_url": "http://127.0.0.1:9/api/oauth2/authorize?state=s",
                "expires_at": "2999-01-01T00:00:00+00:00",
            }
        if path == f"/connections/{CID}":
            return PENDING
        return {"connections": [], "alerts": [], "cursor": None}


@dataclass
class Running:
    server: ConsoleServer
    api: RecordingApi
    log: io.StringIO

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cookie(self) -> str:
        return f"{self.server.guard.cookie_name}={TOKEN}"

    @property
    def csrf(self) -> str:
        return self.server.guard.csrf


@pytest.fixture
def console() -> Iterator[Running]:
    api, log = RecordingApi(), io.StringIO()
    server = ConsoleServer(api, port=0, token=TOKEN, log=log)
    server.start()
    yield Running(server, api, log)
    server.close()


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str


def send(
    console: Running,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    *,
    address: str = "127.0.0.1",
) -> Answer:
    """One raw request, so each header is exactly what the test says (Host included)."""
    connection = http.client.HTTPConnection(address, console.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in ({"Host": console.host} | (headers or {})).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read().decode())
    finally:
        connection.close()


def post_form(console: Running, path: str, fields: dict[str, str], **headers: str) -> Answer:
    base = {
        "Cookie": console.cookie,
        "Origin": console.origin,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return send(console, "POST", path, base | headers, urlencode(fields).encode())


# --- where it listens ---------------------------------------------------------------------------


def test_it_listens_on_127_0_0_1_only(console: Running) -> None:
    assert console.server.address == ("127.0.0.1", console.port)
    # 127.0.0.2 is this machine too: a server on 0.0.0.0 would answer there; ours must not.
    probe = socket.socket()
    probe.settimeout(2)
    try:
        assert probe.connect_ex(("127.0.0.2", console.port)) != 0
    finally:
        probe.close()


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "::1", "192.168.1.20", "10.0.0.1", "example.com", ""],  # noqa: S104 - refused
)
def test_a_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(NotLoopback):
        ConsoleServer(RecordingApi(), host=host, port=0)


def test_the_cli_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        boxcasb(["--api-url", "http://127.0.0.1:9", "console", "--host", "0.0.0.0", "--no-browser"])  # noqa: S104
    assert exit_.value.code == 2
    assert "listens on 127.0.0.1 only" in capsys.readouterr().err


def test_localhost_is_a_name_for_the_loopback() -> None:
    server = ConsoleServer(RecordingApi(), host="localhost", port=0)
    try:
        assert server.address[0] == "127.0.0.1"
    finally:
        server.close()


# --- the token ----------------------------------------------------------------------------------


def test_without_the_token_every_path_is_401(console: Running) -> None:
    for path in ("/", "/files?exposure=public", "/static/console.js", "/alerts", "/no-such-page"):
        assert send(console, "GET", path).status == 401, path
    assert console.api.calls == []


def test_a_wrong_token_is_403_in_the_link_or_in_the_cookie(console: Running) -> None:
    assert send(console, "GET", "/?token=not-the-token").status == 403
    wrong_cookie = {"Cookie": f"{console.server.guard.cookie_name}=not-the-token"}
    assert send(console, "GET", "/", wrong_cookie).status == 403
    # Another console's cookie (another port) carries no token for this one.
    assert send(console, "GET", "/", {"Cookie": f"boxcasb_console_1={TOKEN}"}).status == 401
    assert console.api.calls == []


def test_the_link_sets_a_strict_httponly_cookie_and_drops_the_token_from_the_address(
    console: Running,
) -> None:
    first = send(console, "GET", f"/files?exposure=public&token={TOKEN}")
    assert first.status == 303
    assert first.headers["Location"] == "/files?exposure=public"
    cookie = first.headers["Set-Cookie"]
    name_value, *attributes = [part.strip() for part in cookie.split(";")]
    assert name_value == console.cookie
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(attributes)
    assert console.api.calls == []  # the redirect only sets the cookie
    assert send(console, "GET", "/", {"Cookie": console.cookie}).status == 200


def test_the_link_redirects_only_within_the_console(console: Running) -> None:
    answer = send(console, "GET", f"//evil.example/x?token={TOKEN}")
    assert answer.status == 303
    assert answer.headers["Location"] == "/evil.example/x"


def test_the_token_is_taken_from_the_link_only_on_get(console: Running) -> None:
    answer = send(
        console,
        "POST",
        f"/connections?token={TOKEN}",
        {"Origin": console.origin, "Content-Type": "application/x-www-form-urlencoded"},
        urlencode({"csrf": console.csrf}).encode(),
    )
    assert answer.status == 401
    assert console.api.calls == []


def test_the_token_is_never_logged_nor_shown(console: Running) -> None:
    send(console, "GET", f"/?token={TOKEN}")
    page = send(console, "GET", "/", {"Cookie": console.cookie})
    send(console, "GET", "/?token=wrong")
    send(console, "GARBAGE /?token=" + TOKEN, "/")  # a malformed request line is not echoed either
    assert page.status == 200
    assert TOKEN not in page.body
    assert console.log.getvalue()  # the console does log its requests, by path
    assert TOKEN not in console.log.getvalue()


# --- Host, Origin, CSRF ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["evil.example:{port}", "evil.example", "127.0.0.1", "127.0.0.1:1", "127.0.0.2:{port}", "[::1]:{port}"],
)
def test_a_foreign_host_header_is_refused(console: Running, host: str) -> None:
    # What a DNS-rebinding page sends: our address, its own name.
    answer = send(console, "GET", "/", {"Host": host.format(port=console.port), "Cookie": console.cookie})
    assert answer.status == 400
    assert console.api.calls == []


def test_a_request_without_a_host_header_is_refused(console: Running) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    try:
        connection.putrequest("GET", "/", skip_host=True)
        connection.putheader("Cookie", console.cookie)
        connection.endheaders()
        assert connection.getresponse().status == 400
    finally:
        connection.close()


def test_localhost_with_the_port_is_the_console_too(console: Running) -> None:
    answer = send(console, "GET", "/", {"Host": f"localhost:{console.port}", "Cookie": console.cookie})
    assert answer.status == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:1", "null", None])
def test_a_post_from_another_origin_is_refused(console: Running, origin: str | None) -> None:
    headers = {"Cookie": console.cookie, "Content-Type": "application/x-www-form-urlencoded"}
    if origin is not None:
        headers["Origin"] = origin
    answer = send(console, "POST", "/connections", headers, urlencode({"csrf": console.csrf}).encode())
    assert answer.status == 403
    assert console.api.calls == []


@pytest.mark.parametrize("fetch_site", ["same-site", "cross-site", "none", None])
def test_origin_null_passes_only_from_the_same_origin(console: Running, fetch_site: str | None) -> None:
    """Under no-referrer, the browser posts our own forms with `Origin: null`; `Sec-Fetch-Site`
    (which no page can set) must then say same-origin: another local port is only same-site."""
    headers = {"Origin": "null"} | ({"Sec-Fetch-Site": fetch_site} if fetch_site else {})
    assert post_form(console, "/connections", {"csrf": console.csrf}, **headers).status == 403
    assert console.api.calls == []
    same_origin = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    assert post_form(console, "/connections", {"csrf": console.csrf}, **same_origin).status == 303


@pytest.mark.parametrize("fields", [{}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": TOKEN}])
def test_a_post_without_the_csrf_token_is_refused(console: Running, fields: dict[str, str]) -> None:
    assert post_form(console, "/connections", fields).status == 403
    assert console.api.calls == []


def test_a_post_with_cookie_origin_and_csrf_goes_through(console: Running) -> None:
    answer = post_form(console, "/connections", {"csrf": console.csrf})
    assert answer.status == 303
    assert answer.headers["Location"] == f"/connections/{CID}"
    assert console.api.calls == [("POST", "/connections")]


def test_the_csrf_token_is_in_each_form_and_is_not_the_access_token(console: Running) -> None:
    page = send(console, "GET", "/", {"Cookie": console.cookie})
    assert f'name="csrf" value="{console.csrf}"' in page.body
    assert console.csrf != TOKEN


def test_a_form_too_large_is_refused_before_it_is_read(console: Running) -> None:
    answer = send(
        console,
        "POST",
        "/policies",
        {
            "Cookie": console.cookie,
            "Origin": console.origin,
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(64 * 1024 * 1024),
        },
    )
    assert answer.status == 413
    assert console.api.calls == []


def test_get_changes_nothing(console: Running) -> None:
    """Every state change is a POST: the same paths by GET don't reach the API's writes."""
    for path in ("/connections", f"/connections/{CID}/test", "/alerts/0123456789abcdef01234567/dismiss"):
        send(console, "GET", path, {"Cookie": console.cookie})
    assert all(method == "GET" for method, _ in console.api.calls)


# --- headers on every answer --------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(console: Running) -> None:
    answers = [
        send(console, "GET", "/", {"Cookie": console.cookie}),
        send(console, "GET", "/static/console.js", {"Cookie": console.cookie}),
        send(console, "GET", "/static/console.css", {"Cookie": console.cookie}),
        send(console, "GET", "/no-such-page", {"Cookie": console.cookie}),
        send(console, "GET", "/"),
        send(console, "GET", f"/?token={TOKEN}"),
        send(console, "GET", "/", {"Host": "evil.example"}),
        send(console, "DELETE", "/", {"Cookie": console.cookie}),
        post_form(console, "/connections", {}),
    ]
    for answer in answers:
        csp = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Cache-Control"] == "no-store"
    assert answers[1].headers["Content-Type"].startswith("text/javascript")
    assert answers[3].status == 404
    assert answers[7].status in (405, 501)


class _InlineCode(HTMLParser):
    """What the CSP would block: inline scripts, inline styles, event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag}[{name}]" for name in names if name == "style" or name.startswith("on")]


def test_pages_have_no_inline_code_the_csp_would_block(console: Running) -> None:
    for path in ("/", f"/connections/{CID}", "/alerts", "/no-such-page"):
        page = send(console, "GET", path, {"Cookie": console.cookie})
        checker = _InlineCode()
        checker.feed(page.body)
        assert checker.found == [], path
        assert re.search(r'<script src="/static/console.js" defer></script>', page.body)
