"""Enterprise events: ``admin_logs`` (chronological, time windows) and ``admin_logs_streaming``.

Stream positions encode the recording sequence of the last event returned as
``2**60 + 2*seq + 1``: larger than 2**53 and always odd, so a position that went
through a float (which can only hold even integers up that high) is detected
and refused with 400 "Invalid stream position", as Box does. Positions are sent
as JSON strings; the spec allows string or integer.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .access import Call, reads_admin_logs
from .paging import page_size
from .render import Renderer
from .tenant import Event
from .web import Response, bad_request, forbidden, json_response

_POSITION_BASE = 1 << 60
_STREAMING_RETENTION = timedelta(days=14)


def encode_position(seq: int) -> str:
    return str(_POSITION_BASE + 2 * seq + 1)


def _decode_position(raw: str, events: list[Event]) -> int:
    if raw in ("", "0"):
        return 0
    if raw == "now":
        return max((event.seq for event in events), default=0)
    try:
        offset = int(raw) - _POSITION_BASE
    except ValueError:
        raise bad_request("Invalid stream position") from None
    seq = (offset - 1) // 2
    if offset < 1 or offset % 2 == 0 or (seq and not any(event.seq == seq for event in events)):
        raise bad_request("Invalid stream position")
    return seq


def _parse_time(query: dict[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"Invalid value '{raw}' for query parameter '{name}'") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def get_events(call: Call, _match: re.Match[str]) -> Response:
    query = dict(call.request.query)
    stream_type = query.get("stream_type", "all")
    if stream_type not in ("admin_logs", "admin_logs_streaming"):
        # User event streams (all, changes, sync) are not modelled.
        raise bad_request(f"Unsupported stream_type '{stream_type}'")
    if not reads_admin_logs(call.user):
        raise forbidden()
    limit = page_size(query, default=100, maximum=500)
    events = list(call.tenant.events)
    cursor = _decode_position(query.get("stream_position", ""), events)
    wanted = {name.strip() for name in query.get("event_type", "").split(",") if name.strip()}
    if wanted:
        events = [event for event in events if event.event_type in wanted]

    if stream_type == "admin_logs":
        after, before = _parse_time(query, "created_after"), _parse_time(query, "created_before")
        events = [
            event
            for event in events
            if (after is None or event.created_at >= after) and (before is None or event.created_at <= before)
        ]
        events.sort(key=lambda event: (event.created_at, event.seq))
        if cursor:
            last = next(event for event in call.tenant.events if event.seq == cursor)
            after_last = (last.created_at, last.seq)
            events = [event for event in events if (event.created_at, event.seq) > after_last]
    else:
        if query.get("stream_position") == "now":
            events = []
        horizon = call.tenant.now() - _STREAMING_RETENTION
        events = [event for event in events if event.seq > cursor and event.created_at >= horizon]

    page = events[:limit]
    return json_response(
        200,
        {
            "chunk_size": len(page),
            "next_stream_position": encode_position(page[-1].seq if page else cursor),
            "entries": [Renderer.event(event) for event in page],
        },
    )


ROUTES = [("GET", r"/2\.0/events", get_events)]
