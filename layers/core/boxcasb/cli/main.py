"""boxcasb command line: configure, connect, status, test, activities."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from boxcasb.cli import alerts, policies
from boxcasb.cli.api_client import AdminApi, ApiError, stack_outputs
from boxcasb.cli.listing import MAX_PAGES, list_pages, query_string
from boxcasb.cli.render import (
    activity_line,
    connection_detail,
    connection_line,
    file_line,
    scan_report,
    sync_report,
    test_report,
    webhook_line,
)
from boxcasb.console import server as console
from boxcasb.console.guard import NotLoopback, loopback_host

DEFAULT_STACK = "boxcasb"
TERMINAL_TEST = {"passed", "warning", "failed"}
# `activities --all` stops after this many pages (and says how to go on), so it always ends.
PAGE_SIZE = 100  # the API's default
ALL_PAGE_SIZE = MAX_PAGE_SIZE = 500


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    try:
        result: int = args.run(args, session)
        return result
    except ApiError as exc:
        print(f"error: {exc.message} ({exc.status} {exc.code})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="boxcasb", description="Box Cloud App Security connector admin CLI")
    p.add_argument("--api-url", default=os.environ.get("BOXCASB_API_URL"), help="admin API base URL")
    p.add_argument("--stack-name", default=os.environ.get("BOXCASB_STACK", DEFAULT_STACK))
    p.add_argument("--profile", default=None, help="AWS profile to sign requests with")
    p.add_argument("--region", default=None)
    p.add_argument("--json", action="store_true", help="print the API's JSON answers")
    sub = p.add_subparsers(required=True, metavar="command")

    c = sub.add_parser("configure", help="store the Box app's client id and secret in Secrets Manager")
    c.add_argument("--client-id", required=True)
    c.add_argument("--secret-arn", help="default: the stack's BoxAppSecretArn output")
    c.add_argument("--client-secret-stdin", action="store_true", help="read the secret from stdin")
    c.set_defaults(run=_configure)

    c = sub.add_parser("connect", help="connect a Box enterprise (prints the link to follow)")
    c.add_argument("--reconnect", metavar="CONNECTION_ID", help="re-authorize an existing connection")
    c.add_argument("--no-wait", action="store_true")
    c.add_argument("--timeout", type=float, default=600.0)
    c.set_defaults(run=_connect)

    c = sub.add_parser("status", help="list connections, or show one")
    c.add_argument("connection_id", nargs="?")
    c.set_defaults(run=_status)

    c = sub.add_parser("test", help="run the Test API for a connection")
    c.add_argument("connection_id")
    c.add_argument("--no-wait", action="store_true")
    c.add_argument("--timeout", type=float, default=180.0)
    c.set_defaults(run=_test)

    c = sub.add_parser(
        "activities",
        help="list a connection's Box events, newest first",
        description="List the Box events stored for a connection, newest first. Times are ISO 8601 "
        "with a zone (2024-05-01T09:00:00Z, 2024-05-01T11:00:00+02:00) or a span back from now "
        "(30m, 12h, 2d, 1w).",
    )
    c.add_argument("connection_id", type=_connection_id)
    c.add_argument("--since", type=_time_arg, metavar="TIME", help="default: 7 days before --until")
    c.add_argument("--until", type=_time_arg, metavar="TIME", help="default: now")
    c.add_argument("--user", type=_box_id, metavar="USER_ID", help="only events by this Box user")
    c.add_argument("--file", type=_box_id, metavar="FILE_ID", help="only events on this Box file")
    c.add_argument("--event-type", type=_event_type, metavar="TYPE", help="only this type, e.g. UPLOAD")
    c.add_argument(
        "--limit",
        type=_page_size,
        metavar="N",
        help=f"events per page, 1-{MAX_PAGE_SIZE} (default {PAGE_SIZE}; {ALL_PAGE_SIZE} with --all)",
    )
    c.add_argument("--cursor", help="go on from where a previous page ended (printed after it)")
    c.add_argument("--all", action="store_true", help=f"follow the pages to the end (at most {MAX_PAGES})")
    c.set_defaults(run=_activities)

    _add_scan_commands(sub)
    _add_policy_commands(sub)
    _add_alert_commands(sub)

    _add_webhook_commands(sub)
    _add_console_command(sub)
    _add_disconnect_command(sub)
    return p


def _add_disconnect_command(sub: Any) -> None:
    c = sub.add_parser(
        "disconnect",
        help="disconnect a connection: revoke its tokens, delete its webhooks and its data",
        description="Deletes this stack's webhooks in Box, revokes the Box tokens and deletes the "
        "connection's activity, inventory, scans, alerts, overrides and audit. The connection stays "
        "listed as disconnected (who asked, when). It can't be reconnected: connect again instead.",
    )
    c.add_argument("connection_id", type=_connection_id)
    c.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    c.add_argument("--no-wait", action="store_true")
    c.add_argument("--timeout", type=float, default=900.0)
    c.set_defaults(run=_disconnect)


def _disconnect(args: argparse.Namespace, session: boto3.Session) -> int:
    api = _api(args, session)
    path = f"/connections/{args.connection_id}"
    if not args.yes:
        current = api.request("GET", path)
        who = current.get("enterprise_name") or current.get("admin_login") or "not connected to Box"
        prompt = f"Disconnect {args.connection_id} ({who})? Its data is deleted for good. [y/N] "
        if not sys.stdin.isatty() or input(prompt).strip().lower() not in ("y", "yes"):
            print("Nothing was changed (pass --yes to disconnect without asking).", file=sys.stderr)
            return 1
    api.request("DELETE", path)
    if args.no_wait:
        print(f"Disconnecting. See: boxcasb status {args.connection_id}")
        return 0
    connection = _wait(
        lambda: api.request("GET", path), lambda c: c["status"] == "disconnected", args.timeout
    )
    if args.json:
        print(json.dumps(connection, indent=2))
    record = connection.get("disconnect") or {}
    if connection["status"] != "disconnected":
        print(f"Still {connection['status']} after {args.timeout:.0f} s: boxcasb status {args.connection_id}")
        return 1
    if not args.json:
        print(f"Disconnected {args.connection_id} at {record.get('disconnected_at')}.")
        for kind, count in sorted((record.get("removed") or {}).items()):
            print(f"  {kind:<15} {count} removed")
        for note in record.get("notes") or []:
            print(f"  note: {note}")
    return 0


def _add_console_command(sub: Any) -> None:
    c = sub.add_parser(
        "console",
        help="the admin console in your browser, served on 127.0.0.1",
        description="Serves the admin console on this machine's loopback and opens it in your browser. "
        "Pages call the admin API signed with your AWS credentials, which stay in this process.",
    )
    c.add_argument("--port", type=int, default=console.DEFAULT_PORT, help="0: any free port")
    c.add_argument("--host", type=_loopback, default="127.0.0.1", help="127.0.0.1 or localhost only")
    c.add_argument("--no-browser", action="store_true", help="print the link instead of opening it")
    c.set_defaults(
        run=lambda args, session: console.run(
            _api(args, session), host=args.host, port=args.port, open_browser=not args.no_browser
        )
    )


def _loopback(value: str) -> str:
    try:
        return loopback_host(value)
    except NotLoopback as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_webhook_commands(sub: Any) -> None:
    w = sub.add_parser("webhooks", help="Box webhooks: signature keys, sync, list").add_subparsers(
        required=True, metavar="action"
    )
    c = w.add_parser(
        "keys",
        help="store the Box app's webhook signature keys in Secrets Manager",
        description="Prompts for the primary and the secondary key (Box developer console, Webhooks "
        "tab; either may be left empty during a rotation). With --stdin: two lines, primary first.",
    )
    c.add_argument("--secret-arn", help="default: the stack's WebhookKeysSecretArn output")
    c.add_argument("--stdin", action="store_true", help="read the two keys from stdin")
    c.set_defaults(run=_webhook_keys)
    c = w.add_parser("sync", help="create, re-create and remove this stack's webhooks in Box")
    c.add_argument("connection_id", type=_connection_id)
    c.add_argument("--no-wait", action="store_true")
    c.add_argument("--timeout", type=float, default=600.0)
    c.set_defaults(run=_webhooks_sync)
    c = w.add_parser("list", help="the webhooks recorded for a connection and the last sync's report")
    c.add_argument("connection_id", type=_connection_id)
    c.set_defaults(run=_webhooks_list)


def _add_scan_commands(sub: Any) -> None:
    c = sub.add_parser("scan", help="start a scan generation of every user's files")
    c.add_argument("connection_id", type=_connection_id)
    c.add_argument("--no-wait", action="store_true")
    c.add_argument("--timeout", type=float, default=3600.0)
    c.set_defaults(run=_scan)

    c = sub.add_parser("files", help="the file inventory, by exposure, owner or folder")
    c.add_argument("connection_id", type=_connection_id)
    c.add_argument("--exposure", choices=["public", "external", "company", "internal", "private"])
    c.add_argument("--owner", type=_box_id, metavar="USER_ID", help="only files this Box user owns")
    c.add_argument("--folder", type=_box_id, metavar="FOLDER_ID", help="only files directly in this folder")
    c.add_argument("--limit", type=int, default=100, metavar="N", help="files per page, 1-1000")
    c.add_argument("--all", action="store_true", help=f"follow the pages to the end (at most {MAX_PAGES})")
    c.set_defaults(run=_files)


def _add_policy_commands(sub: Any) -> None:
    g = sub.add_parser("policies", help="file and activity policies: validate, list, apply").add_subparsers(
        required=True, metavar="action"
    )
    c = g.add_parser("validate", help="check policy YAML files locally (no AWS call)")
    c.add_argument("files", nargs="+", type=Path, metavar="FILE")
    c.set_defaults(run=lambda args, _session: policies.validate(args.files))
    c = g.add_parser("list", help="the policies in force for a connection, and its overrides")
    c.add_argument("connection_id", type=_connection_id)
    c.set_defaults(run=_policies_list)
    c = g.add_parser(
        "apply", help="set a connection's overrides (one YAML document) over the deployed policies"
    )
    c.add_argument("connection_id", type=_connection_id)
    what = c.add_mutually_exclusive_group(required=True)
    what.add_argument("file", nargs="?", type=Path, metavar="FILE")
    what.add_argument(
        "--clear", action="store_true", help="remove the overrides: the deployed policies alone"
    )
    c.add_argument(
        "--dry-run", action="store_true", help="validate against the deployed policies; change nothing"
    )
    c.set_defaults(run=_policies_apply)
    c = g.add_parser(
        "dry-run", help="what enforcing the alert-only policies' actions would do (from the last scans)"
    )
    c.add_argument("connection_id", type=_connection_id)
    c.set_defaults(run=_policies_dry_run)
    c = sub.add_parser(
        "restore", help="put a quarantined file back where it was (dismisses its quarantine alert)"
    )
    c.add_argument("connection_id", type=_connection_id)
    c.add_argument("file_id", type=_box_id)
    c.add_argument("--timeout", type=float, default=120.0)
    c.set_defaults(run=_restore)


def _add_alert_commands(sub: Any) -> None:
    c = sub.add_parser("alerts", help="alerts from file and activity policies; `alerts dismiss ID`")
    c.add_argument("--connection", type=_connection_id, help="only this connection's alerts")
    c.add_argument("--status", choices=["open", "dismissed", "resolved"])
    c.add_argument("--severity", choices=["low", "medium", "high", "critical"])
    c.add_argument("--policy", metavar="POLICY_ID")
    c.add_argument("--limit", type=int, default=50, metavar="N", help="alerts per page, 1-200")
    c.add_argument("--all", action="store_true", help=f"follow the pages to the end (at most {MAX_PAGES})")
    c.set_defaults(run=_alerts)
    actions = c.add_subparsers(metavar="action")
    d = actions.add_parser("dismiss", help="dismiss an alert: later matches don't reopen it")
    d.add_argument("alert_id")
    d.add_argument("--connection", type=_connection_id, required=True)
    d.add_argument("--reason", required=True)
    d.set_defaults(
        run=lambda args, session: alerts.dismiss(
            _api(args, session), args.alert_id, args.connection, args.reason, args.json
        )
    )


def _alerts(args: argparse.Namespace, session: boto3.Session) -> int:
    filters: dict[str, str | None] = {
        "connection": args.connection,
        "status": args.status,
        "severity": args.severity,
        "policy": args.policy,
        "limit": str(args.limit),
    }
    return alerts.list_alerts(_api(args, session), filters, args.all, args.json)


def _restore(args: argparse.Namespace, session: boto3.Session) -> int:
    api = _api(args, session)
    path = f"/connections/{args.connection_id}"
    before = {json.dumps(r, sort_keys=True) for r in api.request("GET", f"{path}/actions")["actions"]}
    api.request("POST", f"{path}/files/{args.file_id}/restore", {})

    def restored() -> list[dict[str, Any]]:
        actions = api.request("GET", f"{path}/actions")["actions"]
        return [
            r
            for r in actions
            if r["action"] == "restore"
            and r["file_id"] == args.file_id
            and json.dumps(r, sort_keys=True) not in before
        ]

    done = _wait(lambda: {"records": restored()}, lambda v: bool(v["records"]), args.timeout)["records"]
    if not done:
        print(f"Requested, not done within {args.timeout:.0f} s: see GET {path}/actions", file=sys.stderr)
        return 1
    record = done[0]
    print(json.dumps(record, indent=2) if args.json else f"Restore {record['result']}: {record.get('after')}")
    return 0 if record["result"] in ("applied", "already") else 1


def _policies_dry_run(args: argparse.Namespace, session: boto3.Session) -> int:
    proposed, report = policies.dry_run_report(_api(args, session), args.connection_id)
    print(json.dumps(proposed, indent=2) if args.json else report)
    return 0


def _policies_list(args: argparse.Namespace, session: boto3.Session) -> int:
    answer = policies.show(_api(args, session), args.connection_id)
    print(json.dumps(answer, indent=2) if args.json else policies.table(answer))
    return 0


def _policies_apply(args: argparse.Namespace, session: boto3.Session) -> int:
    answer = policies.apply(
        _api(args, session), args.connection_id, None if args.clear else args.file, args.dry_run
    )
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        verb = "Applied" if answer["applied"] else "Valid (dry run, nothing changed)"
        print(f"{verb}: version {answer['version']}\n{policies.table(answer)}")
    return 0


def _api(args: argparse.Namespace, session: boto3.Session) -> AdminApi:
    url = args.api_url or stack_outputs(session, args.stack_name)["ApiUrl"]
    return AdminApi(url, session)


def _configure(args: argparse.Namespace, session: boto3.Session) -> int:
    arn = args.secret_arn or stack_outputs(session, args.stack_name)["BoxAppSecretArn"]
    secret = (
        sys.stdin.readline().strip() if args.client_secret_stdin else getpass.getpass("Box client secret: ")
    )
    if not secret:
        print("error: the client secret is empty; nothing was changed", file=sys.stderr)
        return 2
    session.client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=json.dumps({"client_id": args.client_id, "client_secret": secret})
    )
    print("Stored the Box app credentials. Next: boxcasb connect")
    return 0


def _webhook_keys(args: argparse.Namespace, session: boto3.Session) -> int:
    arn = args.secret_arn or stack_outputs(session, args.stack_name)["WebhookKeysSecretArn"]
    if args.stdin:
        primary, secondary = sys.stdin.readline().strip(), sys.stdin.readline().strip()
    else:
        primary = getpass.getpass("Primary webhook key (empty: none): ").strip()
        secondary = getpass.getpass("Secondary webhook key (empty: none): ").strip()
    if not primary and not secondary:
        print("error: both keys are empty; nothing was changed", file=sys.stderr)
        return 2
    session.client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=json.dumps({"primary": primary or None, "secondary": secondary or None})
    )
    print("Stored the webhook signature keys. The intake uses them within 5 minutes (at once after a miss).")
    return 0


def _webhooks_sync(args: argparse.Namespace, session: boto3.Session) -> int:
    api = _api(args, session)
    path = f"/connections/{args.connection_id}/webhooks"
    api.request("POST", path + "/sync")
    if args.no_wait:
        print(f"Webhook sync started. See: boxcasb webhooks list {args.connection_id}")
        return 0
    answer = _wait(
        lambda: api.request("GET", path),
        lambda a: (a.get("sync") or {}).get("outcome") != "running",
        args.timeout,
    )
    print(json.dumps(answer["sync"], indent=2) if args.json else sync_report(answer["sync"]))
    return 0 if (answer.get("sync") or {}).get("outcome") == "finished" else 1


def _scan(args: argparse.Namespace, session: boto3.Session) -> int:
    api = _api(args, session)
    started = api.request("POST", f"/connections/{args.connection_id}/scans")["scan"]
    if args.no_wait:
        print(f"Scan {started['number']} started. See: boxcasb status {args.connection_id}")
        return 0
    connection = _wait(
        lambda: api.request("GET", f"/connections/{args.connection_id}"),
        lambda c: (
            (c.get("scan") or {}).get("number") != started["number"]
            or (c.get("scan") or {}).get("status") != "running"
        ),
        args.timeout,
    )
    scan = connection.get("scan") or {}
    print(json.dumps(scan, indent=2) if args.json else scan_report(scan))
    return 0 if scan.get("status") == "complete" else 1


def _files(args: argparse.Namespace, session: boto3.Session) -> int:
    if not (args.exposure or args.owner or args.folder):
        print("error: give --exposure, --owner or --folder", file=sys.stderr)
        return 2
    if not 1 <= args.limit <= 1000:
        print("error: --limit must be 1-1000", file=sys.stderr)
        return 2
    api = _api(args, session)
    query: dict[str, str | None] = {
        "exposure": args.exposure,
        "owner": args.owner,
        "folder": args.folder,
        "limit": str(args.limit),
    }
    files, cursor = list_pages(
        api,
        f"/connections/{args.connection_id}/files",
        "files",
        query,
        all_pages=args.all,
        show=None if args.json else file_line,
    )
    if args.json:
        print(json.dumps({"files": files, "cursor": cursor}, indent=2))
    elif not files:
        print("No files match.")
    elif cursor:
        print(f"More files: add --all, or ask again with the cursor {cursor}", file=sys.stderr)
    return 0


def _webhooks_list(args: argparse.Namespace, session: boto3.Session) -> int:
    answer = _api(args, session).request("GET", f"/connections/{args.connection_id}/webhooks")
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    print("\n".join(webhook_line(w) for w in answer["webhooks"]) or "No webhooks recorded.")
    if answer.get("sync"):
        print("\nLast sync: " + sync_report(answer["sync"]))
    return 0


def _connect(args: argparse.Namespace, session: boto3.Session) -> int:
    api = _api(args, session)
    started = api.request("POST", "/connections", {"reconnect": args.reconnect} if args.reconnect else {})
    cid = started["connection_id"]
    if args.json:
        print(json.dumps(started))
    else:
        print(f"Connection {cid}\n\nFollow this link to sign in to Box as an admin and click Allow:\n")
        print(f"  {started['authorize_url']}\n")
        print(f"The link works once, until {started['expires_at']}.")
    if args.no_wait:
        return 0
    connection = _wait(
        lambda: api.request("GET", f"/connections/{cid}"),
        lambda c: (c.get("authorization") or {}).get("state") != "awaiting_consent",
        args.timeout,
    )
    auth = connection.get("authorization") or {}
    if auth.get("state") != "completed":
        print(f"\nBox was not connected: {auth.get('detail') or auth.get('state')}", file=sys.stderr)
        return 1
    print(
        f"\nBox was successfully connected: {connection.get('enterprise_name')} as "
        f"{connection.get('admin_login')} (role: {connection.get('role')}).\nRunning the API test..."
    )
    connection = _wait(
        lambda: api.request("GET", f"/connections/{cid}"),
        lambda c: (c.get("last_test") or {}).get("outcome") in TERMINAL_TEST,
        args.timeout,
    )
    return _print_test(args, connection)


def _status(args: argparse.Namespace, session: boto3.Session) -> int:
    api = _api(args, session)
    if args.connection_id:
        connection = api.request("GET", f"/connections/{args.connection_id}")
        print(json.dumps(connection, indent=2) if args.json else connection_detail(connection))
        return 0
    connections = api.request("GET", "/connections")["connections"]
    if args.json:
        print(json.dumps(connections, indent=2))
    elif not connections:
        print("No connections yet. Run: boxcasb connect")
    else:
        print("\n".join(connection_line(c) for c in connections))
    return 0


def _test(args: argparse.Namespace, session: boto3.Session) -> int:
    api = _api(args, session)
    api.request("POST", f"/connections/{args.connection_id}/test")
    if args.no_wait:
        print("Test API started. See: boxcasb status " + args.connection_id)
        return 0
    connection = _wait(
        lambda: api.request("GET", f"/connections/{args.connection_id}"),
        lambda c: (c.get("last_test") or {}).get("outcome") in TERMINAL_TEST,
        args.timeout,
    )
    return _print_test(args, connection)


def _activities(args: argparse.Namespace, session: boto3.Session) -> int:
    if args.since and args.until and args.since >= args.until:
        print("error: --since must be before --until", file=sys.stderr)
        return 2
    api = _api(args, session)
    limit = args.limit or (ALL_PAGE_SIZE if args.all else PAGE_SIZE)
    query: dict[str, str | None] = {
        "since": args.since.isoformat() if args.since else None,
        "until": args.until.isoformat() if args.until else None,
        "user": args.user,
        "file": args.file,
        "event_type": args.event_type,
        "limit": str(limit),
    }
    cursor: str | None = args.cursor
    events: list[dict[str, Any]] = []
    pages = 0
    while True:
        answer = api.request(
            "GET", f"/connections/{args.connection_id}/activities" + query_string(query, cursor)
        )
        # Later pages ask for the very range the first one answered (the default `until` is "now").
        query |= {
            "since": answer.get("since") or query["since"],
            "until": answer.get("until") or query["until"],
        }
        page: list[dict[str, Any]] = answer.get("events") or []
        cursor, pages = answer.get("cursor"), pages + 1
        events.extend(page)
        if not args.json and page:
            print("\n".join(activity_line(e) for e in page), flush=True)
        if not (args.all and cursor and pages < MAX_PAGES):
            break
    if args.json:
        print(json.dumps(events, indent=2))
    elif not events:
        print(f"No events from {query['since']} to {query['until']}.", file=sys.stderr)
    if cursor:
        command = shlex.join(
            ["boxcasb", *(["--json"] if args.json else []), "activities", args.connection_id]
            + [f"--{name.replace('_', '-')}={value}" for name, value in query.items() if value]
            + [f"--cursor={cursor}", *(["--all"] if args.all else [])]
        )
        if args.all:
            print(f"Stopped after {pages} pages ({len(events)} events); go on with:", file=sys.stderr)
        else:
            print("More events; the next page (--cursor):", file=sys.stderr)
        print(f"  {command}", file=sys.stderr)
    return 0


_RELATIVE = re.compile(r"^(\d{1,6})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _time_arg(value: str) -> datetime:
    """ISO 8601 with a zone, or a span back from now (30m, 12h, 2d, 1w); always returned in UTC."""
    relative = _RELATIVE.match(value.strip())
    if relative:
        span = timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
        try:
            return datetime.now(UTC).replace(microsecond=0) - span
        except OverflowError:
            raise argparse.ArgumentTypeError(f"{value!r} reaches back before the year 1") from None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time: use ISO 8601 with a zone (2024-05-01T09:00:00Z) "
            "or a span back from now (30m, 12h, 2d, 1w)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} has no time zone: add one (2024-05-01T09:00:00Z, 2024-05-01T11:00:00+02:00)"
        )
    return moment.astimezone(UTC)


def _connection_id(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f-]{36}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a connection id (see: boxcasb status)")
    return value


def _box_id(value: str) -> str:
    if not re.fullmatch(r"[0-9]{1,20}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Box id (digits only)")
    return value


def _event_type(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.]{1,64}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Box event type (like UPLOAD)")
    return value.upper()


def _page_size(value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,4}", value) or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"{value!r} is not a page size from 1 to {MAX_PAGE_SIZE}")
    return int(value)


def _print_test(args: argparse.Namespace, connection: dict[str, Any]) -> int:
    test = connection["last_test"]
    print(json.dumps(test, indent=2) if args.json else test_report(test))
    return 1 if test["outcome"] == "failed" else 0


def _wait(
    fetch: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    interval: float = 1.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval)


if __name__ == "__main__":
    raise SystemExit(main())
