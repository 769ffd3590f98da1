"""Webhook deliveries: signed POSTs to a webhook's address, on a background thread, with retries.

Each delivery is one payload (one ``id``) sent until the receiver answers 2xx or the
retries run out. Every attempt is a new POST with its own ``BOX-DELIVERY-ID`` and
``BOX-DELIVERY-TIMESTAMP`` and signatures computed then, with the keys of that moment
(so a key rotation between attempts shows), over the same body bytes:

    BOX-SIGNATURE-PRIMARY = base64(HMAC-SHA256(primary key, body + timestamp))

and the same with the secondary key; a header whose key is unset is left out.
Attempts are recorded (``DeliveryAttempt``) whether they reached the receiver or not.
Submitting never blocks: tenant mutations enqueue under the tenant lock and return.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .render import box_time

_log = logging.getLogger(__name__)

SIGNATURE_VERSION = "1"
SIGNATURE_ALGORITHM = "HmacSHA256"
DEFAULT_WEBHOOK_KEYS = ("fake-primary-signature-key", "fake-secondary-signature-key")

WebhookKeys = tuple[str | None, str | None]


@dataclass
class WebhookOptions:
    """How the fake sends webhooks and how many it allows; a FakeBox keeps one across ``reset()``.

    - ``retries``: further attempts after a failed one (non-2xx, connection error or
      timeout). Box makes up to 12 attempts over about 2 hours; the fake defaults to 3 retries.
    - ``retry_delay`` (seconds): the wait before the first retry; it doubles for each
      next one (Box backs off too, over hours).
    - ``timeout`` (seconds): per attempt, to connect and to answer (Box waits 30 s).
    - ``limit_per_user``: webhooks one app may have per user (Box: 1000).
    """

    retries: int = 3
    retry_delay: float = 0.05
    timeout: float = 10.0
    limit_per_user: int = 1000

    def __post_init__(self) -> None:
        if self.retries < 0 or self.retry_delay < 0 or self.timeout <= 0 or self.limit_per_user < 0:
            raise ValueError("webhook options must not be negative (timeout above 0)")


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of a webhook payload, as sent, and how the receiver answered."""

    webhook_id: str
    event_id: str  # the payload's "id": the same for every attempt of one delivery
    delivery_id: str  # BOX-DELIVERY-ID: new for every attempt
    trigger: str
    address: str
    attempt: int  # 1 for the first try, 2 for the first retry, ...
    timestamp: str  # BOX-DELIVERY-TIMESTAMP
    headers: dict[str, str]
    body: bytes
    status: int | None  # None: no HTTP answer (connection refused, timeout, ...)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["body"] = self.body.decode()
        return body


def signature(key: str, body: bytes, timestamp: str) -> str:
    digest = hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def delivery_headers(body: bytes, timestamp: str, keys: WebhookKeys) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "BOX-DELIVERY-ID": str(uuid.uuid4()),
        "BOX-DELIVERY-TIMESTAMP": timestamp,
    }
    primary, secondary = keys
    if primary is not None:
        headers["BOX-SIGNATURE-PRIMARY"] = signature(primary, body, timestamp)
    if secondary is not None:
        headers["BOX-SIGNATURE-SECONDARY"] = signature(secondary, body, timestamp)
    headers["BOX-SIGNATURE-VERSION"] = SIGNATURE_VERSION
    headers["BOX-SIGNATURE-ALGORITHM"] = SIGNATURE_ALGORITHM
    return headers


@dataclass
class _Job:
    webhook_id: str
    event_id: str
    trigger: str
    address: str
    body: bytes
    attempt: int = 1


@dataclass(order=True)
class _Due:
    at: float  # time.monotonic()
    seq: int
    job: _Job = field(compare=False)


class Deliverer:
    """A queue of deliveries and the one worker thread that sends them (started on first use)."""

    def __init__(
        self,
        options: WebhookOptions,
        keys: Callable[[], WebhookKeys],
        clock: Callable[[], float],
    ) -> None:
        self._options = options
        self._keys = keys
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: list[_Due] = []
        self._seq = itertools.count()
        self._pending = 0  # deliveries not finished: queued, in flight or waiting to retry
        self._attempts: list[DeliveryAttempt] = []
        self._thread: threading.Thread | None = None
        self._generation = 0  # bumped by cancel(): a worker's in-flight result is then dropped

    def submit(self, webhook_id: str, trigger: str, address: str, payload: dict[str, Any]) -> str:
        """Queue a delivery of ``payload``; returns its id (the payload's ``id``)."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        job = _Job(webhook_id, str(payload["id"]), trigger, address, body)
        with self._cond:
            self._pending += 1
            self._push(job, delay=0.0)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fake-box-webhooks", daemon=True)
                self._thread.start()
        return job.event_id

    def wait(self, timeout: float | None) -> bool:
        """Until every delivery so far succeeded or gave up; False if ``timeout`` came first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def attempts(self) -> list[DeliveryAttempt]:
        with self._cond:
            return list(self._attempts)

    def clear(self) -> None:
        """Forget the recorded attempts (deliveries under way keep going)."""
        with self._cond:
            self._attempts.clear()

    def cancel(self) -> int:
        """Drop every delivery not finished yet and stop the worker; returns how many were dropped."""
        with self._cond:
            dropped = self._pending
            self._queue.clear()
            self._pending = 0
            self._generation += 1
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            # A worker blocked on a slow receiver is not waited for long: its result is dropped.
            thread.join(timeout=1.0)
        return dropped

    # ----- worker ---------------------------------------------------------

    def _push(self, job: _Job, delay: float) -> None:
        heapq.heappush(self._queue, _Due(time.monotonic() + delay, next(self._seq), job))
        self._cond.notify_all()

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while self._thread is me and (not self._queue or self._queue[0].at > time.monotonic()):
                    wait = self._queue[0].at - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._thread is not me:
                    return
                job = heapq.heappop(self._queue).job
                generation = self._generation
            attempt = self._send(job)
            with self._cond:
                if generation != self._generation:
                    continue
                self._attempts.append(attempt)
                if not attempt.ok and job.attempt <= self._options.retries:
                    delay = self._options.retry_delay * 2 ** (job.attempt - 1)
                    job.attempt += 1
                    self._push(job, delay)
                else:
                    self._pending -= 1
                    self._cond.notify_all()

    def _send(self, job: _Job) -> DeliveryAttempt:
        timestamp = box_time(datetime.fromtimestamp(self._clock(), UTC)) or ""
        headers = delivery_headers(job.body, timestamp, self._keys())
        status: int | None = None
        error: str | None = None
        try:
            status = _post(job.address, job.body, headers, self._options.timeout)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if status is None or not 200 <= status < 300:
            _log.debug("webhook %s attempt %d: %s %s", job.webhook_id, job.attempt, status, error)
        return DeliveryAttempt(
            webhook_id=job.webhook_id,
            event_id=job.event_id,
            delivery_id=headers["BOX-DELIVERY-ID"],
            trigger=job.trigger,
            address=job.address,
            attempt=job.attempt,
            timestamp=timestamp,
            headers=headers,
            body=job.body,
            status=status,
            error=error,
        )


def _post(address: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST without following redirects or honouring proxy settings: Box talks to the address."""
    parts = urlsplit(address)
    if parts.hostname is None or parts.scheme not in ("http", "https"):
        raise ValueError(f"cannot deliver to {address!r}")
    connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_type(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
