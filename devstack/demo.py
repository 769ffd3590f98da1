"""`make demo`: the whole connect story on the local stack, as an admin would see it.

Starts the fake Box and the local stack, then for an admin, a co-admin and a plain user of
the fake tenant runs the real `boxcasb connect` command. A "browser" thread plays the admin:
it follows the link the CLI prints, signs in to the fake Box as that user, clicks Allow,
and shows the page our callback answers. The CLI then waits for the Test API and prints it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import warnings
from pathlib import Path

from boxcasb.cli.main import main as boxcasb
from devstack.browser import LinkWatcher, consent_when_linked
from devstack.fake_box import FakeBox
from devstack.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID, CLIENT_SECRET = "demo-client-id", "demo-client-secret"
PEOPLE = [
    ("admin@acme.example", "a Box admin"),
    ("coadmin@acme.example", "a co-admin"),
    ("alice@acme.example", "a plain user"),
]


def run() -> int:
    # The handlers' JSON logs and EMF metrics would bury what an admin sees; keep warnings only.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    box = FakeBox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=0)
    box.start()
    stack = LocalStack(
        template=str(ROOT / "template.yaml"),
        box_base_url=box.url,
        box_client_id=CLIENT_ID,
        box_client_secret=CLIENT_SECRET,
        # Demo pace: read the newest backfill window at once (production waits 10 minutes for
        # admin_logs to settle) and in 15-day windows instead of 60 one-day ones.
        parameter_overrides={
            "LogLevel": "WARNING",
            "BackfillSettleSeconds": "0",
            "BackfillWindowHours": "360",
        },
    )
    stack.start()
    print(f"Local stack: admin API {stack.api_url} (IAM-signed), fake Box {box.url}\n")
    exit_codes = []
    try:
        for login, who in PEOPLE:
            print(f"=== Connecting as {who} ({login})\n$ boxcasb connect")
            watcher = LinkWatcher(sys.stdout)
            browser = consent_when_linked(watcher, login)
            real_stdout, sys.stdout = sys.stdout, watcher
            try:
                code = boxcasb(
                    ["--api-url", stack.api_url, "--region", "us-east-1", "connect", "--timeout", "60"]
                )
            finally:
                sys.stdout = real_stdout
            browser.join(timeout=5)
            exit_codes.append(code)
            print(f"(exit code {code})\n")
        print("$ boxcasb status")
        boxcasb(["--api-url", stack.api_url, "--region", "us-east-1", "status"])
        stack.wait_for_async(timeout=300)  # the 60-day backfills and the first scans
        admin_id = _connection_of(stack.api_url, PEOPLE[0][0])
        for args in (
            ["status", admin_id],
            ["files", admin_id, "--exposure", "public"],
            ["alerts", "--connection", admin_id, "--status", "open", "--limit", "8"],
            ["policies", "dry-run", admin_id],
            ["activities", admin_id, "--since", "60d", "--limit", "8"],
        ):
            print(f"\n$ boxcasb {' '.join(args)}")
            boxcasb(["--api-url", stack.api_url, "--region", "us-east-1", *args])
        webhooks_ok = _webhooks(stack, box, admin_id)
    finally:
        stack.stop()
        box.stop()
    # Expected: admin passes (0), co-admin passes with a warning (0), a plain user fails (1).
    if exit_codes != [0, 0, 1] or not webhooks_ok:
        print(
            f"\nDEMO FAILED: exit codes {exit_codes} (expected [0, 0, 1]), webhooks ok: {webhooks_ok}",
            file=sys.stderr,
        )
        return 1
    print(
        "\nDemo finished: admin passed, co-admin passed with a warning, plain user failed as expected;"
        " an upload reached the activity log by webhook."
    )
    return 0


def _webhooks(stack: LocalStack, box: FakeBox, connection_id: str) -> bool:
    """Register webhooks, then upload a file in Box: the signed delivery lands in the activity log."""
    cli = ["--api-url", stack.api_url, "--region", "us-east-1"]
    print(f"\n$ boxcasb webhooks sync {connection_id}")
    synced = boxcasb([*cli, "webhooks", "sync", connection_id, "--timeout", "60"]) == 0
    tenant = box.tenant
    bob = tenant.user_by_login("bob@acme.example")
    folder = next(item for item in tenant.children(tenant.root_of(bob)) if item.type == "folder")
    upload = tenant.add_file(folder, "q4-forecast.xlsx", b"numbers")
    print(f"\n(bob uploads {upload.name} into {folder.name}; Box sends a signed webhook)")
    tenant.add_event("UPLOAD", bob, source=upload)
    delivered = box.wait_for_deliveries(timeout=30) and all(a.ok for a in box.webhook_deliveries)
    args = ["activities", connection_id, "--event-type", "FILE.UPLOADED", "--since", "1h"]
    print(f"\n$ boxcasb {' '.join(args)}")
    boxcasb([*cli, *args])
    return synced and delivered


def _connection_of(api_url: str, login: str) -> str:
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        boxcasb(["--api-url", api_url, "--region", "us-east-1", "--json", "status"])
    return str(next(c["connection_id"] for c in json.loads(captured.getvalue()) if c["admin_login"] == login))


if __name__ == "__main__":
    raise SystemExit(run())
