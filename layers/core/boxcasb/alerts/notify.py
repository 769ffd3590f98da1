"""Announcing an opened alert: a port, an SNS adapter, and a no-op when no topic is configured.

The message is JSON (ids, policy, severity, object, status, times, the masked evidence and a
one-line summary for people); `severity`, `policy_id`, `change` and `connection_id` are also
message attributes, so a subscription's filter policy can pick, say, critical alerts only.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from datetime import UTC
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import JsonValue

from boxcasb.alerts.model import Alert, Change
from boxcasb.errors import BoxCasbError

_SUBJECT_MAX = 100  # SNS's limit, ASCII without line breaks


class NotificationFailed(BoxCasbError):
    """The notification could not be published; the alert stays pending and is retried."""


class Notifier(Protocol):
    def notify(self, alert: Alert, change: Change) -> None: ...


class NoNotifier:
    """No topic configured: alerts are still stored and listed, just not pushed anywhere."""

    def notify(self, alert: Alert, change: Change) -> None:
        return None


def summary(alert: Alert, change: Change) -> str:
    """One line for a person reading an e-mail or a chat message."""
    where = f" at {alert.object_path}" if alert.object_path else ""
    owner = f", owned by {alert.owner_login}" if alert.owner_login else ""
    again = f" (opening {alert.openings})" if change == "reopened" else ""
    return (
        f"{alert.severity.value.upper()}: policy '{alert.policy_name}' matched {alert.object_type.value} "
        f"'{alert.object_name}'{where}{owner}; alert {alert.alert_id} {change}{again}, "
        f"first seen {alert.first_seen.astimezone(UTC):%Y-%m-%d %H:%M} UTC, seen {alert.times_seen} time(s)."
    )


def message(alert: Alert, change: Change) -> dict[str, JsonValue]:
    return {
        "alert_id": alert.alert_id,
        "connection_id": alert.connection_id,
        "change": change,
        "status": alert.status.value,
        "severity": alert.severity.value,
        "policy": {"id": alert.policy_id, "name": alert.policy_name},
        "object": {
            "type": alert.object_type.value,
            "id": alert.object_id,
            "name": alert.object_name,
            "path": alert.object_path,
            "owner_id": alert.owner_id,
            "owner_login": alert.owner_login,
        },
        "first_seen": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "times_seen": alert.times_seen,
        "openings": alert.openings,
        "evidence": alert.evidence.model_dump(mode="json"),  # masked by the caller, size-capped
        "summary": summary(alert, change),
    }


def subject(alert: Alert, change: Change) -> str:
    text = f"Box CASB {alert.severity.value} alert {change}: {alert.policy_name}"
    # SNS refuses a subject that is not ASCII or holds a line break; policy names may be neither.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    printable = "".join(c if c.isprintable() else " " for c in ascii_text)
    return printable[:_SUBJECT_MAX]


def _attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


class SnsNotifier:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def notify(self, alert: Alert, change: Change) -> None:
        try:
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=subject(alert, change),
                Message=json.dumps(message(alert, change), ensure_ascii=False),
                MessageAttributes={
                    "severity": _attribute(alert.severity.value),
                    "policy_id": _attribute(alert.policy_id),
                    "change": _attribute(change),
                    "connection_id": _attribute(alert.connection_id),
                },
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "unknown")
            raise NotificationFailed(f"SNS refused the notification ({code})") from exc
        except BotoCoreError as exc:
            raise NotificationFailed(f"SNS could not be reached ({type(exc).__name__})") from exc


def notifier_for(topic_arn: str | None, sns: Callable[[], Any]) -> Notifier:
    """The SNS notifier when a topic is configured, else the no-op; `sns` is called only if needed."""
    return SnsNotifier(sns(), topic_arn) if topic_arn else NoNotifier()
