"""Paged listings of the admin API, printed as they arrive (files, alerts)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from boxcasb.cli.api_client import AdminApi

MAX_PAGES = 100


def query_string(params: Mapping[str, str | None], cursor: str | None = None) -> str:
    pairs = sorted((k, v) for k, v in {**params, "cursor": cursor}.items() if v is not None)
    return "?" + urlencode(pairs, quote_via=quote, safe="") if pairs else ""


def list_pages(
    api: AdminApi,
    path: str,
    key: str,
    params: Mapping[str, str | None],
    *,
    all_pages: bool,
    show: Callable[[dict[str, Any]], str] | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Every item of up to MAX_PAGES pages (one unless `all_pages`), each page shown as it comes
    when `show` is given; and the cursor to go on from, if there is more."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES if all_pages else 1):
        answer = api.request("GET", path + query_string(params, cursor))
        page: list[dict[str, Any]] = answer.get(key) or []
        items.extend(page)
        if show is not None and page:
            print("\n".join(show(item) for item in page), flush=True)
        cursor = answer.get("cursor")
        if not cursor:
            break
    return items, cursor
