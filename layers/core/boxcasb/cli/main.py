"""boxcasb command line: configure, connect, status, test."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import boto3

from boxcasb.cli.api_client import AdminApi, ApiError, stack_outputs
from boxcasb.cli.render import connection_detail, connection_line, test_report

DEFAULT_STACK = "boxcasb"
TERMINAL_TEST = {"passed", "warning", "failed"}


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
    return p


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
