"""Findings and alerts as data: the evidence cap, ids, validation, and what a notification says."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pydantic import ValidationError

from boxcasb.alerts.model import (
    EVIDENCE_MAX_BYTES,
    SAMPLE_MAX_CHARS,
    Evidence,
    Finding,
    FindingSource,
    ObjectType,
    alert_id_for,
    evidence_size,
)
from boxcasb.alerts.notify import NoNotifier, NotificationFailed, SnsNotifier, message, notifier_for, subject
from boxcasb.alerts.service import opened_alert

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
CONN = "c0ffee00-0000-4000-8000-000000000001"


def finding(**overrides: Any) -> Finding:
    values: dict[str, Any] = {
        "connection_id": CONN,
        "policy_id": "cards-in-public-files",
        "policy_name": "Card numbers — shared publicly",
        "severity": "high",
        "object_type": "file",
        "object_id": "123",
        "object_name": "Q3 ünïcode.xlsx",
        "object_path": "/Finance/Q3",
        "owner_id": "77",
        "owner_login": "ann@acme.example",
        "evidence": {
            "detector_counts": {"card": 3},
            "samples": ["4111 **** **** 1111"],
            "exposure": "public",
        },
        "observed_at": T0,
        "source": {"kind": "scan", "generation": 4},
    }
    return Finding.model_validate(values | overrides)


def test_evidence_within_the_cap_is_kept_as_given() -> None:
    evidence = finding().evidence
    assert evidence.samples == ["4111 **** **** 1111"]
    assert evidence.samples_dropped == 0


def test_long_samples_are_shortened_and_extra_ones_dropped_to_fit_the_cap() -> None:
    samples = [f"{i:04d}-" + "*" * 95 for i in range(200)] + ["x" * 500]
    capped = finding(evidence={"detector_counts": {"card": 201}, "samples": samples}).evidence
    assert evidence_size(capped) <= EVIDENCE_MAX_BYTES
    assert 0 < len(capped.samples) < 200
    assert capped.samples == samples[: len(capped.samples)]  # the first ones, in order, untouched
    assert capped.samples_dropped == len(samples) - len(capped.samples)

    single = finding(evidence={"samples": ["*" * 500]}).evidence
    assert len(single.samples[0]) == SAMPLE_MAX_CHARS
    assert single.samples[0].endswith("…")
    assert set(single.samples[0][:-1]) == {"*"}


def test_capping_twice_changes_nothing() -> None:
    capped = finding(evidence={"samples": ["*" * 100] * 100}).evidence
    assert finding(evidence=capped).evidence == capped


def test_evidence_too_large_without_samples_is_refused() -> None:
    filters = [f"filter {i} " + "x" * 180 for i in range(30)]
    with pytest.raises(ValidationError, match="even without samples"):
        finding(evidence={"matched_filters": filters})


def test_evidence_takes_no_field_beyond_its_own() -> None:
    # A raw match can't ride along under another name: unknown fields are refused.
    with pytest.raises(ValidationError, match="raw_matches"):
        finding(evidence={"samples": ["4111 **** **** 1111"], "raw_matches": ["4111111111111111"]})


@pytest.mark.parametrize(
    "overrides",
    [
        {"policy_id": "has#hash"},
        {"object_id": "12#3"},
        {"connection_id": "a#b"},
        {"severity": "urgent"},
        {"object_type": "folder"},
        {"observed_at": datetime(2026, 11, 20, 12)},  # naive
        {"source": {"kind": "scan"}},  # a scan finding names its generation
        {"source": {"kind": "activity"}},  # an activity finding names its events
        {"evidence": {"detector_counts": {"card": -1}}},
    ],
)
def test_malformed_findings_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        finding(**overrides)


def test_alert_ids_are_deterministic_short_and_distinct() -> None:
    first = alert_id_for(CONN, "p1", ObjectType.FILE, "123")
    assert first == alert_id_for(CONN, "p1", ObjectType.FILE, "123")
    assert len(first) == 24
    assert int(first, 16) >= 0
    others = {
        alert_id_for(CONN, "p1", ObjectType.USER, "123"),  # a user and a file may share an id
        alert_id_for(CONN, "p2", ObjectType.FILE, "123"),
        alert_id_for("another", "p1", ObjectType.FILE, "123"),
        alert_id_for(CONN, "p1", ObjectType.FILE, "1234"),
    }
    assert first not in others
    assert len(others) == 4


def test_finding_sources() -> None:
    assert FindingSource(kind="activity", event_ids=["e1", "e2"]).event_ids == ["e1", "e2"]
    assert FindingSource(kind="priority").generation is None


class RecordingSns:
    def __init__(self, error: Exception | None = None) -> None:
        self.published: list[dict[str, Any]] = []
        self.error = error

    def publish(self, **kwargs: Any) -> dict[str, str]:
        if self.error is not None:
            raise self.error
        self.published.append(kwargs)
        return {"MessageId": "m1"}


def test_sns_message_is_json_with_filterable_attributes() -> None:
    sns = RecordingSns()
    alert = opened_alert(finding())
    SnsNotifier(sns, "arn:aws:sns:us-east-1:123456789012:alerts").notify(alert, "opened")

    (call,) = sns.published
    assert call["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:alerts"
    assert call["MessageAttributes"] == {
        "severity": {"DataType": "String", "StringValue": "high"},
        "policy_id": {"DataType": "String", "StringValue": "cards-in-public-files"},
        "change": {"DataType": "String", "StringValue": "opened"},
        "connection_id": {"DataType": "String", "StringValue": CONN},
    }
    body = json.loads(call["Message"])
    assert body == message(alert, "opened")
    assert body["policy"] == {"id": "cards-in-public-files", "name": "Card numbers — shared publicly"}
    assert body["object"]["name"] == "Q3 ünïcode.xlsx"
    assert body["evidence"]["samples"] == ["4111 **** **** 1111"]
    assert "HIGH" in body["summary"]
    assert "Q3 ünïcode.xlsx" in body["summary"]
    assert alert.alert_id in body["summary"]


def test_subject_is_ascii_single_line_and_short() -> None:
    alert = opened_alert(finding(policy_name="Карты\nnumbers ünïcode " + "long " * 30))
    text = subject(alert, "reopened")
    assert text.isascii()
    assert "\n" not in text
    assert len(text) <= 100
    assert text.startswith("Box CASB high alert reopened: ")


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "NotFound", "Message": "no topic"}}, "Publish"),
        EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com"),
    ],
)
def test_a_failed_publish_is_a_typed_error(error: Exception) -> None:
    notifier = SnsNotifier(RecordingSns(error), "arn:aws:sns:us-east-1:123456789012:alerts")
    with pytest.raises(NotificationFailed):
        notifier.notify(opened_alert(finding()), "opened")


def test_no_topic_no_client() -> None:
    def no_client() -> Any:
        raise AssertionError("no SNS client is needed without a topic")

    assert isinstance(notifier_for(None, no_client), NoNotifier)
    assert isinstance(notifier_for("", no_client), NoNotifier)
    assert isinstance(notifier_for("arn:aws:sns:us-east-1:1:t", RecordingSns), SnsNotifier)


def test_evidence_model_defaults() -> None:
    assert Evidence().model_dump() == {
        "detector_counts": {},
        "samples": [],
        "exposure": None,
        "matched_filters": [],
        "samples_dropped": 0,
    }
