"""The console's HTTP as plain values: a parsed request in, a response out.

Kept apart from the server so the guard and the views can be tested without sockets. Bodies are
read by the server only after the guard admitted the request, and never past `MAX_BODY_BYTES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, quote, urlencode

# A policy document may be 1 MiB (boxcasb.policies.loader.MAX_DOCUMENT_BYTES), plus the form around it.
MAX_BODY_BYTES = 2 * 1024 * 1024


class BadForm(ValueError):
    """A POST body the console can't read: too large, or not a form."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]  # the first value of each name
    headers: Mapping[str, str]  # names in lower case
    cookies: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)  # POST fields; an uploaded file's text too

    def arg(self, name: str) -> str | None:
        """A query value, None when absent or blank (an empty filter is no filter)."""
        value = self.query.get(name, "").strip()
        return value or None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def redirect(location: str, *headers: tuple[str, str]) -> Response:
    """303: after a POST the browser GETs the result, so a reload never repeats the action."""
    return Response(303, headers=(("Location", location), *headers))


def href(path: str, **params: str | None) -> str:
    """A console link: `path` with the non-empty params as its query."""
    pairs = [(k, v) for k, v in params.items() if v]
    return f"{path}?{urlencode(pairs, quote_via=quote)}" if pairs else path


def parse_query(raw: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        values.setdefault(name, value)
    return values


def parse_cookies(header: str | None) -> dict[str, str]:
    if not header:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}  # a malformed Cookie header carries no token: the guard answers 401
    return {name: morsel.value for name, morsel in jar.items()}


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """An urlencoded or multipart form, as text fields; an uploaded file's text is kept under its
    field's name like any other value (the one file the console takes is a policy document)."""
    if len(body) > MAX_BODY_BYTES:
        raise BadForm(f"the form is over {MAX_BODY_BYTES // (1024 * 1024)} MiB")
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            return parse_query(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadForm("the form is not UTF-8") from None
    if kind == "multipart/form-data":
        return _multipart(content_type, body)
    raise BadForm("expected a form (urlencoded or multipart)")


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    # The stdlib's MIME parser reads multipart/form-data when given the header it came with.
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
    )
    if not message.is_multipart():
        raise BadForm("the multipart form has no parts")
    values: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in values:
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        try:
            values[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadForm(f"the field {name!r} is not UTF-8 text") from None
    return values
