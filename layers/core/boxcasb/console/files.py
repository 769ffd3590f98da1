"""Files: the inventory by exposure, owner and classification; one file's findings and history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from boxcasb.cli.api_client import ApiError
from boxcasb.cli.listing import query_string
from boxcasb.console.app import CONNECTION_ID, Console, InvalidInput, chosen
from boxcasb.console.web import Request, Response

EXPOSURES = ("public", "external", "company", "internal", "private")
PAGE_SIZE = 100
# The API has no classification filter: the console filters what it reads, up to this many pages.
CLASSIFICATION_PAGES = 10
BIG_PAGE = 1000
# A file's page reads its folder (no API call returns one file), and the newest alerts and actions.
FOLDER_PAGES = 10
ALERT_PAGES = 5
HISTORY_DAYS = 60  # the activity backfill's reach


def page(console: Console, request: Request, _match: re.Match[str]) -> Response:
    connections = console.connections()
    connection = chosen(connections, request)
    owner = request.arg("owner")
    exposure = request.arg("exposure") or (None if owner else "public")
    classification = request.arg("classification")
    files: list[dict[str, Any]] = []
    cursor: str | None = None
    truncated = False
    problem: str | None = None
    if connection is not None:
        path = f"/connections/{connection['connection_id']}/files"
        try:
            if classification:
                wanted = classification.casefold()
                read, truncated = console.pages(
                    path,
                    "files",
                    {"exposure": exposure, "owner": owner, "limit": str(BIG_PAGE)},
                    CLASSIFICATION_PAGES,
                )
                files = [f for f in read if (f.get("classification") or "").casefold() == wanted]
            else:
                query = {"exposure": exposure, "owner": owner, "limit": str(PAGE_SIZE)}
                answer = console.call("GET", path + query_string(query, request.arg("cursor")))
                files, cursor = answer.get("files") or [], answer.get("cursor")
        except ApiError as exc:
            if exc.status != 400:
                raise
            problem = exc.message  # a filter the API refused (an owner id that isn't one, say)
    return console.page(
        request,
        "files.html",
        "files",
        "Files",
        connections=connections,
        connection=connection,
        exposures=EXPOSURES,
        exposure=exposure or "",
        owner=owner or "",
        classification=classification or "",
        files=files,
        cursor=cursor,
        truncated=truncated,
        problem=problem,
        nav_connection=connection["connection_id"] if connection else None,
    )


def detail(console: Console, request: Request, match: re.Match[str]) -> Response:
    file_id = match["file"]
    cid = request.arg("connection") or ""
    folder = request.arg("folder") or ""
    if not re.fullmatch(CONNECTION_ID, cid) or not re.fullmatch(r"(0@)?[0-9]{1,20}", folder):
        raise InvalidInput("a file is shown with its connection and folder (follow a link from Files)")
    listed, _ = console.pages(
        f"/connections/{cid}/files", "files", {"folder": folder, "limit": str(BIG_PAGE)}, FOLDER_PAGES
    )
    record = next((f for f in listed if f.get("file_id") == file_id), None)
    if record is None:
        raise ApiError(404, "not_found", "that file is not in this folder's inventory (moved, or removed)")
    alerts, more_alerts = console.pages("/alerts", "alerts", {"connection": cid, "limit": "200"}, ALERT_PAGES)
    since = (datetime.now(UTC) - timedelta(days=HISTORY_DAYS)).isoformat(timespec="seconds")
    history = console.call(
        "GET",
        f"/connections/{cid}/activities" + query_string({"file": file_id, "since": since, "limit": "100"}),
    )
    actions = console.call("GET", f"/connections/{cid}/actions?limit=1000").get("actions") or []
    return console.page(
        request,
        "file.html",
        "files",
        record.get("name") or file_id,
        connection_id=cid,
        file=record,
        alerts=[a for a in alerts if a.get("object_type") == "file" and a.get("object_id") == file_id],
        more_alerts=more_alerts,
        events=history.get("events") or [],
        more_events=bool(history.get("cursor")),
        history_days=HISTORY_DAYS,
        actions=[a for a in actions if a.get("file_id") == file_id],
        nav_connection=cid,
    )
