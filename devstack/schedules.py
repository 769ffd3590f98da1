"""Schedule and ScheduleV2 events: the payload the target receives, and a timer for rate() expressions.

cron() and at() schedules are only fired on demand (`LocalStack.run_schedule`):
interpreting cron is not worth it for a development loop.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from devstack.local_aws import ACCOUNT_ID, PARTITION, REGION
from devstack.template_model import Schedule

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """Seconds between firings of a rate() expression; None for cron(), at() and anything else."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    if count < 1:
        raise ValueError(f"{expression}: the rate must be at least 1")
    return float(count * _UNIT_SECONDS[unit])


def scheduled_event(schedule: Schedule, resolved_input: Any, now: float | None = None) -> Any:
    """What the function receives: the Input when the template sets one, else the default notification."""
    if resolved_input is not None:
        return json.loads(resolved_input) if isinstance(resolved_input, str) else resolved_input
    now = time.time() if now is None else now
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    if schedule.kind == "ScheduleV2":
        # EventBridge Scheduler's default payload; note its detail is the *string* "{}".
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": ACCOUNT_ID,
            "time": stamp,
            "region": REGION,
            "resources": [
                f"arn:{PARTITION}:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{schedule.name}"
            ],
            "detail": "{}",
        }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": stamp,
        "region": REGION,
        "resources": [f"arn:{PARTITION}:events:{REGION}:{ACCOUNT_ID}:rule/{schedule.name}"],
        "detail": {},
    }


@dataclass(frozen=True)
class TimedSchedule:
    schedule: Schedule
    period_seconds: float


class ScheduleTimer:
    """Fires each rate() schedule every period (first firing one period after start, as in AWS)."""

    def __init__(self, timed: Sequence[TimedSchedule], fire: Callable[[Schedule], None]) -> None:
        self._timed = list(timed)
        self._fire = fire
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="devstack-schedules", daemon=True)

    def start(self) -> None:
        if self._timed:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        started = time.monotonic()
        due = {index: started + t.period_seconds for index, t in enumerate(self._timed)}
        while not self._stop.is_set():
            index = min(due, key=due.__getitem__)
            if self._stop.wait(max(0.0, due[index] - time.monotonic())):
                return
            timed = self._timed[index]
            due[index] += timed.period_seconds
            try:
                self._fire(timed.schedule)
            except Exception:
                log.exception("devstack: firing %s failed", timed.schedule.name)
