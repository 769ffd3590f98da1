"""Scan: a connection's current and past generations, their progress, speed and gaps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boxcasb.console.app import Console, chosen, form_connection
from boxcasb.console.templates import parse_time
from boxcasb.console.web import Request, Response, href, redirect

GENERATIONS_SHOWN = 10


@dataclass(frozen=True)
class GenerationView:
    """A generation as the page shows it: the API's fields plus what is derived from them."""

    scan: dict[str, Any]
    done: int  # work items finished
    total: int  # work items registered so far (grows while folders are listed)
    seconds: float  # from start to finish, or to now while running
    files_per_second: float | None  # None until a second has passed

    @property
    def running(self) -> bool:
        return bool(self.scan.get("status") == "running")


def generation_view(scan: dict[str, Any], now: datetime) -> GenerationView:
    counters = scan.get("counters") or {}
    started = parse_time(scan.get("started_at")) or now
    finished = parse_time(scan.get("finished_at")) or now
    seconds = max(0.0, (finished - started).total_seconds())
    seen = int(counters.get("files_seen", 0))
    return GenerationView(
        scan=scan,
        done=int(counters.get("jobs_finished", 0)),
        total=int(counters.get("jobs_registered", 0)),
        seconds=seconds,
        files_per_second=seen / seconds if seconds >= 1 else None,
    )


def page(console: Console, request: Request, _match: re.Match[str]) -> Response:
    connections = console.connections()
    connection = chosen(connections, request)
    generations: list[GenerationView] = []
    if connection is not None:
        cid = connection["connection_id"]
        answer = console.call("GET", f"/connections/{cid}/scans?limit={GENERATIONS_SHOWN}")
        now = datetime.now(UTC)
        generations = [generation_view(s, now) for s in answer.get("scans") or []]
    return console.page(
        request,
        "scan.html",
        "scan",
        "Scan",
        connections=connections,
        connection=connection,
        generations=generations,
        running=any(g.running for g in generations),
        nav_connection=connection["connection_id"] if connection else None,
    )


def start(console: Console, request: Request, _match: re.Match[str]) -> Response:
    cid = form_connection(request)
    console.call("POST", f"/connections/{cid}/scans", {})
    return redirect(href("/scan", connection=cid, notice="scan_started"))
