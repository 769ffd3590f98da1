"""Enterprise events: ``admin_logs`` (chronological, time windows) and ``admin_logs_streaming``.

Stream positions encode a sequence number as ``2**60 + 2*seq + 1``: larger than
2**53 and always odd, so a position that went through a float (which can only
hold even integers up that high) is detected and refused with 400 "Invalid
stream position", as Box does. Positions are sent as JSON strings; the spec
allows string or integer. An admin_logs position names the last event returned;
a stream position may also be one a moving empty page handed out. The reading
itself (order, bounds, latency, retention, the optional misbehaviours) is in
``eventlog.py``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .access import Call, reads_admin_logs
from .eventlog import Event, EventLog
from .paging import page_size
from .render import Renderer
from .web import Response, bad_request, forbidden

_POSITION_BASE = 1 << 60


def encode_position(seq: int) -> str:
    return str(_POSITION_BASE + 2 * seq + 1)


def decode_position(raw: str, log: EventLog) -> int:
    """The seq a position names; "" and "0" are the start, "now" the current end."""
    if raw in ("", "0"):
        return 0
    if raw == "now":
        return log.last_seq
    try:
        offset = int(raw) - _POSITION_BASE
    except ValueError:
        raise bad_request("Invalid stream position") from None
    seq = (offset - 1) // 2
    if offset < 1 or offset % 2 == 0 or seq > log.last_seq:
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
    tenant = call.tenant
    log, options, now = tenant.events, tenant.event_options, tenant.now()
    raw_position = query.get("stream_position", "")
    wanted = frozenset(name.strip() for name in query.get("event_type", "").split(",") if name.strip())
    types = wanted or None

    page: list[Event]
    if stream_type == "admin_logs":
        after, before = _parse_time(query, "created_after"), _parse_time(query, "created_before")
        # "now" names the last event recorded, as a position from an earlier page would.
        seq = log.last_event_seq if raw_position == "now" else decode_position(raw_position, log)
        cursor = log.by_seq(seq) if seq else None
        if seq and cursor is None:
            raise bad_request("Invalid stream position")
        page = log.admin_logs_page(
            after=after, before=before, cursor=cursor, limit=limit, types=types, now=now, options=options
        )
        next_seq = page[-1].seq if page else seq
    elif raw_position == "now":
        page, next_seq = [], log.last_seq
    else:
        seq = decode_position(raw_position, log)
        page, next_seq = log.stream_page(cursor=seq, limit=limit, types=types, now=now, options=options)

    # json_response(200, {..., "entries": [Renderer.event(e) for e in page]}), spliced for speed.
    entries = ", ".join(Renderer.event_json(event) for event in page)
    body = (
        f'{{"chunk_size": {len(page)}, "next_stream_position": "{encode_position(next_seq)}", '
        f'"entries": [{entries}]}}'
    )
    return Response(200, body.encode(), [("Content-Type", "application/json")])


ROUTES = [("GET", r"/2\.0/events", get_events)]
