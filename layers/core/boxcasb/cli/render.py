"""Plain-text views of API answers, for a terminal."""

from __future__ import annotations

from typing import Any

_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skipped": "SKIP"}


def connection_line(c: dict[str, Any]) -> str:
    test = (c.get("last_test") or {}).get("outcome", "-")
    return (
        f"{c['connection_id']}  {c['status']:<18} {c.get('enterprise_name') or '-':<24} "
        f"{c.get('admin_login') or '-':<28} {c.get('role') or '-':<8} test: {test}"
    )


def connection_detail(c: dict[str, Any]) -> str:
    lines = [
        f"Connection   {c['connection_id']}",
        f"Status       {c['status']}" + (f" ({c['status_reason']})" if c.get("status_reason") else ""),
        f"Enterprise   {c.get('enterprise_name') or '-'} ({c.get('enterprise_id') or '-'})",
        f"Admin        {c.get('admin_login') or '-'} (role: {c.get('role') or '-'})",
        f"Created      {c['created_at']}",
        f"Connected    {c.get('connected_at') or '-'}",
        f"Updated      {c['updated_at']}",
    ]
    auth = c.get("authorization")
    if auth:
        lines.append(f"Last sign-in {auth['state']}" + (f": {auth['detail']}" if auth.get("detail") else ""))
    if "activity" in c:
        lines.append("")
        lines.append(activity_report(c["activity"] or {}))
    test = c.get("last_test")
    if test:
        lines.append("")
        lines.append(test_report(test))
    if c.get("scan"):
        lines.append("")
        lines.append(scan_report(c["scan"]))
    return "\n".join(lines)


def scan_report(scan: dict[str, Any]) -> str:
    """A scan generation: its progress, and what it could not scan (GET /connections/{id} `scan`)."""
    n = scan.get("counters") or {}
    lines = [
        f"Scan {scan['number']}: {str(scan['status']).upper()}  "
        f"({scan['trigger']}, started {scan['started_at']}"
        + (f", finished {scan['finished_at']})" if scan.get("finished_at") else ")"),
        f"  folders listed {n.get('folders_listed', 0)}, files seen {n.get('files_seen', 0)}, "
        f"scanned {n.get('files_scanned', 0)}, unchanged {n.get('files_unchanged', 0)}, "
        f"removed {n.get('files_removed', 0)}, errors {n.get('errors', 0)}",
        f"  work {n.get('jobs_finished', 0)}/{n.get('jobs_registered', 0)} done",
    ]
    gaps = scan.get("gaps") or []
    if gaps:
        lines.append(f"  Not scanned ({len(gaps)}):")
        lines.extend(f"    {g['kind']} {_clean(g['subject'])}: {_clean(g['reason'])}" for g in gaps)
    return "\n".join(lines)


def file_line(f: dict[str, Any]) -> str:
    outside = (
        f"  external: {', '.join(_clean(x) for x in f['external_collaborators'])}"
        if f.get("external_collaborators")
        else ""
    )
    owner = _clean(f.get("owner_login") or f.get("owner_id") or "-")
    where = _clean(f"{f['path'].rstrip('/')}/{f['name']}")
    return f"{f['file_id']:>12}  {f['exposure']:<8}  {owner:<28} {where}{outside}"


def activity_report(activity: dict[str, Any]) -> str:
    """Where the backfill and the stream of Box events stand (GET /connections/{id} `activity`)."""
    more = " " * 13
    lines = ["Activity"]
    backfill = activity.get("backfill")
    if backfill:
        done, total = backfill["windows_done"], backfill["windows_total"]
        oldest, newest = backfill.get("oldest_event") or "-", backfill.get("newest_event") or "-"
        lines += [
            f"  Backfill   {backfill['status']}: {done}/{total} windows, "
            f"{backfill['events_stored']} events stored",
            f"{more}oldest {oldest}, newest {newest}",
            f"{more}span {backfill['span_start']} to {backfill['span_end']}, "
            f"finished {backfill.get('finished_at') or '-'}",
        ]
        if backfill.get("reason"):
            lines.append(f"{more}reason: {_clean(backfill['reason'])}")
    else:
        lines.append("  Backfill   not started")
    stream = activity.get("stream")
    if stream:
        lines.append(
            f"  Stream     {stream['status']}: last poll {stream.get('last_poll_at') or '-'}, "
            f"{stream.get('events_received', 0)} events received"
        )
        if stream.get("reason"):
            lines.append(f"{more}reason: {_clean(stream['reason'])}")
    else:
        lines.append("  Stream     not started")
    return "\n".join(lines)


def activity_line(event: dict[str, Any]) -> str:
    """One Box event: when, what, who, on which item, from where."""
    actor = event.get("created_by")
    actor = actor if isinstance(actor, dict) else {}
    who = actor.get("login") or actor.get("name") or actor.get("id") or "-"
    return (
        f"{_clean(event.get('created_at') or '-')}  {_clean(event.get('event_type') or '-'):<28} "
        f"{_clean(who):<28} {_item(event.get('source')):<48} {_clean(event.get('ip_address') or '-')}"
    )


def _item(source: object) -> str:
    """The event's item: Box puts files and folders in item_*, users and groups in type/id/name."""
    if not isinstance(source, dict):
        return "-"
    kind = source.get("item_type") or source.get("type")
    ident = source.get("item_id") or source.get("id")
    name = source.get("item_name") or source.get("name")
    parts = [_clean(str(p)) for p in (kind, ident, name) if p not in (None, "")]
    return " ".join(parts) or "-"


def _clean(text: object) -> str:
    """Box data as plain text: control characters escaped so a file name can't drive the terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(text))


def test_report(test: dict[str, Any]) -> str:
    lines = [
        f"Test API: {test['outcome'].upper()}"
        + (
            f"  (finished {test['finished_at']}, {test['box_calls']} Box calls)"
            if test.get("finished_at")
            else ""
        )
    ]
    for check in test.get("checks", []):
        lines.append(f"  [{_MARK.get(check['status'], check['status'])}] {check['title']}: {check['detail']}")
        if check.get("fix_hint") and check["status"] != "pass":
            lines.append(f"         fix: {check['fix_hint']}")
    return "\n".join(lines)


def webhook_line(w: dict[str, Any]) -> str:
    name = f" {_clean(w['target_name'])}" if w.get("target_name") else ""
    state = "" if w.get("status") == "active" else f"  [{w.get('status')}: {_clean(w.get('reason'))}]"
    target = f"{w['target_type']} {w['target_id']}{name}"
    return f"{w['webhook_id']:>12}  {target}  (owner {w['owner_user_id']}){state}"


def sync_report(sync: dict[str, Any]) -> str:
    if sync.get("outcome") == "failed":
        return f"failed: {_clean(sync.get('error'))}"
    counts = ", ".join(
        f"{k} {sync.get(k, 0)}" for k in ("created", "adopted", "kept", "recreated", "removed")
    )
    lines = [f"{sync.get('outcome')}: {counts}"]
    uncovered = sync.get("uncovered") or []
    if uncovered:
        lines.append(f"Not covered by webhooks ({len(uncovered)}; the event poller still sees them):")
        for u in uncovered:
            what = " ".join(
                str(x)
                for x in (u.get("user_login") or u.get("user_id"), u.get("target_type"), u.get("target_id"))
                if x
            )
            lines.append(f"  {_clean(what)}: {_clean(u.get('reason'))}")
    return "\n".join(lines)
