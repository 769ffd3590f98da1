"""Every events/*.json invokes its function with the template's wiring (as `sam local invoke -e`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from boxcasb.scan.model import GenerationStatus
from boxcasb.wiring import services

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTION_OF = {
    "connections_api": "ConnectionsApiFunction",
    "oauth_callback": "OAuthCallbackFunction",
    "api_test": "ApiTestFunction",
    "token_keeper": "TokenKeeperFunction",
    "activity_backfill": "ActivityBackfillFunction",
    "activity_poller": "ActivityPollerFunction",
    "webhook_intake": "WebhookIntakeFunction",
    "webhook_sync": "WebhookSyncFunction",
    "scan_worker": "ScanWorkerFunction",
    "priority_scan": "PriorityScanFunction",
    "scan_scheduler": "ScanSchedulerFunction",
    "alert_notifier": "AlertNotifierFunction",
    "governance": "GovernanceFunction",
    "disconnect": "DisconnectFunction",
}


def function_for(event_file: Path) -> str:
    return next(fn for prefix, fn in FUNCTION_OF.items() if event_file.stem.startswith(prefix))


def invoke(stack: Any, name: str) -> Any:
    path = EVENTS / name
    return stack.invoke(function_for(path), json.loads(path.read_text()))


def test_every_event_file_is_covered() -> None:
    assert {p.name for p in EVENTS.glob("*.json")} == {
        "connections_api_create.json",
        "connections_api_list.json",
        "connections_api_get.json",
        "connections_api_test.json",
        "oauth_callback_allow.json",
        "oauth_callback_denied.json",
        "api_test.json",
        "token_keeper.json",
        "activity_backfill_window.json",
        "activity_backfill_poison.json",
        "activity_poller.json",
        "webhook_intake_delivery.json",
        "webhook_sync.json",
        "webhook_sync_daily.json",
        "scan_worker_folder.json",
        "scan_worker_poison.json",
        "priority_scan_file.json",
        "scan_scheduler.json",
        "alert_notifier.json",
        "governance_restore.json",
        "disconnect.json",
    }


def test_create_connection_event(stack: Any) -> None:
    answer = invoke(stack, "connections_api_create.json")
    assert answer["statusCode"] == 201
    assert "authorize?" in json.loads(answer["body"])["authorize_url"]


def test_list_connections_event(stack: Any) -> None:
    answer = invoke(stack, "connections_api_list.json")
    assert answer["statusCode"] == 200
    assert isinstance(json.loads(answer["body"])["connections"], list)


@pytest.mark.parametrize("name", ["connections_api_get.json", "connections_api_test.json"])
def test_unknown_connection_events(stack: Any, name: str) -> None:
    answer = invoke(stack, name)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"] == "not_found"


@pytest.mark.parametrize("name", ["oauth_callback_allow.json", "oauth_callback_denied.json"])
def test_callback_events_with_a_state_this_stack_never_issued(stack: Any, name: str) -> None:
    answer = invoke(stack, name)
    assert answer["statusCode"] == 400
    assert answer["headers"]["content-type"].startswith("text/html")
    assert "not issued by this deployment" in answer["body"]


def test_api_test_event_for_an_unknown_connection(stack: Any) -> None:
    assert invoke(stack, "api_test.json") == {"status": "rejected", "reason": "unknown connection"}


def test_api_test_rejects_a_malformed_event(stack: Any) -> None:
    answer = stack.invoke("ApiTestFunction", {"connection_id": "x; DROP TABLE", "reason": "nope"})
    assert answer == {"status": "rejected", "reason": "invalid event"}


def test_token_keeper_event(stack: Any) -> None:
    report = invoke(stack, "token_keeper.json")
    assert set(report) == {"connections", "refreshed", "fresh_enough", "reconnect_required", "errors"}
    assert report["errors"] == 0


def test_backfill_window_for_an_unplanned_connection_is_dropped_not_retried(stack: Any) -> None:
    assert invoke(stack, "activity_backfill_window.json") == {"batchItemFailures": []}


def test_backfill_reports_only_the_malformed_record_as_failed(stack: Any) -> None:
    # The window message lacks window_start: it fails (and reaches the DLQ after retries);
    # the valid resume message beside it succeeds.
    assert invoke(stack, "activity_backfill_poison.json") == {
        "batchItemFailures": [{"itemIdentifier": "4d1c2b3a-0000-4000-8000-000000000002"}]
    }


def test_poller_event(stack: Any) -> None:
    report = invoke(stack, "activity_poller.json")
    assert {"connections", "pages", "events", "stopped", "deferred", "reconciled"} <= set(report)


def test_webhook_delivery_event_is_refused_as_stale(stack: Any) -> None:
    # Signed correctly with the local keys, but on 2026-11-20: far older than 10 minutes.
    answer = invoke(stack, "webhook_intake_delivery.json")
    assert (answer["statusCode"], json.loads(answer["body"])) == (
        401,
        {"outcome": "rejected: stale_timestamp"},
    )


def test_webhook_sync_event_for_an_unknown_connection(stack: Any) -> None:
    assert invoke(stack, "webhook_sync.json") == {"status": "rejected", "reason": "unknown connection"}


def test_webhook_sync_daily_event_runs_the_daily_pass(stack: Any) -> None:
    answer = invoke(stack, "webhook_sync_daily.json")
    assert answer["status"] == "done"
    assert set(answer["outcomes"].values()) <= {"finished", "failed"}


def test_scan_job_of_an_unknown_generation_is_dropped_not_retried(stack: Any) -> None:
    assert invoke(stack, "scan_worker_folder.json") == {"batchItemFailures": []}


def test_scan_worker_reports_only_the_malformed_record_as_failed(stack: Any) -> None:
    # The second batch's generation is not a number: it fails (and reaches the DLQ after
    # retries); the valid one beside it, for a generation that doesn't exist, is dropped.
    assert invoke(stack, "scan_worker_poison.json") == {
        "batchItemFailures": [{"itemIdentifier": "7a1c2b3a-0000-4000-8000-000000000003"}]
    }


def test_priority_scan_of_an_unknown_connection_is_dropped_not_retried(stack: Any) -> None:
    assert invoke(stack, "priority_scan_file.json") == {"batchItemFailures": []}


def test_scan_scheduler_event_starts_a_generation_for_each_connected_connection(stack: Any) -> None:
    svc = services()
    connected = {c.connection_id for c in svc.store.list_connections() if c.status.value == "connected"}
    answer = invoke(stack, "scan_scheduler.json")
    assert answer["status"] == "done"
    assert set(answer["connections"]) == connected
    assert all(o.startswith(("started ", "skipped: ")) for o in answer["connections"].values())
    close_started(answer)
    stack.wait_for_async(timeout=120)


def close_started(scheduled: dict[str, Any]) -> None:
    """Close the generations a scheduler run started for every connection on the shared stack,
    so it isn't busy scanning the other tests' tenants: their queued work is dropped."""
    svc = services()
    for cid, outcome in scheduled["connections"].items():
        if outcome.startswith("started "):
            generation = svc.scan_ledger.get(cid, int(outcome.removeprefix("started ")))
            assert generation is not None
            svc.scan_ledger.close(generation, GenerationStatus.INCOMPLETE)


def test_alert_notifier_event_sends_what_a_failed_publish_left_pending(stack: Any) -> None:
    from boxcasb import aws_clients
    from boxcasb.alerts.model import Evidence, Finding, FindingSource, ObjectType
    from boxcasb.alerts.notify import NotificationFailed
    from boxcasb.alerts.service import AlertService
    from boxcasb.alerts.store import AlertStore
    from boxcasb.severity import Severity
    from tests.support.flows import admin_api, start_connection

    class SnsDown:
        def notify(self, alert: Any, change: Any) -> None:
            raise NotificationFailed("SNS is down")

    svc = services()
    cid = str(start_connection(admin_api(stack.api_url))["connection_id"])
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)  # the failed publish's claim has lapsed
    finding = Finding(
        connection_id=cid,
        policy_id="public-link",
        policy_name="Public link",
        severity=Severity.MEDIUM,
        object_type=ObjectType.FILE,
        object_id="4242",
        object_name="notice.txt",
        evidence=Evidence(exposure="public"),
        observed_at=an_hour_ago,
        source=FindingSource(kind="priority"),
    )
    store = AlertStore(aws_clients.table(svc.settings.alerts_table_name or ""))
    failing = AlertService(store, SnsDown(), lambda: [cid], clock=lambda: an_hour_ago)
    opened = failing.observe(finding.object, ["public-link"], [finding], observed_at=an_hour_ago).opened
    assert [a.notification_pending for a in opened] == [True]
    answer = invoke(stack, "alert_notifier.json")
    assert answer["status"] == "done"
    assert answer["sent"][cid] == 1
    assert not svc.alerts.get(cid, opened[0].alert_id).notification_pending
    assert invoke(stack, "alert_notifier.json")["sent"][cid] == 0  # sent once, not again


def test_a_restore_of_a_file_never_quarantined_is_refused_and_changes_nothing(stack: Any) -> None:
    assert invoke(stack, "governance_restore.json") == {
        "status": "rejected",
        "reason": "no quarantine of this file is on record",
    }


def test_a_disconnect_of_an_unknown_connection_is_refused_and_changes_nothing(stack: Any) -> None:
    assert invoke(stack, "disconnect.json") == {"status": "rejected", "reason": "unknown connection"}
