"""Box calls the Test API makes, counted by the fake Box (the server side) and by our gateway."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from bench import emit
from devstack.browser import consent
from devstack.fake_box import FakeBox
from devstack.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID, CLIENT_SECRET = "bench-client-id", "bench-client-secret"


def run(repeats: int = 5) -> dict[str, Any]:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    results: dict[str, Any] = {}
    with (
        FakeBox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=0) as box,
        LocalStack(
            template=str(ROOT / "template.yaml"),
            box_base_url=box.url,
            box_client_id=CLIENT_ID,
            box_client_secret=CLIENT_SECRET,
            # The connect also starts the activity backfill: read it at once so the queues drain.
            parameter_overrides={"LogLevel": "WARNING", "BackfillSettleSeconds": "0", "BackfillDays": "3"},
        ) as stack,
    ):
        api = stack.admin_api()
        for login in ("admin@acme.example", "coadmin@acme.example", "alice@acme.example"):
            started = api.request("POST", "/connections", {})
            consent(started["authorize_url"], login)
            stack.wait_for_async(timeout=30)
            cid = started["connection_id"]
            seconds, calls = [], []
            for _ in range(repeats):
                before = box.count(path_regex=r"^/(2\.0|oauth2)/")
                t = time.perf_counter()
                api.request("POST", f"/connections/{cid}/test")
                stack.wait_for_async(timeout=30)
                seconds.append(time.perf_counter() - t)
                calls.append(box.count(path_regex=r"^/(2\.0|oauth2)/") - before)
            report = api.request("GET", f"/connections/{cid}")["last_test"]
            results[login] = {
                "outcome": report["outcome"],
                "box_calls_seen_by_box": calls,
                "box_calls_reported": report["box_calls"],
                "test_api_round_trip_ms_median": round(sorted(seconds)[len(seconds) // 2] * 1000, 1),
            }
        # With an expired access token: one 401 and one refresh grant on top.
        box.expire_access_tokens()
        before = box.count(path_regex=r"^/(2\.0|oauth2)/")
        api.request("POST", f"/connections/{cid}/test")
        stack.wait_for_async(timeout=30)
        results["alice@acme.example (expired access token)"] = {
            "box_calls_seen_by_box": box.count(path_regex=r"^/(2\.0|oauth2)/") - before
        }
    return results


if __name__ == "__main__":
    emit(run)
