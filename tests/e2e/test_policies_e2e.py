"""Policies end to end through the local stack: the deployed policies/ folder plus a connection's
overrides, content inspection in the scan worker, alerts with SNS notifications, enforcement
and dry runs in the fake Box, dismissal and auto-resolution.

The files under test are added to the fake tenant here (alice's Documents), so what should match
is known from the test itself, not from the code under test.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from boxcasb.cli.api_client import AdminApi, ApiError
from devstack.local_aws import LOCAL_IDENTITY
from tests.e2e.test_scan_e2e import connect, run_scan
from tests.support.documents import make_docx
from tests.support.flows import every_page

CARDS = "Order 1: 4111 1111 1111 1111\nOrder 2: 5555-5555-5555-4444\nOrder 3: 4012888888881881\n"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
OVERRIDES = """\
policies:
  - kind: file
    id: public-executable
    name: Executable shared publicly (enforced)
    severity: high
    mode: enforce
    filters:
      access: [public]
      extensions: [exe]
    actions:
      - type: remove_shared_link
  - kind: file
    id: quarantine-plans
    name: Secret plans are quarantined
    severity: critical
    mode: enforce
    filters:
      name_patterns: ["secret-plan*"]
    actions:
      - type: quarantine
"""


@pytest.fixture(scope="module")
def planted(fake_box: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """alice's files for the policies to find: cards behind an open link, an AWS key shared with
    an outsider, an executable behind an open link."""
    tenant = fake_box.tenant
    docx = make_docx(tmp_path_factory.mktemp("docs") / "keys.docx", [f"aws_access_key_id = {AWS_KEY_ID}"])
    with tenant.lock:
        alice = tenant.user_by_login("alice@acme.example")
        eve = tenant.user_by_login("eve@partner.example")
        documents = next(
            f for f in tenant.folders.values() if f.name == "Documents" and f.owner_id == alice.id
        )
        files = {
            "cards": tenant.add_file(documents, "cards-export.csv", CARDS, shared_link="open"),
            "keys": tenant.add_file(documents, "keys.docx", Path(docx).read_bytes()),
            "exe": tenant.add_file(
                documents, "setup.exe", b"MZ\x90\x00 not really a program", shared_link="open"
            ),
            "plan": tenant.add_file(documents, "secret-plan.txt", "the plan"),
        }
        tenant.add_collaboration(files["keys"], eve, role="viewer")
    yield files
    with tenant.lock:
        for file in files.values():
            tenant.delete_item(file)


@pytest.fixture(scope="module")
def notifications(stack: Any) -> str:
    """An SQS queue subscribed to the alerts topic, as a user would subscribe mail or chat."""
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="alerts-e2e")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = stack.resources["AlertsTopic"].ref
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return str(queue_url)


@pytest.fixture(scope="module")
def judged(stack: Any, planted: dict[str, Any], notifications: str) -> tuple[AdminApi, str]:
    api, cid = connect(stack)
    answer = api.request("PUT", f"/connections/{cid}/policies", {"yaml": OVERRIDES})
    assert answer["applied"]
    run_scan(stack, api, cid)
    return api, cid


def alerts(api: AdminApi, cid: str, **query: str) -> list[dict[str, Any]]:
    return every_page(api, "/alerts", "alerts", connection=cid, **query)


def alert_for(api: AdminApi, cid: str, policy: str, file_id: str) -> dict[str, Any]:
    (found,) = [a for a in alerts(api, cid) if a["policy_id"] == policy and a["object_id"] == file_id]
    return found


def test_policies_in_force_are_the_deployed_ones_with_the_overrides(judged: tuple[AdminApi, str]) -> None:
    api, cid = judged
    answer = api.request("GET", f"/connections/{cid}/policies")
    by_id = {p["id"]: p for p in answer["policies"]}
    assert by_id["public-executable"]["mode"] == "enforce"
    assert by_id["public-executable"]["source"] == "overrides:2"
    assert by_id["public-link"]["source"].endswith("builtin.yaml:6")
    assert by_id["mass-download"]["kind"] == "activity"
    assert answer["overrides"]["text"] == OVERRIDES


def test_content_and_exposure_raise_alerts_with_masked_evidence(
    judged: tuple[AdminApi, str], planted: dict[str, Any]
) -> None:
    api, cid = judged
    cards = alert_for(api, cid, "sensitive-content-shared", planted["cards"].id)
    assert cards["status"] == "open"
    assert cards["severity"] == "high"
    assert cards["evidence"]["detector_counts"] == {"credit_card": 3}
    samples = " ".join(cards["evidence"]["samples"])
    assert "1111" in samples
    for raw in ("4111 1111 1111 1111", "4111111111111111", "5555-5555-5555-4444", "4012888888881881"):
        assert raw not in samples
    keys = alert_for(api, cid, "sensitive-content-shared", planted["keys"].id)
    assert keys["evidence"]["detector_counts"] == {"aws_access_key_id": 1}
    assert keys["evidence"]["exposure"] == "external"
    assert AWS_KEY_ID not in json.dumps(keys)
    assert alert_for(api, cid, "public-link", planted["cards"].id)["severity"] == "medium"
    files = every_page(api, f"/connections/{cid}/files", "files", exposure="public", limit="1000")
    record = next(f for f in files if f["file_id"] == planted["cards"].id)
    assert record["result"] == "matched"
    assert record["content"]["counts"] == {"credit_card": 3}
    assert set(record["matched_policies"]) == {"public-link", "sensitive-content-shared"}


def test_an_enforced_policy_acts_in_box_and_an_alert_only_one_proposes(
    judged: tuple[AdminApi, str], planted: dict[str, Any], fake_box: Any
) -> None:
    api, cid = judged
    exe = alert_for(api, cid, "public-executable", planted["exe"].id)
    assert [(a["action"], a["result"]) for a in exe["actions"]] == [("remove_shared_link", "applied")]
    assert fake_box.tenant.files[planted["exe"].id].shared_link is None
    # Alert only: what enforcing would do is on the alert; Box is untouched.
    cards = alert_for(api, cid, "sensitive-content-shared", planted["cards"].id)
    assert {(a["action"], a["result"]) for a in cards["actions"]} >= {("narrow_shared_link", "would_apply")}
    assert fake_box.tenant.files[planted["cards"].id].shared_link is not None
    audit = api.request("GET", f"/connections/{cid}/actions")["actions"]
    applied = [r for r in audit if r["result"] == "applied"]
    assert sorted((r["action"], r["file_id"], r["dry_run"]) for r in applied) == [
        ("quarantine", planted["plan"].id, False),
        ("remove_shared_link", planted["exe"].id, False),
    ]
    unlinked = next(r for r in applied if r["action"] == "remove_shared_link")
    assert (unlinked["before"]["shared_link_access"], unlinked["after"]["shared_link_access"]) == (
        "open",
        None,
    )


def test_each_opened_alert_is_published_once(judged: tuple[AdminApi, str], notifications: str) -> None:
    api, cid = judged
    sqs = boto3.client("sqs", region_name="us-east-1")
    published: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=notifications, MaxNumberOfMessages=10).get("Messages", []):
        published.extend(json.loads(m["Body"]) for m in batch)
        sqs.delete_message_batch(
            QueueUrl=notifications,
            Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch],
        )
    mine = [p for p in published if p["connection_id"] == cid]
    opened = {a["alert_id"] for a in alerts(api, cid)}
    assert sorted(p["alert_id"] for p in mine) == sorted(opened)
    assert AWS_KEY_ID not in json.dumps(mine)


def test_dismissed_stays_dismissed_and_a_fixed_file_resolves(
    stack: Any, judged: tuple[AdminApi, str], planted: dict[str, Any], fake_box: Any
) -> None:
    api, cid = judged
    public = alert_for(api, cid, "public-link", planted["cards"].id)
    dismissed = api.request(
        "PATCH",
        f"/alerts/{public['alert_id']}",
        {"connection_id": cid, "status": "dismissed", "reason": "a test export, accepted"},
    )
    assert dismissed["status"] == "dismissed"
    assert dismissed["dismissed_by"] == LOCAL_IDENTITY.user_arn
    tenant = fake_box.tenant
    with tenant.lock:
        tenant.update_content(planted["cards"], CARDS + "Order 4: 4111 1111 1111 1111\n")
    run_scan(stack, api, cid)
    assert alert_for(api, cid, "public-link", planted["cards"].id)["status"] == "dismissed"
    cards = alert_for(api, cid, "sensitive-content-shared", planted["cards"].id)
    assert (cards["status"], cards["evidence"]["detector_counts"]) == ("open", {"credit_card": 4})
    with tenant.lock:
        tenant.set_shared_link(planted["cards"], None)
    run_scan(stack, api, cid)
    resolved = alert_for(api, cid, "sensitive-content-shared", planted["cards"].id)
    assert (resolved["status"], resolved["resolution"]) == ("resolved", "no_longer_matches")
    with pytest.raises(ApiError) as refused:
        api.request(
            "PATCH",
            f"/alerts/{resolved['alert_id']}",
            {"connection_id": cid, "status": "dismissed", "reason": "too late"},
        )
    assert refused.value.status == 409


def test_invalid_overrides_are_refused_with_their_lines_and_change_nothing(
    judged: tuple[AdminApi, str],
) -> None:
    api, cid = judged
    before = api.request("GET", f"/connections/{cid}/policies")["version"]
    broken = textwrap.dedent(
        """\
        policies:
          - kind: file
            id: p1
            name: One
            filters:
              access: [everyone]
        disable: [no-such-policy]
        """
    )
    with pytest.raises(ApiError) as refused:
        api.request("PUT", f"/connections/{cid}/policies", {"yaml": broken})
    assert refused.value.status == 400
    assert [(d["line"], d["field"]) for d in refused.value.details] == [(6, "policies[0].filters.access[0]")]
    assert api.request("GET", f"/connections/{cid}/policies")["version"] == before


def test_cli_policies_and_alerts(
    stack: Any,
    judged: tuple[AdminApi, str],
    planted: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from boxcasb.cli.main import main as boxcasb

    _, cid = judged
    base = ["--api-url", stack.api_url, "--region", "us-east-1"]
    assert boxcasb([*base, "policies", "list", cid]) == 0
    assert "public-executable" in capsys.readouterr().out
    assert boxcasb([*base, "policies", "dry-run", cid]) == 0
    report = capsys.readouterr().out
    assert "sensitive-content-shared" in report
    assert "remove_external_collaborators" in report  # keys.docx is shared with eve
    assert "/Documents/keys.docx" in report
    assert boxcasb([*base, "alerts", "--connection", cid, "--policy", "public-executable"]) == 0
    listed = capsys.readouterr().out
    assert "/Documents/setup.exe" in listed
    assert "remove_shared_link:applied" in listed
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "policies:\n  - kind: file\n    id: p1\n    name: One\n    filters: {size: {min_bytes: -1}}\n"
    )
    assert boxcasb([*base, "policies", "apply", cid, str(bad), "--dry-run"]) == 2
    assert f"{bad}:5: policies[0].filters.size.min_bytes" in capsys.readouterr().err
    assert boxcasb(["policies", "validate", str(bad)]) == 1


def test_live_events_through_an_activity_policy_raise_one_user_alert(
    stack: Any, judged: tuple[AdminApi, str], planted: dict[str, Any], fake_box: Any
) -> None:
    api, cid = judged
    overrides = OVERRIDES + (
        "  - kind: activity\n"
        "    id: quick-downloads\n"
        "    name: Three downloads in an hour\n"
        "    activity:\n"
        "      - {id: downloads, kind: threshold, category: download, count: 3, window_minutes: 60,\n"
        "         severity: high}\n"
    )
    api.request("PUT", f"/connections/{cid}/policies", {"yaml": overrides})
    stack.run_schedule("ActivityPollerFunction")  # the stream is current before the downloads
    tenant = fake_box.tenant
    with tenant.lock:
        bob = tenant.user_by_login("bob@acme.example")
        for _ in range(4):  # the third fires; the fourth is in the same window: no second alert
            tenant.add_event("DOWNLOAD", bob, source=planted["cards"])
    stack.run_schedule("ActivityPollerFunction")
    stack.run_schedule("ActivityPollerFunction")  # the stream repeats: nothing counts twice
    (alert,) = alerts(api, cid, policy="quick-downloads")
    assert (alert["object_type"], alert["object_id"], alert["object_name"]) == ("user", bob.id, bob.login)
    assert (alert["status"], alert["severity"], alert["times_seen"]) == ("open", "high", 1)
    assert len(alert["source"]["event_ids"]) == 3


def test_a_quarantined_file_is_restored_on_request_and_stays(
    stack: Any,
    judged: tuple[AdminApi, str],
    planted: dict[str, Any],
    fake_box: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api, cid = judged
    tenant = fake_box.tenant
    plan = tenant.files[planted["plan"].id]
    admin = tenant.user_by_login("admin@acme.example")
    assert (plan.owner_id, [f.name for f in tenant.ancestors(plan)][-2]) == (admin.id, "Quarantine")
    answer = api.request("POST", f"/connections/{cid}/files/{plan.id}/restore", {})
    assert answer["restore"] == "requested"
    stack.wait_for_async(timeout=120)
    alice = tenant.user_by_login("alice@acme.example")
    plan = tenant.files[plan.id]  # a move makes a new record
    assert (plan.owner_id, tenant.folders[plan.parent_id].name) == (alice.id, "Documents")
    restored = [
        r for r in api.request("GET", f"/connections/{cid}/actions")["actions"] if r["action"] == "restore"
    ]
    assert [(r["result"], r["file_id"], r["requested_by"]) for r in restored] == [
        ("applied", plan.id, LOCAL_IDENTITY.user_arn)
    ]
    assert alert_for(api, cid, "quarantine-plans", plan.id)["status"] == "dismissed"
    # The admin's decision stands: the next scan matches again but doesn't quarantine again.
    run_scan(stack, api, cid)
    assert tenant.files[plan.id].owner_id == alice.id
    with pytest.raises(ApiError) as refused:
        api.request("POST", f"/connections/{cid}/files/{planted['keys'].id}/restore", {})
    assert refused.value.status == 404
    from boxcasb.cli.main import main as boxcasb

    # Again, through the CLI: the file is where it belongs already.
    assert boxcasb(["--api-url", stack.api_url, "--region", "us-east-1", "restore", cid, plan.id]) == 0
    assert "Restore already" in capsys.readouterr().out
