"""Who may drive the console: the browser the admin opened with this run's link, and nothing else.

The console listens on 127.0.0.1, but any local program and any page open in the admin's browser
can reach 127.0.0.1 too. So:
- a per-run random token is required on every request: it arrives once in the link the CLI
  opens, and is then kept in an HttpOnly, SameSite=Strict cookie (named after the port, so two
  consoles don't overwrite each other's);
- the Host header must name the console itself (127.0.0.1:<port> or localhost:<port>), which
  defeats DNS rebinding (evil.example resolving to 127.0.0.1 carries Host: evil.example);
- every POST must come from the console's own origin (`Origin`, or `Sec-Fetch-Site` where the
  no-referrer policy makes browsers send `Origin: null`) and carry the per-run CSRF token in its
  form: cookies don't tell ports apart, so a page served on another local port is "same site"
  and SameSite alone would let it post;
- every answer forbids framing, referrers and foreign scripts (SECURITY_HEADERS).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from boxcasb.console.web import Request, Response, redirect

LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost"})
TOKEN_PARAM = "token"  # noqa: S105 - the query parameter's name
CSRF_FIELD = "csrf"

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)


class NotLoopback(ValueError):
    """The console was asked to listen somewhere other than this machine's loopback."""


def loopback_host(host: str) -> str:
    """The address to bind for `host`: 127.0.0.1 for the names of it, NotLoopback for anything else
    (0.0.0.0, a LAN address, ::1 — the Host check and the cookie know only these two names)."""
    if host.strip().lower() not in LOOPBACK_NAMES:
        raise NotLoopback(f"the console listens on 127.0.0.1 only, not on {host!r}")
    return LOOPBACK


@dataclass(frozen=True)
class Guard:
    port: int
    token: str
    csrf: str

    @classmethod
    def for_port(cls, port: int, token: str | None = None) -> Guard:
        return cls(port=port, token=token or secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32))

    @property
    def cookie_name(self) -> str:
        return f"boxcasb_console_{self.port}"

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{name}:{self.port}" for name in LOOPBACK_NAMES)

    def launch_path(self, path: str = "/") -> str:
        return f"{path}?{urlencode({TOKEN_PARAM: self.token})}"

    def admit(self, request: Request) -> Response | None:
        """None when `request` may go on to the views (a POST still needs `csrf_ok` on its form);
        otherwise the answer to send instead: a refusal, or the redirect that sets the cookie."""
        if request.headers.get("host", "") not in {f"{name}:{self.port}" for name in LOOPBACK_NAMES}:
            return refusal(400, "Wrong host", "This console answers only to 127.0.0.1 and localhost.")
        offered = request.query.get(TOKEN_PARAM)
        if offered is not None and request.method == "GET":
            if not _same(offered, self.token):
                return refusal(403, "Wrong token", "This link is not from this run of the console.")
            # Keep the token out of the address bar and history from here on: the cookie carries it.
            rest = {k: v for k, v in request.query.items() if k != TOKEN_PARAM}
            path = "/" + request.path.lstrip("/")  # "//host/x" would send the browser to another host
            location = f"{path}?{urlencode(rest)}" if rest else path
            cookie = f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict"
            return redirect(location, ("Set-Cookie", cookie))
        cookie_token = request.cookies.get(self.cookie_name)
        if cookie_token is None:
            return refusal(
                401,
                "Open the console's link",
                "Open the link `boxcasb console` printed: it carries this run's access token.",
            )
        if not _same(cookie_token, self.token):
            return refusal(403, "Wrong token", "This browser holds the token of another run of the console.")
        if request.method == "POST" and not self._own_origin(request):
            return refusal(403, "Wrong origin", "Only the console's own pages may change anything.")
        return None

    def _own_origin(self, request: Request) -> bool:
        """Our pages send `Referrer-Policy: no-referrer`, and under it browsers send their form posts
        with `Origin: null`. `Sec-Fetch-Site`, which no page can set, then tells ours apart: a page
        on another local port is "same-site", only ours are "same-origin"."""
        origin = request.headers.get("origin")
        if origin in self.origins:
            return True
        return origin == "null" and request.headers.get("sec-fetch-site") == "same-origin"

    def csrf_ok(self, form: dict[str, str]) -> bool:
        return _same(form.get(CSRF_FIELD, ""), self.csrf)


def refusal(status: int, title: str, message: str) -> Response:
    """A small page for refused requests: fixed text only, nothing from the request."""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><main><h1>{title}</h1><p>{message}</p></main></body></html>"
    )
    return Response(status, body.encode())


def _same(offered: str, expected: str) -> bool:
    return hmac.compare_digest(offered.encode(), expected.encode())
