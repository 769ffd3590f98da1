"""Activity: a connection's Box event log with filters, and a chart of events per day by type."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from boxcasb.cli.api_client import ApiError
from boxcasb.cli.listing import query_string
from boxcasb.console.app import Console, chosen
from boxcasb.console.chart import DailyChart, events_per_day
from boxcasb.console.templates import parse_time
from boxcasb.console.web import Request, Response

SPANS = (1, 7, 30, 60)  # days back from now; 60 is the backfill's reach
DEFAULT_SPAN = 7
PAGE_SIZE = 100
# The chart counts at most this many pages of 500 events (the newest), and says so when cut short.
CHART_PAGES = 10
CHART_PAGE_SIZE = 500


def page(console: Console, request: Request, _match: re.Match[str]) -> Response:
    connections = console.connections()
    connection = chosen(connections, request)
    days = request.arg("days")
    span = int(days) if days in {str(n) for n in SPANS} else DEFAULT_SPAN
    # A next page keeps the period it started with, so its cursor still points into it.
    until = parse_time(request.arg("until")) or datetime.now(UTC).replace(microsecond=0)
    since = until - timedelta(days=span)
    filters: dict[str, str | None] = {
        "user": request.arg("user"),
        "file": request.arg("file"),
        "event_type": (request.arg("event_type") or "").upper() or None,
        "since": since.isoformat(),
        "until": until.isoformat(),
    }
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    chart: DailyChart | None = None
    chart_cut = False
    problem: str | None = None
    if connection is not None:
        path = f"/connections/{connection['connection_id']}/activities"
        try:
            answer = console.call(
                "GET", path + query_string(filters | {"limit": str(PAGE_SIZE)}, request.arg("cursor"))
            )
            events, cursor = answer.get("events") or [], answer.get("cursor")
            counted, chart_cut = console.pages(
                path, "events", filters | {"limit": str(CHART_PAGE_SIZE)}, CHART_PAGES
            )
            chart = events_per_day(counted, since, until)
        except ApiError as exc:
            if exc.status != 400:
                raise
            problem = exc.message
    return console.page(
        request,
        "activity.html",
        "activity",
        "Activity",
        connections=connections,
        connection=connection,
        spans=SPANS,
        span=span,
        since=since.isoformat(),
        until=until.isoformat(),
        user=filters["user"] or "",
        file=filters["file"] or "",
        event_type=filters["event_type"] or "",
        events=events,
        cursor=cursor,
        chart=chart,
        chart_cut=chart_cut,
        chart_limit=CHART_PAGES * CHART_PAGE_SIZE,
        problem=problem,
        nav_connection=connection["connection_id"] if connection else None,
    )
