"""A small HTTP client for the fake Box, speaking to it the way Box's clients do."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from devstack.fake_box import FakeBox

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
REDIRECT_URI = "https://connector.example/oauth/box/callback"


class FakeClock:
    """A clock the test moves by hand, for code and token expiry."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


class BoxHttp:
    def __init__(self, box: FakeBox, session: requests.Session) -> None:
        self.box = box
        self.session = session

    def authorize_url(self, **params: str) -> str:
        base = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "st"}
        return f"{self.box.url}/api/oauth2/authorize?{urlencode({**base, **params})}"

    def authorize(self, **params: str) -> requests.Response:
        return self.session.get(self.authorize_url(**params), allow_redirects=False, timeout=10)

    def code_for(self, login: str, **params: str) -> str:
        response = self.authorize(login=login, decision="allow", **params)
        assert response.status_code == 302, response.text
        return query_of(response.headers["Location"])["code"]

    def token(self, **form: str) -> requests.Response:
        credentials = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        return self.session.post(f"{self.box.url}/oauth2/token", data={**credentials, **form}, timeout=10)

    def exchange(self, code: str, **form: str) -> requests.Response:
        return self.token(grant_type="authorization_code", code=code, **form)

    def refresh(self, refresh_token: str, **form: str) -> requests.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token, **form)

    def connect(self, login: str) -> Tokens:
        response = self.exchange(self.code_for(login))
        assert response.status_code == 200, response.text
        body = response.json()
        return Tokens(body["access_token"], body["refresh_token"])

    def request(
        self,
        method: str,
        path: str,
        token: Tokens | str | None,
        *,
        as_user: str | None = None,
        json: Any = None,
        **params: Any,
    ) -> requests.Response:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.access if isinstance(token, Tokens) else token}"
        if as_user is not None:
            headers["As-User"] = as_user
        return self.session.request(
            method,
            f"{self.box.url}{path}",
            headers=headers,
            params=params,
            json=json,
            allow_redirects=False,
            timeout=10,
        )

    def get(self, path: str, token: Tokens | str | None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, token, **kwargs)

    def user_id(self, login: str) -> str:
        return self.box.tenant.user_by_login(login).id


def read_pages(http: BoxHttp, token: Tokens, **params: Any) -> list[dict[str, Any]]:
    """GET /2.0/events page after page, as the connector will, until a page with no entries (kept last)."""
    pages: list[dict[str, Any]] = []
    position = params.pop("stream_position", None)
    while True:
        query = dict(params) if position is None else {**params, "stream_position": position}
        response = http.get("/2.0/events", token, **query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["chunk_size"] == len(page["entries"])
        assert isinstance(page["next_stream_position"], str)
        pages.append(page)
        if not page["entries"]:
            return pages
        position = page["next_stream_position"]
        assert len(pages) < 10_000, "the feed never ended"


def entry_ids(pages: list[dict[str, Any]]) -> list[str]:
    return [entry["event_id"] for page in pages for entry in page["entries"]]


# What the connector's content scan asks for when it lists a folder.
SCAN_FIELDS = (
    "id,type,name,size,sha1,etag,sequence_id,modified_at,created_at,owned_by,parent,path_collection,"
    "shared_link,has_collaborations,is_externally_owned,classification,extension"
)


def list_folder(
    http: BoxHttp,
    token: Tokens,
    folder_id: str,
    *,
    as_user: str | None = None,
    limit: int = 1000,
    fields: str = SCAN_FIELDS,
) -> list[dict[str, Any]]:
    """Every page of a folder's items by marker paging, as the connector reads them."""
    pages: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        params = {
            "fields": fields,
            "limit": limit,
            "usemarker": "true",
            **({"marker": marker} if marker else {}),
        }
        response = http.get(f"/2.0/folders/{folder_id}/items", token, as_user=as_user, **params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["entries"]) <= limit
        pages.append(page)
        marker = page["next_marker"]
        if marker is None:
            return pages
        assert len(pages) < 10_000, "the listing never ended"


def walk_owned(
    http: BoxHttp, token: Tokens, owner_id: str, *, as_user: str | None, limit: int = 1000
) -> tuple[list[dict[str, Any]], int, int]:
    """What the owner owns, from their root down, as the scan walks it: the entries (files,
    folders, web links), the pages read, and the entries skipped as someone else's."""
    found: list[dict[str, Any]] = []
    pages = skipped = 0
    folders = ["0"]
    while folders:
        for page in list_folder(http, token, folders.pop(), as_user=as_user, limit=limit):
            pages += 1
            for entry in page["entries"]:
                if entry["owned_by"]["id"] != owner_id:
                    skipped += 1  # shared with the owner: its own owner's walk covers it
                    continue
                found.append(entry)
                if entry["type"] == "folder":
                    folders.append(entry["id"])
    return found, pages, skipped
