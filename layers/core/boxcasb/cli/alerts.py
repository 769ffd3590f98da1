"""`boxcasb alerts` (list, filter) and `boxcasb alerts dismiss`."""

from __future__ import annotations

import json
import sys
from typing import Any

from boxcasb.cli.api_client import AdminApi
from boxcasb.cli.listing import list_pages


def alert_line(a: dict[str, Any]) -> str:
    where = a.get("object_path") or ""
    name = (
        f"{where.rstrip('/')}/{a['object_name']}"
        if a["object_type"] == "file" and where
        else a["object_name"]
    )
    acted = [f"{x['action']}:{x['result']}" for x in a.get("actions") or []][-3:]
    actions = f"  [{', '.join(acted)}]" if acted else ""
    return (
        f"{a['alert_id']}  {a['status']:<9} {a['severity']:<8} {a['policy_id']:<28} "
        f"{a['object_type']} {name}  (seen {a['times_seen']}x, last {a['last_seen'][:19]}){actions}"
    )


def list_alerts(api: AdminApi, filters: dict[str, str | None], all_pages: bool, as_json: bool) -> int:
    alerts, cursor = list_pages(
        api, "/alerts", "alerts", filters, all_pages=all_pages, show=None if as_json else alert_line
    )
    if as_json:
        print(json.dumps({"alerts": alerts, "cursor": cursor}, indent=2))
    elif not alerts:
        print("No alerts match.")
    elif cursor:
        print("More alerts: add --all.", file=sys.stderr)
    return 0


def dismiss(api: AdminApi, alert_id: str, connection_id: str, reason: str, as_json: bool) -> int:
    body = {"connection_id": connection_id, "status": "dismissed", "reason": reason}
    alert = api.request("PATCH", f"/alerts/{alert_id}", body)
    print(json.dumps(alert, indent=2) if as_json else f"Dismissed: {alert_line(alert)}")
    return 0
