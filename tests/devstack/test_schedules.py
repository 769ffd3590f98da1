"""Schedules: event shapes, rate parsing, on-demand runs and the CLI's timer."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from devstack.schedules import ScheduleTimer, TimedSchedule, rate_seconds, scheduled_event
from devstack.stack import LocalStack
from devstack.template_model import Schedule


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60.0),
        ("rate(5 minutes)", 300.0),
        ("rate(2 hours)", 7200.0),
        ("rate(1 day)", 86400.0),
        ("cron(0 3 * * ? *)", None),
        ("at(2030-01-01T00:00:00)", None),
    ],
)
def test_rate_expressions(expression: str, seconds: float | None) -> None:
    assert rate_seconds(expression) == seconds


def test_schedule_v2_event_is_the_scheduler_default_payload(tiny_stack: LocalStack, probe: Any) -> None:
    result = tiny_stack.run_schedule("WorkerFunction")

    assert result["key"] == "-"
    (event,) = probe.calls_of("WorkerFunction")
    assert event["source"] == "aws.scheduler"
    assert event["detail-type"] == "Scheduled Event"
    assert event["detail"] == "{}"
    assert event["resources"] == [
        "arn:aws:scheduler:us-east-1:123456789012:schedule/default/WorkerFunctionEvery5"
    ]


def test_schedule_input_replaces_the_default_payload(tiny_stack: LocalStack, probe: Any) -> None:
    tiny_stack.run_schedule("EchoFunction", "Nightly")

    assert probe.calls_of("EchoFunction") == [{"from": "rule"}]


def test_unknown_schedule_is_an_error(tiny_stack: LocalStack) -> None:
    with pytest.raises(KeyError, match="expected one schedule"):
        tiny_stack.run_schedule("ConsumerFunction")


def test_eventbridge_rule_event_shape() -> None:
    schedule = Schedule("Fn", "Tick", "Schedule", "rate(1 minute)", None, True, "FnTick")

    event = scheduled_event(schedule, None, now=0)

    assert (event["source"], event["detail"], event["time"]) == ("aws.events", {}, "1970-01-01T00:00:00Z")
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/FnTick"]


def test_timer_fires_each_schedule_on_its_period() -> None:
    fast = Schedule("Fn", "Fast", "ScheduleV2", "rate(1 minute)", None, True, "fast")
    fired: list[str] = []
    three = threading.Event()

    def fire(schedule: Schedule) -> None:
        fired.append(schedule.name)
        if len(fired) == 3:
            three.set()

    timer = ScheduleTimer([TimedSchedule(fast, 0.02)], fire)
    timer.start()
    try:
        assert three.wait(timeout=5)
    finally:
        timer.stop()
    assert fired[:3] == ["fast", "fast", "fast"]
